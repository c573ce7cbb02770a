"""Type stub for the compiled frame codec (behaviour: frames_py.py and messages_py.py)."""

from typing import Final

from typing_extensions import disjoint_base

from ._deflate_c import PerMessageDeflate
from ._values_c import Frame, FrameHeader, Message

DEFAULT_MAX_FRAME_SIZE: Final[int]
DEFAULT_MAX_MESSAGE_SIZE: Final[int]

def parse_header(data: object, offset: int = 0) -> FrameHeader | None: ...
def encode_header(
    opcode: int,
    length: int,
    *,
    fin: bool = True,
    rsv1: bool = False,
    rsv2: bool = False,
    rsv3: bool = False,
    mask: object = None,
) -> bytes: ...
def encode_frame(
    opcode: int,
    payload: object,
    *,
    fin: bool = True,
    rsv1: bool = False,
    rsv2: bool = False,
    rsv3: bool = False,
    mask: object = None,
) -> bytes: ...
def decode_text(payload: object, mask: object = None) -> str: ...
def encode_message(
    opcode: int,
    payload: object,
    *,
    mask: object = None,
    deflate: PerMessageDeflate | None = None,
    fragment_size: int | None = None,
) -> bytes: ...

@disjoint_base
class _FrameReader:
    @property
    def buffered(self) -> int: ...

class FrameDecoder(_FrameReader):
    def __init__(self, *, client: bool = False, max_frame_size: int | None = ..., rsv_allowed: int = 0) -> None: ...
    def feed(self, data: object) -> list[Frame]: ...

@disjoint_base
class MessageDecoder(_FrameReader):
    def __init__(
        self,
        *,
        client: bool = False,
        max_message_size: int | None = ...,
        max_frame_size: int | None = None,
        deflate: PerMessageDeflate | None = None,
    ) -> None: ...
    def feed(self, data: object) -> list[Message | Frame]: ...
