"""Each target generator's guaranteed property, checked with independent numpy linear algebra."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from deeplinear import targets

dims = st.integers(min_value=2, max_value=12)
any_dims = st.integers(min_value=1, max_value=12)
seeds = st.integers(min_value=0, max_value=2**32 - 1)

EXAMPLE_PARAMS = {
    "spd": {"cond": 3.0},
    "near_identity": {"excess_loss": 0.2},
    "rotation": {"angle": 0.5},
    "partial_reflection": {"a": 1.0, "b": 0.3},
    "gamma_positive": {"gamma": 0.2},
    "negative_eigenvalue": {"lam": 1.5},
}


def margin(phi: np.ndarray) -> float:
    """The positivity margin λ_min((Φ + Φᵀ)/2) (Def. 1)."""
    return float(np.linalg.eigvalsh(0.5 * (phi + phi.T))[0])


def test_families_are_the_public_generators() -> None:
    assert set(targets.FAMILIES) == set(EXAMPLE_PARAMS)
    assert set(targets.__all__) == {*targets.FAMILIES, "FAMILIES", "RESOLUTION"}
    for name, make in targets.FAMILIES.items():
        assert make is getattr(targets, name)


@pytest.mark.parametrize("name", sorted(EXAMPLE_PARAMS))
@pytest.mark.parametrize("d", [2, 5])
def test_every_family_returns_a_fresh_c_contiguous_float64_square(name: str, d: int) -> None:
    phi = targets.FAMILIES[name](d, **EXAMPLE_PARAMS[name], seed=0)
    assert phi.shape == (d, d)
    assert phi.dtype == np.float64
    assert phi.flags.c_contiguous and phi.flags.writeable and phi.base is None
    assert np.isfinite(phi).all()


@settings(deadline=None, max_examples=30)
@given(dims, st.floats(1.0, 1e3), seeds)
def test_spd_has_the_requested_condition_number(d: int, cond: float, seed: int) -> None:
    phi = targets.spd(d, cond, seed=seed)
    np.testing.assert_array_equal(phi, phi.T)
    eigenvalues = np.linalg.eigvalsh(phi)
    assert eigenvalues[0] > 0
    assert eigenvalues[-1] / eigenvalues[0] == pytest.approx(cond, rel=1e-10)
    assert np.linalg.cond(phi) == pytest.approx(cond, rel=1e-10)
    assert np.exp(np.mean(np.log(eigenvalues))) == pytest.approx(1.0, rel=1e-12)
    log_spaced = cond ** (np.arange(d) / (d - 1.0) - 0.5)
    np.testing.assert_allclose(eigenvalues, log_spaced, rtol=1e-10)


def test_spd_in_one_dimension_is_one() -> None:
    np.testing.assert_array_equal(targets.spd(1, 1.0, seed=0), [[1.0]])


def test_spd_with_cond_one_is_the_identity() -> None:
    np.testing.assert_allclose(targets.spd(4, 1.0, seed=0), np.eye(4), atol=1e-14)


@settings(deadline=None, max_examples=30)
@given(any_dims, st.floats(0.0, 10.0), seeds)
def test_near_identity_has_the_requested_excess_loss(d: int, excess: float, seed: int) -> None:
    assume(excess == 0 or excess >= 0.5 * (targets.RESOLUTION * d) ** 2)  # (smaller: refused)
    phi = targets.near_identity(d, excess, seed=seed)
    assert 0.5 * np.linalg.norm(phi - np.eye(d), "fro") ** 2 == pytest.approx(
        excess, rel=1e-12, abs=1e-15
    )


def test_near_identity_is_generally_asymmetric_and_zero_excess_is_identity() -> None:
    phi = targets.near_identity(5, 0.3, seed=1)
    assert np.linalg.norm(phi - phi.T) > 1e-3
    np.testing.assert_array_equal(targets.near_identity(5, 0.0, seed=1), np.eye(5))


@settings(deadline=None, max_examples=30)
@given(dims, st.floats(-3.0, 3.0), seeds)
def test_rotation_is_orthogonal_with_the_requested_angle(d: int, angle: float, seed: int) -> None:
    phi = targets.rotation(d, angle, seed=seed)
    np.testing.assert_allclose(phi @ phi.T, np.eye(d), atol=1e-12)
    assert np.linalg.det(phi) == pytest.approx(1.0)
    eigenvalues = np.linalg.eigvals(phi)
    np.testing.assert_allclose(np.abs(eigenvalues), 1.0, atol=1e-10)
    angles = np.sort(np.abs(np.angle(eigenvalues)))
    expected = np.sort([abs(angle)] * (2 * (d // 2)) + [0.0] * (d % 2))
    np.testing.assert_allclose(angles, expected, atol=1e-7)
    assert margin(phi) == pytest.approx(min(np.cos(angle), 1.0), abs=1e-10)


def test_an_acute_rotation_is_gamma_positive() -> None:
    phi = targets.rotation(6, 1.2, seed=4)
    units = np.random.default_rng(0).standard_normal((500, 6))
    units /= np.linalg.norm(units, axis=1, keepdims=True)
    assert np.einsum("ij,jk,ik->i", units, phi, units).min() >= np.cos(1.2) - 1e-12


@settings(deadline=None, max_examples=30)
@given(any_dims, st.floats(0.1, 5.0), st.floats(-0.99, 0.99), seeds)
def test_partial_reflection_spectrum(d: int, a: float, ratio: float, seed: int) -> None:
    b = ratio * a
    phi = targets.partial_reflection(d, a, b, seed=seed)
    np.testing.assert_array_equal(phi, phi.T)
    expected = np.sort([a + b] * (d - 1) + [a - b])
    np.testing.assert_allclose(np.linalg.eigvalsh(phi), expected, atol=1e-10 * a)
    assert margin(phi) == pytest.approx(a - abs(b) if d > 1 else a - b, abs=1e-10 * a)
    assert margin(phi) >= a - abs(b) - 1e-10 * a


@settings(deadline=None, max_examples=20)
@given(any_dims, seeds)
def test_partial_reflection_is_a_times_x_plus_b_times_a_reflection(d: int, seed: int) -> None:
    reflection = (targets.partial_reflection(d, 2.0, 0.5, seed=seed) - 2.0 * np.eye(d)) / 0.5
    np.testing.assert_allclose(reflection @ reflection, np.eye(d), atol=1e-12)  # involution
    np.testing.assert_allclose(reflection, reflection.T, atol=1e-15)  # hence orthogonal
    assert np.trace(reflection) == pytest.approx(d - 2.0)  # exactly one eigenvalue −1


@settings(deadline=None, max_examples=30)
@given(dims, st.floats(1e-3, 5.0), seeds)
def test_gamma_positive_is_asymmetric_with_margin_2gamma(d: int, gamma: float, seed: int) -> None:
    phi = targets.gamma_positive(d, gamma, seed=seed)
    assert margin(phi) == pytest.approx(2 * gamma, rel=1e-9, abs=1e-12)
    assert np.linalg.norm(phi - phi.T, "fro") == pytest.approx(2.0)  # Φ − Φᵀ = 2K, ‖K‖_F = 1
    symmetric_part = np.linalg.eigvalsh(0.5 * (phi + phi.T))
    assert symmetric_part[-1] <= 2 * gamma + 1 + 1e-9
    units = np.random.default_rng(seed).standard_normal((200, d))
    units /= np.linalg.norm(units, axis=1, keepdims=True)
    assert np.all(np.einsum("ij,jk,ik->i", units, phi, units) > gamma)


def test_gamma_positive_in_one_dimension_is_2gamma() -> None:
    np.testing.assert_allclose(targets.gamma_positive(1, 0.3, seed=0), [[0.6]], rtol=1e-15)


@settings(deadline=None, max_examples=30)
@given(any_dims, st.floats(0.01, 10.0), st.data(), seeds)
def test_negative_eigenvalue_spectrum(d: int, lam: float, data: st.DataObject, seed: int) -> None:
    count = data.draw(st.integers(1, d), label="count")
    phi = targets.negative_eigenvalue(d, lam, count=count, seed=seed)
    np.testing.assert_array_equal(phi, phi.T)
    expected = np.sort([-lam] * count + [1.0] * (d - count))
    np.testing.assert_allclose(np.linalg.eigvalsh(phi), expected, atol=1e-10 * max(1, lam))
    assert np.linalg.det(phi) == pytest.approx((-lam) ** count, rel=1e-8)


def test_two_negative_eigenvalues_give_positive_determinant() -> None:
    phi = targets.negative_eigenvalue(6, 0.5, count=2, seed=2)
    assert np.linalg.det(phi) == pytest.approx(0.25)
    assert np.linalg.cond(phi) == pytest.approx(2.0)
    assert 0.5 * np.linalg.norm(np.eye(6) - phi) ** 2 == pytest.approx(1.5**2)  # ½(1+λ)²·2


@pytest.mark.parametrize("name", sorted(EXAMPLE_PARAMS))
def test_seeds_reproduce_and_differ(name: str) -> None:
    make, params = targets.FAMILIES[name], EXAMPLE_PARAMS[name]
    np.testing.assert_array_equal(make(4, **params, seed=7), make(4, **params, seed=7))
    np.testing.assert_array_equal(make(4, **params, seed=np.int64(7)), make(4, **params, seed=7))
    assert not np.allclose(make(4, **params, seed=7), make(4, **params, seed=8))
    # a Generator is used in place: same state, same matrix; it advances between calls
    np.testing.assert_array_equal(
        make(4, **params, seed=np.random.default_rng(3)), make(4, **params, seed=3)
    )
    generator = np.random.default_rng(3)
    first, second = make(4, **params, seed=generator), make(4, **params, seed=generator)
    assert not np.allclose(first, second)
    assert make(4, **params).shape == (4, 4)  # seed=None: fresh entropy


def test_haar_orthogonal_is_orthogonal_and_unbiased() -> None:
    rng = np.random.default_rng(0)
    samples = np.array([targets._haar_orthogonal(3, rng) for _ in range(2000)])
    np.testing.assert_allclose(samples[0] @ samples[0].T, np.eye(3), atol=1e-12)
    # Without the sign fix, LAPACK's convention makes Q[0, 0] negative every time (mean ≈ −0.5);
    # under Haar measure every entry has mean 0 and variance 1/3 (std of the mean ≈ 0.013).
    assert np.abs(samples.mean(axis=0)).max() < 0.06
    np.testing.assert_allclose((samples**2).mean(axis=0), 1 / 3, atol=0.04)
    determinants = np.linalg.det(samples)
    assert 0.4 < np.mean(determinants > 0) < 0.6


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: targets.spd(0, 2.0), ValueError, "d must be >= 1"),
        (lambda: targets.spd(3.5, 2.0), TypeError, "d must be an integer"),
        (lambda: targets.spd(True, 2.0), TypeError, "d must be an integer"),
        (lambda: targets.spd(3, 0.5), ValueError, "cond must be >= 1"),
        (lambda: targets.spd(1, 2.0), ValueError, "cond must be 1"),
        (lambda: targets.spd(3, float("nan")), ValueError, "cond must be finite"),
        (lambda: targets.spd(3, "2"), TypeError, "cond must be a real number"),
        (lambda: targets.near_identity(0, 0.1), ValueError, "d must be >= 1"),
        (lambda: targets.near_identity(3, -1.0), ValueError, "excess_loss must be >= 0"),
        (lambda: targets.near_identity(3, float("inf")), ValueError, "excess_loss"),
        (lambda: targets.rotation(1, 0.3), ValueError, "d must be >= 2"),
        (lambda: targets.rotation(3, float("inf")), ValueError, "angle must be finite"),
        (lambda: targets.rotation(3, "0.3"), TypeError, "angle must be a real number"),
        (lambda: targets.partial_reflection(3, 1.0, 1.0), ValueError, "b must satisfy"),
        (lambda: targets.partial_reflection(3, 1.0, -1.5), ValueError, "b must satisfy"),
        (lambda: targets.partial_reflection(3, -1.0, 0.0), ValueError, "a must be > 0"),
        (lambda: targets.partial_reflection(3, 0.0, 0.0), ValueError, "a must be > 0"),
        (lambda: targets.partial_reflection(3, 1.0, float("nan")), ValueError, "b must be"),
        (lambda: targets.gamma_positive(3, 0.0), ValueError, "gamma must be > 0"),
        (lambda: targets.gamma_positive(0, 0.1), ValueError, "d must be >= 1"),
        (lambda: targets.negative_eigenvalue(3, 0.0), ValueError, "lam must be > 0"),
        (lambda: targets.negative_eigenvalue(3, -1.0), ValueError, "lam must be > 0"),
        (lambda: targets.negative_eigenvalue(3, 1.0, count=4), ValueError, "count must be <= d"),
        (lambda: targets.negative_eigenvalue(3, 1.0, count=0), ValueError, "count must be >= 1"),
        (lambda: targets.negative_eigenvalue(3, 1.0, count=1.0), TypeError, "count"),
        (lambda: targets.spd(3, 2.0, seed=1.5), TypeError, "seed"),
        (lambda: targets.spd(3, 2.0, seed="1"), TypeError, "seed"),
        (lambda: targets.spd(3, 2.0, seed=-1), ValueError, "seed must be >= 0"),
    ],
)
def test_bad_arguments_name_the_argument(call, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        call()


def test_targets_near_the_largest_float_are_finite_or_refused_naming_the_argument() -> None:
    huge = float(np.finfo(np.float64).max)
    phi = targets.near_identity(3, 0.9 * huge, seed=0)  # 2·excess_loss overflows; Φ does not
    assert np.isfinite(phi).all()
    assert 0.5 * np.sum(((phi - np.eye(3)) / 1e150) ** 2) == pytest.approx(0.9 * huge / 1e300)
    refused = [
        (lambda: targets.gamma_positive(3, 0.9 * huge, seed=0), "gamma = .* is too large"),
        (lambda: targets.partial_reflection(3, huge, 0.99 * huge, seed=0), "a = .* and b = "),
        (lambda: targets.negative_eigenvalue(3, huge, seed=0), "lam = .* is too large"),
    ]
    with np.errstate(all="raise"):  # and no floating-point warning on the way
        for call, match in refused:
            with pytest.raises(ValueError, match=match):
                call()
    for name, params in EXAMPLE_PARAMS.items():  # ordinary arguments are unaffected
        assert np.isfinite(targets.FAMILIES[name](4, **params, seed=1)).all()


def _exact_eigenvalues(phi: np.ndarray) -> np.ndarray:
    """The eigenvalues of the symmetric float64 matrix as it is, to 40 digits."""
    import mpmath

    with mpmath.workdps(40):
        values = mpmath.eigsy(mpmath.matrix(phi.tolist()), eigvals_only=True)
        return np.array(sorted(float(v) for v in values))


def test_an_spd_target_of_a_dimension_no_spectrum_survives_names_d() -> None:
    # beyond d = 1/RESOLUTION even cond = 1 is refused: the message names d, not a bound on
    # cond below 1
    d = int(2 / targets.RESOLUTION)
    with pytest.raises(ValueError, match=rf"^d = {d} is too large"):
        targets.spd(d, 1.0)


@pytest.mark.parametrize("d", [2, 7])
def test_parameters_that_rounding_would_swamp_are_refused_and_the_limit_holds(d: int) -> None:
    # Beyond these limits float64 cannot hold what each generator promises: spd(2, 1e20) had
    # eigenvalues -1.2e-7 and 1e10, gamma_positive(3, 1e-20) a negative margin, and so on.
    limit = 1.0 / (targets.RESOLUTION * d)
    with pytest.raises(ValueError, match=r"cond = .* is too large for float64"):
        targets.spd(d, 1.01 * limit, seed=0)
    with pytest.raises(ValueError, match=r"gamma = .* is too small for float64"):
        targets.gamma_positive(d, 1e-17, seed=0)
    with pytest.raises(ValueError, match=r"gamma = .* is too large for float64"):
        targets.gamma_positive(d, 1e100, seed=0)
    with pytest.raises(ValueError, match=r"lam = .* is too small for float64"):
        targets.negative_eigenvalue(d, 1e-18, seed=0)
    with pytest.raises(ValueError, match=r"excess_loss = .* is too small for float64"):
        targets.near_identity(d, 1e-40, seed=0)
    # at the limits the promised spectra hold to well within 1 % (exactly computed)
    for seed in range(5):
        cond = 0.99 * limit
        values = _exact_eigenvalues(targets.spd(d, cond, seed=seed))
        assert values[0] == pytest.approx(cond**-0.5, rel=1e-2)
        assert values[-1] == pytest.approx(cond**0.5, rel=1e-2)
        lam = 1.01 * targets.RESOLUTION * d
        values = _exact_eigenvalues(targets.negative_eigenvalue(d, lam, seed=seed))
        assert values[0] == pytest.approx(-lam, rel=1e-2)
        gamma = 0.51 * targets.RESOLUTION * d * 2.0  # just inside: 2γ ≥ d·R·(2γ + 2)
        phi = targets.gamma_positive(d, gamma, seed=seed)
        margin = _exact_eigenvalues(0.5 * (phi + phi.T))[0]
        assert margin == pytest.approx(2 * gamma, rel=1e-2)
