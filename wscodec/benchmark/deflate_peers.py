"""How websockets and aiohttp are driven for the ``deflate`` section, at the settings every row shares.

Every driver is a binder ``bind(batch) -> Call`` (round trip, compress) or
``bind(batch, masked) -> Call`` (receiving: ``masked`` client frames on a
server, else server frames on a client), see
:class:`~wscodec.benchmark.deflate.Batch`: building the call sets up one
connection's state (compressor, decompressor, parser), and each call then
handles the whole batch of messages in order, the state running on from
call to call as on a long-lived connection. The ``result`` of every call
is the list of messages delivered, ``[(opcode, payload bytes), ...]``, or
for compressors the list of compressed payloads.

websockets: the ``PerMessageDeflate`` objects its own server and client
negotiate by default (window bits 12, memLevel 5, zlib's default level 6),
built through its extension factories exactly as a handshake does.
aiohttp: its ``WebSocketWriter`` and ``WebSocketReader`` (``reader_c`` or
``reader_py``) with compression on. Its writer compresses at level 1 and
memLevel 8 by default and exposes no setting for either, so the
compressor it creates is replaced by one at the shared settings; its
reader always inflates with a 15-bit window (it cannot be told otherwise),
which reads any smaller window's stream.
"""

from __future__ import annotations

import importlib
import zlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .frame_peers import FakeTransport, _as_bytes, _FakeAiohttpProtocol
from .harness import Call

if TYPE_CHECKING:
    from .deflate import Batch

__all__ = [
    "AIOHTTP_MAX_MSG_SIZE",
    "WEBSOCKETS_MAX_SIZE",
    "aiohttp_compressor",
    "aiohttp_decoder",
    "aiohttp_round_trip",
    "websockets_compressor",
    "websockets_extensions",
    "websockets_framed_round_trip",
    "websockets_inflater",
    "websockets_receiver",
    "websockets_round_trip",
]

Binder = Callable[["Batch"], Call]
ReceiveBinder = Callable[["Batch", bool], Call]
Decoded = list[tuple[int, bytes]]

#: websockets' default ``max_size`` (1 MiB), the budget its decoder inflates a message into.
WEBSOCKETS_MAX_SIZE = 1 << 20
#: aiohttp's default ``max_msg_size`` (4 MiB).
AIOHTTP_MAX_MSG_SIZE = 4 << 20

_TEXT = 1
_TAIL = b"\x00\x00\xff\xff"


# ---------------------------------------------------------------- websockets


def websockets_extensions() -> tuple[Any, Any]:
    """``(client, server)`` ``PerMessageDeflate`` as websockets' default client and server negotiate them.

    The client offers ``permessage-deflate; client_max_window_bits`` (memLevel 5);
    the server's default factory answers with 12-bit windows both ways (memLevel 5).
    """
    from websockets.extensions.permessage_deflate import (
        enable_client_permessage_deflate,
        enable_server_permessage_deflate,
    )

    client_factory = enable_client_permessage_deflate(None)[0]
    server_factory = enable_server_permessage_deflate(None)[0]
    response, server = server_factory.process_request_params(client_factory.get_request_params(), [])
    client = client_factory.process_response_params(response, [])
    return client, server


def _ws_frames(frames: list[Any]) -> Decoded:
    return [(int(f.opcode), bytes(f.data)) for f in frames]


def websockets_round_trip() -> Binder:
    """The client's ``encode(Frame)`` then the server's ``decode(frame)``: the extension alone, no framing."""
    from websockets.frames import Frame, Opcode

    text = Opcode.TEXT

    def bind(batch: Batch) -> Call:
        client, server = websockets_extensions()
        encode, decode = client.encode, server.decode

        def round_trip(messages: Sequence[bytes]) -> list[Any]:
            return [decode(encode(Frame(text, m)), max_size=WEBSOCKETS_MAX_SIZE) for m in messages]

        return Call(round_trip, (batch.messages,), result=_ws_frames)

    return bind


