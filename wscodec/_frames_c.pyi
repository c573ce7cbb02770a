"""Type stub for the compiled frame codec (behaviour: frames_py.py and messages_py.py)."""

from typing import Final

from typing_extensions import disjoint_base

from ._deflate_c import PerMessageDeflate
from .enums import Opcode

DEFAULT_MAX_FRAME_SIZE: Final[int]
DEFAULT_MAX_MESSAGE_SIZE: Final[int]

@disjoint_base
class Frame:
    @property
    def fin(self) -> bool: ...
    @property
    def opcode(self) -> Opcode: ...
    @property
    def payload(self) -> bytes: ...
    @property
    def rsv1(self) -> bool: ...
    @property
    def rsv2(self) -> bool: ...
    @property
    def rsv3(self) -> bool: ...
    def __init__(
        self, fin: bool, opcode: int, payload: bytes, rsv1: bool = False, rsv2: bool = False, rsv3: bool = False
    ) -> None: ...
    def __eq__(self, value: object, /) -> bool: ...

@disjoint_base
class FrameHeader:
    @property
    def fin(self) -> bool: ...
    @property
    def rsv1(self) -> bool: ...
    @property
    def rsv2(self) -> bool: ...
    @property
    def rsv3(self) -> bool: ...
    @property
    def opcode(self) -> Opcode: ...
    @property
    def masked(self) -> bool: ...
    @property
    def length(self) -> int: ...
    @property
    def mask(self) -> bytes | None: ...
    @property
    def header_size(self) -> int: ...
    def __init__(
        self,
        fin: bool,
        rsv1: bool,
        rsv2: bool,
        rsv3: bool,
        opcode: Opcode,
        masked: bool,
        length: int,
        mask: bytes | None,
        header_size: int,
    ) -> None: ...
    def __eq__(self, value: object, /) -> bool: ...

@disjoint_base
class Message:
    @property
    def opcode(self) -> Opcode: ...
    @property
    def payload(self) -> bytes: ...
    @property
    def text(self) -> str: ...
    def __init__(self, opcode: int, payload: bytes) -> None: ...
    def __eq__(self, value: object, /) -> bool: ...

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
