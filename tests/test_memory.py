"""gd's and the penalty's workspace stays within 2·L·d² elements beyond the layers and the target.

benchmarks/memory.py measures it (the peak resident-set growth of a Trainer's steps, in a process
of its own; see there); these tests hold it to the bound, and show that the probe sees one d × d
matrix too many.
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
    ("dim", "depth", "threads", "dtype"),
    [
        (256, 4, 1, "float64"),  # packed kernel: 2L − 1 matrices and its panels
        (256, 4, 2, "float64"),
        (384, 2, 1, "float64"),
        (160, 6, 1, "float64"),  # small kernel: 2L matrices
        (128, 24, 1, "float64"),
        (128, 1, 1, "float64"),
        (128, 3, 1, "float32"),
    ],
)
def test_gd_workspace_is_within_two_l_d_squared(
    dim: int, depth: int, threads: int, dtype: str
) -> None:
    workspace, bound = probe.workspace_bytes(dim, depth, threads, dtype)
    assert workspace <= bound + probe.SLACK_BYTES, (workspace / bound, workspace, bound)


@pytest.mark.parametrize(
    ("dim", "depth", "threads", "dtype"),
    [
        (256, 4, 1, "float64"),  # packed kernel: the decayed layer where the update is not
        (256, 4, 2, "float64"),
        (256, 3, 1, "float64"),  # the first layer's decayed copy in the spent residual
        (160, 6, 1, "float64"),  # small kernel
        (128, 3, 1, "float32"),
    ],
)
def test_penalty_workspace_is_within_two_l_d_squared(
    dim: int, depth: int, threads: int, dtype: str
) -> None:
    workspace, bound = probe.workspace_bytes(dim, depth, threads, dtype, method="penalty")
    assert workspace <= bound + probe.SLACK_BYTES, (workspace / bound, workspace, bound)


def test_penalty_of_two_layers_needs_one_matrix_more() -> None:
    # The documented exception: the first of two layers is updated in place, and the packed
    # kernel keeps its sums between blocks of k in one d × d matrix of its own.
    dim, depth = 384, 2
    workspace, bound = probe.workspace_bytes(dim, depth, method="penalty")
    assert workspace <= bound + dim * dim * 8 + probe.SLACK_BYTES, (workspace / bound,)


def test_the_measurement_sees_one_matrix_too_many() -> None:
    # The same run with one d × d array more held during its steps: the probe must count it.
    dim, depth = 256, 4
    workspace, bound = probe.workspace_bytes(dim, depth)
    wasteful, _ = probe.workspace_bytes(dim, depth, waste=1.0)
    assert wasteful - workspace >= dim * dim * 8 - probe.SLACK_BYTES
    assert wasteful > bound + probe.SLACK_BYTES
