"""Bad input raises ValueError/TypeError naming the argument, at the boundary, for every public
entry point of the core and of training: a wrong shape, dtype, non-finite value or
out-of-range parameter raises ValueError/TypeError naming the argument (docs/api/index.md)."""

from __future__ import annotations

import numpy as np
import pytest

import deeplinear as dl

DIM, DEPTH = 3, 2
LAYERS = np.stack([np.eye(DIM)] * DEPTH) + 0.1
PHI = 2.0 * np.eye(DIM) + 0.1 * np.arange(DIM * DIM).reshape(DIM, DIM)
SYMMETRIC_PHI = np.diag([0.5, 1.0, 2.0])


def with_value(array: np.ndarray, value: float, index: int = 1) -> np.ndarray:
    array = np.array(array, dtype=float)
    array.flat[index] = value
    return array


def object_array(shape) -> np.ndarray:
    array = np.empty(shape, dtype=object)
    array.fill(1.0)
    array.flat[0] = None
    return array


def masked(array: np.ndarray) -> np.ndarray:
    """A masked array whose first entry is masked (its value would otherwise be used as is)."""
    mask = np.zeros(array.shape, bool)
    mask.flat[0] = True
    return np.ma.masked_array(array, mask=mask)


def longdouble_cases(array: np.ndarray) -> list:
    """The array in np.longdouble, where that is wider than float64 (x86-64: 80-bit)."""
    if np.finfo(np.longdouble).nmant <= np.finfo(np.float64).nmant:
        return []
    return [pytest.param(array.astype(np.longdouble), TypeError, id="longdouble")]


# Bad values of an (L, d, d) stack (used for layers, direction and init) …
BAD_STACKS = [
    pytest.param(np.eye(DIM), ValueError, id="2-D"),
    pytest.param(np.zeros((DEPTH, DIM, DIM, 1)), ValueError, id="4-D"),
    pytest.param(np.zeros(DIM), ValueError, id="1-D"),
    pytest.param(np.float64(1.0), ValueError, id="0-D"),
    pytest.param(np.zeros((DEPTH, DIM, DIM + 1)), ValueError, id="non-square"),
    pytest.param(np.zeros((0, DIM, DIM)), ValueError, id="no-layers"),
    pytest.param(np.zeros((DEPTH, 0, 0)), ValueError, id="empty-layers"),
    pytest.param(np.zeros((0,)), ValueError, id="empty"),
    pytest.param(with_value(LAYERS, np.nan), ValueError, id="nan"),
    pytest.param(with_value(LAYERS, np.inf, 5), ValueError, id="inf"),
    pytest.param(with_value(LAYERS, -np.inf, 17), ValueError, id="-inf"),
    pytest.param(LAYERS.astype(np.complex128), TypeError, id="complex"),
    pytest.param((LAYERS + 0j).astype(np.complex64), TypeError, id="complex64"),
    pytest.param(np.full((DEPTH, DIM, DIM), "1.0"), TypeError, id="string-array"),
    pytest.param("abc", TypeError, id="string"),
    pytest.param(object_array((DEPTH, DIM, DIM)), TypeError, id="object-array"),
    pytest.param(None, TypeError, id="None"),
    pytest.param(masked(LAYERS), TypeError, id="masked"),
    *longdouble_cases(LAYERS),
]

# … and of a (d, d) target (phi).
BAD_MATRICES = [
    pytest.param(np.ones(DIM), ValueError, id="1-D"),
    pytest.param(np.ones((1, DIM, DIM)), ValueError, id="3-D"),
    pytest.param(np.ones((DIM, DIM + 1)), ValueError, id="non-square"),
    pytest.param(np.eye(DIM + 1), ValueError, id="mismatched-d"),
    pytest.param(np.eye(DIM - 1), ValueError, id="smaller-d"),
    pytest.param(np.zeros((0, 0)), ValueError, id="empty"),
    pytest.param(with_value(PHI, np.nan), ValueError, id="nan"),
    pytest.param(with_value(PHI, np.inf), ValueError, id="inf"),
    pytest.param(with_value(PHI, -np.inf, 4), ValueError, id="-inf"),
    pytest.param(PHI.astype(np.complex128), TypeError, id="complex"),
    pytest.param(np.full((DIM, DIM), "x"), TypeError, id="string-array"),
    pytest.param(object_array((DIM, DIM)), TypeError, id="object-array"),
    pytest.param("phi", TypeError, id="string"),
    pytest.param(masked(PHI), TypeError, id="masked"),
    *longdouble_cases(PHI),
]


