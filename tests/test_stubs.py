"""python/deeplinear/_core.pyi against the compiled module.

``python -m mypy.stubtest deeplinear._core`` (run by .ci/run) checks that the stub and the module
define the same names, but it cannot read a pybind11 function's parameters (they have no
``__text_signature__``). pybind11 writes them into each docstring instead, and this test compares
them with the stub's: the same parameter names in the same order with the same defaults.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from deeplinear import _core

STUB = Path(__file__).resolve().parent.parent / "python" / "deeplinear" / "_core.pyi"


def _stub_functions() -> dict[str, ast.FunctionDef]:
    tree = ast.parse(STUB.read_text(encoding="utf-8"))
    return {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}


def _stub_parameters(function: ast.FunctionDef) -> list[tuple[str, object]]:
    """(name, default) of every parameter; ``...`` for none. Keyword-only markers are ignored:
    the stub may be stricter than the module about how an argument is passed."""
    arguments = function.args
    positional = arguments.posonlyargs + arguments.args
    defaults: list[object] = [...] * (len(positional) - len(arguments.defaults))
    defaults += [ast.literal_eval(value) for value in arguments.defaults]
    named = list(zip([argument.arg for argument in positional], defaults))
    for argument, default in zip(arguments.kwonlyargs, arguments.kw_defaults):
        named.append((argument.arg, ... if default is None else ast.literal_eval(default)))
    return named


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        if char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current.strip())
    return parts


def _runtime_signatures(name: str, owner: object = _core) -> list[list[tuple[str, object]]]:
    """Every overload's (name, default) list, read from pybind11's docstring (without ``self``
    for a method)."""
    doc = getattr(owner, name).__doc__ or ""
    pattern = re.compile(rf"^(?:\d+\. )?{name}\((.*)\) -> .*$", re.MULTILINE)
    signatures = []
    for match in pattern.finditer(doc):
        if match.group(1) == "*args, **kwargs":  # the overload dispatcher's own line
            continue
        parameters = []
        for part in _split_top_level(match.group(1)):
            head, _, default = part.partition(" = ")
            parameter = head.split(":")[0].strip()
            if parameter in ("self", "*"):  # pybind11 writes its keyword-only marker too
                continue
            parameters.append((parameter, ast.literal_eval(default) if default else ...))
        signatures.append(parameters)
    return signatures


FUNCTIONS = sorted(
    name
    for name in dir(_core)
    if not name.startswith("_")
    and callable(getattr(_core, name))
    and not isinstance(getattr(_core, name), type)
)
CLASSES = sorted(name for name in dir(_core) if isinstance(getattr(_core, name), type))


def _stub_class_methods(name: str) -> dict[str, ast.FunctionDef]:
    """The methods a stub class has, its bases' included (the stub's per-dtype classes derive
    from one class that states them)."""
    tree = ast.parse(STUB.read_text(encoding="utf-8"))
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    methods: dict[str, ast.FunctionDef] = {}
    pending = [name]
    while pending:
        node = classes[pending.pop()]
        pending += [base.id for base in node.bases if isinstance(base, ast.Name)]
        for item in node.body:
            if isinstance(item, ast.FunctionDef):
                methods.setdefault(item.name, item)
    return methods


def test_every_function_is_in_the_stub() -> None:
    assert set(FUNCTIONS) == set(_stub_functions())


@pytest.mark.parametrize("name", CLASSES)
def test_the_stub_classes_have_the_modules_methods(name: str) -> None:
    cls = getattr(_core, name)
    stub = _stub_class_methods(name)
    methods = [m for m in vars(cls) if not m.startswith("_") and callable(getattr(cls, m))]
    properties = [m for m in vars(cls) if isinstance(vars(cls)[m], property)]
    assert set(methods) | set(properties) == {m for m in stub if not m.startswith("_")}
    for method in methods:
        expected = [(p, d) for p, d in _stub_parameters(stub[method]) if p != "self"]
        for signature in _runtime_signatures(method, cls):
            assert signature == expected, method


@pytest.mark.parametrize("name", FUNCTIONS)
def test_the_stub_has_the_modules_parameters(name: str) -> None:
    expected = _stub_parameters(_stub_functions()[name])
    signatures = _runtime_signatures(name)
    assert signatures, f"no signature in the docstring of _core.{name}"
    for signature in signatures:  # one per dtype: float64, float32
        assert signature == expected


def test_the_parser_sees_a_wrong_stub() -> None:
    wrong = ast.parse("def product(layerz, extra=1): ...").body[0]
    assert isinstance(wrong, ast.FunctionDef)
    assert _runtime_signatures("product")[0] != _stub_parameters(wrong)
    assert _runtime_signatures("gemm_subtract")[0][3] == ("scale", ...)
    assert _runtime_signatures("session")[0][-1] == ("split", "timed")
