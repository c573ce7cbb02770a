"""The pure-Python implementation, gathered under the public names."""

from .deflate_py import PerMessageDeflate
from .frames_py import (
    DEFAULT_MAX_FRAME_SIZE,
    Frame,
    FrameDecoder,
    FrameHeader,
    encode_frame,
    encode_header,
    parse_header,
)
from .mask_py import Masker, apply_mask, apply_mask_inplace, mask_inplace_keyfirst, mask_keyfirst
from .messages_py import DEFAULT_MAX_MESSAGE_SIZE, Message, MessageDecoder, decode_text, encode_message
from .utf8_py import Utf8Validator, validate_utf8

NAME = "python"

__all__ = [
    "NAME",
    "apply_mask",
    "apply_mask_inplace",
    "Masker",
    "mask_keyfirst",
    "mask_inplace_keyfirst",
    "validate_utf8",
    "Utf8Validator",
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
]
