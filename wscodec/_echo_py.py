"""The echo server's work per read, for one connection of :mod:`wscodec.server` (pure Python).

:class:`EchoIO` holds what the echo loop touches on every read (the read
buffer, the decoder, the descriptors, the traffic counters) and does the
common case itself: a read that completes one data message, answered with
one direct write (a small message framed whole, a large one's payload
beside its header). Everything else goes back to the protocol object,
which owns the connection's state. ``wscodec._echo_c`` is its compiled twin,
with the same attributes and behaviour: on asyncio's loop, the Python frames
of this path cost as much as decoding and framing a small message.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from .errors import ProtocolError

__all__ = ["READ_MAX", "READ_MIN", "VECTORED_MIN", "VIEW_MIN", "EchoIO", "unsent"]

#: A payload from this size on goes out beside its header (vectored), not copied into one frame.
VECTORED_MIN = 16 * 1024
#: A read is fed to the decoder as a copy up to this size (a small copy is the cheapest input), and
#: as a view of the buffer from it on (no copy of a large read). The decoder keeps no reference to either.
VIEW_MIN = 4096
#: The read buffer starts at READ_MIN bytes and doubles, up to READ_MAX (asyncio's own read size), each
#: time a read fills it.
READ_MIN, READ_MAX = 16 * 1024, 256 * 1024


def _no_vectors(fd: int, buffers: Sequence[Any]) -> int:
    raise OSError("no vectored I/O here")  # never called: the server reads and writes directly on POSIX only


_readv: Callable[[int, Sequence[Any]], int] = getattr(os, "readv", _no_vectors)


def unsent(buffers: Sequence[bytes | memoryview], sent: int) -> list[bytes | memoryview]:
    """What remains of ``buffers`` once their first ``sent`` bytes, fewer than all, are written."""
    index = 0
    while sent >= len(buffers[index]):
        sent -= len(buffers[index])
        index += 1
    return [memoryview(buffers[index])[sent:], *buffers[index + 1 :]]


class EchoIO:
    """One connection's per-read path: read, decode, echo one data message with one write.

    ``protocol`` provides the other paths (``data_received`` before and
    after the echo loop, ``_fail``, ``_queue``, ``_echo``,
    ``_stop_direct_reads``); ``message_type`` is the codec's ``Message``
    class and ``encode(opcode, payload)`` frames a data message (compressed,
    once deflate is agreed). ``header(opcode, length)`` frames the header of
    a large payload sent beside it, uncopied (``None`` once deflate is
    agreed: a compressed message is framed whole). ``fd`` is where echoes may
    be written directly (-1: through the transport), ``read_fd`` the
    descriptor of direct reads (-1: none), ``write``/``writev`` the system
    calls used for them. ``transport``, set where the connection never writes
    directly (another event loop, such as uvloop, whose transport is
    compiled; TLS), takes an echo from here: a small message's frame, a
    large one's header and payload.
    """

    __slots__ = (
        "buffer",
        "bytes_in",
        "bytes_out",
        "encode",
        "fd",
        "feed",
        "header",
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
        self,
        protocol: Any,
        buffer: bytearray,
        message_type: Any,
        encode: Callable[[int, bytes], bytes],
        header: Callable[[int, int], bytes] | None,
    ) -> None:
        self.protocol = protocol
        self.buffer = buffer
        self.message_type = message_type
        self.encode = encode
        self.header = header
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
        """``nbytes`` were read into the buffer: feed them and echo what they complete (in the echo loop;
        to the protocol's ``data_received`` before and after it)."""
        buffer = self.buffer
        if nbytes < VIEW_MIN:
            if self.open:
                self.received(buffer[:nbytes])
            else:
                self.protocol.data_received(buffer[:nbytes])
            return
        if nbytes == len(buffer) and nbytes < READ_MAX:
            self.buffer = bytearray(2 * nbytes)  # the next read may bring more
        with memoryview(buffer) as view:
            if self.open:
                self.received(view[:nbytes])
            else:
                self.protocol.data_received(view[:nbytes])

    def received(self, data: bytes | bytearray | memoryview) -> None:
        """Bytes of the echo loop: feed them to the decoder and echo what they complete."""
        self.bytes_in += len(data)
        try:
            events = self.feed(data)  # type: ignore[misc]
        except ProtocolError as exc:
            self.protocol._fail(exc)
            return
        # The commonest case: one data message, nothing queued in the transport.
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
            elif (fd := self.fd) >= 0 and (header := self.header) is not None:
                # A large payload goes out as it is, beside its header: one system call, no copy.
                buffers = (header(event.opcode, len(payload)), payload)
                self.messages_in += 1
                try:
                    sent = self.writev(fd, buffers)
                except OSError:
                    sent = 0
                self.bytes_out += sent
                if sent != len(buffers[0]) + len(payload):
                    self.protocol._queue(unsent(buffers, sent), 1)
                return
            elif (header := self.header) is not None:
                if (transport := self.transport) is not None and not transport.is_closing():
                    buffers = (header(event.opcode, len(payload)), payload)
                    self.messages_in += 1
                    self.bytes_out += len(buffers[0]) + len(payload)
                    transport.writelines(buffers)  # the transport sends them side by side, or joins them
                    return
        if events:
            self.protocol._echo(events)
