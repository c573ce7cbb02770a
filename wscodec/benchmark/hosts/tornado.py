"""The tornado rows of ``python -m wscodec bench --integrations``.

What is timed: tornado's WebSocketHandler and websocket_connect over loopback TCP.

Timed by :mod:`wscodec.benchmark.integrations` with the host alone and with
:mod:`wscodec.integrations.tornado` installed; the host is imported only when measured.
"""

from __future__ import annotations

import asyncio
import time

__all__ = ["KINDS", "echo_roundtrip"]

#: what the integration benchmark measures for this host: the echo of binary messages, and of JSON-like text with
#: permessage-deflate on (``compression_options={}``, tornado's defaults)
KINDS = ("binary", "deflate text")


def echo_roundtrip(size: int, count: int, *, text: bool = False, deflate: bool = False) -> float:
    """Messages per second over a loopback echo (tornado's WebSocketHandler and websocket_connect).

    One binary message of ``size`` bytes at a time, sent and echoed back,
    ``count`` times after a short warm-up; compression off, TCP_NODELAY on
    both ends (tornado's advice for latency-bound traffic). ``deflate``:
    JSON-like text messages (distinct ones, in turn) with permessage-deflate
    on both ends at tornado's defaults (``compression_options={}``: level 6,
    memLevel 8, 15-bit windows, context takeover); ``text`` alone: the same
    messages, uncompressed.
    """
    return asyncio.run(_echo(size, count, text or deflate, deflate))


async def _echo(size: int, count: int, text: bool, deflate: bool) -> float:
    from tornado.httpserver import HTTPServer
    from tornado.netutil import bind_sockets
    from tornado.web import Application
    from tornado.websocket import WebSocketHandler, websocket_connect

    options: dict[str, object] | None = {} if deflate else None

    class Echo(WebSocketHandler):
        def get_compression_options(self) -> dict[str, object] | None:
            return options

        def open(self) -> None:
            self.set_nodelay(True)  # else Nagle and delayed ACKs, not the codec, set the pace

        def on_message(self, message: str | bytes) -> None:
            self.write_message(message, binary=isinstance(message, bytes))

    if text:
        from ..integrations import json_text_messages

        messages: list[str | bytes] = list(json_text_messages(size))
    else:
        messages = [bytes(size)]
    sockets = bind_sockets(0, "127.0.0.1")
    port = sockets[0].getsockname()[1]
    server = HTTPServer(Application([("/", Echo)], websocket_max_message_size=2**31))
    server.add_sockets(sockets)
    try:
        client = await websocket_connect(f"ws://127.0.0.1:{port}/", max_message_size=2**31, compression_options=options)
        assert client.protocol is not None
        client.protocol.set_nodelay(True)

        async def run(rounds: int) -> None:
            for i in range(rounds):
                message = messages[i % len(messages)]
                await client.write_message(message, binary=isinstance(message, bytes))
                if len(await client.read_message() or "") != size:
                    raise RuntimeError("tornado echo returned a different message")

        await run(min(count, 10))
        start = time.perf_counter()
        await run(count)
        elapsed = time.perf_counter() - start
        client.close(1000)
    finally:
        server.stop()
        await server.close_all_connections()
    return count / elapsed
