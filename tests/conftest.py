"""Every behaviour runs against both implementations.

With ``WSCODEC_NO_EXTENSIONS`` set only the pure one exists and is tested;
otherwise the compiled one must import (a missing build fails the run, it is
never skipped).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from types import ModuleType

import pytest
from impls import IMPL_NAMES, load_impl


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
