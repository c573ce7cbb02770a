"""How each peer library is driven to decode a stream of frames and to encode one.

Every decode driver is ``decode(chunks) -> native result``: it feeds the
chunks (64 KiB socket reads) in order to a fresh parser -- picows excepted,
see :func:`picows_decoder` -- and returns what the library hands its user
for every frame; a ``normalise`` function turns that into ``[(opcode,
payload bytes), ...]`` for the check. Encoders return the bytes the library
puts on the wire. Text payloads are delivered by each library its own way:
``bytes`` (websockets: it decodes text later, in its message assembler), or
a validated ``str`` (wsproto, aiohttp, picows).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import socket
from collections.abc import Callable, Sequence
from typing import Any

from .harness import Call

__all__ = [
    "Decoded",
    "FakeTransport",
    "aiohttp_decoder",
    "aiohttp_encoder",
    "picows_decoder",
    "picows_encoder",
    "websockets_decoder",
    "websockets_encoder",
    "wsproto_decoder",
    "wsproto_encoder",
]

Decoded = list[tuple[int, bytes]]
DecodeBinder = Callable[[Sequence[bytes], bool], Call]  # (chunks, masked) -> Call
EncodeBinder = Callable[[bytes], Call]  # payload -> Call; the result is the wire bytes

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_LOG = logging.getLogger("wscodec.benchmark.picows")


def _as_bytes(payload: bytes | bytearray | str) -> bytes:
    return payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)


class FakeTransport:
    """Stands in for an asyncio transport: keeps the last write and reports a non-empty write buffer.

    The non-empty buffer makes picows hand its output to :meth:`write`
    instead of calling ``send()`` on the socket itself.
    """

    def __init__(self) -> None:
        self.last: bytes = b""
        self._socket: socket.socket | None = None

    def write(self, data: bytes) -> None:
        """Keep ``data`` (only the last write: the encoders write one frame per call)."""
        self.last = data

    def get_write_buffer_size(self) -> int:
        """Never empty (see the class docstring)."""
        return 1

    def is_closing(self) -> bool:
        """Never closing."""
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """An unconnected TCP socket (picows sets options on it), loopback addresses, no TLS."""
        if name == "socket":
            if self._socket is None:
                self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            return self._socket
        return {"peername": ("127.0.0.1", 1), "sockname": ("127.0.0.1", 2)}.get(name, default)

    def close_socket(self) -> None:
        """Close the socket once the protocol has configured it."""
        if self._socket is not None:
            self._socket.close()


class _FakeAiohttpProtocol:
    """What aiohttp's queue and writer look at on their protocol: never paused."""

    _reading_paused = False
    _paused = False

    def pause_reading(self) -> None:
        """Nothing to pause."""

    def resume_reading(self) -> None:
        """Nothing to resume."""


# ---------------------------------------------------------------- websockets


def websockets_decoder() -> DecodeBinder:
    """``Frame.parse`` generators driven by websockets' ``StreamReader``, one generator per frame."""
    from websockets.frames import Frame
    from websockets.streams import StreamReader

    parse = Frame.parse

    def bind(chunks: Sequence[bytes], masked: bool) -> Call:
        def decode(chunks: Sequence[bytes]) -> list[Any]:
            reader = StreamReader()
            read_exact = reader.read_exact
            feed = reader.feed_data
            frames = []
            parser = parse(read_exact, mask=masked)
            for chunk in chunks:
                feed(chunk)
                while True:
                    try:
                        next(parser)
                    except StopIteration as done:
                        frames.append(done.value)
                        parser = parse(read_exact, mask=masked)
                    else:
                        break  # the parser waits for more data
            return frames

        return Call(decode, (chunks,), result=lambda frames: [(int(f.opcode), bytes(f.data)) for f in frames])

    return bind


def websockets_encoder() -> EncodeBinder:
    """``Frame(BINARY, payload).serialize(mask=True)``."""
    from websockets.frames import Frame, Opcode

    binary = Opcode.BINARY

    def encode(payload: bytes) -> bytes:
        return Frame(binary, payload).serialize(mask=True)

    return lambda payload: Call(encode, (payload,))


# ---------------------------------------------------------------- wsproto


def _wsproto_frames(events: list[Any]) -> Decoded:
    """Join the partial frames wsproto emits for a frame split across reads."""
    out: Decoded = []
    parts: list[bytes] = []
    opcode = 0
    for event in events:
        if not parts:
            opcode = int(event.opcode)
        parts.append(_as_bytes(event.payload))
        if event.frame_finished:
            out.append((opcode, b"".join(parts)))
            parts = []
    return out


def wsproto_decoder() -> DecodeBinder:
    """``FrameProtocol.receive_bytes`` + ``received_frames()`` (text arrives as a validated ``str``)."""
    from wsproto.frame_protocol import FrameProtocol

    def bind(chunks: Sequence[bytes], masked: bool) -> Call:
        client = not masked

        def decode(chunks: Sequence[bytes]) -> list[Any]:
            protocol = FrameProtocol(client=client, extensions=[])
            receive = protocol.receive_bytes
            frames: list[Any] = []
            for chunk in chunks:
                receive(chunk)
                frames += protocol.received_frames()
            return frames

        return Call(decode, (chunks,), result=_wsproto_frames)

    return bind


def wsproto_encoder() -> EncodeBinder:
    """``FrameProtocol(client=True).send_data(payload)``."""
    from wsproto.frame_protocol import FrameProtocol

    return lambda payload: Call(FrameProtocol(client=True, extensions=[]).send_data, (payload,), result=bytes)


# ---------------------------------------------------------------- aiohttp


