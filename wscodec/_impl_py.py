"""The pure-Python implementation, gathered under the names listed in :mod:`wscodec._names`.

The imports re-export each name explicitly (``as``) so that type checkers see
them; tests/test_selection.py checks this namespace against the list.
"""

from ._values import Frame as Frame
from ._values import FrameHeader as FrameHeader
from ._values import Message as Message
from .deflate_py import PerMessageDeflate as PerMessageDeflate
from .frames_py import DEFAULT_MAX_FRAME_SIZE as DEFAULT_MAX_FRAME_SIZE
from .frames_py import FrameDecoder as FrameDecoder
from .frames_py import encode_frame as encode_frame
from .frames_py import encode_header as encode_header
from .frames_py import parse_header as parse_header
from .mask_py import Masker as Masker
from .mask_py import apply_mask as apply_mask
from .mask_py import apply_mask_inplace as apply_mask_inplace
from .mask_py import mask_inplace_keyfirst as mask_inplace_keyfirst
from .mask_py import mask_keyfirst as mask_keyfirst
from .messages_py import DEFAULT_MAX_MESSAGE_SIZE as DEFAULT_MAX_MESSAGE_SIZE
from .messages_py import MessageDecoder as MessageDecoder
from .messages_py import decode_text as decode_text
from .messages_py import encode_message as encode_message
from .utf8_py import Utf8Validator as Utf8Validator
from .utf8_py import validate_utf8 as validate_utf8

NAME = "python"
