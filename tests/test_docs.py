"""The documentation site (docs/) builds with warnings as errors, and README's links lead somewhere.

The build is the one CI runs, ``sphinx-build -W --keep-going -b html docs docs/_build/html``,
here into a temporary directory; it needs the ``docs`` extra (sphinx, furo, myst-parser),
which the ``dev`` extra includes, and the checkout (docs/ is not shipped in the sdist or wheels).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import needs
import pytest

import wscodec

ROOT = needs.checkout("docs/conf.py", "docs/index.md", "README.md", what="the documentation sources")
DOCS_EXTRA = "pip install '.[docs]' (or '.[dev]') in a checkout"
SHIMS = ("websockets", "wsproto", "aiohttp", "tornado", "autobahn")
# [text](target) in Markdown, the target up to a space, a quote or the closing parenthesis
MARKDOWN_LINK = re.compile(r"\]\(([^)\s\"']+)")


@pytest.fixture(scope="module")
def html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built from scratch with warnings as errors."""
    for name in ("sphinx", "furo", "myst_parser"):
        needs.module(name, DOCS_EXTRA)
    out = tmp_path_factory.mktemp("docs")
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-E", "-q", "-b", "html"]
    done = subprocess.run(
        [*command, "-d", str(out / "doctrees"), str(ROOT / "docs"), str(out / "html")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"sphinx-build failed:\n{done.stderr}"
    return out / "html"


def test_every_page_is_built(html: Path) -> None:
    pages = {path.relative_to(ROOT / "docs").with_suffix(".html") for path in (ROOT / "docs").rglob("*.md")}
    assert pages >= {Path("index.html"), Path("api.html"), Path("benchmarks.html"), Path("security.html")}
    assert not [page for page in pages if not (html / page).is_file()]


def test_the_api_reference_documents_every_public_name(html: Path) -> None:
    api = (html / "api.html").read_text(encoding="utf-8")
    public: list[str] = wscodec.__all__  # type: ignore[attr-defined]  # set at run time
    names = [name for name in public if not name.startswith("__")]
    assert not [name for name in names if f'id="wscodec.{name}"' not in api]


@pytest.mark.parametrize("host", SHIMS)
def test_each_host_page_documents_its_shim(html: Path, host: str) -> None:
    page = (html / "accelerate" / f"{host}.html").read_text(encoding="utf-8")
    for name in ("install", "uninstall", "is_installed", "describe"):
        assert f'id="wscodec.integrations.{host}.{name}"' in page


def test_the_benchmark_charts_are_shown(html: Path) -> None:
    charts = sorted((ROOT / "docs" / "_static" / "bench").glob("*.svg"))
    assert charts, "no chart in docs/_static/bench: python -m wscodec bench --plot docs/_static/bench"
    page = (html / "benchmarks.html").read_text(encoding="utf-8")
    assert not [chart.name for chart in charts if chart.name not in page]


@pytest.mark.parametrize("document", ["README.md", "SECURITY.md", *(f"docs/{p}" for p in ("index.md", "server.md"))])
def test_relative_links_lead_to_files(document: str) -> None:
    source = ROOT / document
    targets = [t for t in MARKDOWN_LINK.findall(source.read_text(encoding="utf-8")) if "://" not in t]
    broken = [t for t in targets if not t.startswith("#") and not (source.parent / t.split("#")[0]).exists()]
    assert not broken, f"{document} links to missing files: {broken}"
