"""The echo server's parts in process: request parsing, permessage-deflate negotiation, flow control, vectored
writes, the command line.

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
from wscodec import DeflateParams, server
from wscodec.server import DeflateSettings, EchoProtocol, HttpError, Request, negotiate, parse_request, respond

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


# ---------------------------------------------------------------- permessage-deflate negotiation


def _offering(*values: str) -> Request:
    """A valid upgrade request with one Sec-WebSocket-Extensions line per value."""
    lines = b"".join(b"\r\nSec-WebSocket-Extensions: " + value.encode() for value in values)
    request = parse_request(VALID + lines)
    assert respond(request)[0] == 101
    return request


DEFAULTS = DeflateSettings()

#: id: (the request's Sec-WebSocket-Extensions lines, the settings, the agreement, the answer).
ACCEPTED: dict[str, tuple[tuple[str, ...], DeflateSettings, DeflateParams, str]] = {
    "browser offer, default settings": (
        ("permessage-deflate; client_max_window_bits",),
        DEFAULTS,
        DeflateParams(server_max_window_bits=12, client_max_window_bits=12),
        "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
    ),
    "client window not offered: 15, not named": (
        ("permessage-deflate",),
        DEFAULTS,
        DeflateParams(server_max_window_bits=12, client_max_window_bits=15),
        "permessage-deflate; server_max_window_bits=12",
    ),
    "smaller windows offered win": (
        ("permessage-deflate; server_max_window_bits=10; client_max_window_bits=9",),
        DEFAULTS,
        DeflateParams(server_max_window_bits=10, client_max_window_bits=9),
        "permessage-deflate; server_max_window_bits=10; client_max_window_bits=9",
    ),
    "larger windows offered lose": (
        ("permessage-deflate; server_max_window_bits=15; client_max_window_bits=15",),
        DEFAULTS,
        DeflateParams(server_max_window_bits=12, client_max_window_bits=12),
        "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
    ),
    "15-bit settings: nothing to name": (
        ("permessage-deflate; client_max_window_bits",),
        DeflateSettings(server_max_window_bits=15, client_max_window_bits=15),
        DeflateParams(),
        "permessage-deflate",
    ),
    "no context takeover offered": (
        ("permessage-deflate; server_no_context_takeover; client_no_context_takeover",),
        DEFAULTS,
        DeflateParams(True, True, 12, 15),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12",
    ),
    "no context takeover configured": (
        ("permessage-deflate; client_max_window_bits",),
        DeflateSettings(server_no_context_takeover=True, client_no_context_takeover=True),
        DeflateParams(True, True, 12, 12),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12;"
        " client_max_window_bits=12",
    ),
    "unacceptable first offer, acceptable second": (
        ("permessage-deflate; x-unknown, permessage-deflate; server_max_window_bits=9",),
        DEFAULTS,
        DeflateParams(server_max_window_bits=9, client_max_window_bits=15),
        "permessage-deflate; server_max_window_bits=9",
    ),
    "offers over two header lines, another extension first": (
        ("x-webkit-deflate-frame", "permessage-deflate; client_max_window_bits=11"),
        DEFAULTS,
        DeflateParams(server_max_window_bits=12, client_max_window_bits=11),
        "permessage-deflate; server_max_window_bits=12; client_max_window_bits=11",
    ),
    "quoted value": (
        ('permessage-deflate; server_max_window_bits="10"',),
        DEFAULTS,
        DeflateParams(server_max_window_bits=10, client_max_window_bits=15),
        "permessage-deflate; server_max_window_bits=10",
    ),
}


@pytest.mark.parametrize("case", ACCEPTED)
def test_negotiate_accepts(case: str) -> None:
    lines, settings, agreed, answer = ACCEPTED[case]
    params = negotiate(_offering(*lines), settings)
    assert params == agreed
    assert params is not None and params.header() == answer


@pytest.mark.parametrize(
    "offer",
    [
        "permessage-deflate; x-unknown",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; server_max_window_bits=8",  # zlib cannot compress with 8 bits
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=010",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; client_no_context_takeover=1",
        "x-webkit-deflate-frame",
    ],
)
def test_negotiate_declines_an_unacceptable_offer(offer: str) -> None:
    assert negotiate(_offering(offer), DEFAULTS) is None


def test_negotiate_declines_without_an_offer_or_without_settings() -> None:
    assert negotiate(_offering(), DEFAULTS) is None
    assert negotiate(_offering("permessage-deflate; client_max_window_bits"), None) is None


@pytest.mark.parametrize(
    "lines",
    [
        ('permessage-deflate; x="',),
        ("permessage-deflate;",),
        ("permessage-deflate; server_max_window_bits=1 0",),
        (",",),
        ("permessage-deflate", "permessage-deflate; ;"),  # malformed after an acceptable offer: still 400
    ],
)
def test_negotiate_refuses_a_malformed_header_with_400(lines: tuple[str, ...]) -> None:
    with pytest.raises(HttpError) as refused:
        negotiate(_offering(*lines), DEFAULTS)
    assert refused.value.status == 400
    assert "Sec-WebSocket-Extensions" in refused.value.message


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


def test_deflate_option_defaults() -> None:
    args = _parse()
    assert (args.no_deflate, args.server_max_window_bits, args.client_max_window_bits) == (False, 12, 12)
    assert (args.server_no_context_takeover, args.client_no_context_takeover, args.deflate_backend) == (
        False,
        False,
        None,
    )


@pytest.mark.parametrize("side", ["server", "client"])
@pytest.mark.parametrize("bits", ["8", "16", "0", "-9", "x", "12.0"])
def test_window_bits_out_of_range_are_refused(side: str, bits: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as refused:
        _parse(f"--{side}-max-window-bits", bits)
    assert refused.value.code == 2
    assert f"--{side}-max-window-bits" in capsys.readouterr().err


@pytest.mark.parametrize("side", ["server", "client"])
@pytest.mark.parametrize("bits", [9, 15])
def test_window_bits_9_to_15_are_accepted(side: str, bits: int) -> None:
    assert getattr(_parse(f"--{side}-max-window-bits", str(bits)), f"{side}_max_window_bits") == bits


def test_unknown_deflate_backend_is_refused() -> None:
    with pytest.raises(SystemExit):
        _parse("--deflate-backend", "brotli")


@pytest.mark.parametrize(
    ("argv", "settings"),
    [
        ((), DeflateSettings()),
        (("--no-deflate",), None),
        (("--no-deflate", "--server-max-window-bits", "9"), None),
        (
            (
                "--server-max-window-bits",
                "10",
                "--client-max-window-bits",
                "9",
                "--server-no-context-takeover",
                "--client-no-context-takeover",
                "--deflate-backend",
                "zlib",
            ),
            DeflateSettings(10, 9, True, True, "zlib"),
        ),
    ],
)
def test_run_hands_the_deflate_settings_to_serve(
    monkeypatch: pytest.MonkeyPatch, argv: tuple[str, ...], settings: DeflateSettings | None
) -> None:
    seen: list[DeflateSettings | None] = []

    async def serve(host: str, port: int, max_message_size: int, deflate: DeflateSettings | None = None) -> None:
        seen.append(deflate)

    monkeypatch.setattr(server, "serve", serve)
    assert server.run(_parse(*argv)) == 0
    assert seen == [settings]


def test_the_page_ships_with_the_package() -> None:
    page = server.load_page()
    assert b"new WebSocket(" in page and b'id="status"' in page and b'id="log"' in page
