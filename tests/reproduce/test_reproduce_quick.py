"""`deeplinear reproduce --quick`: every claim passes; the report is complete and never clobbered;
each claim's criterion can fail."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import deeplinear as dl
from deeplinear import cli, reproduce
from deeplinear.reproduce import claims, figures


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path]:
    out = tmp_path_factory.mktemp("reproduce") / "report"
    status = cli.main(["reproduce", "--quick", "--out", str(out), "--no-progress"])
    return status, out


def _results(out: Path) -> dict:
    def no_constants(name: str) -> None:
        raise ValueError(f"results.json holds {name}")

    text = (out / "results.json").read_text(encoding="utf-8")
    return json.loads(text, parse_constant=no_constants)


def test_every_claim_passes(report: tuple[int, Path]) -> None:
    status, out = report
    results = _results(out)
    failing = [claim["name"] for claim in results["claims"] if not claim["passed"]]
    assert failing == []
    assert status == 0 and results["passed"] and results["quick"]
    assert [claim["name"] for claim in results["claims"]] == [f.__name__ for f in claims.CLAIMS]
    assert len(results["claims"]) == 8


def test_report_has_one_row_per_claim(report: tuple[int, Path]) -> None:
    _, out = report
    text = (out / "report.md").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == 8
    assert all(row.endswith("| **PASS** |") for row in rows)
    assert all(row.count(" | ") == 6 for row in rows)  # 7 cells: #, claim, paper, setup, ...
    for section in (
        "Theorem 1",
        "Theorem 2",
        "Lemmas 5–6",
        "Theorem 3",
        "Theorems 4–5",
        "Sec. 6",
        "Lemmas 2–3",
        "Lemma 7",
    ):
        assert section in text
    assert f"`deeplinear reproduce --quick --out {out} --no-progress`" in text
    assert "seed: 0" in text and f"numpy {np.__version__}" in text and "run time" in text


def test_results_json_holds_the_numbers(report: tuple[int, Path]) -> None:
    _, out = report
    results = _results(out)
    by_name = {claim["name"]: claim for claim in results["claims"]}
    assert results["seed"] == 0 and results["versions"]["deeplinear"] == dl.__version__
    lemma2 = by_name["lemmas23"]["numbers"]
    # Lemma 2 as stated fails by exactly a factor 2; the corrected form holds
    assert lemma2["stated_ratio_min"] == pytest.approx(0.5, abs=1e-9)
    assert lemma2["counterexample_stated_ratio"] == pytest.approx(0.5)
    assert lemma2["corrected_ratio_min"] >= 1 - 1e-9
    assert lemma2["lemma3_states_checked"] >= 10
    fits = by_name["theorem2"]["numbers"]["fits"]
    assert fits["cond_slope"] <= 2.5 and fits["dim_slope"] <= fits["eps_slope"]


def test_figures_exist_or_are_said_to_be_skipped(report: tuple[int, Path]) -> None:
    _, out = report
    text = (out / "report.md").read_text(encoding="utf-8")
    if importlib.util.find_spec("matplotlib") is None:
        assert "skipped" in text
    else:
        pngs = sorted(path.name for path in out.glob("*.png"))
        assert len(pngs) >= 5
        assert sorted(_results(out)["figures"]) == pngs
        assert all((out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for name in pngs)
        assert all(f"({name})" in text for name in pngs)


def test_without_matplotlib_the_report_says_figures_were_skipped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    names, note = figures.make_figures([], tmp_path)
    assert names == [] and "skipped" in note and list(tmp_path.iterdir()) == []


def test_existing_report_is_not_overwritten(report: tuple[int, Path], capsys) -> None:
    _, out = report
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    assert cli.main(["reproduce", "--quick", "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--force" in err and len(err.splitlines()) == 1
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before


def test_force_replaces_the_report(report: tuple[int, Path], tmp_path: Path) -> None:
    _, out = report
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    results = _results(copy)
    results["figures"].append("stale_figure.png")
    (copy / "results.json").write_text(json.dumps(results), encoding="utf-8")
    (copy / "stale_figure.png").write_bytes(b"old")
    (copy / "notes.txt").write_text("mine")
    assert cli.main(["reproduce", "--quick", "--out", str(copy), "--force", "--no-progress"]) == 0
    assert not (copy / "stale_figure.png").exists()  # a previous report's figure is removed
    assert (copy / "notes.txt").read_text() == "mine"  # anything else is left alone
    assert "--force" in (copy / "report.md").read_text(encoding="utf-8")


def test_a_failing_claim_gives_exit_status_1(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys
) -> None:
    def fails(rng: np.random.Generator, quick: bool, progress: bool) -> claims.Claim:
        return claims.Claim("broken", "a claim that fails", "Sec. 0", "-", "-", "-", "-", False)

    monkeypatch.setattr(reproduce, "CLAIMS", [claims.lemma7, fails])
    assert cli.main(["reproduce", "--quick", "--out", str(tmp_path / "r"), "--no-progress"]) == 1
    assert "FAIL" in capsys.readouterr().out
    assert "**FAIL**" in (tmp_path / "r" / "report.md").read_text(encoding="utf-8")
    assert _results(tmp_path / "r")["passed"] is False


def test_a_seed_reproduces_the_numbers() -> None:
    first = claims.lemma7(np.random.default_rng(3), True, False)
    second = claims.lemma7(np.random.default_rng(3), True, False)
    assert first.numbers == second.numbers and first.passed


# -- each claim's criterion can fail ----------------------------------------------------------
def test_theorem1_check_fails_outside_its_hypotheses() -> None:
    inside = dl.targets.near_identity(2, 1e-4, seed=0)
    assert claims.theorem1_run(inside, 2, 1.2, 500)["passed"]
    far = dl.targets.near_identity(2, 0.5, seed=0)  # ℓ(I) far above ln(c)²/(8c¹⁰)
    run = claims.theorem1_run(far, 2, 1.2, 500)
    assert not run["hypotheses_hold"] and not run["passed"]


def test_theorem2_verdicts_reject_exponential_growth() -> None:
    depths, conds = [1.0, 2.0, 4.0, 8.0], [2.0, 4.0, 8.0, 16.0]
    epsilons, dims = [1e-2, 1e-4, 1e-6], [2.0, 8.0, 32.0]
    polynomial = {
        "depth": (depths, [50, 90, 120, 140]),
        "cond": (conds, [40, 150, 500, 1700]),
        "eps": (epsilons, [10, 40, 70]),
        "dim": (dims, [60, 62, 64]),
    }
    assert claims.growth_verdicts(polynomial)["passed"]
    exponential = dict(polynomial, cond=(conds, [10, 100, 10_000, 100_000_000]))
    assert not claims.growth_verdicts(exponential)["passed"]
    linear_in_d = dict(polynomial, dim=(dims, [60, 240, 960]))
    assert not claims.growth_verdicts(linear_in_d)["passed"]
    unconverged = dict(polynomial, depth=(depths, [50, 90, -1, 140]))
    assert not claims.growth_verdicts(unconverged)["passed"]


def test_lemmas56_check_fails_away_from_the_identity_initialization() -> None:
    phi = dl.targets.spd(4, 5.0, seed=1)
    assert claims.symmetric_run_deviations(phi, 3, 200)["passed"]
    rng = np.random.default_rng(1)
    init = np.eye(4) + 0.1 * rng.standard_normal((3, 4, 4))
    run = claims.symmetric_run_deviations(phi, 3, 200, init=init)
    assert not run["passed"] and run["deviations"]["equal"] > 1e-3


def test_theorem3_check_fails_when_gamma_exceeds_the_margin() -> None:
    phi = dl.targets.rotation(4, 1.0, seed=2)
    margin = dl.positivity_margin(phi)
    good = claims.power_projection_run(phi, 3, 0.5 * margin, max_steps=3000, rate_steps=50)
    assert good["passed"]
    # Φ ∉ H_γ: the product stays in H_γ, so the loss cannot reach 1e-13
    bad = claims.power_projection_run(phi, 3, 1.5 * margin, max_steps=1000, rate_steps=50)
    assert bad["invariants_ok"] and not bad["passed"]


def test_plateau_check_fails_without_a_negative_eigenvalue() -> None:
    negative = np.diag([-0.5, 1.0, 1.0])
    runs, _ = claims.plateau_runs(negative, 0.5**2 / 2, 300)
    assert all(run["passed"] for run in runs)
    positive = np.diag([0.5, 1.0, 1.0])
    runs, _ = claims.plateau_runs(positive, 0.5**2 / 2, 300)
    assert not any(run["passed"] for run in runs)


def test_section6_target_has_an_exact_near_identity_factorization() -> None:
    phi = dl.targets.negative_eigenvalue(5, 2.0, count=2, seed=4)
    layers = claims._near_identity_representation(phi, 16)
    assert np.allclose(dl.product(layers), phi, atol=1e-12)
    assert max(np.linalg.norm(t - np.eye(5), 2) for t in layers) < 0.3


def test_lemma2_check_catches_the_stated_constant() -> None:
    # L = 1, Θ = I, Φ = 0: ‖∇ℓ‖² = d but 4ℓL = 2d, so the paper's ratio is ½ < 1
    values = dl.theory.diagnostics(np.eye(3)[np.newaxis], np.zeros((3, 3)))
    stated, corrected = claims.lemma2_ratios({k: np.array([v]) for k, v in values.items()}, 1)
    assert stated[0] == pytest.approx(0.5) and corrected[0] == pytest.approx(1.0)


def test_lemma3_check_skips_states_outside_its_hypotheses() -> None:
    layers = np.stack([np.eye(3)] * 2)
    assert claims.lemma3_ratio(layers, 2 * np.eye(3)) is None  # ‖Φ‖₂ > (1 + z)^L with z = 0
    ratio = claims.lemma3_ratio(layers, 0.5 * np.eye(3))
    assert ratio is not None and 0 < ratio <= 1


def test_lemma7_check_rejects_an_unbalanced_factorization() -> None:
    a = dl.targets.gamma_positive(4, 0.3, seed=5)
    balanced = claims.factorization_errors(a, dl.balanced_factorization(a, 3))
    assert max(balanced.values()) < 1e-10
    lopsided = claims.factorization_errors(a, np.stack([a, np.eye(4), np.eye(4)]))
    assert lopsided["product"] < 1e-12
    assert lopsided["singular_values"] > 0.1 and lopsided["balancedness"] > 0.1
