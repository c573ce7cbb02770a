"""Type stub for the compiled echo-server read path (behaviour: _echo_py.py)."""

from collections.abc import Callable, Sequence
from typing import Any, final

@final
class EchoIO:
    protocol: Any
    buffer: bytearray
    message_type: Any
    feed: Callable[[bytes | bytearray | memoryview], list[Any]] | None
    encode: Callable[[int, bytes], bytes]
    header: Callable[[int, int], bytes] | None
    write: Callable[[int, bytes | memoryview], int]
    writev: Callable[[int, Sequence[bytes | memoryview]], int]
    fd: int
    read_fd: int
    transport: Any
    open: bool
    bytes_in: int
    bytes_out: int
    messages_in: int
    def __init__(
        self,
        protocol: Any,
        buffer: bytearray,
        message_type: Any,
        encode: Callable[[int, bytes], bytes],
        header: Callable[[int, int], bytes] | None,
    ) -> None: ...
    def readable(self) -> None: ...
    def updated(self, nbytes: int) -> None: ...
    def received(self, data: bytes | bytearray | memoryview) -> None: ...
