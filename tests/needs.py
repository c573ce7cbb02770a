"""What a test needs beyond the ``test`` extra, and the one place that skips when it is missing.

A test that needs something a machine may lack (Chromium, Node.js and the npm
``ws`` package, a host library, a tool of the ``dev`` extra, the fuzz corpus,
the repository checkout) calls :func:`missing` with a reason that says how to
get it, or lets :func:`module` do so. The test is then skipped, so that
``pytest tests`` passes on a fresh machine; with ``WSCODEC_TEST_REQUIRE_ALL=1``
(CI sets it) the same call fails the test instead, so that nothing is skipped
unnoticed. Called at a module's top level, a skip skips the whole module and a
failure is a collection error.

The slow tests (``@pytest.mark.slow``) go through :func:`missing` too: conftest.py
skips them unless ``WSCODEC_TEST_SLOW=1`` or ``--run-slow`` asks for them.

Platform facts (no ``os.fork``, not CPython) are not requirements a machine
can meet by installing something: those tests use ``skipif`` directly.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest

#: Set to 1 to turn every skip for something missing into a failure.
REQUIRE_ALL = "WSCODEC_TEST_REQUIRE_ALL"
#: Set to 1 to run the tests marked slow (the same as ``pytest --run-slow``).
SLOW = "WSCODEC_TEST_SLOW"
#: Set to 1 to have hypothesis draw the same examples on every run (CI's verdict must not depend on luck).
DERANDOMIZE = "WSCODEC_TEST_DERANDOMIZE"
#: The reason a slow test is skipped when they were not asked for.
SLOW_REASON = f"slow: set {SLOW}=1 or pass --run-slow to run it"

#: How to get a package of the ``test`` extra (the host libraries) or of the ``dev`` extra.
TEST_EXTRA = "pip install 'wscodec[test]', or '.[test]' in a checkout"
DEV_EXTRA = "pip install '.[dev]' in a checkout"

#: The checkout the tests come from, when they run from one (its tests/ folder is this one's parent).
CHECKOUT = Path(__file__).resolve().parents[1]


def _switched_on(variable: str) -> bool:
    return os.environ.get(variable, "").strip() not in ("", "0")


def require_all() -> bool:
    """Whether ``WSCODEC_TEST_REQUIRE_ALL`` forbids skipping for something missing."""
    return _switched_on(REQUIRE_ALL)


def derandomized() -> bool:
    """Whether ``WSCODEC_TEST_DERANDOMIZE`` fixes hypothesis' examples (each test's seed comes from its name)."""
    return _switched_on(DERANDOMIZE)


def slow_enabled(config: pytest.Config) -> bool:
    """Whether the slow tests run: ``WSCODEC_TEST_SLOW=1`` or ``--run-slow``."""
    return _switched_on(SLOW) or bool(config.getoption("--run-slow", default=False))


def missing(reason: str) -> NoReturn:
    """Skip the current test (or module) for something missing; fail instead under ``WSCODEC_TEST_REQUIRE_ALL``."""
    __tracebackhide__ = True  # the skip is reported at the line that called for it
    if require_all():
        pytest.fail(f"{reason} ({REQUIRE_ALL}=1 turns this skip into a failure)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def module(name: str, how: str = TEST_EXTRA, *, python: tuple[int, int] | None = None) -> ModuleType:
    """Import ``name``, or skip through :func:`missing` saying ``how`` to install it.

    ``python`` is the oldest Python the package supports (the ``test`` extra
    leaves it out on older ones): there its absence is no fault of the machine,
    and the test is skipped even under ``WSCODEC_TEST_REQUIRE_ALL``.
    """
    __tracebackhide__ = True
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        problem = str(exc)
    # out of the except block, so that a failure does not show the ImportError as its context
    if python is not None and sys.version_info < python:
        pytest.skip(f"{name} needs Python >= {python[0]}.{python[1]}", allow_module_level=True)
    missing(f"{name} is not installed ({problem}): {how}")


def checkout(*paths: str, what: str = "the repository checkout", how: str = "run the tests from a clone") -> Path:
    """The checkout above tests/, which must hold ``paths``; skips through :func:`missing` when it does not.

    The suite also runs against an installed wheel from a copy of tests/ alone,
    where the repository's own files (workflows, fuzz corpus, git metadata) are absent.
    """
    __tracebackhide__ = True
    absent = [path for path in paths if not (CHECKOUT / path).exists()]
    if absent:
        missing(f"{what} is missing ({', '.join(absent)} beside tests/): {how}")
    return CHECKOUT