def websockets_framed_round_trip() -> Binder:
    """``Frame.serialize(mask=True, extensions=[client])`` then ``Frame.parse(..., extensions=[server])``.

    What websockets' protocol does with a message on each side, without the
    connection object around it (text is left as bytes: websockets decodes
    it later, in its message assembler).
    """
    from websockets.frames import Frame, Opcode
    from websockets.streams import StreamReader

    text = Opcode.TEXT
    parse = Frame.parse

    def bind(batch: Batch) -> Call:
        client, server = websockets_extensions()
        sending, receiving = [client], [server]

        def round_trip(messages: Sequence[bytes]) -> list[Any]:
            reader = StreamReader()
            feed, read_exact = reader.feed_data, reader.read_exact
            out = []
            for m in messages:
                feed(Frame(text, m).serialize(mask=True, extensions=sending))
                parser = parse(read_exact, mask=True, max_size=WEBSOCKETS_MAX_SIZE, extensions=receiving)
                try:
                    next(parser)
                except StopIteration as done:
                    out.append(done.value)
                else:
                    raise RuntimeError("websockets' parser wants more data than one whole frame")
            return out

        return Call(round_trip, (batch.messages,), result=_ws_frames)

    return bind


def websockets_compressor() -> Binder:
    """The client's ``encode(Frame(TEXT, message))``: its compressed payloads."""
    from websockets.frames import Frame, Opcode

    text = Opcode.TEXT

    def bind(batch: Batch) -> Call:
        encode = websockets_extensions()[0].encode

        def compress(messages: Sequence[bytes]) -> list[Any]:
            return [encode(Frame(text, m)) for m in messages]

        return Call(compress, (batch.messages,), result=lambda frames: [bytes(f.data) for f in frames])

    return bind


def websockets_inflater() -> ReceiveBinder:
    """``decode(frame)`` of frames already parsed (RSV1 set): inflation alone."""
    from websockets.frames import Frame, Opcode

    text = Opcode.TEXT

    def bind(batch: Batch, masked: bool) -> Call:
        client, server = websockets_extensions()
        decode = (server if masked else client).decode
        frames = tuple(Frame(text, payload, rsv1=True) for payload in batch.compressed)

        def inflate(frames: Sequence[Any]) -> list[Any]:
            return [decode(f, max_size=WEBSOCKETS_MAX_SIZE) for f in frames]

        return Call(inflate, (frames,), result=_ws_frames)

    return bind


def websockets_receiver() -> ReceiveBinder:
    """``Frame.parse(..., extensions=[server or client])`` driven by ``StreamReader``: parse, unmask, inflate."""
    from websockets.frames import Frame
    from websockets.streams import StreamReader

    parse = Frame.parse

    def bind(batch: Batch, masked: bool) -> Call:
        client, server = websockets_extensions()
        extensions = [server if masked else client]

        def receive(chunks: Sequence[bytes]) -> list[Any]:
            reader = StreamReader()
            read_exact, feed = reader.read_exact, reader.feed_data
            frames = []
            parser = parse(read_exact, mask=masked, max_size=WEBSOCKETS_MAX_SIZE, extensions=extensions)
            for chunk in chunks:
                feed(chunk)
                while True:
                    try:
                        next(parser)
                    except StopIteration as done:
                        frames.append(done.value)
                        parser = parse(read_exact, mask=masked, max_size=WEBSOCKETS_MAX_SIZE, extensions=extensions)
                    else:
                        break  # the parser waits for more data
            return frames

        return Call(receive, (batch.masked if masked else batch.unmasked,), result=_ws_frames)

    return bind


# ---------------------------------------------------------------- aiohttp


def _drain(queue: Any) -> Decoded | BaseException:
    """Take every message off an aiohttp reader's queue as its user would: ``await queue.read()``.

    ``read()`` returns without suspending while messages are queued, so each
    coroutine finishes on its first ``send(None)``; no event loop is needed.
    """
    error = queue.exception()
    if error is not None:
        return error  # type: ignore[no-any-return]
    out: Decoded = []
    buffer = queue._buffer
    while buffer:
        coroutine = queue.read()
        try:
            coroutine.send(None)
        except StopIteration as done:
            message = done.value
            out.append((int(message.type), _as_bytes(message.data)))
        else:  # pragma: no cover - read() only suspends on an empty queue
            coroutine.close()
            raise RuntimeError("aiohttp's queue.read() suspended with messages queued")
    return out


