"""Check the contents of an sdist and of the wheel built from it (run by .ci/run).

    python .ci/check_dist.py dist/deeplinear-X.tar.gz dist/deeplinear-X-*.whl

The sdist must hold everything a build and the tests need, and every licence file; the wheel
must hold every module of python/deeplinear, the compiled core, _core.pyi, py.typed and every
licence file (under .dist-info/licenses/), with the version of python/deeplinear/__init__.py.
Prints what is missing and exits 1, or prints a summary and exits 0.
"""

from __future__ import annotations

import glob
import re
import sys
import tarfile
import zipfile
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def licence_files() -> list[str]:
    with open(ROOT / "pyproject.toml", "rb") as file:
        patterns = tomllib.load(file)["project"]["license-files"]
    found = sorted(
        str(Path(name).relative_to(ROOT))
        for pattern in patterns
        for name in glob.glob(str(ROOT / pattern))
    )
    if not found:
        raise SystemExit("pyproject.toml: license-files matches nothing")
    return found


def version() -> str:
    text = (ROOT / "python" / "deeplinear" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"', text, re.MULTILINE)
    if match is None:
        raise SystemExit("python/deeplinear/__init__.py: no __version__ line")
    return match.group(1)


def package_files() -> list[str]:
    package = ROOT / "python" / "deeplinear"
    return sorted(
        str(path.relative_to(package.parent))
        for path in package.rglob("*")
        if path.is_file() and path.suffix in (".py", ".pyi", ".typed")
    )


def check_sdist(path: Path) -> list[str]:
    with tarfile.open(path) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    required = [
        "pyproject.toml",
        "CMakeLists.txt",
        "README.md",
        "CHANGELOG.md",
        "PKG-INFO",
        "cpp/third_party/eigen/Eigen/Core",
        *licence_files(),
        *(f"python/{name}" for name in package_files()),
        "tests/conftest.py",
    ]
    problems = [f"sdist lacks {name}" for name in required if name not in names]
    problems += [
        f"sdist holds a build output: {name}"
        for name in names
        if name.endswith((".so", ".pyd", ".whl")) or name.startswith(("build/", "dist/"))
    ]
    return problems


def check_wheel(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        dist_info = f"deeplinear-{version()}.dist-info"
        metadata = (
            archive.read(f"{dist_info}/METADATA").decode()
            if f"{dist_info}/METADATA" in names
            else ""
        )
    problems = [f"wheel lacks {name}" for name in package_files() if name not in names]
    if not any(re.fullmatch(r"deeplinear/_core\.[^/]+\.(so|pyd)", name) for name in names):
        problems.append("wheel lacks the compiled core deeplinear/_core.*.so")
    problems += [
        f"wheel lacks {dist_info}/licenses/{name}"
        for name in licence_files()
        if f"{dist_info}/licenses/{name}" not in names
    ]
    if f"\nVersion: {version()}\n" not in metadata:
        problems.append(f"wheel METADATA does not say Version: {version()}")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    sdist, wheel = Path(argv[0]), Path(argv[1])
    problems = check_sdist(sdist) + check_wheel(wheel)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    print(
        f"{sdist.name} and {wheel.name}: every module, _core.pyi, py.typed and "
        f"{len(licence_files())} licence files present"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
