"""The aiohttp rows of ``python -m wscodec bench --integrations``.

What is timed: aiohttp's web server and ClientSession over loopback TCP.

Timed by :mod:`wscodec.benchmark.integrations` with the host alone and with
:mod:`wscodec.integrations.aiohttp` installed; the host is imported only when measured.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

__all__ = ["KINDS", "echo_roundtrip"]

#: message kinds the integration benchmark measures for this host ("deflate text": JSON-like text, compression on)
KINDS = ("binary", "deflate text")


def echo_roundtrip(size: int, count: int, *, text: bool = False, deflate: bool = False) -> float:
    """Messages per second over a loopback echo (aiohttp's web server and ClientSession).

    One message of ``size`` bytes at a time, sent and echoed back, ``count``
    times after a short warm-up. Binary zeros by default; ``text``: JSON-like
    text, the messages differing from one to the next. ``deflate``:
    permessage-deflate at aiohttp's defaults (``compress=15`` on both ends;
    aiohttp's server has it on by default, its client off), else compression
    off.
    """
    return asyncio.run(_echo(size, count, text, deflate))


async def _echo(size: int, count: int, text: bool, deflate: bool) -> float:

    import aiohttp
    from aiohttp import web

    from ..inputs import json_text

    compress = 15 if deflate else 0

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=bool(compress), max_msg_size=0)
        await ws.prepare(request)
        async for message in ws:
            if message.type is aiohttp.WSMsgType.TEXT:
                await ws.send_str(message.data)
            else:
                await ws.send_bytes(message.data)
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    messages: Any = itertools.cycle([json_text(size, i) for i in range(64)] if text else [bytes(size)])
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(f"http://127.0.0.1:{port}/", max_msg_size=0, compress=compress) as client,
        ):
            send = client.send_str if text else client.send_bytes
            for _ in range(min(count, 10)):
                await send(next(messages))
                await client.receive()
            start = time.perf_counter()
            for _ in range(count):
                await send(next(messages))
                await client.receive()
            elapsed = time.perf_counter() - start
    finally:
        await runner.cleanup()
    return count / elapsed
