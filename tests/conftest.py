"""Every behaviour runs against both implementations.

With ``WSCODEC_NO_EXTENSIONS`` set only the pure one exists and is tested;
otherwise the compiled one must import (a missing build fails the run, it is
never skipped).

Tests marked ``slow`` run only when asked for (``WSCODEC_TEST_SLOW=1`` or
``--run-slow``); otherwise they are skipped through needs.missing, which fails
them instead under ``WSCODEC_TEST_REQUIRE_ALL=1``.

Hypothesis explores new examples on every run, except under
``WSCODEC_TEST_DERANDOMIZE=1`` (CI sets it), where each test draws the same ones
every time: a gate must not pass or fail by luck, while a developer's runs keep
searching. Only that switch decides: hypothesis would otherwise derandomize by
itself wherever it sees a CI service's variables. The profile is loaded here, before any test module builds its
``settings``, so that every one of them inherits it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from types import ModuleType

import pytest

# The helper modules whose asserts check the implementations: rewritten like the tests' own, so that
# they keep checking under python -O (where a plain assert is stripped) and explain a failure.
pytest.register_assert_rewrite("outcomes", "shim_cases")

import needs
from hypothesis import settings
from impls import IMPL_NAMES, load_impl

settings.register_profile("derandomized", derandomize=True, database=None)
settings.register_profile("exploring", derandomize=False)
settings.load_profile("derandomized" if needs.derandomized() else "exploring")


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--run-slow``: the same as ``WSCODEC_TEST_SLOW=1``."""
    parser.addoption("--run-slow", action="store_true", help="run the tests marked slow too")


def pytest_configure(config: pytest.Config) -> None:
    """Declare the marker here too: a copy of tests/ run against a wheel has no pyproject.toml."""
    config.addinivalue_line("markers", f"slow: long-running tests, skipped unless {needs.SLOW}=1 or --run-slow")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip a slow test unless asked for, before its fixtures (which may build an sdist) set up."""
    if item.get_closest_marker("slow") is not None and not needs.slow_enabled(item.config):
        try:
            needs.missing(needs.SLOW_REASON)
        except pytest.skip.Exception as skip:
            skip._use_item_location = True  # reported at the test, as a skip mark would be (pytest's own flag)
            raise


@pytest.fixture(scope="session", autouse=True)
def _outside_the_checkout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Run every test from an empty directory.

    A subprocess started with ``python -c`` or ``python -m`` puts its working
    directory first on sys.path: from a checkout's root it would import the
    source tree's wscodec (which has no compiled modules) instead of the one
    under test.
    """
    previous = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("cwd"))
    try:
        yield
    finally:
        os.chdir(previous)


@pytest.fixture(params=IMPL_NAMES)
def impl(request: pytest.FixtureRequest) -> ModuleType:
    """One implementation (the test id says which)."""
    return load_impl(request.param)


@pytest.fixture
def impls() -> list[ModuleType]:
    """Every implementation available in this run, for differential tests."""
    return [load_impl(name) for name in IMPL_NAMES]
