"""The compiled implementation, gathered under the public names; ImportError if it was not built."""

from ._frames_c import DEFAULT_MAX_FRAME_SIZE, Frame, FrameDecoder, FrameHeader, encode_frame, encode_header, parse_header
from ._mask_c import Masker, apply_mask, apply_mask_inplace
from ._messages_c import DEFAULT_MAX_MESSAGE_SIZE, Message, MessageDecoder
from ._utf8_c import Utf8Validator, validate_utf8

NAME = "cython"

__all__ = [
    "NAME",
    "apply_mask",
    "apply_mask_inplace",
    "Masker",
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
    "DEFAULT_MAX_FRAME_SIZE",
    "DEFAULT_MAX_MESSAGE_SIZE",
]