def _aiohttp_reader(module: str) -> tuple[Any, Any]:
    """``(queue, reader)``: aiohttp's ``WebSocketReader`` from ``aiohttp._websocket.<module>``, compression on."""
    reader = importlib.import_module(f"aiohttp._websocket.{module}")
    queue = reader.WebSocketDataQueue(_FakeAiohttpProtocol(), 1 << 30, loop=None)
    return queue, reader.WebSocketReader(queue, AIOHTTP_MAX_MSG_SIZE, compress=True, decode_text=True)


def _shared_settings_compressor(writer: Any, window_bits: int, level: int, mem_level: int) -> None:
    """Replace the compressor aiohttp's writer creates (level 1, memLevel 8) by one at the shared settings."""
    wrapper = writer._get_compressor(None)
    wrapper._compressor = zlib.compressobj(level, zlib.DEFLATED, -window_bits, mem_level)


def aiohttp_decoder(module: str) -> Callable[[], ReceiveBinder]:
    """``WebSocketReader(compress=True).feed_data`` of ``reader_c`` or ``reader_py``; messages read off its queue.

    One reader per cell, fed every call (each call's chunks end on a frame
    boundary), its queue drained as its user's ``read()`` does.
    """

    def load() -> ReceiveBinder:
        importlib.import_module(f"aiohttp._websocket.{module}")

        def bind(batch: Batch, masked: bool) -> Call:
            queue, reader = _aiohttp_reader(module)
            feed = reader.feed_data

            def receive(chunks: Sequence[bytes]) -> Any:
                for chunk in chunks:
                    feed(chunk)
                return _drain(queue)

            return Call(receive, (batch.masked if masked else batch.unmasked,))

        return bind

    return load


def aiohttp_round_trip(module: str, window_bits: int, level: int, mem_level: int) -> Callable[[], Binder]:
    """A client ``WebSocketWriter`` (masking, compression on) into a server ``WebSocketReader`` of ``module``.

    The writer's ``_send_compressed_frame_sync``, which its ``send_frame``
    coroutine calls for a compressed message up to 16 KiB (above that it
    compresses in an executor thread: the same work plus a thread hop, not
    timed here).
    """

    def load() -> Binder:
        from aiohttp._websocket.writer import WebSocketWriter

        importlib.import_module(f"aiohttp._websocket.{module}")

        def bind(batch: Batch) -> Call:
            transport = FakeTransport()
            writer = WebSocketWriter(
                _FakeAiohttpProtocol(),  # type: ignore[arg-type]
                transport,  # type: ignore[arg-type]
                use_mask=True,
                compress=window_bits,
            )
            _shared_settings_compressor(writer, window_bits, level, mem_level)
            send = writer._send_compressed_frame_sync
            queue, reader = _aiohttp_reader(module)
            feed = reader.feed_data

            def round_trip(messages: Sequence[bytes]) -> Any:
                for m in messages:
                    send(m, _TEXT, None)
                    feed(transport.last)
                return _drain(queue)

            return Call(round_trip, (batch.messages,))

        return bind

    return load


def aiohttp_compressor(window_bits: int, level: int, mem_level: int) -> Callable[[], Binder]:
    """What aiohttp's writer does to a message before framing it: ``compress_sync`` + ``flush``, tail removed."""

    def load() -> Binder:
        from aiohttp._websocket.writer import WebSocketWriter
        from aiohttp.compression_utils import ZLibBackend

        sync_flush = ZLibBackend.Z_SYNC_FLUSH

        def bind(batch: Batch) -> Call:
            writer = WebSocketWriter(_FakeAiohttpProtocol(), FakeTransport(), compress=window_bits)  # type: ignore[arg-type]
            _shared_settings_compressor(writer, window_bits, level, mem_level)
            compressor = writer._get_compressor(None)
            compress_sync, flush = compressor.compress_sync, compressor.flush

            def compress(messages: Sequence[bytes]) -> list[bytes]:
                return [(compress_sync(m) + flush(sync_flush)).removesuffix(_TAIL) for m in messages]

            return Call(compress, (batch.messages,))

        return bind

    return load
