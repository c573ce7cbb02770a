"""The compiled implementation, gathered under the public names.

Names resolve lazily from the module that defines them, so a test of one
compiled module does not need the others; :func:`load_all` (called by
``import wscodec``) imports every one and raises ImportError if any is missing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

NAME = "cython"

_SOURCES = {
    "apply_mask": "_mask_c",
    "apply_mask_inplace": "_mask_c",
    "Masker": "_mask_c",
    "mask_keyfirst": "_mask_c",
    "mask_inplace_keyfirst": "_mask_c",
    "validate_utf8": "_utf8_c",
    "Utf8Validator": "_utf8_c",
    "Frame": "_frames_c",
    "FrameHeader": "_frames_c",
    "parse_header": "_frames_c",
    "encode_header": "_frames_c",
    "encode_frame": "_frames_c",
    "FrameDecoder": "_frames_c",
    "DEFAULT_MAX_FRAME_SIZE": "_frames_c",
    "Message": "_frames_c",
    "MessageDecoder": "_frames_c",
    "decode_text": "_frames_c",
    "DEFAULT_MAX_MESSAGE_SIZE": "_frames_c",
    "encode_message": "_frames_c",
    "PerMessageDeflate": "_deflate_c",
}

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
