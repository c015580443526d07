"""Every example of README.md and docs/ runs as written, as a script and as a notebook cell.

The ```python and ```bash blocks of each page run in a fresh temporary folder: once as scripts
(each python block with the blocks it continues, in its own ``python file.py`` process: that
is where a missing import or a missing ``if __name__ == "__main__":`` shows) and once as a
notebook would run them (every block of the page in order, python blocks in one namespace of a
``__main__`` without a file, bash blocks as shell commands). An HTML comment right before a
block changes that (docs/development.md):

- ``<!-- not run: REASON -->``: shown, not run (it installs, needs a cluster, takes minutes);
- ``<!-- continued -->``: a python block that uses the names of the block before it;
- ``<!-- file: NAME -->``: the block is written to NAME before anything runs.

Other languages are never run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted(
    [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")],
    key=lambda path: str(path.relative_to(ROOT)),
)
PAGES = [page for page in PAGES if "_build" not in page.parts and "_generated" not in page.parts]
RUN = ("python", "bash")
TIMEOUT = 600

# Pages whose examples cannot run yet, each with what is missing. Owned by another branch:
# remove the entry when that branch lands (the test then runs the page like every other).
PENDING: dict[str, str] = {}

_FENCE = re.compile(r"^(?P<fence>```+|~~~+)\s*(?P<info>[^\n`]*)$")
_MARKER = re.compile(r"^<!--\s*(?P<kind>not run|continued|file)\s*(?::\s*(?P<arg>.*?))?\s*-->$")


@dataclass
class Block:
    language: str
    code: str
    line: int
    marker: str | None = None
    argument: str | None = None

    @property
    def runs(self) -> bool:
        return self.language in RUN and self.marker not in ("not run", "file")


def blocks(page: Path) -> list[Block]:
    """The fenced code blocks of a Markdown page, each with the marker comment before it."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    index = 0
    marker: tuple[str, str | None] | None = None
    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        match = _MARKER.match(stripped)
        if match:
            kind, argument = match.group("kind"), match.group("arg")
            if kind in ("not run", "file") and not argument:
                raise ValueError(f"{page}:{index + 1}: <!-- {kind}: ... --> needs its argument")
            marker = (kind, argument)
            index += 1
            continue
        fence = _FENCE.match(line)
        if fence is None:
            if stripped:
                marker = None  # a marker applies to the block right after it
            index += 1
            continue
        info = fence.group("info").strip()
        language = info.split()[0].lower() if info else ""
        if language.startswith("{"):  # a MyST directive (```{toctree}), not code
            language = ""
        end = index + 1
        while end < len(lines) and not lines[end].startswith(fence.group("fence")):
            end += 1
        code = "\n".join(lines[index + 1 : end]) + "\n"
        kind, argument = marker or (None, None)
        found.append(Block(language, code, index + 1, kind, argument))
        marker = None
        index = end + 1
    return found


def _environment(tmp_path: Path) -> dict[str, str]:
    """PATH with ``python`` (this interpreter) and ``deeplinear`` first, as an install has them.
    From a source checkout (PYTHONPATH) there is no console script: a shim runs the module."""
    shims = tmp_path / "shims"
    shims.mkdir()
    # a script, not a symlink: a venv's python finds its pyvenv.cfg from the path it is run by
    python = shims / "python"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    script = Path(sys.executable).parent / "deeplinear"
    if script.exists():
        (shims / "deeplinear").symlink_to(script)
    else:
        shim = shims / "deeplinear"
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m deeplinear "$@"\n')
        shim.chmod(0o755)
    env = dict(os.environ)
    env["PATH"] = f"{shims}{os.pathsep}{env.get('PATH', '')}"
    env["MPLBACKEND"] = "Agg"
    env.pop("PYTHONSTARTUP", None)
    return env


def _prepare(page: Path, folder: Path) -> list[Block]:
    found = blocks(page)
    folder.mkdir(parents=True, exist_ok=True)
    for block in found:
        if block.marker == "file":
            (folder / str(block.argument)).write_text(block.code, encoding="utf-8")
    return found


def _check(completed: subprocess.CompletedProcess[str], what: str) -> None:
    if completed.returncode != 0:
        pytest.fail(
            f"{what} failed (exit {completed.returncode}):\n"
            f"--- stdout\n{completed.stdout[-4000:]}\n--- stderr\n{completed.stderr[-4000:]}",
            pytrace=False,
        )


def _label(page: Path) -> str:
    return str(page.relative_to(ROOT))


def _skip_pending(page: Path) -> None:
    reason = PENDING.get(_label(page))
    if reason:
        pytest.skip(f"{_label(page)}: {reason}")


def _pages(language: str | None) -> list[Path]:
    """The pages with a block to run (in ``language``, or in any)."""
    return [
        page
        for page in PAGES
        if any(block.runs and language in (None, block.language) for block in blocks(page))
    ]


