"""aiohttp's client with permessage-deflate (``compress=15``) drives the server through the script of messages
from 0 B to 1 MiB, with a ping after each.

aiohttp cannot send a fragmented message, so the fragmented ones of the script go whole.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import echo_script
import needs

aiohttp = needs.module("aiohttp")

TIMEOUT = 30

#: The server's answer to aiohttp's offer (``permessage-deflate; client_max_window_bits``).
ANSWER = "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"


def test_compress_15_echoes_and_agrees(server: Any) -> None:
    answers: list[str | None] = []

    async def on_request_end(_: Any, __: SimpleNamespace, params: Any) -> None:
        answers.append(params.response.headers.get("Sec-WebSocket-Extensions"))

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(on_request_end)
    messages = [*echo_script.WHOLE, *((name, echo_script.whole(f, text)) for name, f, text in echo_script.FRAGMENTED)]

    async def scenario() -> tuple[int, int]:
        mark = server.log_mark()
        async with (
            aiohttp.ClientSession(trace_configs=[trace]) as session,
            session.ws_connect(server.url, compress=15, autoping=False, max_msg_size=0) as ws,
        ):
            assert answers == [ANSWER]
            # aiohttp compresses with the window the server asked for, keeping its context
            assert (ws.compress, ws.client_notakeover) == (12, False)
            port = ws.get_extra_info("sockname")[1]
            for name, message in messages:
                if isinstance(message, str):
                    await ws.send_str(message)
                else:
                    await ws.send_bytes(message)
                await ws.ping(name.encode())
                echo = await ws.receive(TIMEOUT)
                kind = aiohttp.WSMsgType.TEXT if isinstance(message, str) else aiohttp.WSMsgType.BINARY
                assert (echo.type, echo.data) == (kind, message), name
                pong = await ws.receive(TIMEOUT)
                assert (pong.type, pong.data) == (aiohttp.WSMsgType.PONG, name.encode())
            await ws.close(code=4000, message="bye ✓".encode())
            assert ws.close_code == 4000
        return mark, port

    mark, port = asyncio.run(asyncio.wait_for(scenario(), 120))
    connection = server.connection(mark, port)
    assert connection.deflate and connection.close == 4000
    assert connection.messages_in == connection.messages_out == len(messages)
    # aiohttp compresses everything it sends, and so does the server: well under half of what was echoed
    # went each way.
    assert connection.bytes_in < echo_script.TOTAL // 2, connection
    assert connection.bytes_out < echo_script.TOTAL // 2, connection
