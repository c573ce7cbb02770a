"""A real client library (websockets' sync client) drives the server: every kind of message, ping, close."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import needs
import pytest

# websockets needs Python >= 3.11 (the test extra leaves it out before)
needs.module("websockets", python=(3, 11))

from websockets.exceptions import ConnectionClosedError
from websockets.sync.client import ClientConnection, connect

TIMEOUT = 30


def multibyte_text(size: int) -> str:
    """``size`` bytes of UTF-8 mixing 1-, 2-, 3- and 4-byte characters."""
    unit = "aé€𝄞"  # 10 bytes
    text = unit * (size // 10)
    return text + "x" * (size - len(text.encode()))


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