# -- core functions --------------------------------------------------------------------------

CORE_LAYERS_CALLS = {
    "product": lambda layers: dl.product(layers),
    "loss": lambda layers: dl.loss(layers, PHI),
    "gradient": lambda layers: dl.gradient(layers, PHI),
    "hvp": lambda layers: dl.hvp(layers, PHI, LAYERS),
    "hessian": lambda layers: dl.hessian(layers, PHI),
}
CORE_PHI_CALLS = {
    "loss": lambda phi: dl.loss(LAYERS, phi),
    "gradient": lambda phi: dl.gradient(LAYERS, phi),
    "hvp": lambda phi: dl.hvp(LAYERS, phi, LAYERS),
    "hessian": lambda phi: dl.hessian(LAYERS, phi),
}


def test_the_fixtures_are_valid() -> None:
    # every call above succeeds on the good arguments, so each failure below is the bad one's
    for call in CORE_LAYERS_CALLS.values():
        call(LAYERS)
    for call in CORE_PHI_CALLS.values():
        call(PHI)


@pytest.mark.parametrize("name", sorted(CORE_LAYERS_CALLS))
@pytest.mark.parametrize(("bad", "error"), BAD_STACKS)
def test_core_functions_reject_bad_layers(name: str, bad, error) -> None:
    with pytest.raises(error, match="layers"):
        CORE_LAYERS_CALLS[name](bad)


@pytest.mark.parametrize("name", sorted(CORE_PHI_CALLS))
@pytest.mark.parametrize(("bad", "error"), BAD_MATRICES)
def test_core_functions_reject_bad_phi(name: str, bad, error) -> None:
    with pytest.raises(error, match="phi"):
        CORE_PHI_CALLS[name](bad)


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        *BAD_STACKS,
        pytest.param(LAYERS[:1], ValueError, id="fewer-layers"),
        pytest.param(np.stack([np.eye(DIM)] * (DEPTH + 1)), ValueError, id="more-layers"),
        pytest.param(np.zeros((DEPTH, DIM + 1, DIM + 1)), ValueError, id="other-d"),
    ],
)
def test_hvp_rejects_a_bad_direction(bad, error) -> None:
    with pytest.raises(error, match="direction"):
        dl.hvp(LAYERS, PHI, bad)


def test_layers_and_phi_of_different_sizes_name_phi() -> None:
    layers = np.stack([np.eye(4)] * 2)
    for call in (dl.loss, dl.gradient, dl.hessian):
        with pytest.raises(ValueError, match="phi"):
            call(layers, np.eye(3))
    with pytest.raises(ValueError, match="phi"):
        dl.hvp(layers, np.eye(3), layers)


# -- training: train, Trainer, spectral_gd ---------------------------------------------------

# the bad targets of a run (a run has no layers for phi to mismatch)
BAD_TARGETS = [
    pytest.param({"phi": case.values[0]}, case.values[1], "phi", id=f"phi-{case.id}")
    for case in BAD_MATRICES
    if case.id not in ("mismatched-d", "smaller-d")
]

GOOD_TRAIN = {"phi": PHI, "depth": DEPTH, "method": "gd", "lr": 0.05, "max_steps": 3}

