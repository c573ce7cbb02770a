"""A real client library drives the server: websockets' sync client without compression (every kind of
message, ping, close, the size limit), then its asyncio client with permessage-deflate (its default offer
and each of the four parameters): a script of messages from 0 B to 1 MiB, fragmented, with pings between
the fragments.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import echo_script
import needs
import pytest

# websockets needs Python >= 3.11 (the test extra leaves it out before)
needs.module("websockets", python=(3, 11))

from websockets.asyncio.client import ClientConnection as AsyncClientConnection
from websockets.asyncio.client import connect as async_connect
from websockets.exceptions import ConnectionClosedError
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory, PerMessageDeflate
from websockets.frames import Frame, Opcode
from websockets.sync.client import ClientConnection, connect

TIMEOUT = 30


multibyte_text = echo_script.multibyte_text


@pytest.fixture
def client(server: Any) -> Iterator[ClientConnection]:
    with connect(server.url, compression=None, max_size=None, open_timeout=TIMEOUT, close_timeout=TIMEOUT) as ws:
        yield ws


MESSAGES = {
    "text": "hello, wscodec",
    "text-multibyte": "héllo wörld — 你好 🌍",
    "binary": b"\x00\x01\xfe\xff" * 8,
    "empty-text": "",
    "empty-binary": b"",
    **{f"binary-{n}": os.urandom(n) for n in (125, 126, 65535, 65536, 1 << 20)},
    **{f"text-{n}": multibyte_text(n) for n in (125, 126, 65535, 65536, 1 << 20)},
}


@pytest.mark.parametrize("name", MESSAGES)
def test_echo(client: ClientConnection, name: str) -> None:
    message = MESSAGES[name]
    client.send(message)
    echo = client.recv(timeout=TIMEOUT)
    assert type(echo) is type(message) and echo == message


def test_many_messages_in_a_row(client: ClientConnection) -> None:
    messages = [os.urandom(n) for n in range(0, 3000, 7)] + [multibyte_text(n) for n in range(0, 3000, 11)]
    for message in messages:
        client.send(message)
    assert [client.recv(timeout=TIMEOUT) for _ in messages] == messages


def test_fragmented_text_split_inside_a_character(client: ClientConnection) -> None:
    euro = "€".encode()
    client.send([b"price: ", euro[:1], euro[1:2], euro[2:], b" 5"], text=True)
    assert client.recv(timeout=TIMEOUT) == "price: € 5"


def test_fragmented_binary(client: ClientConnection) -> None:
    fragments = [os.urandom(1000), b"", os.urandom(70000), os.urandom(1)]
    client.send(fragments)
    assert client.recv(timeout=TIMEOUT) == b"".join(fragments)


@pytest.mark.parametrize("payload", [b"", b"are you there?", bytes(range(125))])
def test_ping_gets_a_pong_with_its_payload(client: ClientConnection, payload: bytes) -> None:
    # websockets resolves the waiter only for a pong that carries this ping's payload.
    assert client.ping(payload).wait(TIMEOUT)


def test_close_with_code_and_reason_is_echoed(client: ClientConnection) -> None:
    client.send("last")
    assert client.recv(timeout=TIMEOUT) == "last"
    client.close(4000, "bye ✓")
    assert client.protocol.close_rcvd is not None
    assert (client.protocol.close_rcvd.code, client.protocol.close_rcvd.reason) == (4000, "bye ✓")


def test_message_over_the_limit_closes_with_1009(client: ClientConnection, server: Any) -> None:
    client.send(b"x" * server.max_message_size)  # at the limit: fine
    assert len(client.recv(timeout=TIMEOUT)) == server.max_message_size
    client.send(b"x" * (server.max_message_size + 1))
    with pytest.raises(ConnectionClosedError) as closed:
        client.recv(timeout=TIMEOUT)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


# ---------------------------------------------------------------- permessage-deflate (the asyncio client)

#: The server's answer to websockets' default offer (``permessage-deflate; client_max_window_bits``).
DEFAULT_ANSWER = "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"

#: id: (connect()'s keywords, the Sec-WebSocket-Extensions answer, what websockets' PerMessageDeflate then
#: holds: the server's and the client's no_context_takeover, the server's and the client's window bits).
DEFLATE_RUNS: dict[str, tuple[dict[str, Any], str, tuple[bool, bool, int, int]]] = {
    'compression="deflate"': ({"compression": "deflate"}, DEFAULT_ANSWER, (False, False, 12, 12)),
    "server_no_context_takeover": (
        {"extensions": [ClientPerMessageDeflateFactory(server_no_context_takeover=True)]},
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12",
        (True, False, 12, 12),
    ),
    "client_no_context_takeover": (
        {"extensions": [ClientPerMessageDeflateFactory(client_no_context_takeover=True)]},
        "permessage-deflate; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12",
        (False, True, 12, 12),
    ),
    "server_max_window_bits=10": (
        {"extensions": [ClientPerMessageDeflateFactory(server_max_window_bits=10)]},
        "permessage-deflate; server_max_window_bits=10; client_max_window_bits=12",
        (False, False, 10, 12),
    ),
    "client_max_window_bits=9": (
        {"extensions": [ClientPerMessageDeflateFactory(client_max_window_bits=9)]},
        "permessage-deflate; server_max_window_bits=12; client_max_window_bits=9",
        (False, False, 12, 9),
    ),
    "client_max_window_bits=None": (  # not offered: the server must not name it, and the client uses 15
        {"extensions": [ClientPerMessageDeflateFactory(client_max_window_bits=None)]},
        "permessage-deflate; server_max_window_bits=12",
        (False, False, 12, 15),
    ),
}


async def echo_the_script(ws: AsyncClientConnection) -> None:
    """Echo every message of echo_script, the fragmented ones with a ping after each fragment."""
    # Every frame websockets receives, in order (it matches a pong to the oldest waiting ping only by
    # payload, so this is how to see that each ping got its own pong, and when).
    received: list[tuple[Opcode, bytes]] = []
    process_event = ws.process_event

    def record(event: Any) -> None:
        if isinstance(event, Frame):
            received.append((event.opcode, bytes(event.data)))
        process_event(event)

    ws.process_event = record  # type: ignore[method-assign]

    for name, message in echo_script.WHOLE:
        await ws.send(message)
        echo = await asyncio.wait_for(ws.recv(), TIMEOUT)
        assert type(echo) is type(message) and echo == message, name
    for name, fragments, text in echo_script.FRAGMENTED:
        pings = [f"{name} {i}".encode() for i in range(len(fragments))]

        async def pieces(fragments: list[bytes] = fragments, pings: list[bytes] = pings) -> AsyncIterator[bytes]:
            for fragment, ping in zip(fragments, pings, strict=True):
                yield fragment
                # websockets sends the fragment before it asks for the next one, so the ping goes between
                # this fragment and the next (after the last: before the empty final frame it ends with).
                await ws.ping(ping)

        received.clear()
        await ws.send(pieces(), text=text)
        echo = await asyncio.wait_for(ws.recv(), TIMEOUT)
        assert echo == echo_script.whole(fragments, text), name
        # The server answers each ping as it arrives, before the message is complete: the pongs, with their
        # pings' payloads in order, come before the echo.
        assert [(opcode, data) for opcode, data in received if opcode == Opcode.PONG] == [
            (Opcode.PONG, ping) for ping in pings
        ], name
        assert received[len(pings)][0] == (Opcode.TEXT if text else Opcode.BINARY), name


@pytest.mark.parametrize("run", DEFLATE_RUNS)
def test_deflate_echoes_and_agrees_to_what_was_offered(server: Any, run: str) -> None:
    keywords, answer, agreed = DEFLATE_RUNS[run]

    async def scenario() -> tuple[int, int]:
        mark = server.log_mark()
        async with async_connect(
            server.url, max_size=None, ping_interval=None, open_timeout=TIMEOUT, close_timeout=TIMEOUT, **keywords
        ) as ws:
            assert ws.response is not None
            assert ws.response.headers.get_all("Sec-WebSocket-Extensions") == [answer]
            [extension] = ws.protocol.extensions
            assert isinstance(extension, PerMessageDeflate)
            assert (
                extension.remote_no_context_takeover,
                extension.local_no_context_takeover,
                extension.remote_max_window_bits,
                extension.local_max_window_bits,
            ) == agreed
            port = ws.local_address[1]
            await echo_the_script(ws)
            await ws.close(4000, "bye ✓")
            assert ws.protocol.close_rcvd is not None
            assert (ws.protocol.close_rcvd.code, ws.protocol.close_rcvd.reason) == (4000, "bye ✓")
        return mark, port

    mark, port = asyncio.run(scenario())
    connection = server.connection(mark, port)
    assert connection.deflate and connection.close == 4000
    count = len(echo_script.WHOLE) + len(echo_script.FRAGMENTED)
    assert connection.messages_in == connection.messages_out == count
    # The text and the repetitive payloads shrink to almost nothing: well under half of what was echoed went
    # each way (websockets compresses what it sends too).
    assert max(connection.bytes_in, connection.bytes_out) < echo_script.TOTAL // 2, connection
