"""The package around the code: a clear ImportError when the compiled core is missing or was
built for another Python, the version written once, and the licence files that every wheel and
sdist must carry (.ci/check_dist.py checks the archives themselves)."""

from __future__ import annotations

import glob
import importlib.machinery
import importlib.metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import deeplinear as dl

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(dl.__file__).resolve().parent
CORE = Path(dl._core.__file__).resolve()


def _package_copy(tmp_path: Path, core_name: str | None, core_bytes: bytes | None = None) -> Path:
    """A copy of the imported package without its compiled core, plus ``core_name`` if given
    (the real core's bytes unless ``core_bytes``); returns the folder to put on sys.path."""
    site = tmp_path / "site"
    shutil.copytree(
        PACKAGE,
        site / "deeplinear",
        ignore=shutil.ignore_patterns("_core.*.so", "_core.*.pyd", "__pycache__"),
    )
    if core_name is not None:
        target = site / "deeplinear" / core_name
        if core_bytes is None:
            shutil.copyfile(CORE, target)
        else:
            target.write_bytes(core_bytes)
    return site


# An editable install redirects `import deeplinear` to the checkout whatever sys.path says; the
# copies below are imported with that redirection dropped (a wheel install has none).
_WITHOUT_EDITABLE = (
    "import sys; sys.meta_path[:] = [f for f in sys.meta_path "
    "if not type(f).__module__.startswith('_editable_')]; "
)


def _import_error(site: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(site)}
    completed = subprocess.run(
        [sys.executable, "-c", _WITHOUT_EDITABLE + "import deeplinear"],
        capture_output=True,
        text=True,
        env=env,
        cwd=site,
        timeout=120,
        check=False,
    )
    assert completed.returncode != 0, "the import should have failed"
    last = completed.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: "), completed.stderr
    return last


def test_the_copy_with_its_core_imports(tmp_path: Path) -> None:
    # the fixture itself: the copied package imports when its core is where it belongs
    site = _package_copy(tmp_path, CORE.name)
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            _WITHOUT_EDITABLE + "import deeplinear; sys.stdout.write(deeplinear.__file__)",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(site)},
        cwd=site,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert Path(completed.stdout).resolve().parent == (site / "deeplinear").resolve()


def test_a_missing_core_says_the_checkout_was_not_built(tmp_path: Path) -> None:
    message = _import_error(_package_copy(tmp_path, None))
    assert "compiled core (deeplinear._core) is missing" in message
    assert "pip install ." in message


def test_a_core_for_another_python_names_both(tmp_path: Path) -> None:
    other = "_core.cpython-39-x86_64-linux-gnu.so"
    assert f"_core{importlib.machinery.EXTENSION_SUFFIXES[0]}" != other
    message = _import_error(_package_copy(tmp_path, other))
    assert "built for another Python" in message
    assert other in message
    assert f"Python {sys.version_info.major}.{sys.version_info.minor}" in message


def test_a_core_that_fails_to_load_passes_the_loader_message_on(tmp_path: Path) -> None:
    name = f"_core{importlib.machinery.EXTENSION_SUFFIXES[0]}"
    message = _import_error(_package_copy(tmp_path, name, b"not a shared library"))
    assert "is there but could not be loaded" in message
    assert name in message


def _pyproject() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as file:
        return tomllib.load(file)


def test_the_version_is_written_once() -> None:
    project = _pyproject()["project"]
    assert "version" not in project
    assert "version" in project["dynamic"]
    provider = _pyproject()["tool"]["scikit-build"]["metadata"]["version"]
    assert (ROOT / provider["input"]).resolve() == (ROOT / "python/deeplinear/__init__.py")
    assert dl.__version__.count(".") >= 2


def test_the_installed_metadata_carries_the_same_version() -> None:
    try:
        distribution = importlib.metadata.distribution("deeplinear")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("deeplinear is imported from the source folder, not installed")
    files = [str(file) for file in distribution.files or []]
    if not any(file.endswith("deeplinear/__init__.py") for file in files):
        pytest.skip("an editable install: its metadata is the build's")
    if Path(distribution.locate_file("deeplinear/__init__.py")).resolve() != PACKAGE / (
        "__init__.py"
    ):
        pytest.skip("the installed deeplinear is not the one imported")
    assert distribution.version == dl.__version__


def test_the_command_prints_the_version() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "deeplinear", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == f"deeplinear {dl.__version__}"


def test_every_licence_file_exists() -> None:
    patterns = _pyproject()["project"]["license-files"]
    for pattern in patterns:
        assert glob.glob(str(ROOT / pattern)), f"license-files entry {pattern!r} matches nothing"
    assert "MIT License" in (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Mozilla Public License" in (ROOT / "cpp/third_party/eigen/COPYING.MPL2").read_text(
        encoding="utf-8"
    )


# Files whose citations are being removed on another branch; drop an entry when it lands.
# Tests that check a report for such citations name what they look for.
_CHECKS_FOR_CITATIONS = {"tests/test_packaging.py", "tests/reproduce/test_reproduce_quick.py"}


def test_the_product_cites_nothing_outside_the_repository() -> None:
    # README, docs, code and tests document themselves: no team-internal notes
    tracked = subprocess.run(
        ["git", "ls-files", "*.py", "*.pyi", "*.md", "*.toml", "*.txt", "*.cpp", "*.hpp"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if tracked.returncode != 0:
        pytest.skip("not a git checkout")
    outside = ("shared/API.md", "API.md", "PAPER.md", "STYLE.md")
    citing = [
        name
        for name in tracked.stdout.split()
        if name not in _CHECKS_FOR_CITATIONS
        and not name.startswith("cpp/third_party/")
        and any(word in (ROOT / name).read_text(encoding="utf-8") for word in outside)
    ]
    assert citing == []