TRAIN_CASES = [
    # the target
    *BAD_TARGETS,
    # the depth
    pytest.param({"depth": 0}, ValueError, "depth", id="depth-0"),
    pytest.param({"depth": -3}, ValueError, "depth", id="depth-negative"),
    pytest.param({"depth": 2.5}, TypeError, "depth", id="depth-2.5"),
    pytest.param({"depth": 2.0}, TypeError, "depth", id="depth-2.0"),
    pytest.param({"depth": True}, TypeError, "depth", id="depth-True"),
    pytest.param({"depth": "2"}, TypeError, "depth", id="depth-string"),
    pytest.param({"depth": None}, TypeError, "depth", id="depth-None"),
    # the step size
    pytest.param({"lr": 0.0}, ValueError, "lr", id="lr-0"),
    pytest.param({"lr": -0.1}, ValueError, "lr", id="lr-negative"),
    pytest.param({"lr": np.nan}, ValueError, "lr", id="lr-nan"),
    pytest.param({"lr": np.inf}, ValueError, "lr", id="lr-inf"),
    pytest.param({"lr": "0.1"}, TypeError, "lr", id="lr-string"),
    pytest.param({"lr": None}, TypeError, "lr", id="lr-None"),
    pytest.param({"lr": 1j}, TypeError, "lr", id="lr-complex"),
    # stopping and recording
    pytest.param({"tol": -1e-3}, ValueError, "tol", id="tol-negative"),
    pytest.param({"tol": np.nan}, ValueError, "tol", id="tol-nan"),
    pytest.param({"tol": "0"}, TypeError, "tol", id="tol-string"),
    pytest.param({"max_steps": -1}, ValueError, "max_steps", id="max_steps-negative"),
    pytest.param({"max_steps": 1.5}, TypeError, "max_steps", id="max_steps-float"),
    pytest.param({"max_steps": True}, TypeError, "max_steps", id="max_steps-True"),
    pytest.param({"record_every": 0}, ValueError, "record_every", id="record_every-0"),
    pytest.param({"record_every": -2}, ValueError, "record_every", id="record_every-negative"),
    pytest.param({"record_every": 2.0}, TypeError, "record_every", id="record_every-float"),
    pytest.param({"threads": 0}, ValueError, "threads", id="threads-0"),
    pytest.param({"threads": -1}, ValueError, "threads", id="threads-negative"),
    pytest.param({"threads": 1.5}, TypeError, "threads", id="threads-float"),
    pytest.param({"callback": 3}, TypeError, "callback", id="callback-int"),
    pytest.param({"callback": "print"}, TypeError, "callback", id="callback-string"),
    # the method and its parameters
    pytest.param({"method": "adam"}, ValueError, "method", id="method-unknown"),
    pytest.param({"method": "GD"}, ValueError, "method", id="method-case"),
    pytest.param({"method": None}, ValueError, "method", id="method-None"),
    pytest.param({"psi": 1.0}, ValueError, "psi", id="gd-with-psi"),
    pytest.param({"gamma": 0.5}, ValueError, "gamma", id="gd-with-gamma"),
    pytest.param({"kappa": 0.1}, ValueError, "kappa", id="gd-with-kappa"),
    pytest.param(
        {"method": "penalty", "kappa": 0.1, "gamma": 0.5},
        ValueError,
        "gamma",
        id="penalty-with-gamma",
    ),
    pytest.param(
        {"method": "penalty", "kappa": 0.1, "psi": 0.5}, ValueError, "psi", id="penalty-with-psi"
    ),
    pytest.param(
        {"method": "power_projection", "gamma": 0.5, "psi": 0.5},
        ValueError,
        "psi",
        id="power_projection-with-psi",
    ),
    pytest.param(
        {"method": "power_projection", "gamma": 0.5, "kappa": 0.5},
        ValueError,
        "kappa",
        id="power_projection-with-kappa",
    ),
    pytest.param(
        {"method": "step_and_project", "psi": 0.5, "kappa": 0.5},
        ValueError,
        "kappa",
        id="step_and_project-with-kappa",
    ),
    pytest.param(
        {"method": "power_projection"}, ValueError, "gamma", id="power_projection-no-gamma"
    ),
    pytest.param(
        {"method": "power_projection", "gamma": 0.0},
        ValueError,
        "gamma",
        id="power_projection-gamma-0",
    ),
    pytest.param(
        {"method": "power_projection", "gamma": -0.5},
        ValueError,
        "gamma",
        id="power_projection-gamma-negative",
    ),
    pytest.param(
        {"method": "power_projection", "gamma": np.nan},
        ValueError,
        "gamma",
        id="power_projection-gamma-nan",
    ),
    pytest.param(
        {"method": "power_projection", "gamma": np.inf},
        ValueError,
        "gamma",
        id="power_projection-gamma-inf",
    ),
    pytest.param(
        {"method": "power_projection", "gamma": "0.5"},
        TypeError,
        "gamma",
        id="power_projection-gamma-string",
    ),
    pytest.param({"method": "step_and_project"}, ValueError, "psi", id="step_and_project-no-psi"),
    pytest.param(
        {"method": "step_and_project", "psi": 0.0}, ValueError, "psi", id="step_and_project-psi-0"
    ),
    pytest.param(
        {"method": "step_and_project", "psi": -1.0},
        ValueError,
        "psi",
        id="step_and_project-psi-negative",
    ),
    pytest.param(
        {"method": "step_and_project", "psi": np.nan},
        ValueError,
        "psi",
        id="step_and_project-psi-nan",
    ),
    pytest.param(
        {"method": "step_and_project", "psi": 1.0, "gamma": -1.0},
        ValueError,
        "gamma",
        id="step_and_project-gamma-negative",
    ),
    pytest.param({"method": "penalty"}, ValueError, "kappa", id="penalty-no-kappa"),
    pytest.param(
        {"method": "penalty", "kappa": -0.1}, ValueError, "kappa", id="penalty-kappa-negative"
    ),
    pytest.param(
        {"method": "penalty", "kappa": np.inf}, ValueError, "kappa", id="penalty-kappa-inf"
    ),
    # integers beyond float64: a ValueError naming the argument, not float()'s OverflowError
    pytest.param({"lr": 10**400}, ValueError, "lr", id="lr-int-beyond-float64"),
    pytest.param({"tol": 10**400}, ValueError, "tol", id="tol-int-beyond-float64"),
    pytest.param({"init": 10**400}, ValueError, "init", id="init-int-beyond-float64"),
    pytest.param(
        {"method": "power_projection", "gamma": 10**400},
        ValueError,
        "gamma",
        id="power_projection-gamma-int-beyond-float64",
    ),
    pytest.param(
        {"method": "step_and_project", "psi": 10**400},
        ValueError,
        "psi",
        id="step_and_project-psi-int-beyond-float64",
    ),
    pytest.param(
        {"method": "penalty", "kappa": 10**400},
        ValueError,
        "kappa",
        id="penalty-kappa-int-beyond-float64",
    ),
    # the initial layers
    pytest.param({"init": np.zeros((DEPTH + 1, DIM, DIM))}, ValueError, "init", id="init-depth"),
    pytest.param({"init": np.zeros((DEPTH, DIM + 1, DIM + 1))}, ValueError, "init", id="init-d"),
    pytest.param({"init": np.eye(DIM)}, ValueError, "init", id="init-2-D"),
    pytest.param(
        {"init": np.zeros((DEPTH, DIM, DIM + 1))}, ValueError, "init", id="init-non-square"
    ),
    pytest.param({"init": np.zeros((0, DIM, DIM))}, ValueError, "init", id="init-empty"),
    pytest.param({"init": with_value(LAYERS, np.nan)}, ValueError, "init", id="init-nan"),
    pytest.param({"init": with_value(LAYERS, np.inf)}, ValueError, "init", id="init-inf"),
    pytest.param({"init": np.nan}, ValueError, "init", id="init-scalar-nan"),
    pytest.param({"init": np.inf}, ValueError, "init", id="init-scalar-inf"),
    pytest.param({"init": LAYERS.astype(complex)}, TypeError, "init", id="init-complex"),
    pytest.param({"init": "identity"}, TypeError, "init", id="init-string"),
    pytest.param({"init": True}, (TypeError, ValueError), "init", id="init-bool"),
    pytest.param({"init": object_array((DEPTH, DIM, DIM))}, TypeError, "init", id="init-object"),
]

