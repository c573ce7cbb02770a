"""Every behaviour runs against both implementations.

With ``WSCODEC_NO_EXTENSIONS`` set only the pure one exists and is tested;
otherwise the compiled one must import (a missing build fails the run, it is
never skipped).
"""

from __future__ import annotations

from types import ModuleType

import pytest
from impls import IMPL_NAMES, load_impl


@pytest.fixture(params=IMPL_NAMES)
def impl(request: pytest.FixtureRequest) -> ModuleType:
    """One implementation (the test id says which)."""
    return load_impl(request.param)


@pytest.fixture
def impls() -> list[ModuleType]:
    """Every implementation available in this run, for differential tests."""
    return [load_impl(name) for name in IMPL_NAMES]
