"""`deeplinear reproduce --quick`: every claim passes; the report is complete and never clobbered;
each claim's criterion can fail."""

from __future__ import annotations

import dataclasses
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
from deeplinear.reproduce.engine import Engine


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
    assert [claim["name"] for claim in results["claims"]] == [c.name for c in claims.CLAIMS]
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
    lemma2 = by_name["lemmas23"]["numbers"]["lemma2"]
    # Lemma 2 as stated fails by exactly a factor 2; the corrected form holds and is attained
    assert lemma2["stated_min"] == pytest.approx(0.5, abs=1e-9)
    assert lemma2["counterexample_stated"] == pytest.approx(0.5)
    assert lemma2["corrected_min"] >= 1 - 1e-9 and lemma2["identity_corrected_gap"] <= 1e-9
    assert by_name["lemmas23"]["numbers"]["lemma3"]["checked"] >= 10
    fits = by_name["theorem2"]["numbers"]["fits"]
    assert fits["cond_slope"] <= 2 and fits["dim_slope"] <= fits["eps_slope"]
    counter = by_name["theorem3"]["numbers"]["counterexample"]
    assert [r["paper_holds"] for r in counter] == [False, False]  # (8) fails for γ = 5 > 1
    assert all(r["condition_7_holds"] and r["corrected_holds"] for r in counter)


def test_figures_exist_or_are_said_to_be_skipped(report: tuple[int, Path]) -> None:
    _, out = report
    text = (out / "report.md").read_text(encoding="utf-8")
    if importlib.util.find_spec("matplotlib") is None:
        assert "skipped" in text
    else:
        pngs = sorted(path.name for path in out.glob("*.png"))
        assert {name.split("_")[0] for name in pngs} >= {c.name for c in claims.CLAIMS}
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
    def fails(rng: np.random.Generator, quick: bool, progress: bool, engine) -> claims.Claim:
        return claims.Claim("broken", "a claim that fails", "Sec. 0", "-", "-", "-", "-", False)

    monkeypatch.setattr(reproduce, "CLAIMS", [claims.BY_NAME["lemma7"], fails])
    assert cli.main(["reproduce", "--quick", "--out", str(tmp_path / "r"), "--no-progress"]) == 1
    assert "FAIL" in capsys.readouterr().out
    assert "**FAIL**" in (tmp_path / "r" / "report.md").read_text(encoding="utf-8")
    assert _results(tmp_path / "r")["passed"] is False


def test_a_seed_reproduces_the_numbers() -> None:
    first = claims.BY_NAME["lemma7"](np.random.default_rng(3), True, False)
    second = claims.BY_NAME["lemma7"](np.random.default_rng(3), True, False)
    assert first.numbers == second.numbers and first.passed


class _Raising(Engine):
    def gradient(self, layers, phi):
        raise RuntimeError("a broken gradient")


def test_an_exception_inside_a_claim_fails_it_with_the_message() -> None:
    claim = claims.BY_NAME["lemmas23"](np.random.default_rng(0), True, False, _Raising())
    assert not claim.passed
    assert "RuntimeError: a broken gradient" in claim.observed
    assert claim.title and claim.statement  # the row still says which claim it is


class _Diverging(Engine):
    def train_one(self, spec):
        return super().train_one(dataclasses.replace(spec, lr=50 * spec.lr))


def test_a_diverging_run_fails_its_claim_with_a_message() -> None:
    claim = claims.BY_NAME["lemmas56"](np.random.default_rng(0), True, False, _Diverging())
    assert not claim.passed and "diverged" in claim.observed


def test_report_sentences_are_computed(report: tuple[int, Path]) -> None:
    """No claim cites anything outside the repository, and the rounding-level figures are
    given as bounds."""
    _, out = report
    text = (out / "report.md").read_text(encoding="utf-8")
    assert "PAPER.md" not in text and "shared/" not in text
    assert "e-17" not in text and "e-18" not in text
