"""Why ``deeplinear._core`` did not import, in words a user can act on.

The compiled core is the one file of the package that ``pip install`` builds. Importing the
package from a source checkout that was never built, or with another Python than the one it was
built for, otherwise ends in a bare ``cannot import name '_core'``.
"""

from __future__ import annotations

import importlib.machinery
import sys
from pathlib import Path

__all__ = ["core_import_error"]

_BUILD = (
    "Install it with `python -m pip install .` from the source folder (this compiles the C++ "
    "core: several minutes), or for development with "
    "`python -m pip install --no-build-isolation -Cbuild-dir=build -ve .`."
)


def core_import_error(error: ImportError) -> ImportError:
    """The ImportError to raise instead of ``error``, raised by ``from . import _core``."""
    package = Path(__file__).resolve().parent
    python = f"Python {sys.version_info.major}.{sys.version_info.minor}"
    suffixes = importlib.machinery.EXTENSION_SUFFIXES
    ours = [package / f"_core{suffix}" for suffix in suffixes]
    found = sorted(
        path.name
        for path in package.glob("_core.*")
        if path.suffix in (".so", ".pyd", ".dylib") and path.is_file()
    )
    present = [path for path in ours if path.is_file()]
    if present:
        message = (
            f"deeplinear's compiled core {present[0]} is there but could not be loaded: {error}. "
        )
        if "openblas" in str(error).lower():
            message += (
                "It links the OpenBLAS of the scipy-openblas32 wheel: "
                "`python -m pip install scipy-openblas32`, or reinstall deeplinear. "
            )
        else:
            message += f"Rebuild it for this {python}. " + _BUILD
    elif found:
        message = (
            f"deeplinear's compiled core in {package} was built for another Python "
            f"({', '.join(found)}); this {python} ({sys.executable}) loads one of "
            f"{', '.join('_core' + suffix for suffix in suffixes)}. Rebuild it with this "
            f"interpreter. " + _BUILD
        )
    else:
        message = (
            f"deeplinear's compiled core (deeplinear._core) is missing from {package}: "
            "deeplinear is being imported from a source folder that was not built. " + _BUILD
        )
    return ImportError(message, name="deeplinear._core", path=str(package))
