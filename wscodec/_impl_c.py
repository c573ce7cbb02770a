"""The compiled implementation, gathered under the names listed in :mod:`wscodec._names`.

Names resolve lazily from the module that defines them, so a test of one
compiled module does not need the others; :func:`load_all` (called by
``import wscodec``) imports every one and raises ImportError if any is missing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._names import IMPLEMENTED as _IMPLEMENTED

NAME = "cython"

_SOURCES = {name: compiled for name, (_, compiled) in _IMPLEMENTED.items()}

if TYPE_CHECKING:
    # __getattr__ resolves these at run time; declared so that type checkers (and stubtest) know their type.
    DEFAULT_MAX_FRAME_SIZE: int
    DEFAULT_MAX_MESSAGE_SIZE: int


def __getattr__(name: str) -> Any:
    try:
        source = _SOURCES[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"wscodec.{source}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def load_all() -> None:
    """Import every compiled module; ImportError if one was not built."""
    for name in _SOURCES:
        __getattr__(name)
