"""Sphinx helpers of deeplinear's documentation (loaded by docs/conf.py).

- The docstrings and pages write their formulas in plain Unicode, as the paper's notation
  (Θ_{1:L}, ‖·‖_F, σ(A)^{1/L}, a_k); ``MathText`` turns the sub- and superscripts of that
  notation into real ones, everywhere except in code, literals and signatures.
- ``{deeplinear-help} COMMAND`` inserts ``deeplinear COMMAND --help`` as printed by the
  installed command at build time, so the command-line page cannot drift from the parser.
- At the start of a build the quick reproduction report is generated into
  ``_generated/report`` (``deeplinear reproduce --quick --seed 0``), for the page that shows
  how to read it, figures included.
- Completeness: every public name (the ``__all__`` of the public modules) must be documented,
  and every command of ``deeplinear --help`` must have its ``{deeplinear-help}``; a missing one
  is a warning, which ``-W`` turns into a failed build.
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.transforms import SphinxTransform
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

# The modules whose ``__all__`` is the public API. A name re-exported by ``deeplinear`` counts as
# documented under either name (``deeplinear.train`` for ``deeplinear.training.train``).
PUBLIC_MODULES = (
    "deeplinear",
    "deeplinear.targets",
    "deeplinear.theory",
    "deeplinear.data",
    "deeplinear.reproduce",
    "deeplinear.sweep",
)

# --- sub- and superscripts ----------------------------------------------------------------------

_SCRIPT = re.compile(
    r"(?P<sub_braced>_\{(?P<sb>[^{}\s][^{}]*)\})"
    r"|(?P<sup_braced>\^\{(?P<pb>[^{}]+)\})"
    # after a non-ASCII symbol: Θ_i, σ_min, ‖·‖_F, ε_mach
    r"|(?<=[^\x00-\x7F])_(?P<sn>[A-Za-z0-9]+)(?![A-Za-z0-9_{])"
    # a single letter after a letter that starts no identifier: a_k, ηG_i, H_γ (not
    # record_every, not x_0y)
    r"|(?<![A-Za-z0-9_][A-Za-z])(?<=[A-Za-z])_(?P<sl>[A-Za-z0-9\u0370-\u03ff])(?![A-Za-z0-9_{])"
    r"|\^(?P<ps>[A-Za-z0-9])(?![A-Za-z0-9_{])"
)
_VERBATIM = (
    nodes.literal,
    nodes.literal_block,
    nodes.doctest_block,
    nodes.raw,
    nodes.math,
    nodes.math_block,
    nodes.comment,
    nodes.target,
    nodes.image,
    addnodes.desc_signature,
    addnodes.pending_xref,
)


def _verbatim(node: nodes.Node) -> bool:
    parent = node.parent
    while parent is not None:
        if isinstance(parent, _VERBATIM):
            return True
        parent = parent.parent
    return False


def script_nodes(text: str) -> list[nodes.Node] | None:
    """The nodes of ``text`` with its notation's sub- and superscripts, or None if it has none."""
    pieces: list[nodes.Node] = []
    position = 0
    for match in _SCRIPT.finditer(text):
        if match.start() > position:
            pieces.append(nodes.Text(text[position : match.start()]))
        groups = match.groupdict()
        sub = groups["sb"] or groups["sn"] or groups["sl"]
        if sub is not None:
            pieces.append(nodes.subscript(sub, sub))
        else:
            sup = groups["pb"] or groups["ps"]
            pieces.append(nodes.superscript(sup, sup))
        position = match.end()
    if not pieces:
        return None
    if position < len(text):
        pieces.append(nodes.Text(text[position:]))
    return pieces


class MathText(SphinxTransform):
    """Θ_{1:L} → Θ with subscript 1:L, σ(A)^{1/L} → superscript 1/L, outside code."""

    default_priority = 880

    def apply(self, **kwargs: Any) -> None:
        for text in list(self.document.findall(nodes.Text)):
            if text.parent is None or _verbatim(text):
                continue
            replacement = script_nodes(str(text))
            if replacement is not None:
                text.parent.replace(text, replacement)


class TypeAliasNames(SphinxPostTransform):
    """Sphinx writes a type alias inside a union (``ArrayLike | float | None``, with
    ``autodoc_type_aliases``) as ``TypeAliasForwardRef('ArrayLike')``: write its name."""

    default_priority = 20  # after the references are resolved (10)

    def run(self, **kwargs: Any) -> None:
        for node in list(self.document.findall(nodes.emphasis)):
            if node.parent is None or node.astext() != "TypeAliasForwardRef":
                continue
            parent = node.parent
            index = parent.index(node)
            following = parent.children[index + 1 : index + 4]
            texts = [child.astext() for child in following]
            if len(texts) == 3 and texts[0] == "(" and texts[2].startswith(")"):
                name = texts[1].strip("'\"")
                for child in following:
                    parent.remove(child)
                parent.replace(node, nodes.emphasis(name, name + texts[2][1:]))


