"""The autobahn rows of ``python -m wscodec bench --integrations``.

What is timed: autobahn's asyncio server and client over loopback TCP, and its UTF-8 validator alone.

Timed by :mod:`wscodec.benchmark.integrations` with the host alone and with
:mod:`wscodec.integrations.autobahn` installed; the host is imported only when measured.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from typing import Any

__all__ = ["KINDS", "echo_roundtrip", "text_validation_rate"]

#: what the integration benchmark measures for this host: the echo of binary and of text messages (UTF-8
#: handling is replaced too), the validation of each text message alone (:func:`text_validation_rate`), and
#: the echo of JSON-like text with permessage-deflate accepted (autobahn's defaults)
KINDS = ("binary", "text", "text validation", "deflate text")

_PROTOCOL = "autobahn.websocket.protocol"
_COMPRESS = "autobahn.websocket.compress"


def text_validation_rate(size: int, count: int) -> float:
    """Text messages of ``size`` bytes (multi-byte UTF-8) validated per second by autobahn's validator.

    Uses the class autobahn's protocol instantiates (``reset()`` then
    ``validate()``, as per message), so it measures whatever is installed.
    """
    protocol: Any = importlib.import_module(_PROTOCOL)
    unit = "aé€😀".encode()
    message = (unit * (size // len(unit) + 1))[:size].decode("utf-8", "ignore").encode()
    validator = protocol.Utf8Validator()
    validate = validator.validate
    reset = validator.reset
    start = time.perf_counter()
    for _ in range(count):
        reset()
        if not validate(message)[1]:
            raise RuntimeError("autobahn's validator rejected valid UTF-8")
    return count / (time.perf_counter() - start)


def echo_roundtrip(size: int, count: int, *, text: bool = False, deflate: bool = False) -> float:
    """Messages per second over a loopback echo (autobahn's asyncio server and client).

    One message of ``size`` bytes (``text``: ASCII text, so validated on both
    ends) at a time, sent and echoed back, ``count`` times after a short
    warm-up; no compression, no size limits. ``deflate``: JSON-like text
    messages (distinct ones, in turn) with permessage-deflate offered by the
    client and accepted by the server, both at autobahn's defaults (15-bit
    windows, context takeover, level 6, memLevel 8).
    """
    return asyncio.run(_echo(size, count, text or deflate, deflate))


async def _echo(size: int, count: int, text: bool, deflate: bool) -> float:
    websocket: Any = importlib.import_module("autobahn.asyncio.websocket")  # (asyncio flavour: txaio)
    compress: Any = importlib.import_module(_COMPRESS)

    loop = asyncio.get_running_loop()
    opened: asyncio.Future[None] = loop.create_future()
    closed: asyncio.Future[None] = loop.create_future()
    replies: asyncio.Queue[bytes] = asyncio.Queue()

    class Echo(websocket.WebSocketServerProtocol):  # type: ignore[misc]
        def onMessage(self, payload: bytes, isBinary: bool) -> None:
            self.sendMessage(payload, isBinary)

    class Client(websocket.WebSocketClientProtocol):  # type: ignore[misc]
        def onOpen(self) -> None:
            opened.set_result(None)

        def onMessage(self, payload: bytes, isBinary: bool) -> None:
            replies.put_nowait(payload)

        def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
            if not closed.done():
                closed.set_result(None)

    def accept_offer(offers: list[Any]) -> Any:
        for offer in offers:
            if isinstance(offer, compress.PerMessageDeflateOffer):
                return compress.PerMessageDeflateOfferAccept(offer)
        return None

    server_factory = websocket.WebSocketServerFactory()
    server_factory.protocol = Echo
    server = await loop.create_server(server_factory, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client_factory = websocket.WebSocketClientFactory(f"ws://127.0.0.1:{port}")
    client_factory.protocol = Client
    if deflate:
        server_factory.setProtocolOptions(perMessageCompressionAccept=accept_offer)
        client_factory.setProtocolOptions(
            perMessageCompressionOffers=[compress.PerMessageDeflateOffer()],
            perMessageCompressionAccept=compress.PerMessageDeflateResponseAccept,
        )
        from ..integrations import json_text_messages

        payloads = [message.encode() for message in json_text_messages(size)]
    else:
        payloads = [b"x" * size]
    _, client = await loop.create_connection(client_factory, "127.0.0.1", port)
    try:
        await opened
        if deflate and client._perMessageCompress is None:
            raise RuntimeError("autobahn did not negotiate permessage-deflate")

        async def run(rounds: int) -> None:
            for i in range(rounds):
                client.sendMessage(payloads[i % len(payloads)], not text)
                if len(await replies.get()) != size:
                    raise RuntimeError("autobahn echo returned a different message")

        await run(min(count, 10))
        start = time.perf_counter()
        await run(count)
        elapsed = time.perf_counter() - start
    finally:
        client.sendClose(1000)
        await asyncio.wait_for(closed, 10)
        server.close()
        await server.wait_closed()
    return count / elapsed
