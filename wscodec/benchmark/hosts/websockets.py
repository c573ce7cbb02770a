"""The websockets rows of ``python -m wscodec bench --integrations``.

What is timed: websockets' asyncio server and client over loopback TCP.

Timed by :mod:`wscodec.benchmark.integrations` with the host alone and with
:mod:`wscodec.integrations.websockets` installed; the host is imported only when measured.
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
    """Messages per second over a loopback echo (websockets' asyncio server and client).

    One message of ``size`` bytes at a time, sent and echoed back, ``count``
    times after a short warm-up. Binary zeros by default; ``text``: JSON-like
    text, the messages differing from one to the next. ``deflate``:
    permessage-deflate at websockets' defaults on both ends
    (``compression="deflate"``), else compression off.
    """
    return asyncio.run(_echo(size, count, text, deflate))


async def _echo(size: int, count: int, text: bool, deflate: bool) -> float:
    from websockets.asyncio.client import connect
    from websockets.asyncio.server import ServerConnection, serve

    from ..inputs import json_text

    async def handler(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    payloads: list[Any] = [json_text(size, i) for i in range(64)] if text else [bytes(size)]
    compression = "deflate" if deflate else None
    async with serve(handler, "127.0.0.1", 0, compression=compression, max_size=None) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", compression=compression, max_size=None) as client:
            messages = itertools.cycle(payloads)
            for _ in range(min(count, 10)):
                await client.send(next(messages))
                await client.recv()
            start = time.perf_counter()
            for _ in range(count):
                await client.send(next(messages))
                await client.recv()
            elapsed = time.perf_counter() - start
    return count / elapsed
