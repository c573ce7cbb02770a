"""wscodec: a fast, strict WebSocket (RFC 6455) frame codec.

The compiled (Cython) implementation is used when it imports; otherwise the
pure-Python one. ``WSCODEC_NO_EXTENSIONS`` (any non-empty value) forces pure
Python. :data:`implementation` says which one is active (``"cython"`` or
``"python"``); both stay importable as ``wscodec._impl_c`` and
``wscodec._impl_py``.
"""

from __future__ import annotations

import os as _os
from types import ModuleType as _ModuleType

from ._version import __version__
from .close import encode_close, parse_close
from .deflate_params import DeflateParams, accept_deflate_response, deflate_offer, negotiate_deflate
from .enums import RSV1, RSV2, RSV3, CloseCode, Opcode
from .errors import ProtocolError
from .handshake import accept_key, generate_key, validate_key


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

apply_mask = _impl.apply_mask
apply_mask_inplace = _impl.apply_mask_inplace
Masker = _impl.Masker
validate_utf8 = _impl.validate_utf8
Utf8Validator = _impl.Utf8Validator
Frame = _impl.Frame
FrameHeader = _impl.FrameHeader
parse_header = _impl.parse_header
encode_header = _impl.encode_header
encode_frame = _impl.encode_frame
FrameDecoder = _impl.FrameDecoder
Message = _impl.Message
MessageDecoder = _impl.MessageDecoder
decode_text = _impl.decode_text
encode_message = _impl.encode_message
PerMessageDeflate = _impl.PerMessageDeflate
DEFAULT_MAX_FRAME_SIZE = _impl.DEFAULT_MAX_FRAME_SIZE
DEFAULT_MAX_MESSAGE_SIZE = _impl.DEFAULT_MAX_MESSAGE_SIZE

__all__ = [
    "__version__",
    "implementation",
    "apply_mask",
    "apply_mask_inplace",
    "Masker",
    "validate_utf8",
    "Utf8Validator",
    "Opcode",
    "CloseCode",
    "RSV1",
    "RSV2",
    "RSV3",
    "ProtocolError",
    "Frame",
    "FrameHeader",
    "parse_header",
    "encode_header",
    "encode_frame",
    "FrameDecoder",
    "Message",
    "MessageDecoder",
    "decode_text",
    "encode_message",
    "PerMessageDeflate",
    "DEFAULT_MAX_FRAME_SIZE",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "parse_close",
    "encode_close",
    "generate_key",
    "accept_key",
    "validate_key",
    "DeflateParams",
    "negotiate_deflate",
    "deflate_offer",
    "accept_deflate_response",
]