# validated when the run starts (they are run() arguments of a Trainer)
RUN_ARGUMENTS = ("max_steps", "tol")


def test_the_good_training_arguments_are_valid() -> None:
    assert dl.train(**GOOD_TRAIN).steps == GOOD_TRAIN["max_steps"]


@pytest.mark.parametrize(("change", "error", "match"), TRAIN_CASES)
def test_train_rejects_bad_input(change: dict, error, match: str) -> None:
    with pytest.raises(error, match=match):
        dl.train(**{**GOOD_TRAIN, **change})


@pytest.mark.parametrize(("change", "error", "match"), TRAIN_CASES)
def test_trainer_rejects_bad_input(change: dict, error, match: str) -> None:
    arguments = {**GOOD_TRAIN, **change}
    run_arguments = {name: arguments.pop(name) for name in RUN_ARGUMENTS if name in arguments}
    if set(change) & set(RUN_ARGUMENTS):
        trainer = dl.Trainer(**arguments)  # valid construction; the run's arguments are bad
        with pytest.raises(error, match=match):
            trainer.run(**run_arguments)
        assert trainer.steps == 0
    else:
        with pytest.raises(error, match=match):
            dl.Trainer(**arguments)


@pytest.mark.parametrize(
    ("n", "error"), [(-1, ValueError), (1.5, TypeError), (True, TypeError), ("2", TypeError)]
)
def test_trainer_step_rejects_a_bad_count(n, error) -> None:
    trainer = dl.Trainer(PHI, DEPTH, lr=0.05)
    with pytest.raises(error, match=r"\bn\b"):
        trainer.step(n)
    assert trainer.steps == 0


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (np.zeros((DEPTH + 1, DIM, DIM)), ValueError),
        (np.eye(DIM), ValueError),
        (with_value(LAYERS, np.nan), ValueError),
        (LAYERS.astype(complex), TypeError),
    ],
)
def test_trainer_layers_setter_rejects_bad_layers(value, error) -> None:
    trainer = dl.Trainer(PHI, DEPTH, lr=0.05)
    before = trainer.layers.copy()
    with pytest.raises(error, match="layers"):
        trainer.layers = value
    np.testing.assert_array_equal(trainer.layers, before)


