"""The implementations under test, importable by test modules (``from impls import ...``).

With ``WSCODEC_NO_EXTENSIONS`` set only the pure one exists and is tested;
otherwise the compiled one must import (a missing build fails the run, it is
never skipped).
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

IMPL_NAMES = ["python"] if os.environ.get("WSCODEC_NO_EXTENSIONS") else ["python", "cython"]
_MODULES = {"python": "wscodec._impl_py", "cython": "wscodec._impl_c"}


def load_impl(name: str) -> ModuleType:
    """Import one implementation namespace by name ("python" or "cython")."""
    return importlib.import_module(_MODULES[name])