# --- docstrings --------------------------------------------------------------------------------

_LITERAL = re.compile(r"(``.*?``)")


def escape_bars(lines: list[str]) -> None:
    """|b| is an absolute value in the docstrings, a substitution to reST: escape the bars,
    except in ``literals`` and in literal blocks (the indented lines after a ``::``)."""
    literal_indent: int | None = None
    opens_literal = False
    for index, line in enumerate(lines):
        indent = len(line) - len(line.lstrip())
        if literal_indent is not None and line.strip() and indent <= literal_indent:
            literal_indent = None
        if opens_literal and line.strip() and literal_indent is None:
            literal_indent = indent - 1
        if line.strip():
            opens_literal = line.rstrip().endswith("::")
        if literal_indent is not None or "|" not in line:
            continue
        parts = _LITERAL.split(line)
        lines[index] = "".join(
            part if part.startswith("``") else part.replace("|", "\\|") for part in parts
        )


def _process_docstring(
    app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    escape_bars(lines)


# --- the command line ---------------------------------------------------------------------------


def _help(arguments: list[str]) -> str:
    completed = subprocess.run(
        [sys.executable, "-m", "deeplinear", *arguments, "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "100"},
        timeout=120,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"deeplinear {' '.join(arguments)} --help failed: {completed.stderr}")
    return completed.stdout


def cli_commands() -> list[str]:
    """The commands that ``deeplinear --help`` lists under COMMAND."""
    lines = _help([]).splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "COMMAND")
    commands = []
    for line in lines[start + 1 :]:
        if line and not line.startswith(" "):
            break
        match = re.match(r"^ {4}([a-z][a-z0-9-]*)(\s|$)", line)
        if match:
            commands.append(match.group(1))
    return commands


class DeeplinearHelp(SphinxDirective):
    """``deeplinear [COMMAND] --help``, run at build time, as a literal block."""

    optional_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        arguments = list(self.arguments)
        try:
            text = _help(arguments)
        except (RuntimeError, subprocess.SubprocessError) as error:
            logger.warning(str(error), location=self.get_location())
            return []
        documented = _cli_documented(self.env)
        documented.setdefault(self.env.docname, set()).update(arguments or ["(top)"])
        block = nodes.literal_block(text, text)
        block["language"] = "text"
        return [block]


def _cli_documented(env: BuildEnvironment) -> dict[str, set[str]]:
    """{docname: the commands whose help it shows}, kept in the environment between builds."""
    if not hasattr(env, "deeplinear_cli"):
        env.deeplinear_cli = {}  # type: ignore[attr-defined]
    return env.deeplinear_cli  # type: ignore[attr-defined]


def _purge_cli(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    _cli_documented(env).pop(docname, None)


def _merge_cli(app: Sphinx, env: BuildEnvironment, docnames: Any, other: BuildEnvironment) -> None:
    _cli_documented(env).update(_cli_documented(other))


# --- the quick report ---------------------------------------------------------------------------


def _generate_report(app: Sphinx) -> None:
    out = Path(app.srcdir) / "_generated" / "report"
    out.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "deeplinear", "reproduce", "--quick", "--seed", "0"]
    command += ["--out", out.name, "--force", "--no-progress"]
    logger.info("generating the quick report: %s", " ".join(command[1:]))
    completed = subprocess.run(
        command, cwd=out.parent, capture_output=True, text=True, timeout=900, check=False
    )
    if completed.returncode != 0:
        logger.warning(
            "deeplinear reproduce --quick failed (exit %d): %s",
            completed.returncode,
            completed.stderr[-2000:] or completed.stdout[-2000:],
        )


# --- completeness -------------------------------------------------------------------------------


def _check_complete(app: Sphinx, env: BuildEnvironment) -> None:
    domain = env.get_domain("py")
    documented = set(domain.objects) | set(getattr(domain, "modules", {}))
    top = importlib.import_module("deeplinear")
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", []):
            value = getattr(module, name)
            names = {f"{module_name}.{name}"}
            if getattr(top, name, None) is value:
                names.add(f"deeplinear.{name}")
            if isinstance(value, type(top)):
                names.add(value.__name__)
            if not names & documented:
                logger.warning("public name %s.%s is not documented (docs/api/)", module_name, name)
    cli = set().union(*_cli_documented(env).values())
    for command in cli_commands():
        if command not in cli:
            logger.warning("`deeplinear %s --help` is not shown in docs/cli.md", command)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_transform(MathText)
    app.add_post_transform(TypeAliasNames)
    app.connect("autodoc-process-docstring", _process_docstring)
    app.add_directive("deeplinear-help", DeeplinearHelp)
    app.connect("builder-inited", _generate_report)
    app.connect("env-purge-doc", _purge_cli)
    app.connect("env-merge-info", _merge_cli)
    app.connect("env-check-consistency", _check_complete)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
