"""Sphinx configuration of deeplinear's documentation.

Build (the ``docs`` extra, with deeplinear installed or on PYTHONPATH):

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The pages are Markdown (MyST); the API reference comes from the docstrings (autodoc with
napoleon: Google style). Nothing is fetched from the network.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "_ext"))

import deeplinear

project = "deeplinear"
author = "the deeplinear developers"
copyright = "2026, the deeplinear developers"
release = version = deeplinear.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "deeplinear_docs",
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_generated", "Thumbs.db", ".DS_Store"]

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
autodoc_type_aliases = {"ArrayLike": "ArrayLike", "Callback": "Callback", "Seed": "Seed"}
autodoc_default_options = {"members": True, "show-inheritance": False}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_attr_annotations = True

html_theme = "furo"
html_title = f"deeplinear {release}"
html_static_path: list[str] = []
