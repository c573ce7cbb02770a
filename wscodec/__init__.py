"""wscodec: a fast, strict WebSocket (RFC 6455) frame codec.

The compiled (Cython) implementation is used when it imports; otherwise the
pure-Python one. ``WSCODEC_NO_EXTENSIONS`` (any non-empty value) forces pure
Python. :data:`implementation` says which one is active (``"cython"`` or
``"python"``); both stay importable as ``wscodec._impl_c`` and
``wscodec._impl_py``. The public names are listed once, in ``wscodec._names``.
"""

from __future__ import annotations

import os as _os
from types import ModuleType as _ModuleType
from typing import TYPE_CHECKING

from ._names import IMPLEMENTED as _IMPLEMENTED
from ._names import PUBLIC as _PUBLIC

# The shared names (their modules are plain Python, one for both implementations); ``as`` re-exports them.
from ._version import __version__ as __version__
from .close import encode_close as encode_close
from .close import parse_close as parse_close
from .deflate_params import DeflateParams as DeflateParams
from .deflate_params import accept_deflate_response as accept_deflate_response
from .deflate_params import deflate_offer as deflate_offer
from .deflate_params import negotiate_deflate as negotiate_deflate
from .enums import RSV1 as RSV1
from .enums import RSV2 as RSV2
from .enums import RSV3 as RSV3
from .enums import CloseCode as CloseCode
from .enums import Opcode as Opcode
from .errors import ProtocolError as ProtocolError
from .handshake import accept_key as accept_key
from .handshake import generate_key as generate_key
from .handshake import validate_key as validate_key


def _choose() -> _ModuleType:
    from . import _impl_py

    if _os.environ.get("WSCODEC_NO_EXTENSIONS"):
        return _impl_py
    try:
        from . import _impl_c

        _impl_c.load_all()
    except ImportError:
        return _impl_py
    return _impl_c  # compiled only


_impl: _ModuleType = _choose()

#: ``"cython"`` or ``"python"``: the implementation behind the public names.
implementation: str = _impl.NAME

if TYPE_CHECKING:
    # Checkers type the implementation's names as the pure implementation's (the stubs of the compiled
    # modules declare the same signatures); at run time they come from the chosen implementation.
    from ._impl_py import *  # noqa: F403
else:
    globals().update({name: getattr(_impl, name) for name in _PUBLIC if name in _IMPLEMENTED})
    __all__ = list(_PUBLIC)
