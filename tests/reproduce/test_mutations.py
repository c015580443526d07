"""Every verdict of `deeplinear reproduce` can fail: the quick claims under injected faults.

Each fault is an independent numpy implementation of one piece of the computations (the
trainers, the gradient, the projections, the factorization, the Hessian) with one deliberate
bug (tests/numpy_engine.py). The unbroken numpy implementation must PASS all eight claims, and
each fault must FAIL every claim that it concerns — with a message, never an exception.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

import numpy as np
import pytest

from deeplinear.reproduce import claims
from deeplinear.reproduce.engine import Engine, RunResult, RunSpec
from numpy_engine import FAULTS, NumpyEngine

SEED = 1


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """The numpy engine multiplies tiny matrices: BLAS threads only cost synchronization (on
    this 2-core machine the module takes about half the time with one thread)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # threadpoolctl comes with scikit-learn, a test extra
        yield
        return
    with threadpool_limits(limits=1):
        yield


def _run(engine: NumpyEngine, name: str) -> claims.Claim:
    return claims.BY_NAME[name](np.random.default_rng(SEED), True, False, engine)


@pytest.mark.parametrize("name", [experiment.name for experiment in claims.CLAIMS])
def test_the_unbroken_numpy_implementation_passes(name: str) -> None:
    claim = _run(NumpyEngine(), name)
    assert claim.passed, claim.observed


@pytest.mark.parametrize("fault", list(FAULTS))
def test_each_fault_fails_the_claims_it_concerns(fault: str) -> None:
    engine_class, concerned = FAULTS[fault]
    engine = engine_class()
    for name in concerned:
        claim = _run(engine, name)
        assert not claim.passed, f"{fault!r} passed claim {name}: {claim.observed}"
        assert claim.observed  # a FAIL says why


def test_every_listed_fault_is_covered() -> None:
    listed = {
        "frozen trainer",
        "gradient ascent",
        "gradient ×0.5 in training",
        "gradient ×2 in training",
        "gradient ×0.5 everywhere",
        "gradient ×2 everywhere",
        "no projection onto H_γ",
        "projection clipped at γ/2",
        "projection onto H_0",
        "skew part dropped",
        "no ψ-projection",
        "wrong-sign penalty",
        "equal Ψ^{1/L} factors",
        "SVD-balanced factors",
        "reversed layer order",
        "Hessian ×10",
        "entrywise ψ-clip",
        "ψ-clip of σ(Θ_i)",
        "gradient sides swapped",
        "trainer multiplies Θ_1 ⋯ Θ_L",
        "radius reported as 0",
        "balancedness reported as 0",
        "σ of the first layer only",
        "loss without its ½",
    }
    assert listed <= set(FAULTS)
    names = {experiment.name for experiment in claims.CLAIMS}
    assert all(set(concerned) <= names and concerned for _, concerned in FAULTS.values())


# -- faults of the batched trainer alone ----------------------------------------------------------
# Most runs that the claims judge by invariants and bounds go through `train_batch`; the runs
# recomputed step by step go through `train`. The engine runs networks of each batch again alone
# (Engine._check_batch), so that a batched trainer that differs from `train` fails the claims.
class _Batched(Engine):
    """deeplinear's engine, counting the runs that go through ``train_batch``."""

    def __init__(self) -> None:
        self.batched = 0

    def train_batch(self, specs: Sequence[RunSpec]) -> list[RunResult]:
        self.batched += len(specs)
        return self.fault(specs)

    def fault(self, specs: Sequence[RunSpec]) -> list[RunResult]:
        return super().train_batch(specs)


class _Rotated(_Batched):
    """Network b's result handed back as network b + 1's."""

    def fault(self, specs: Sequence[RunSpec]) -> list[RunResult]:
        results = super().fault(specs)
        return results[1:] + results[:1]


class _FasterStep(_Batched):
    """The batch steps with 1.05 η."""

    def fault(self, specs: Sequence[RunSpec]) -> list[RunResult]:
        return super().fault([dataclasses.replace(spec, lr=spec.lr * 1.05) for spec in specs])


class _RadiusZero(_Batched):
    """The batch reports the radius R(t) (a diagnostic) as 0."""

    def fault(self, specs: Sequence[RunSpec]) -> list[RunResult]:
        results = super().fault(specs)
        for result in results:
            if result.diagnostics is not None:
                result.diagnostics["radius"] = np.zeros_like(result.diagnostics["radius"])
        return results


class _LastDropped(_Batched):
    """The batch loses its last network."""

    def fault(self, specs: Sequence[RunSpec]) -> list[RunResult]:
        return super().fault(specs)[:-1]


@functools.cache
def _batching_claims() -> list[str]:
    names = []
    for experiment in claims.CLAIMS:
        engine = _Batched()
        assert experiment(np.random.default_rng(SEED), True, False, engine).passed
        if engine.batched:
            names.append(experiment.name)
    return names


@pytest.mark.parametrize("fault", [_Rotated, _FasterStep, _RadiusZero, _LastDropped])
def test_a_fault_of_the_batched_trainer_alone_fails_every_claim_that_batches(fault) -> None:
    batching = _batching_claims()
    assert {"theorem1", "theorem3", "theorems45"} <= set(batching)
    for name in batching:
        claim = claims.BY_NAME[name](np.random.default_rng(SEED), True, False, fault())
        assert not claim.passed, f"{fault.__name__} passed claim {name}: {claim.observed}"
        assert "not the same run alone" in claim.observed or "results" in claim.observed


class _DenseRunsRaise(Engine):
    """Training on a non-diagonal Φ raises, except the runs whose steps are recomputed: the
    dense runs on a randomly rotated Φ of claims 5 and 6 fail."""

    def train_one(self, spec: RunSpec) -> RunResult:
        if spec.phi.ndim == 2 and not spec.keep_layers and not spec.diagnostics:
            if np.count_nonzero(spec.phi - np.diag(np.diag(spec.phi))):
                raise RuntimeError("the dense trainer fails on a non-diagonal target")
        return super().train_one(spec)


@pytest.mark.parametrize("name", ["theorems45", "section6"])
def test_a_dense_run_that_fails_is_not_a_run_that_stayed_on_the_plateau(name: str) -> None:
    claim = _run(_DenseRunsRaise(), name)  # type: ignore[arg-type]
    assert not claim.passed and "did not finish" in claim.observed, claim.observed
    assert "stayed on the plateau" not in claim.observed
