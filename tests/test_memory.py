"""The workspace beyond the layers and the target: within 2·L·d² elements for gd and the penalty at
every depth, and for step-and-project from seven layers on (thirteen on two threads); (L + 7)·d²
for step-and-project below that, 6·d² more on two threads (LAPACK's SVD needs 6·d², and two
threads make two at once); power projection's pinned where it is.

benchmarks/memory.py measures it (the peak resident-set growth of a Trainer's steps, in a process
of its own, with every step projecting; see there); these tests hold it to the bound, and show
that the probe sees one d × d matrix too many.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_SPEC = importlib.util.spec_from_file_location(
    "memory_probe", Path(__file__).resolve().parent.parent / "benchmarks" / "memory.py"
)
assert _SPEC is not None and _SPEC.loader is not None
probe = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(probe)

pytestmark = pytest.mark.skipif(
    not probe.available(), reason="needs Linux's /proc/self/clear_refs and VmHWM"
)


@pytest.mark.parametrize(
    ("method", "dim", "depth", "threads", "dtype"),
    [
        ("gd", 256, 4, 1, "float64"),  # packed kernel: 2L − 1 matrices and its panels
        ("gd", 256, 4, 2, "float64"),
        ("gd", 384, 2, 1, "float64"),
        ("gd", 160, 6, 1, "float64"),  # small kernel: 2L matrices
        ("gd", 128, 24, 1, "float64"),
        ("gd", 128, 1, 1, "float64"),
        ("gd", 256, 1, 1, "float64"),  # no products: no panels
        ("gd", 128, 3, 1, "float32"),
        (
            "penalty",
            256,
            4,
            1,
            "float64",
        ),  # packed kernel: the decayed layer where the update is not
        ("penalty", 256, 4, 2, "float64"),
        ("penalty", 256, 3, 1, "float64"),  # the first layer's decayed copy in the spent residual
        (
            "penalty",
            384,
            2,
            1,
            "float64",
        ),  # the first of two layers: its decayed rows one at a time
        ("penalty", 256, 1, 1, "float64"),
        ("penalty", 160, 6, 1, "float64"),  # small kernel
        ("penalty", 128, 3, 1, "float32"),
        # step-and-project from seven layers: the SVD's 5d² + 7d in the L − 2 spent prefix products
        ("step_and_project", 256, 8, 1, "float64"),
        ("step_and_project", 256, 13, 2, "float64"),  # two threads, two SVDs at once: 11d² + 14d
        ("step_and_project", 256, 8, 1, "float32"),
        ("step_and_project", 160, 8, 1, "float64"),  # small kernel
        ("step_and_project", 128, 7, 1, "float64"),
    ],
)
def test_workspace_is_within_two_l_d_squared(
    method: str, dim: int, depth: int, threads: int, dtype: str
) -> None:
    workspace, bound = probe.workspace_bytes(dim, depth, threads, dtype, method)
    assert workspace <= bound + probe.SLACK_BYTES, (workspace / bound, workspace, bound)


@pytest.mark.parametrize(
    ("dim", "depth", "threads"), [(256, 2, 1), (160, 2, 1), (256, 4, 1), (256, 2, 2), (256, 8, 2)]
)
def test_step_and_project_of_few_layers_needs_l_plus_seven_matrices_per_thread(
    dim: int, depth: int, threads: int
) -> None:
    # The documented exception: fewer than seven layers lend less than the SVD's six matrices
    # (A − I, U, Vᵀ and gesdd's 3d² + 7d), and the sweep's prefix block grows to hold them; a
    # second thread projects with six more (fewer than thirteen layers).
    workspace, bound = probe.workspace_bytes(dim, depth, threads, method="step_and_project")
    allowed = depth + 7 + 6 * (threads - 1)
    assert workspace <= allowed * dim * dim * 8 + probe.SLACK_BYTES, (workspace / bound,)


def test_power_projection_workspace_stays_where_it_was_measured() -> None:
    # Not within 2·L·d² (see docs/performance.md): 31.07 matrices at d = 256, L = 4, held there.
    dim, depth = 256, 4
    workspace, bound = probe.workspace_bytes(dim, depth, method="power_projection")
    assert workspace <= 32 * dim * dim * 8 + probe.SLACK_BYTES, (workspace / bound,)


def test_the_measurement_sees_one_matrix_too_many() -> None:
    # The same run with one d × d array more held during its steps: the probe must count it.
    dim, depth = 256, 4
    workspace, bound = probe.workspace_bytes(dim, depth)
    wasteful, _ = probe.workspace_bytes(dim, depth, waste=1.0)
    assert wasteful - workspace >= dim * dim * 8 - probe.SLACK_BYTES
    assert wasteful > bound + probe.SLACK_BYTES
