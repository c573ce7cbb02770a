"""Sphinx configuration of the wscodec documentation site.

Build: ``sphinx-build -W --keep-going -b html docs docs/_build/html`` (the ``docs``
extra: ``pip install '.[docs]'``). The API reference is generated from the
docstrings with autodoc; the pages are Markdown (MyST).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The checkout's own wscodec, whatever is installed; the pure implementation, which needs no build
# and has the same names, docstrings and behaviour as the compiled one (and real signatures).
sys.path.insert(0, str(ROOT))
os.environ["WSCODEC_NO_EXTENSIONS"] = "1"

import wscodec  # noqa: E402

project = "wscodec"
author = "The wscodec developers"
copyright = "The wscodec developers"
release = wscodec.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]

myst_enable_extensions = ["colon_fence", "deflist"]
# Headings up to ### get anchors, so that pages can link to sections ([text](page.md#anchor)).
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "undoc-members": False}


# Every cross-reference must resolve (-n is on for everyone who builds with -W). The standard library's
# objects would resolve through intersphinx, which downloads Python's inventory: the build stays offline.
nitpicky = True
nitpick_ignore_regex = [
    ("py:class", r"(types|pathlib|collections\.abc|asyncio(\.transports)?|argparse)\.\w+"),
    # a TypedDict of the benchmark harness, named in the chart functions' signatures
    ("py:class", r"wscodec\.benchmark\.harness\.Section"),
]

html_theme = "furo"
html_title = f"wscodec {release}"
html_static_path = ["_static"]
