"""The static checks of .ci/run and .pre-commit-config.yaml, with the tool versions pinned once.

The pins are the ``lint`` extra of pyproject.toml. Usage, from the repository root:

    python .ci/lint_tools.py install    # pip-install the pinned tools alone (nothing compiles)
    python .ci/lint_tools.py versions   # exit 1 unless the installed tools are the pinned ones
    python .ci/lint_tools.py check      # all checks; exit 1 if any failed (each one still runs)
    python .ci/lint_tools.py clang-format [FILE ...]   # our C++ (never cpp/third_party)

``check`` runs: the version check, ``ruff check``, ``ruff format --check``, ``mypy`` (its files
and settings are in pyproject.toml) and ``clang-format --dry-run --Werror`` (settings in
.clang-format) on cpp/ outside cpp/third_party.
"""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
CPP_SUFFIXES = {".cpp", ".hpp", ".h", ".cc"}


def pins() -> dict[str, str]:
    """{distribution name: version} of the ``lint`` extra."""
    with open(ROOT / "pyproject.toml", "rb") as file:
        requirements = tomllib.load(file)["project"]["optional-dependencies"]["lint"]
    pinned = {}
    for requirement in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==([A-Za-z0-9_.+-]+)", requirement.strip())
        if match is None:
            raise SystemExit(f"pyproject.toml: lint requirement {requirement!r} is not pinned (==)")
        pinned[match.group(1)] = match.group(2)
    return pinned


def cpp_files() -> list[str]:
    """Our C++ sources (cpp/, examples/, benchmarks/), relative to the root; vendored code under
    cpp/third_party is not ours."""
    return sorted(
        str(path.relative_to(ROOT))
        for folder in ("cpp", "examples", "benchmarks")
        for path in (ROOT / folder).rglob("*")
        if path.suffix in CPP_SUFFIXES
        and path.is_file()
        and "third_party" not in path.relative_to(ROOT).parts
    )


def clang_format_executable() -> str:
    """The binary of the pinned ``clang-format`` wheel (not whichever is first on PATH)."""
    import clang_format

    return str(clang_format.get_executable("clang-format"))


def check_versions() -> bool:
    good = True
    for name, version in pins().items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            print(
                f"{name} {installed or 'is not installed'}, pinned {version}: "
                "run `python .ci/lint_tools.py install`",
                file=sys.stderr,
            )
            good = False
    return good


def _run(title: str, command: list[str]) -> bool:
    print(f"--- {title}: {' '.join(command[:4])}{' …' if len(command) > 4 else ''}", flush=True)
    return subprocess.run(command, cwd=ROOT, check=False).returncode == 0


def run_clang_format(files: list[str]) -> bool:
    ours = [name for name in files if "third_party" not in Path(name).parts] if files else []
    return _run(
        "clang-format",
        [clang_format_executable(), "--dry-run", "--Werror", *(ours or cpp_files())],
    )


def check() -> bool:
    python = sys.executable
    results = {"versions": check_versions()}
    results["ruff check"] = _run("ruff check", [python, "-m", "ruff", "check", "."])
    results["ruff format"] = _run("ruff format", [python, "-m", "ruff", "format", "--check", "."])
    results["mypy"] = _run("mypy", [python, "-m", "mypy"])
    results["clang-format"] = run_clang_format([])
    failed = [name for name, passed in results.items() if not passed]
    print("static checks:", "all passed" if not failed else "FAILED: " + ", ".join(failed))
    return not failed


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "install":
        requirements = [f"{name}=={version}" for name, version in pins().items()]
        return subprocess.run([sys.executable, "-m", "pip", "install", *requirements]).returncode
    if command == "versions":
        return 0 if check_versions() else 1
    if command == "check":
        return 0 if check() else 1
    if command == "clang-format":
        return 0 if run_clang_format(argv[1:]) else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
