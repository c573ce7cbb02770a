"""The echo server's work per read, for one connection of :mod:`wscodec.server` (pure Python).

:class:`EchoIO` holds what the echo loop touches on every read (the read
buffer, the decoder, the descriptors, the traffic counters) and does the
common case itself: a small read that completes one data message, answered
with one direct write. Everything else goes back to the protocol object,
which owns the connection's state. ``wscodec._echo_c`` is its compiled twin,
with the same attributes and behaviour: on asyncio's loop, the Python frames
of this path cost as much as decoding and framing a small message.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from .errors import ProtocolError

__all__ = ["VECTORED_MIN", "VIEW_MIN", "EchoIO"]

#: A payload from this size on goes out beside its header (vectored), not copied into one frame.
VECTORED_MIN = 16 * 1024
#: A read is fed to the decoder as a copy up to this size (a small copy is the cheapest input), and
#: as a view of the buffer from it on (no copy of a large read). The decoder keeps no reference to either.
VIEW_MIN = 4096


def _no_vectors(fd: int, buffers: Sequence[Any]) -> int:
    raise OSError("no vectored I/O here")  # never called: the server reads and writes directly on POSIX only


_readv: Callable[[int, Sequence[Any]], int] = getattr(os, "readv", _no_vectors)


class EchoIO:
    """One connection's per-read path: read, decode, echo one small message with one write.

    ``protocol`` provides the other paths (``_other_read``, ``_fail``,
    ``_queue``, ``_echo``, ``_stop_direct_reads``); ``message_type`` is the
    codec's ``Message`` class and ``encode(opcode, payload)`` frames a data
    message (compressed, once deflate is agreed). ``fd`` is where echoes may be written directly
    (-1: through the transport), ``read_fd`` the descriptor of direct reads
    (-1: none), ``write``/``writev`` the system calls used for them.
    ``transport``, set where the connection never writes directly (another
    event loop, such as uvloop, whose transport is compiled; TLS), takes a
    small echo's frame from here.
    """

    __slots__ = (
        "buffer",
        "bytes_in",
        "bytes_out",
        "encode",
        "fd",
        "feed",
        "message_type",
        "messages_in",
        "open",
        "protocol",
        "read_fd",
        "transport",
        "write",
        "writev",
    )

    def __init__(
        self, protocol: Any, buffer: bytearray, message_type: Any, encode: Callable[[int, bytes], bytes]
    ) -> None:
        self.protocol = protocol
        self.buffer = buffer
        self.message_type = message_type
        self.encode = encode
        self.feed: Callable[[bytes | bytearray | memoryview], list[Any]] | None = None
        self.write: Callable[[int, bytes | memoryview], int] = os.write
        self.writev: Callable[[int, Sequence[bytes | memoryview]], int] = getattr(os, "writev", _no_vectors)
        self.fd = self.read_fd = -1
        self.transport: Any = None
        self.open = False
        self.bytes_in = self.bytes_out = self.messages_in = 0

    def readable(self) -> None:
        """Direct reads: the socket has bytes (or its end, or an error) to read."""
        try:
            nbytes = _readv(self.read_fd, (self.buffer,))
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            nbytes = 0  # the transport reads again and meets the error itself
        if nbytes:
            self.updated(nbytes)
        else:
            self.protocol._stop_direct_reads()  # the end of input: the transport reads it again and handles it

    def updated(self, nbytes: int) -> None:
        """``nbytes`` were read into the buffer: feed them and echo what they complete."""
        if nbytes >= VIEW_MIN or not self.open:
            self.protocol._other_read(nbytes)
            return
        self.bytes_in += nbytes
        try:
            events = self.feed(self.buffer[:nbytes])  # type: ignore[misc]
        except ProtocolError as exc:
            self.protocol._fail(exc)
            return
        # The commonest case: one small data message, nothing queued in the transport.
        if len(events) == 1 and type(event := events[0]) is self.message_type:
            payload = event.payload
            if len(payload) < VECTORED_MIN:
                # A TEXT payload arrives as bytes the decoder already validated as UTF-8: it goes back
                # as it came, with no decode/encode round trip.
                if (fd := self.fd) >= 0:
                    frame = self.encode(event.opcode, payload)
                    self.messages_in += 1
                    try:
                        sent = self.write(fd, frame)
                    except OSError:
                        sent = 0  # the transport's write meets the same error and handles it
                    self.bytes_out += sent
                    if sent != len(frame):
                        self.protocol._queue([memoryview(frame)[sent:]], 1)
                    return
                if (transport := self.transport) is not None and not transport.is_closing():
                    frame = self.encode(event.opcode, payload)
                    self.messages_in += 1
                    self.bytes_out += len(frame)
                    transport.write(frame)
                    return
        if events:
            self.protocol._echo(events)
