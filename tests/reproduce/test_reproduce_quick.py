"""`deeplinear reproduce --quick`: every claim passes; the report is complete, never clobbered."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from deeplinear import cli
from deeplinear.reproduce import claims


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path]:
    out = tmp_path_factory.mktemp("reproduce") / "report"
    status = cli.main(["reproduce", "--quick", "--out", str(out), "--no-progress"])
    return status, out


def test_every_claim_passes(report: tuple[int, Path]) -> None:
    status, out = report
    results = json.loads((out / "results.json").read_text())
    failing = [claim["key"] for claim in results["claims"] if not claim["passed"]]
    assert failing == [] and status == 0 and results["passed"]
    assert len(results["claims"]) == 8


def test_report_has_one_row_per_claim(report: tuple[int, Path]) -> None:
    _, out = report
    text = (out / "report.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ") and "**PASS**" in line]
    assert len(rows) == 8
    for section in ("Theorem 1", "Theorem 2", "Lemmas 5–6", "Theorem 3", "Theorems 4–5", "Lemma 7"):
        assert section in text
    assert "deeplinear reproduce --quick" in text


def test_figures_exist_or_are_said_to_be_skipped(report: tuple[int, Path]) -> None:
    _, out = report
    text = (out / "report.md").read_text()
    if importlib.util.find_spec("matplotlib") is None:
        assert "skipped" in text
    else:
        pngs = sorted(path.name for path in out.glob("*.png"))
        assert len(pngs) >= 5
        assert all((out / name).stat().st_size > 1000 for name in pngs)
        assert all(f"({name})" in text for name in pngs)


def test_existing_report_is_not_overwritten(report: tuple[int, Path], capsys) -> None:
    _, out = report
    before = (out / "report.md").read_bytes()
    assert cli.main(["reproduce", "--quick", "--out", str(out), "--no-progress"]) == 2
    assert "--force" in capsys.readouterr().err
    assert (out / "report.md").read_bytes() == before


def test_claim_criteria_can_fail() -> None:
    # The Theorems 4–5 plateau check must fail for a target without a negative eigenvalue.
    runs, _ = claims._plateaus(np.diag([0.5, 1.0, 1.0]), 0.5**2 / 2, 300, False, "check")
    assert not all(run["passed"] for run in runs)


def test_lemma2_claim_reports_the_stated_constant() -> None:
    claim = claims.lemmas23(np.random.default_rng(0), True, False)
    assert claim.passed
    assert claim.numbers["stated_ratio_min"] < 1 <= claim.numbers["corrected_ratio_min"] + 1e-9