def test_finite_values_beyond_float32_are_named_as_such() -> None:
    # A float64 init for a float32 Φ is rounded to float32; 1e300 became inf there and was
    # refused as "not finite", which it was not.
    phi = np.eye(2, dtype=np.float32)
    with pytest.raises(ValueError, match=r"init has values beyond the range of float32"):
        dl.train(phi, 2, lr=0.1, max_steps=1, init=np.full((2, 2, 2), 1e300))
    with pytest.raises(ValueError, match=r"init must contain only finite values"):
        dl.train(phi, 2, lr=0.1, max_steps=1, init=np.full((2, 2, 2), np.inf))


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_trainer_refuses_non_finite_values_written_into_its_live_layers(value: float) -> None:
    trainer = dl.Trainer(PHI, DEPTH, lr=0.05)
    trainer.layers[1, 0, 2] = value
    with pytest.raises(ValueError, match="layers"):
        trainer.step()
    with pytest.raises(ValueError, match="layers"):
        trainer.run(max_steps=2)
    assert trainer.steps == 0


GOOD_SPECTRAL = {"phi": SYMMETRIC_PHI, "depth": DEPTH, "lr": 0.05, "max_steps": 3}

SPECTRAL_CASES = [
    *BAD_TARGETS,
    pytest.param({"phi": PHI}, ValueError, "symmetric", id="phi-asymmetric"),
    pytest.param(
        {"phi": SYMMETRIC_PHI + np.triu(np.full((DIM, DIM), 1e-6), 1)},
        ValueError,
        "symmetric",
        id="phi-slightly-asymmetric",
    ),
    pytest.param({"depth": 0}, ValueError, "depth", id="depth-0"),
    pytest.param({"depth": 2.5}, TypeError, "depth", id="depth-2.5"),
    pytest.param({"depth": True}, TypeError, "depth", id="depth-True"),
    pytest.param({"lr": 0.0}, ValueError, "lr", id="lr-0"),
    pytest.param({"lr": -1.0}, ValueError, "lr", id="lr-negative"),
    pytest.param({"lr": np.nan}, ValueError, "lr", id="lr-nan"),
    pytest.param({"lr": np.inf}, ValueError, "lr", id="lr-inf"),
    pytest.param({"lr": "0.1"}, TypeError, "lr", id="lr-string"),
    pytest.param({"tol": -1.0}, ValueError, "tol", id="tol-negative"),
    pytest.param({"tol": np.nan}, ValueError, "tol", id="tol-nan"),
    pytest.param({"max_steps": -1}, ValueError, "max_steps", id="max_steps-negative"),
    pytest.param({"max_steps": 2.0}, TypeError, "max_steps", id="max_steps-float"),
    pytest.param({"max_steps": True}, TypeError, "max_steps", id="max_steps-True"),
    pytest.param({"record_every": 0}, ValueError, "record_every", id="record_every-0"),
    pytest.param({"record_every": 1.5}, TypeError, "record_every", id="record_every-float"),
]


