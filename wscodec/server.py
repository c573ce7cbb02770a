"""``python -m wscodec serve``: a WebSocket echo server built on wscodec and the standard library alone.

It is also the reference for building a server on the sans-I/O codec: an
:class:`asyncio.BufferedProtocol` (callbacks, no streams, reads into a buffer
it reuses: the fastest pure-asyncio path) that

1. reads the HTTP/1.1 request head and answers the opening handshake of
   RFC 6455 §4.2 (:func:`parse_request`, :func:`respond`), serving a small
   test page at ``GET /`` when the request asks for no upgrade;
2. negotiates permessage-deflate (RFC 7692) when the client offers it
   (:class:`DeflateSettings`; ``--no-deflate`` declines it);
3. feeds every read after it to a :class:`wscodec.MessageDecoder` and echoes
   each message (compressed again when deflate was agreed), answers pings,
   and echoes the peer's close frame: all that one read completes goes out
   in one write;
4. on a :class:`wscodec.ProtocolError`, echoes what the decoder completed
   before the error, then fails the connection with the error's close code.

On asyncio's selector event loop (POSIX) the echoes go to the socket with
``os.write``/``os.writev`` while the transport has nothing queued, and through
the transport otherwise (see ``DIRECT_WRITES``): per message, asyncio's
Python-level ``transport.write()`` costs more than decoding and framing. While
the echo loop runs it also reads the socket itself (see ``DIRECT_READS``),
skipping asyncio's Python-level read path.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import http
import importlib
import importlib.resources
import logging
import os
import signal
import socket
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import wscodec
from wscodec import (
    DeflateParams,
    Frame,
    Message,
    MessageDecoder,
    Opcode,
    PerMessageDeflate,
    ProtocolError,
    encode_close,
    encode_frame,
    encode_header,
    encode_message,
    negotiate_deflate,
    parse_close,
)
from wscodec._echo_py import READ_MIN, VECTORED_MIN, EchoIO, unsent

__all__ = [
    "HELP",
    "EchoProtocol",
    "HttpError",
    "Request",
    "add_arguments",
    "load_page",
    "parse_request",
    "respond",
    "run",
    "serve",
]

HELP = "run a WebSocket echo server (and a browser test page at /) built on wscodec alone"

log = logging.getLogger("wscodec.server")

MAX_HEAD_BYTES = 16 * 1024  #: the request line and headers, CRLFs included
MAX_HEADERS = 100
HANDSHAKE_TIMEOUT = 10.0  #: seconds a client has to send its whole request head
LINGER_TIMEOUT = 2.0  #: seconds to wait for the client's FIN after ours (see EchoProtocol._finish)

# Vectored writes (header and payload handed to the kernel side by side, payload not copied) pay off
# for large payloads. asyncio's socket transport (the selector loop's, without TLS) sends writelines()
# with sendmsg() since Python 3.12, but only pauses the protocol at its high-water mark since 3.12.9 /
# 3.13.2 (CPython gh-127655): before that, flow control would never see a large echo, so older versions
# get one copy instead. Other transports (uvloop's, TLS, the proactor's) keep flow control either way.
VECTORED_WRITES = sys.version_info >= (3, 13, 2) or (3, 12, 9) <= sys.version_info < (3, 13)

_TOKEN_CHARS = b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SINGLETONS = ("host", "sec-websocket-key", "sec-websocket-version")


# ---------------------------------------------------------------- the opening handshake (HTTP/1.1)


class HttpError(Exception):
    """A refused request: answered with ``status`` (and ``headers``), then the connection closes."""

    def __init__(self, status: int, message: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


@dataclass
class Request:
    """A parsed request head; header names are lower-case, repeated headers keep every value."""

    method: str
    target: str
    headers: dict[str, list[str]] = field(default_factory=dict)

    def tokens(self, name: str) -> set[str]:
        """The comma-separated tokens of header ``name`` (all its lines), lower-cased (RFC 9110 §5.6.1)."""
        return {t.strip(" \t").lower() for value in self.headers.get(name, ()) for t in value.split(",")}


def parse_request(head: bytes) -> Request:
    """Parse a request head (everything before the blank line) with plain string methods.

    No regular expression, so no input can make it backtrack; every line is
    split once. Raises :class:`HttpError` 400, 431 (too many headers) or 505.
    """
    lines = head.split(b"\r\n")
    if len(lines) - 1 > MAX_HEADERS:
        raise HttpError(431, f"more than {MAX_HEADERS} header fields")
    if any(b"\r" in line or b"\n" in line or b"\0" in line for line in lines):
        raise HttpError(400, "stray CR, LF or NUL in the request head")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not parts[0] or not parts[1].startswith(b"/"):
        raise HttpError(400, "malformed request line")
    method, target, version = (p.decode("latin-1") for p in parts)
    if version != "HTTP/1.1":
        # RFC 6455 §4.1: the handshake needs HTTP/1.1 or later; 2 and 3 never arrive in this form.
        raise HttpError(505, "only HTTP/1.1 is supported")
    request = Request(method, target)
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        # A name must be a token: this also refuses obsolete line folding (a leading space) and
        # whitespace before the colon, which RFC 9112 §5.1 says a server MUST reject.
        if not colon or not name or name.translate(None, _TOKEN_CHARS):
            raise HttpError(400, "malformed header field")
        key = name.decode("ascii").lower()
        request.headers.setdefault(key, []).append(value.strip(b" \t").decode("latin-1"))
    for key in _SINGLETONS:
        if len(request.headers.get(key, ())) > 1:
            raise HttpError(400, f"more than one {key} header")
    if "host" not in request.headers:
        raise HttpError(400, "no Host header")  # RFC 9112 §3.2: MUST be 400
    return request


def respond(request: Request) -> tuple[int, list[tuple[str, str]]]:
    """Decide the answer to ``request``: ``(101, headers)`` to upgrade, ``(200, [])`` for the page.

    Raises :class:`HttpError` for everything else: 405, 404, 400, 426.
    """
    if request.method != "GET":
        raise HttpError(405, "only GET", (("Allow", "GET"),))
    if request.target.partition("?")[0] != "/":
        raise HttpError(404, "nothing here; the page and the WebSocket are at /")
    if "upgrade" not in request.headers:
        return 200, []
    # RFC 6455 §4.2.1: both are comma-separated token lists, compared case-insensitively
    # (Firefox sends "Connection: keep-alive, Upgrade").
    if "websocket" not in request.tokens("upgrade"):
        raise HttpError(400, "Upgrade must name websocket")
    if "upgrade" not in request.tokens("connection"):
        raise HttpError(400, "Connection must contain upgrade")
    if request.headers.get("sec-websocket-version") != ["13"]:
        # RFC 6455 §4.4: say which versions this server speaks, so that the client can retry.
        raise HttpError(426, "only WebSocket version 13", (("Sec-WebSocket-Version", "13"),))
    try:
        key = wscodec.validate_key(request.headers.get("sec-websocket-key", [""])[0])
    except ValueError as exc:
        raise HttpError(400, str(exc)) from None
    # No Sec-WebSocket-Protocol in the answer: the client's subprotocols are declined by not echoing
    # them; extensions are negotiated by the caller (negotiate()). A real server would also check
    # Origin here, against cross-site WebSocket hijacking.
    accept = wscodec.accept_key(key)
    return 101, [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", accept)]


@dataclass(frozen=True)
class DeflateSettings:
    """What the server agrees to for permessage-deflate: :func:`wscodec.negotiate_deflate`'s keywords
    (by default websockets' server settings: 12-bit windows both ways, context takeover kept) and the
    compressor's ``backend``.
    """

    server_max_window_bits: int | None = 12
    client_max_window_bits: int | None = 12
    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    backend: str | None = None


def negotiate(request: Request, settings: DeflateSettings | None) -> DeflateParams | None:
    """The permessage-deflate agreement for an upgrade ``request``, or None (none offered, or declined).

    Raises :class:`HttpError` 400 for a malformed Sec-WebSocket-Extensions header.
    """
    offers = request.headers.get("sec-websocket-extensions")
    if settings is None or not offers:
        return None
    try:
        return negotiate_deflate(
            offers,
            server_max_window_bits=settings.server_max_window_bits,
            client_max_window_bits=settings.client_max_window_bits,
            server_no_context_takeover=settings.server_no_context_takeover,
            client_no_context_takeover=settings.client_no_context_takeover,
        )
    except ValueError as exc:
        raise HttpError(400, f"Sec-WebSocket-Extensions: {exc}") from None


def _http_response(status: int, headers: Iterable[tuple[str, str]], body: bytes = b"") -> bytes:
    """An HTTP/1.1 response head (and body) as bytes."""
    lines = [f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}", *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# ---------------------------------------------------------------- one connection

_HANDSHAKE, _OPEN, _LINGERING = "handshake", "open", "lingering"

# Direct writes: on asyncio's selector event loop, a Python-level transport.write() costs more than the
# echo's whole decoding and framing. While the transport holds no unsent bytes, nothing can be queued
# ahead of an echo, so it goes straight to the socket with os.write()/os.writev(), a single system call;
# whatever the kernel does not take (and everything while bytes are queued) goes through the transport,
# which keeps the order. To know when its queue is empty without asking per message, the transport's
# write limits are set to 0: it calls pause_writing() as soon as it holds a byte and resume_writing()
# once it has sent the last one. POSIX only (a Windows socket is no file descriptor); uvloop's
# transport, written in C, needs no help.
DIRECT_WRITES = os.name == "posix" and hasattr(os, "writev")
# Direct reads, with direct writes: while the echo loop runs, the connection reads the socket itself,
# through a duplicate of its descriptor registered with the event loop (asyncio refuses a reader on a
# transport's own descriptor), and the transport's reading is paused. Per read that skips asyncio's
# Python-level read path (_read_ready, get_buffer), which costs as much as decoding and echoing a small
# message. Anything unusual (end of input, an error, the closing handshake) goes back to the transport,
# which reads on and handles it as it always does.
DIRECT_READS = DIRECT_WRITES
#: with direct writes, stop reading while the transport holds more than this (asyncio's own default)
FLOW_HIGH_WATER = 64 * 1024
_IOV_LIMIT = 512  # buffers per writev() call: well below any system's IOV_MAX (1024 on Linux)

# The work per read: compiled with the compiled codec (a Python frame there costs as much as decoding
# and framing a small message), its pure twin otherwise. A module global, so that tests can choose.
_EchoIO: Any = EchoIO  # the compiled twin is no subclass: typed as Any, used as EchoIO
if wscodec.implementation == "cython":  # compiled only
    _EchoIO = importlib.import_module("wscodec._echo_c").EchoIO


class EchoProtocol(asyncio.BufferedProtocol):
    """One client connection: the handshake, then the echo loop, then the closing handshake.

    The transport reads into one buffer per connection (no allocation per read: asyncio's plain
    Protocol gets a fresh 256 KiB bytes object per read, which malloc may serve with mmap/munmap).
    Every read is fed to the decoder at once and everything it completes is answered with one write:
    a read that carries several messages gets their echoes (and any pong or close) in one system call.
    """

    def __init__(
        self,
        page: bytes,
        max_message_size: int,
        connections: set[EchoProtocol],
        deflate: DeflateSettings | None = None,
    ) -> None:
        self._page = page
        self._deflate_settings = deflate
        self._deflate: PerMessageDeflate | None = None  # once agreed
        self._max_message_size = max_message_size
        self._connections = connections
        self._state = _HANDSHAKE
        self._head = bytearray()
        self._timer: asyncio.TimerHandle | None = None
        self._what = "(no request)"  # the log line's summary of the request
        self._close_code = 1006  # no close frame seen (RFC 6455 §7.1.5) until one is
        self._dropped = 0
        self._socket_fd = -1  # the socket's descriptor if this connection may write to it directly
        self._vectored = VECTORED_WRITES  # whether its transport's writelines() keeps flow control
        self._blocked = False  # the transport holds unsent bytes (from pause_writing to resume_writing)
        self._paused = False  # reading stopped for flow control
        self._reader: socket.socket | None = None  # the duplicate descriptor of direct reads, while they run
        # The read buffer, the decoder (once open), the traffic counters, whether the echo loop runs
        # (``open``), where to write an echo directly now (``fd``; -1: through the transport).
        # ``encode``: a data message's frame, compressed once deflate is agreed (RFC 7692 §7.2.1, with
        # this connection's own window).
        self._io: EchoIO = _EchoIO(self, bytearray(READ_MIN), Message, encode_frame, encode_header)
        # The transport's reads go to EchoIO with no Python frame of this class in between.
        self.buffer_updated = self._io.updated  # type: ignore[method-assign]

    # asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Start the handshake timer; set up direct writes where they apply."""
        self._transport = cast(asyncio.Transport, transport)
        self._loop = asyncio.get_running_loop()
        self._started = self._loop.time()
        self._connections.add(self)
        self._timer = self._loop.call_later(HANDSHAKE_TIMEOUT, self._transport.close)
        sock = transport.get_extra_info("socket")
        # asyncio's own socket transport, without TLS (whose bytes must go through the transport)
        plain = isinstance(self._loop, asyncio.SelectorEventLoop) and transport.get_extra_info("sslcontext") is None
        self._vectored = VECTORED_WRITES or not plain
        if DIRECT_WRITES and sock is not None and plain:
            self._socket_fd = sock.fileno()
            self._transport.set_write_buffer_limits(high=0, low=0)
        else:
            self._io.transport = self._transport  # echoes go to it from EchoIO
            if not self._vectored:
                self._io.header = None  # a large payload is joined to its header (in _queue)

    def get_buffer(self, sizehint: int) -> bytearray:
        """The connection's read buffer."""
        return self._io.buffer

    def buffer_updated(self, nbytes: int) -> None:
        """Feed the ``nbytes`` just read to the decoder and echo what they complete (see data_received)."""
        self._io.updated(nbytes)

    def _start_direct_reads(self) -> None:
        reader = self._reader = socket.socket(fileno=os.dup(self._socket_fd))
        self._io.read_fd = reader.fileno()
        self._transport.pause_reading()
        if not self._paused:
            self._loop.add_reader(reader.fileno(), self._io.readable)

    def _stop_direct_reads(self) -> None:
        """Hand reading back to the transport (paused still if flow control says so)."""
        reader, self._reader = self._reader, None
        if reader is None:
            return
        self._io.read_fd = -1
        self._loop.remove_reader(reader.fileno())
        reader.close()
        if not self._paused:
            self._transport.resume_reading()

    def is_reading(self) -> bool:
        """True unless reading from the client is stopped for flow control (directly or through the transport)."""
        if self._reader is not None:
            return not self._paused
        return self._transport.is_reading()

    def _pause_reads(self) -> None:
        self._paused = True
        if self._reader is not None:
            self._loop.remove_reader(self._reader.fileno())
        else:
            self._transport.pause_reading()

    def _resume_reads(self) -> None:
        if not self._paused:
            return
        self._paused = False
        if self._reader is not None:
            self._loop.add_reader(self._reader.fileno(), self._io.readable)
        else:
            self._transport.resume_reading()

    def data_received(self, data: bytes | bytearray | memoryview) -> None:
        """Before the echo loop, the handshake; in it, feed the decoder and echo what it completes; after it,
        drop the bytes.

        asyncio calls buffer_updated() instead, which comes here outside the echo loop.
        """
        io = self._io
        if io.open:
            io.received(data)
            return
        io.bytes_in += len(data)
        if self._state is _HANDSHAKE:
            self._receive_head(data)

    def _fail(self, exc: ProtocolError) -> None:
        # Whatever the client sent correctly before the violation is still echoed (RFC 6455 §7.1.7 only
        # asks the connection to be failed), then the close frame carries the error's code.
        reason = exc.reason.encode("utf-8")[:123].decode("utf-8", "ignore")
        self._echo(exc.frames, encode_close(exc.code, reason), exc.code)

    def eof_received(self) -> bool:
        """The client closed its side: close ours (returning False tells asyncio to)."""
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        """Write the connection's log line."""
        io = self._io
        io.open = False
        io.fd = -1  # the transport closes the socket next: its descriptor may then be reused
        self._stop_direct_reads()
        if self._timer is not None:
            self._timer.cancel()
        self._connections.discard(self)
        peer = self._transport.get_extra_info("peername") or ("?", 0)
        traffic = f"in={io.bytes_in} B out={io.bytes_out} B"
        if io.feed is not None:
            traffic = (
                f"in={io.messages_in} msgs/{io.bytes_in} B"
                f" out={io.messages_in - self._dropped} msgs/{io.bytes_out} B"
                f" close={self._close_code}"
            )
        log.info("%s:%s %s %s %.3f s", peer[0], peer[1], self._what, traffic, self._loop.time() - self._started)

    # Flow control: the echo only writes what it reads, so while the client does not read its echoes
    # fast enough (the write buffer is above its high-water mark), stop reading from it.

    def pause_writing(self) -> None:
        """The transport holds unsent bytes (with direct writes), or more than its high-water mark."""
        self._blocked = True
        self._io.fd = -1  # what follows must queue behind those bytes
        if self._socket_fd < 0:
            self._pause_reads()
        # With direct writes the transport's mark is 0: _queue compares with FLOW_HIGH_WATER instead.

    def resume_writing(self) -> None:
        """The write buffer has drained (with direct writes: it is empty): read again."""
        self._blocked = False
        if self._io.open:
            self._io.fd = self._socket_fd
        self._resume_reads()

    # the opening handshake

    def _receive_head(self, data: bytes | bytearray | memoryview) -> None:
        searched = max(0, len(self._head) - 3)  # the blank line may straddle two reads
        self._head += data
        end = self._head.find(b"\r\n\r\n", searched)
        if end < 0 and len(self._head) <= MAX_HEAD_BYTES:
            return  # wait for the rest
        if end < 0 or end + 4 > MAX_HEAD_BYTES:
            self._refuse(HttpError(431, f"request head over {MAX_HEAD_BYTES} bytes"))
            return
        assert self._timer is not None
        self._timer.cancel()
        rest = bytes(self._head[end + 4 :])
        try:
            request = parse_request(bytes(self._head[:end]))
            self._what = f"{request.method} {request.target[:80]}"
            status, headers = respond(request)
            agreed = negotiate(request, self._deflate_settings) if status == 101 else None
        except HttpError as exc:
            self._refuse(exc)
            return
        self._head = bytearray()
        if status == 200:
            self._what += " 200"
            page_headers = [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")]
            self._write(_http_response(200, [*page_headers, *_close_headers(len(self._page))], self._page))
            self._finish()
            return
        self._what = "websocket"
        if agreed is not None:
            headers.append(("Sec-WebSocket-Extensions", agreed.header()))
            settings = cast(DeflateSettings, self._deflate_settings)
            self._deflate = PerMessageDeflate(agreed, backend=settings.backend)
            self._io.encode = functools.partial(encode_message, deflate=self._deflate)
            self._io.header = None  # every message is compressed, framed whole
            self._what += " (permessage-deflate)"
        self._write(_http_response(101, headers))
        self._io.feed = MessageDecoder(max_message_size=self._max_message_size, deflate=self._deflate).feed
        self._state = _OPEN
        self._io.open = True
        if not self._blocked:
            self._io.fd = self._socket_fd
        if DIRECT_READS and self._socket_fd >= 0:
            self._start_direct_reads()
        if rest:  # frames the client sent right behind its request (counted with it already)
            self._io.bytes_in -= len(rest)
            self.data_received(rest)

    def _refuse(self, exc: HttpError) -> None:
        self._what += f" {exc.status}"
        body = (exc.message + "\n").encode("utf-8")
        headers = [("Content-Type", "text/plain; charset=utf-8"), *exc.headers, *_close_headers(len(body))]
        self._write(_http_response(exc.status, headers, body))
        self._finish()

    # the echo loop

    def _echo(self, events: list[Message | Frame], close: bytes | None = None, code: int = 1000) -> None:
        """Answer ``events`` with one write: each data message echoed, each ping ponged, a close echoed.

        ``close``: a close frame's payload to send after them (and its ``code``), then close.
        """
        encode = self._io.encode
        frames: list[bytes] = []  # small frames, joined into one buffer
        buffers: list[bytes] = []  # what to write
        messages = 0
        for event in events:
            opcode = event.opcode
            payload = event.payload
            if type(event) is Message:
                messages += 1
                if len(payload) < VECTORED_MIN or self._deflate is not None:
                    frames.append(encode(opcode, payload))
                    continue
                # A large payload goes out as it is, beside its header: no copy of it.
                if frames:
                    buffers.append(b"".join(frames))
                    frames = []
                buffers += (encode_header(opcode, len(payload)), payload)
            elif opcode == Opcode.PING:
                frames.append(encode_frame(Opcode.PONG, payload))  # §5.5.3: the pong carries the ping's payload
            elif opcode == Opcode.CLOSE:
                # §5.5.1: answer with a close frame, typically echoing the status code. The decoder has
                # validated the payload; echoing it whole returns code and reason, and an empty close
                # (no status, 1005) for an empty one. The decoder delivers nothing after it.
                close, code = payload, parse_close(payload)[0]
            # An unsolicited PONG is allowed (§5.5.3) and needs no answer.
        if close is not None:
            frames.append(encode_frame(Opcode.CLOSE, close))
        if frames:
            buffers.append(b"".join(frames))
        self._io.messages_in += messages
        if buffers:
            self._send(buffers, messages)
        if close is not None:
            self._close_code = code
            self._finish()

    def _send(self, buffers: list[bytes], messages: int) -> None:
        """Write ``buffers`` (``messages`` echoes among them): straight to the socket if allowed, else queued."""
        io = self._io
        if io.fd < 0:
            self._queue(buffers, messages)
            return
        try:
            if len(buffers) == 1:
                sent = io.write(io.fd, buffers[0])
            else:
                sent = io.writev(io.fd, buffers[:_IOV_LIMIT])
        except OSError:
            sent = 0  # the transport's write meets the same error and handles it
        io.bytes_out += sent
        if sent != sum(map(len, buffers)):
            self._queue(unsent(buffers, sent), messages)

    def _queue(self, buffers: Sequence[bytes] | Sequence[bytes | memoryview], messages: int) -> None:
        """Hand ``buffers`` (the rest of ``messages`` echoes) to the transport, which sends them after whatever
        it holds."""
        if self._transport.is_closing():
            self._dropped += messages  # the connection broke (asyncio is about to report it): nothing is sent
            return
        self._io.bytes_out += sum(map(len, buffers))
        if self._vectored:
            self._transport.writelines(buffers)
        else:
            self._transport.write(b"".join(buffers))
        if self._socket_fd >= 0 and self._transport.get_write_buffer_size() > FLOW_HIGH_WATER:
            self._pause_reads()

    # closing

    def _write(self, data: bytes) -> None:
        self._io.bytes_out += len(data)
        self._transport.write(data)

    def _finish(self) -> None:
        """Close our side after what we wrote, then drop all input until the client closes too.

        Closing outright while the client is still sending would make the kernel answer with a
        reset, which can destroy the response or close frame before the client reads it. So the
        server half-closes (its FIN goes first, as RFC 6455 §7.1.1 wants) and waits a moment.
        """
        self._state = _LINGERING
        self._io.open = False
        self._io.fd = -1
        self._stop_direct_reads()  # the transport drops what follows and sees the client's FIN
        self._transport.write_eof()
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_later(LINGER_TIMEOUT, self._transport.close)

    def shutdown(self) -> None:
        """The server is stopping: close with 1001 (going away) if open, then close the connection."""
        if self._state is _OPEN:
            self._echo([], encode_close(1001, "server shutting down"), 1001)
        self._io.fd = -1
        self._stop_direct_reads()
        self._transport.close()


def _close_headers(length: int) -> list[tuple[str, str]]:
    return [("Content-Length", str(length)), ("Connection", "close")]


# ---------------------------------------------------------------- the server and the command


def load_page() -> bytes:
    """The browser test page, shipped as package data."""
    return importlib.resources.files("wscodec").joinpath("static/echo.html").read_bytes()


async def serve(host: str, port: int, max_message_size: int, deflate: DeflateSettings | None = None) -> None:
    """Serve until SIGTERM (return) or cancellation (Ctrl-C); then close every connection with 1001.

    ``deflate``: what to agree to when a client offers permessage-deflate; None declines it.
    """
    loop = asyncio.get_running_loop()
    page = load_page()
    connections: set[EchoProtocol] = set()
    server = await loop.create_server(lambda: EchoProtocol(page, max_message_size, connections, deflate), host, port)
    address = server.sockets[0].getsockname()
    where = f"[{address[0]}]:{address[1]}" if ":" in address[0] else f"{address[0]}:{address[1]}"
    log.info(
        "wscodec %s (%s) echo server on ws://%s/ ; test page at http://%s/ ; Ctrl-C stops",
        wscodec.__version__,
        wscodec.implementation,
        where,
        where,
    )
    stop = asyncio.Event()
    with contextlib.suppress(NotImplementedError):  # Windows' event loops have no signal handlers
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await stop.wait()
    finally:
        server.close()
        for connection in list(connections):
            connection.shutdown()
        await server.wait_closed()


def _size(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def _window_bits(text: str) -> int:
    value = int(text)
    if not 9 <= value <= 15:
        raise argparse.ArgumentTypeError("must be 9-15 (zlib cannot compress with an 8-bit window)")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--host``, ``--port``, ``--max-message-size`` and the permessage-deflate options."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument(
        "--port", type=int, default=8080, help="port to listen on, 0 for any free one (default: %(default)s)"
    )
    parser.add_argument(
        "--max-message-size",
        type=_size,
        default=wscodec.DEFAULT_MAX_MESSAGE_SIZE,
        metavar="N",
        help="largest message accepted, in bytes; a larger one closes with 1009 (default: %(default)s)",
    )
    deflate = parser.add_argument_group("permessage-deflate (agreed when the client offers it)")
    deflate.add_argument("--no-deflate", action="store_true", help="decline compression")
    for side in ("server", "client"):
        deflate.add_argument(
            f"--{side}-max-window-bits",
            type=_window_bits,
            default=12,
            metavar="N",
            help=f"the {side}'s compression window, 9-15 (default: %(default)s)",
        )
        deflate.add_argument(
            f"--{side}-no-context-takeover",
            action="store_true",
            help=f"ask the {side} to compress each message on its own",
        )
    deflate.add_argument("--deflate-backend", choices=("zlib", "zlib-ng", "isal"), default=None, help="default: zlib")


def run(args: argparse.Namespace) -> int:
    """Run the server until Ctrl-C or SIGTERM; exit status 0."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    try:
        settings = None
        if not args.no_deflate:
            settings = DeflateSettings(
                server_max_window_bits=args.server_max_window_bits,
                client_max_window_bits=args.client_max_window_bits,
                server_no_context_takeover=args.server_no_context_takeover,
                client_no_context_takeover=args.client_no_context_takeover,
                backend=args.deflate_backend,
            )
            PerMessageDeflate(DeflateParams(), backend=settings.backend)  # an absent backend fails now
        asyncio.run(serve(args.host, args.port, args.max_message_size, settings))
    except KeyboardInterrupt:
        pass  # asyncio.run has cancelled serve(), which closed every connection
    log.info("stopped")
    return 0
