"""Every behaviour runs against both implementations.

With ``WSCODEC_NO_EXTENSIONS`` set only the pure one exists and is tested;
otherwise the compiled one must import (a missing build fails the run, it is
never skipped).
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest

IMPL_NAMES = ["python"] if os.environ.get("WSCODEC_NO_EXTENSIONS") else ["python", "cython"]
_MODULES = {"python": "wscodec._impl_py", "cython": "wscodec._impl_c"}


def load_impl(name: str) -> ModuleType:
    """Import one implementation namespace by name ("python" or "cython")."""
    return importlib.import_module(_MODULES[name])


@pytest.fixture(params=IMPL_NAMES)
def impl(request: pytest.FixtureRequest) -> ModuleType:
    """One implementation (the test id says which)."""
    return load_impl(request.param)


@pytest.fixture
def impls() -> list[ModuleType]:
    """Every implementation available in this run, for differential tests."""
    return [load_impl(name) for name in IMPL_NAMES]
