"""A Dask cluster of two single-threaded worker processes on this machine, for the tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


@contextmanager
def dask_client() -> Iterator[Any]:
    """A ``distributed.Client`` of a two-process LocalCluster (skips without distributed). The
    dashboard takes a free port: another cluster on this machine may hold the default one."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            worker_dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client