@pytest.mark.parametrize("page", _pages("python"), ids=_label)
def test_the_page_runs_as_scripts(page: Path, tmp_path: Path) -> None:
    _skip_pending(page)
    folder = tmp_path / "work"
    found = _prepare(page, folder)
    chains: list[list[Block]] = []
    for block in found:
        if block.language != "python" or not block.runs:
            continue
        if block.marker == "continued":
            if not chains:
                raise ValueError(f"{page}:{block.line}: continued, but no python block before")
            chains[-1].append(block)
        else:
            chains.append([block])
    env = _environment(tmp_path)
    for number, chain in enumerate(chains):
        script = folder / f"example_{number}.py"
        script.write_text("\n".join(block.code for block in chain), encoding="utf-8")
        completed = subprocess.run(
            [sys.executable, script.name],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        _check(completed, f"{_label(page)}:{chain[0].line} as a script")


_NOTEBOOK = textwrap.dedent(
    """
    import json, subprocess, sys
    cells = json.load(open(sys.argv[1], encoding="utf-8"))
    for language, line, code in cells:
        print(f"--- cell at line {line}", flush=True)
        if language == "python":
            exec(compile(code, f"<cell at line {line}>", "exec"), globals())
        else:
            subprocess.run(["bash", "-euo", "pipefail", "-c", code], check=True)
    """
)


@pytest.mark.parametrize("page", _pages(None), ids=_label)
def test_the_page_runs_as_notebook_cells(page: Path, tmp_path: Path) -> None:
    _skip_pending(page)
    folder = tmp_path / "work"
    found = _prepare(page, folder)
    cells = [(block.language, block.line, block.code) for block in found if block.runs]
    (tmp_path / "cells.json").write_text(json.dumps(cells), encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, "-c", _NOTEBOOK, str(tmp_path / "cells.json")],
        cwd=folder,
        env=_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    _check(completed, f"{_label(page)} as notebook cells")


# --- the runner itself: it must see what it claims to see -------------------------------------


def test_markers_and_languages_are_read(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# t\n\n```python\nx = 1\n```\n\n<!-- continued -->\n```python\nprint(x)\n```\n\n"
        "<!-- not run: installs -->\n```bash\npip install .\n```\n\n"
        "<!-- file: grid.toml -->\n```toml\n[grid]\n```\n\n```text\noutput\n```\n\n"
        "<!-- continued -->\n\nA paragraph between.\n\n```python\ny = 2\n```\n"
    )
    found = blocks(page)
    assert [(b.language, b.marker) for b in found] == [
        ("python", None),
        ("python", "continued"),
        ("bash", "not run"),
        ("toml", "file"),
        ("text", None),
        ("python", None),  # a marker followed by a paragraph applies to nothing
    ]
    assert [b.runs for b in found] == [True, True, False, False, False, True]
    assert found[3].argument == "grid.toml"


def test_a_marker_without_its_reason_is_an_error(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("<!-- not run -->\n```bash\nls\n```\n")
    with pytest.raises(ValueError, match="needs its argument"):
        blocks(page)


def _fake_page(tmp_path: Path, text: str) -> Path:
    page = tmp_path / "fake.md"
    page.write_text(text, encoding="utf-8")
    return page


def test_a_block_without_its_import_fails_as_a_script(tmp_path: Path, monkeypatch) -> None:
    # the README's old Sweeps snippet: it used dl without importing it
    page = _fake_page(tmp_path, "```python\nprint(dl.targets.spd(2, 2.0, seed=0))\n```\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    with pytest.raises(pytest.fail.Exception, match="as a script failed"):
        test_the_page_runs_as_scripts(page, tmp_path / "run")


def test_a_dask_script_without_the_main_guard_fails(tmp_path: Path, monkeypatch) -> None:
    # the README's old Sweeps snippet as a script: each worker process re-imports the main
    # script and starts a cluster of its own ("Nanny failed to start")
    pytest.importorskip("distributed")
    page = _fake_page(
        tmp_path,
        "```python\nimport deeplinear as dl\nfrom distributed import Client, LocalCluster\n\n"
        "configs = dl.grid(target='spd', target_params={'d': 2, 'cond': 2.0, 'seed': 0},"
        " depth=2, lr=0.1, max_steps=10)\n"
        "with LocalCluster(n_workers=1, threads_per_worker=1) as cluster, Client(cluster) as c:\n"
        "    print(dl.sweep(configs, executor=c, progress=False))\n```\n",
    )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    with pytest.raises(pytest.fail.Exception, match="Nanny failed to start"):
        test_the_page_runs_as_scripts(page, tmp_path / "run")


def test_a_failing_shell_line_fails_the_notebook(tmp_path: Path, monkeypatch) -> None:
    page = _fake_page(tmp_path, "```bash\ndeeplinear train --no-such-option\n```\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    with pytest.raises(pytest.fail.Exception, match="as notebook cells failed"):
        test_the_page_runs_as_notebook_cells(page, tmp_path / "run")


def test_python_on_the_path_imports_deeplinear(tmp_path: Path) -> None:
    env = _environment(tmp_path)
    python = shutil.which("python", path=env["PATH"])
    assert python is not None
    completed = subprocess.run(
        [python, "-c", "import deeplinear, sys; print(sys.prefix)"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == sys.prefix  # the same environment as the tests'


def test_the_deeplinear_command_is_on_the_path(tmp_path: Path) -> None:
    env = _environment(tmp_path)
    found = shutil.which("deeplinear", path=env["PATH"])
    assert found is not None
    completed = subprocess.run(
        [found, "--version"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("deeplinear ")
