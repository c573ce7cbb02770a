"""The echo server's parts in process: request parsing, flow control, vectored writes, the command line.

The live server, driven by real clients over sockets, is tested in tests/e2e/.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import wscodec
from wscodec import server
from wscodec.server import EchoProtocol, HttpError, Request, parse_request, respond

VALID = (
    b"GET / HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13"
)


def test_valid_request_is_upgraded_with_the_rfc_accept_value() -> None:
    status, headers = respond(parse_request(VALID))
    assert status == 101
    assert ("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") in headers


def test_repeated_token_list_headers_are_combined() -> None:
    request = parse_request(VALID.replace(b"Connection: Upgrade", b"Connection: keep-alive\r\nConnection: UPGRADE"))
    assert request.tokens("connection") == {"keep-alive", "upgrade"}
    assert respond(request)[0] == 101


def test_request_without_upgrade_gets_the_page() -> None:
    assert respond(parse_request(b"GET /?x=1 HTTP/1.1\r\nHost: h")) == (200, [])


def test_too_many_headers_is_431() -> None:
    head = b"GET / HTTP/1.1\r\nHost: h" + b"\r\nX: 1" * server.MAX_HEADERS
    with pytest.raises(HttpError) as refused:
        parse_request(head)
    assert refused.value.status == 431


head_lines = st.lists(
    st.one_of(
        st.binary(max_size=40),
        st.sampled_from(
            [
                b"Host: h",
                b"Upgrade: websocket",
                b"Connection: upgrade",
                b"Sec-WebSocket-Version: 13",
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                b" folded",
                b"X :y",
                b"\xff\xfe: \x00",
            ]
        ),
    ),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(
    first=st.one_of(
        st.binary(max_size=40), st.sampled_from([b"GET / HTTP/1.1", b"POST / HTTP/1.1", b"GET /x HTTP/1.0"])
    ),
    lines=head_lines,
)
def test_any_request_head_is_answered_or_refused_with_an_http_status(first: bytes, lines: list[bytes]) -> None:
    head = b"\r\n".join([first, *lines])
    try:
        request = parse_request(head)
        assert isinstance(request, Request)
        status, _ = respond(request)
    except HttpError as exc:
        assert exc.status in {400, 404, 405, 426, 431, 505}
    else:
        assert status in {101, 200}


# ---------------------------------------------------------------- a server in this process


class _RecordingProtocol(EchoProtocol):
    """Remembers its transport and whether it was ever asked to pause."""

    instances: ClassVar[list[_RecordingProtocol]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.paused = False
        self.instances.append(self)
        super().connection_made(transport)

    def pause_writing(self) -> None:
        self.paused = True
        super().pause_writing()


async def _open_echo(
    small_buffers: bool,
) -> tuple[Any, asyncio.StreamReader, asyncio.StreamWriter, _RecordingProtocol]:
    loop = asyncio.get_running_loop()
    _RecordingProtocol.instances = []
    listener = await loop.create_server(lambda: _RecordingProtocol(b"", 1 << 24, set()), "127.0.0.1", 0)
    sock = socket.socket()
    if small_buffers:  # so that a few MiB fill every buffer between the server and this client
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)
    sock.setblocking(False)
    await loop.sock_connect(sock, listener.sockets[0].getsockname())
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(VALID + b"\r\n\r\n")
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101 ")
    [protocol] = _RecordingProtocol.instances
    if small_buffers:
        protocol.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 16)
    return listener, reader, writer, protocol


def test_a_client_that_does_not_read_makes_the_server_stop_reading() -> None:
    payload = bytes(range(256)) * 256  # 64 KiB
    count = 128  # 8 MiB in flight: far more than the socket buffers hold

    async def scenario() -> None:
        listener, reader, writer, protocol = await _open_echo(small_buffers=True)
        for _ in range(count):
            writer.write(wscodec.encode_frame(wscodec.Opcode.BINARY, payload, mask=True))
        while protocol.transport.is_reading():  # type: ignore[attr-defined]
            await asyncio.sleep(0.01)
        assert protocol.paused
        echo = wscodec.encode_frame(wscodec.Opcode.BINARY, payload)
        for _ in range(count):  # reading the echoes lets the server read again, to the last message
            assert await reader.readexactly(len(echo)) == echo
        writer.close()
        listener.close()

    asyncio.run(asyncio.wait_for(scenario(), 60))


@pytest.mark.parametrize("vectored", [False, True])
def test_large_messages_are_echoed_with_and_without_vectored_writes(
    monkeypatch: pytest.MonkeyPatch, vectored: bool
) -> None:
    monkeypatch.setattr(server, "VECTORED_WRITES", vectored)  # on Python < 3.12, writelines() joins: same bytes

    async def scenario() -> None:
        listener, reader, writer, _ = await _open_echo(small_buffers=False)
        for size in (0, 125, server.VECTORED_MIN - 1, server.VECTORED_MIN, 65536, 1 << 20):
            message = bytes(size % 251 for size in range(size))
            writer.write(wscodec.encode_frame(wscodec.Opcode.BINARY, message, mask=True))
            echo = wscodec.encode_frame(wscodec.Opcode.BINARY, message)
            assert await reader.readexactly(len(echo)) == echo
        writer.close()
        listener.close()

    asyncio.run(asyncio.wait_for(scenario(), 60))


# ---------------------------------------------------------------- the command line


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    server.add_arguments(parser)
    return parser.parse_args(argv)


def test_command_line_defaults() -> None:
    args = _parse()
    assert (args.host, args.port, args.max_message_size) == (
        "127.0.0.1",
        8080,
        wscodec.DEFAULT_MAX_MESSAGE_SIZE,
    )


def test_negative_message_size_is_refused() -> None:
    with pytest.raises(SystemExit):
        _parse("--max-message-size", "-1")


def test_the_page_ships_with_the_package() -> None:
    page = server.load_page()
    assert b"new WebSocket(" in page and b'id="status"' in page and b'id="log"' in page
