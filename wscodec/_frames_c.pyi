"""Type stub for the compiled frame codec: the signatures of its pure twins, frames_py.py and messages_py.py."""

from ._rules import DEFAULT_MAX_FRAME_SIZE as DEFAULT_MAX_FRAME_SIZE
from ._rules import DEFAULT_MAX_MESSAGE_SIZE as DEFAULT_MAX_MESSAGE_SIZE
from .frames_py import FrameDecoder as FrameDecoder
from .frames_py import _FrameReader as _FrameReader
from .frames_py import encode_frame as encode_frame
from .frames_py import encode_header as encode_header
from .frames_py import parse_header as parse_header
from .messages_py import MessageDecoder as MessageDecoder
from .messages_py import decode_text as decode_text
from .messages_py import encode_message as encode_message
