"""One BLAS thread for every library unless the caller chose otherwise: dl.train runs with
threads=1 by default, and numpy's OpenBLAS would otherwise use every core, so the groups
would not compare the same work."""

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
