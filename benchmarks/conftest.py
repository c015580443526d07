"""The benchmarks' process settings.

One BLAS thread for every library unless the caller chose otherwise: dl.train runs with
threads=1 by default, and numpy's OpenBLAS would otherwise use every core, so the groups would not
compare the same work.

No BLAS handicap: a machine may set OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (this project's does,
to keep old OpenBLAS builds off a processor they misdetect); they pin every OpenBLAS in the
process, numpy's included, to one kernel (AVX2 "Haswell" there, about 60 % of the speed of the
AVX-512 kernel a workstation gets). As compare.py does for its processes, the benchmarks remove
both before any BLAS is loaded (the tests keep the machine's settings), and the report's header
names the kernel each BLAS runs (threadpoolctl's `architecture`).
"""

import os
import sys

HANDICAPS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

# A BLAS loaded already (numpy imported by a plugin) has read the variables: removing them now
# would not help, and the header says so.
_LOADED_BEFORE = "numpy" in sys.modules
for _name in HANDICAPS:
    os.environ.pop(_name, None)


def pytest_report_header(config) -> list[str]:
    import numpy  # noqa: F401  (loads numpy's OpenBLAS)
    from threadpoolctl import threadpool_info

    import deeplinear  # noqa: F401  (loads the scipy-openblas32 that deeplinear links)

    kernels = [
        " ".join(
            filter(None, (info.get("internal_api"), info.get("version"), info["architecture"]))
        )
        for info in threadpool_info()
        if info.get("user_api") == "blas" and "architecture" in info
    ]
    lines = ["BLAS kernels: " + ("; ".join(kernels) or "none reported")]
    if _LOADED_BEFORE:
        lines.append(
            "warning: numpy was imported before benchmarks/conftest.py removed "
            + " and ".join(HANDICAPS)
            + ": its BLAS may run a handicapped kernel"
        )
    return lines