def _aiohttp_messages(queue: Any) -> Decoded | Exception:
    error = queue.exception()
    if error is not None:
        return error  # type: ignore[no-any-return]
    return [(int(message.type), _as_bytes(message.data)) for message, _size in queue._buffer]


def aiohttp_decoder(module: str) -> Callable[[], DecodeBinder]:
    """``WebSocketReader.feed_data`` from ``aiohttp._websocket.<module>`` (``reader_c`` or ``reader_py``).

    The reader puts messages (text decoded to ``str``) on its queue; they are
    read from the queue's buffer. A fresh queue per stream: its size counter
    is drained only by the asynchronous ``read()``.
    """

    def load() -> DecodeBinder:
        import importlib

        reader = importlib.import_module(f"aiohttp._websocket.{module}")
        queue_class, reader_class = reader.WebSocketDataQueue, reader.WebSocketReader
        protocol = _FakeAiohttpProtocol()

        def bind(chunks: Sequence[bytes], masked: bool) -> Call:
            def decode(chunks: Sequence[bytes]) -> Any:
                queue = queue_class(protocol, 1 << 30, loop=None)
                feed = reader_class(queue, 4 << 20, compress=False, decode_text=True).feed_data
                for chunk in chunks:
                    feed(chunk)
                return queue

            return Call(decode, (chunks,), result=_aiohttp_messages)

        return bind

    return load


def aiohttp_encoder() -> EncodeBinder:
    """The private ``WebSocketWriter._write_websocket_frame(payload, BINARY, 0)`` onto a fake transport.

    ``send_frame`` is a coroutine that calls exactly this for an
    uncompressed frame.
    """
    from aiohttp._websocket.writer import WebSocketWriter

    def bind(payload: bytes) -> Call:
        transport = FakeTransport()
        writer = WebSocketWriter(_FakeAiohttpProtocol(), transport, use_mask=True)  # type: ignore[arg-type]
        return Call(writer._write_websocket_frame, (payload, 2, 0), result=lambda _: transport.last)

    return bind


# ---------------------------------------------------------------- picows


def _picows_protocol(client: bool, listener: Any) -> Any:
    """A picows ``WSProtocol`` past its opening handshake, on a fake transport.

    picows has no standalone parser: its parser is the asyncio
    BufferedProtocol, fed through ``get_buffer()``/``buffer_updated()``
    (so its figures include copying each read into picows' buffer, as
    ``recv_into`` would).
    """
    from picows import WSAutoPingStrategy
    from picows.picows import WSProtocol  # type: ignore[attr-defined]  # not in picows' stubs

    async def create() -> Any:  # the constructor wants a running loop
        return WSProtocol(
            "localhost:1" if client else None,
            "/",
            client,
            lambda *request: listener,
            _LOG,
            True,
            None,
            False,
            10.0,
            10.0,
            WSAutoPingStrategy.PING_WHEN_IDLE,
            False,
            1 << 30,
            None,
            1 << 16,
        )

    loop = asyncio.new_event_loop()
    try:
        protocol = loop.run_until_complete(create())
        transport = FakeTransport()
        protocol.connection_made(transport)
        transport.close_socket()
        if client:
            request = transport.last.decode("latin-1")
            key = next(
                line.split(":", 1)[1].strip()
                for line in request.split("\r\n")
                if line.lower().startswith("sec-websocket-key:")
            )
            accept = base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()
            handshake = (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept}\r\n\r\n"
            )
        else:
            handshake = (
                "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
        _picows_feed(protocol, handshake.encode("latin-1"))
    finally:
        loop.close()  # picows needs the loop again only to close the connection, which never happens here
    return protocol


def _picows_feed(protocol: Any, chunk: bytes) -> None:
    """Copy ``chunk`` into picows' read buffer, as the event loop's ``recv_into`` would."""
    view = memoryview(chunk)
    while view:
        space = protocol.get_buffer(-1)
        n = min(len(space), len(view))
        space[:n] = view[:n]
        protocol.buffer_updated(n)
        view = view[n:]


def picows_decoder() -> DecodeBinder:
    """picows' ``WSProtocol`` with a Python listener that takes every payload out (text as ``str``).

    One protocol serves every stream of a cell (each stream ends on a frame
    boundary), as building one needs an event loop.
    """
    from picows import WSListener, WSMsgType

    text = WSMsgType.TEXT

    class Listener(WSListener):
        def __init__(self) -> None:
            self.frames: list[tuple[Any, Any]] = []

        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            if frame.msg_type == text:
                self.frames.append((frame.msg_type, frame.get_payload_as_utf8_text()))
            else:
                self.frames.append((frame.msg_type, frame.get_payload_as_bytes()))

    def bind(chunks: Sequence[bytes], masked: bool) -> Call:
        listener = Listener()
        protocol = _picows_protocol(not masked, listener)

        def decode(chunks: Sequence[bytes]) -> list[tuple[Any, Any]]:
            for chunk in chunks:
                _picows_feed(protocol, chunk)
            frames, listener.frames = listener.frames, []
            return frames

        return Call(decode, (chunks,), result=lambda frames: [(int(t), _as_bytes(p)) for t, p in frames])

    return bind


def picows_encoder() -> EncodeBinder:
    """A client ``WSTransport.send(BINARY, payload)`` onto a fake transport."""
    from picows import WSMsgType
    from picows.picows import WSTransport

    def bind(payload: bytes) -> Call:
        transport = FakeTransport()
        loop = asyncio.new_event_loop()
        try:
            sender = WSTransport(True, transport, _LOG, loop)  # type: ignore[call-arg]  # stubs omit __init__
        finally:
            loop.close()  # only a future for disconnection is created on it
            transport.close_socket()
        return Call(sender.send, (WSMsgType.BINARY, payload), result=lambda _: transport.last)

    return bind