def test_the_good_spectral_arguments_are_valid() -> None:
    assert dl.spectral_gd(**GOOD_SPECTRAL).steps == GOOD_SPECTRAL["max_steps"]


@pytest.mark.parametrize(("change", "error", "match"), SPECTRAL_CASES)
def test_spectral_gd_rejects_bad_input(change: dict, error, match: str) -> None:
    with pytest.raises(error, match=match):
        dl.spectral_gd(**{**GOOD_SPECTRAL, **change})


def test_spectral_gd_accepts_symmetric_phi_up_to_rounding() -> None:
    # Φ symmetric in exact arithmetic but built with rounding (QΛQᵀ) is accepted.
    rng = np.random.default_rng(0)
    basis, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    phi = basis @ np.diag([0.5, 1.0, 1.5, 2.0, 3.0]) @ basis.T
    assert dl.spectral_gd(phi, 3, lr=0.01, max_steps=2).status == "max_steps"


def test_spectral_gd_accepts_a_float32_phi_symmetric_to_float32_rounding() -> None:
    # The float64 check tolerates 1e-10 relative (a million ulps); a float32 Φ built as QΛQᵀ in
    # float32 is symmetric in exact arithmetic and asymmetric only by a few float32 ulps
    # (~1e-7), so it must be accepted too: the tolerance has to follow the dtype.
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.standard_normal((6, 6)))[0].astype(np.float32)
    phi = basis @ np.diag(np.linspace(0.5, 3.0, 6)).astype(np.float32) @ basis.T
    assert phi.dtype == np.float32
    assert 0 < np.abs(phi - phi.T).max() < 10 * np.finfo(np.float32).eps * np.abs(phi).max()
    result = dl.spectral_gd(phi, 3, lr=0.01, max_steps=2)
    assert result.status == "max_steps" and result.layers.dtype == np.float32


def test_bad_input_leaves_the_callers_arrays_untouched() -> None:
    phi, init = PHI.copy(), with_value(LAYERS, np.nan)
    saved_phi, saved_init = phi.copy(), init.copy()
    with pytest.raises(ValueError, match="init"):
        dl.train(phi, DEPTH, lr=0.1, init=init)
    np.testing.assert_array_equal(phi, saved_phi)
    np.testing.assert_array_equal(init, saved_init)


def test_compiled_core_refuses_silent_copies() -> None:
    # The private module takes exactly C-contiguous float arrays: conversion happens once, above it.
    from deeplinear import _core

    with pytest.raises(TypeError):
        _core.product(np.stack([np.eye(3), 2 * np.eye(3)])[:, ::-1])
    with pytest.raises(TypeError):
        _core.product(LAYERS.astype(np.int64))


@pytest.mark.parametrize("name", ["max_steps", "record_every"])
def test_counts_beyond_64_bits_name_the_argument(name: str) -> None:
    arguments = {"phi": PHI, "depth": DEPTH, "lr": 0.01, "max_steps": 1, name: 2**63}
    with pytest.raises(ValueError, match=name):
        dl.train(**arguments)
    with pytest.raises(ValueError, match=name):
        dl.spectral_gd(SYMMETRIC_PHI, DEPTH, lr=0.01, **{"max_steps": 1, name: 2**63})
    with pytest.raises(ValueError, match="n must be <="):
        dl.Trainer(PHI, DEPTH, lr=0.01).step(2**63)


def test_seeds_may_exceed_64_bits() -> None:
    assert dl.targets.spd(3, 4.0, seed=2**70).shape == (3, 3)


def test_masked_arrays_without_masked_entries_and_narrower_floats_are_accepted() -> None:
    # only what would silently change the answer is refused: a masked entry's hidden value, or
    # the precision of a float wider than float64
    unmasked = np.ma.masked_array(LAYERS, mask=np.zeros(LAYERS.shape, bool))
    assert dl.loss(unmasked, PHI) == dl.loss(LAYERS, PHI)
    half = LAYERS.astype(np.float16)
    assert dl.loss(half, PHI) == dl.loss(half.astype(np.float64), PHI)


def test_byte_swapped_float32_computes_and_returns_float32() -> None:
    swapped = PHI.astype(np.float32).astype(np.float32().dtype.newbyteorder())
    layers = LAYERS.astype(swapped.dtype)
    assert dl.gradient(layers, swapped).dtype == np.float32
    assert dl.Trainer(swapped, DEPTH, lr=0.01).layers.dtype == np.float32
    np.testing.assert_array_equal(
        dl.gradient(layers, swapped), dl.gradient(layers.astype(np.float32), PHI.astype(np.float32))
    )


def test_a_0_d_phi_is_reported_with_its_own_shape() -> None:
    with pytest.raises(ValueError, match=r"phi must be a square .* got shape \(\)"):
        dl.gradient(LAYERS, np.float64(2.0))


def test_an_init_beyond_float32_names_init() -> None:
    with pytest.raises(ValueError, match="init"):
        dl.Trainer(PHI.astype(np.float32), DEPTH, lr=0.01, init=1e300)


def test_a_positivity_margin_beyond_float64_is_infinite() -> None:
    a = 1.7e308  # the margin, -√2·a, is beyond float64's range
    assert dl.positivity_margin([[a, a], [a, -a]]) == -np.inf
    assert dl.positivity_margin([[a, 0.0], [0.0, a]]) == a


@pytest.mark.parametrize("batch", [False, True])
@pytest.mark.parametrize("name", ["threads", "record_diagnostics"])
def test_run_settings_fixed_at_construction_cannot_be_assigned(batch: bool, name: str) -> None:
    # they were plain attributes: assigning one changed nothing but what save() wrote
    trainer = (
        dl.BatchTrainer(np.stack([PHI, PHI]), DEPTH, lr=0.01)
        if batch
        else dl.Trainer(PHI, DEPTH, lr=0.01)
    )
    before = getattr(trainer, name)
    with pytest.raises(AttributeError):
        setattr(trainer, name, 2 if name == "threads" else True)
    assert getattr(trainer, name) == before


def test_a_nonzero_parameter_that_float32_rounds_to_zero_is_refused_as_such() -> None:
    # κ = 0 is allowed: the message said "it must be > 0" for κ = 1e-50
    phi = np.eye(3, dtype=np.float32) * 1.1
    dl.train(phi, 2, "penalty", kappa=0.0, lr=0.01, max_steps=1)
    with pytest.raises(ValueError, match=r"kappa = 1e-50 is 0.0 in float32: a nonzero kappa must"):
        dl.train(phi, 2, "penalty", kappa=1e-50, lr=0.01, max_steps=1)
