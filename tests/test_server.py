"""The echo server's parts in process: request parsing, permessage-deflate negotiation, flow control, vectored
writes, the command line.

The live server, driven by real clients over sockets, is tested in tests/e2e/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import os
import select
import socket
import struct
import sys
from types import ModuleType
from typing import Any, ClassVar

import needs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import wscodec
from wscodec import DeflateParams, _echo_py, server
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
        while protocol.is_reading():
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
        for size in (0, 125, _echo_py.VECTORED_MIN - 1, _echo_py.VECTORED_MIN, 65536, 1 << 20):
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


# ---------------------------------------------------------------- the echo loop, one read at a time

TEXT, BINARY, CONTINUATION, CLOSE, PING, PONG = 1, 2, 0, 8, 9, 10


def _use(impl: ModuleType, monkeypatch: pytest.MonkeyPatch, direct: bool) -> ModuleType:
    """Make the server use ``impl``'s codec, and write to sockets directly or not."""
    if direct and not server.DIRECT_WRITES:
        pytest.skip("direct writes exist on POSIX only")
    for name in ("MessageDecoder", "Message", "Frame", "encode_frame", "encode_header"):
        monkeypatch.setattr(server, name, getattr(impl, name))
    # the work per read of that implementation (compiled with the compiled codec)
    echo_io = {"python": "wscodec._echo_py", "cython": "wscodec._echo_c"}[impl.NAME]
    monkeypatch.setattr(server, "_EchoIO", importlib.import_module(echo_io).EchoIO)
    monkeypatch.setattr(server, "DIRECT_WRITES", direct)
    return impl


@pytest.fixture(params=[True, False], ids=["direct", "transport"])
def echo_impl(request: pytest.FixtureRequest, impl: ModuleType, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The server on this implementation's codec, writing to the socket directly or through the transport."""
    return _use(impl, monkeypatch, request.param)


@pytest.fixture
def direct_impl(impl: ModuleType, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The server on this implementation's codec, writing to the socket directly."""
    return _use(impl, monkeypatch, True)


class _Transport(asyncio.Transport):
    """Behaves as asyncio's socket transport does, on a non-blocking socket, and records every write.

    A write sends what the socket takes and queues the rest; the queue goes out on :meth:`flush`. As
    asyncio's, it calls ``pause_writing()`` once the queue is above the high-water mark and
    ``resume_writing()`` once it is down to the low one.
    """

    def __init__(self, sock: socket.socket, protocol: EchoProtocol) -> None:
        super().__init__()
        self.sock = sock
        self.protocol = protocol
        self.writes: list[bytes] = []
        self.queue = bytearray()
        self.high, self.low = 64 * 1024, 16 * 1024
        self.paused = self.closing = self.eof = False
        self.reading = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"socket": self.sock, "peername": ("client", 1)}.get(name, default)

    def write(self, data: Any) -> None:
        data = bytes(data)
        self.writes.append(data)
        if not self.queue:
            try:
                data = data[self.sock.send(data) :]
            except BlockingIOError:
                pass
        self.queue += data
        if not self.paused and len(self.queue) > self.high:
            self.paused = True
            self.protocol.pause_writing()

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(list_of_data))

    def flush(self) -> None:
        if self.queue:
            try:
                del self.queue[: self.sock.send(self.queue)]
            except BlockingIOError:
                pass
        if self.paused and len(self.queue) <= self.low:
            self.paused = False
            self.protocol.resume_writing()

    def is_closing(self) -> bool:
        return self.closing

    def write_eof(self) -> None:
        self.eof = True

    def close(self) -> None:
        self.closing = True

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        assert high is not None and low is not None
        self.high, self.low = high, low

    def get_write_buffer_size(self) -> int:
        return len(self.queue)

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True


class _Connection:
    """An EchoProtocol fed by hand, read by read, its output read from a socket pair."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.ours, self.peer = socket.socketpair()
        self.ours.setblocking(False)
        self.protocol = EchoProtocol(b"", 1 << 24, set())
        self.transport = _Transport(self.ours, self.protocol)
        self.system_writes = 0  # direct writes: os.write() and os.writev() calls
        io = self.protocol._io

        def counted_write(fd: int, data: Any) -> int:
            self.system_writes += 1
            return os.write(fd, data)

        def counted_writev(fd: int, buffers: Any) -> int:
            self.system_writes += 1
            return os.writev(fd, buffers)

        io.write, io.writev = counted_write, counted_writev
        self.protocol.connection_made(self.transport)
        self.protocol.data_received(VALID + b"\r\n\r\n")
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            head += self.read(1)
        assert head.startswith(b"HTTP/1.1 101 ")
        self.system_writes = 0
        self.transport.writes.clear()

    @property
    def direct(self) -> bool:
        return self.protocol._socket_fd >= 0

    def receive(self, data: bytes) -> int:
        """Deliver ``data`` as asyncio's transport does, into the protocol's buffer (as many reads as it takes).

        Each read overwrites the buffer: whatever the decoder kept from the last one must be its own copy.
        Returns the number of reads.
        """
        reads = 0
        while data:
            buffer = self.protocol.get_buffer(-1)
            n = min(len(buffer), len(data))
            buffer[:n] = data[:n]
            buffer[n : n + 16] = b"\xaa" * len(buffer[n : n + 16])  # garbage behind the read, as in a reused buffer
            self.protocol.buffer_updated(n)
            data = data[n:]
            reads += 1
        return reads

    def read(self, size: int) -> bytes:
        """``size`` bytes of the server's output (letting the transport send what it queued meanwhile)."""
        data = b""
        for _ in range(100_000):  # a bound on the loop, not on time
            self.transport.flush()
            if len(data) == size:
                return data
            if select.select([self.peer], [], [], 0.01)[0]:
                chunk = self.peer.recv(size - len(data))
                assert chunk, data
                data += chunk
        raise AssertionError(f"{len(data)} of {size} bytes")

    def close(self) -> None:
        self.protocol.connection_lost(None)
        self.ours.close()
        self.peer.close()


def _in_loop(test: Any) -> Any:
    """Run ``test`` inside a running event loop (asyncio's default, a selector loop on POSIX)."""

    async def main() -> Any:
        return test()

    return asyncio.run(main())


def _burst(impl: ModuleType) -> tuple[bytes, bytes]:
    """Client frames of every kind in one buffer, and the server's answer to them, in order."""
    encode = impl.encode_frame
    big, bigger = bytes(range(256)) * 80, bytes(range(255, -1, -1)) * 300  # 20 KiB and 75 KiB: vectored
    sent = [
        encode(TEXT, "héllo", mask=True),
        encode(BINARY, b"", mask=True),
        encode(PING, b"are you there", mask=True),
        encode(BINARY, big, mask=True),
        encode(PONG, b"unsolicited", mask=True),
        encode(TEXT, "frag", fin=False, mask=True),
        encode(PING, b"between", mask=True),
        encode(CONTINUATION, "mented", mask=True),
        encode(BINARY, bigger, mask=True),
        encode(BINARY, b"x" * 125, mask=True),
        encode(TEXT, "ünïcode" * 40, mask=True),
    ]
    echoed = [
        encode(TEXT, "héllo"),
        encode(BINARY, b""),
        encode(PONG, b"are you there"),
        encode(BINARY, big),
        encode(PONG, b"between"),
        encode(TEXT, "fragmented"),
        encode(BINARY, bigger),
        encode(BINARY, b"x" * 125),
        encode(TEXT, "ünïcode" * 40),
    ]
    return b"".join(sent), b"".join(echoed)


def test_every_message_of_a_read_is_echoed_in_order_with_one_write(
    echo_impl: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, expected = _burst(echo_impl)

    def test() -> None:
        connection = _Connection(monkeypatch)
        connection.protocol.data_received(data)
        assert connection.read(len(expected)) == expected
        if connection.direct:
            assert (connection.system_writes, connection.transport.writes) == (1, [])
        else:
            assert (connection.system_writes, len(connection.transport.writes)) == (0, 1)
        connection.close()

    _in_loop(test)


def test_a_read_of_one_message_is_echoed_with_one_write(echo_impl: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    def test() -> None:
        connection = _Connection(monkeypatch)
        for size in (0, 1, 125, 126, _echo_py.VECTORED_MIN - 1, _echo_py.VECTORED_MIN, 70000):
            payload = bytes(i % 251 for i in range(size))
            connection.receive(echo_impl.encode_frame(BINARY, payload, mask=True))
            expected = echo_impl.encode_frame(BINARY, payload)
            assert connection.read(len(expected)) == expected
        writes = connection.system_writes if connection.direct else len(connection.transport.writes)
        assert writes == 7
        assert connection.direct == (connection.transport.writes == [])
        connection.close()

    _in_loop(test)


def test_frames_split_anywhere_across_reads_are_echoed_alike(
    echo_impl: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    encode = echo_impl.encode_frame
    data = encode(TEXT, "a€b", mask=True) + encode(BINARY, b"\x00" * 300, mask=True) + encode(PING, b"!", mask=True)
    expected = encode(TEXT, "a€b") + encode(BINARY, b"\x00" * 300) + encode(PONG, b"!")

    def test() -> None:
        for cut in range(1, len(data)):
            for second in (cut, (cut + len(data)) // 2):  # two or three reads
                connection = _Connection(monkeypatch)
                for start, end in ((0, cut), (cut, second), (second, len(data))):
                    connection.receive(data[start:end])
                assert connection.read(len(expected)) == expected, (cut, second)
                connection.close()

    _in_loop(test)


def test_reads_into_the_reused_buffer_are_echoed_alike(echo_impl: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    data, expected = _burst(echo_impl)
    huge = echo_impl.encode_frame(BINARY, bytes(range(256)) * 2048, mask=True)  # 512 KiB: fills every buffer size

    def test() -> None:
        connection = _Connection(monkeypatch)
        assert len(connection.protocol.get_buffer(-1)) == _echo_py.READ_MIN
        for chunk in (7, 1000, _echo_py.VIEW_MIN - 1, _echo_py.VIEW_MIN, 50000):  # copies, views, both
            reads = sum(connection.receive(data[i : i + chunk]) for i in range(0, len(data), chunk))
            assert reads >= len(data) // _echo_py.READ_MAX
            assert connection.read(len(expected)) == expected, chunk
        # Reads that fill the buffer double it, up to asyncio's own read size.
        assert connection.receive(huge) > 1
        assert len(connection.protocol.get_buffer(-1)) == _echo_py.READ_MAX
        echo = echo_impl.encode_frame(BINARY, bytes(range(256)) * 2048)
        assert connection.read(len(echo)) == echo
        connection.close()

    _in_loop(test)


@pytest.mark.parametrize("failure", ["partial", BlockingIOError, InterruptedError])
def test_what_a_direct_write_leaves_goes_through_the_transport(
    direct_impl: ModuleType, monkeypatch: pytest.MonkeyPatch, failure: Any
) -> None:
    encode = direct_impl.encode_frame
    data, expected = _burst(direct_impl)
    small, large = encode(TEXT, "one", mask=True), encode(BINARY, b"L" * 30000, mask=True)

    def test() -> None:
        connection = _Connection(monkeypatch)

        def short_write(fd: int, frame: Any) -> int:
            if failure != "partial":
                raise failure()
            return os.write(fd, bytes(frame)[:3])  # the kernel took 3 bytes

        def short_writev(fd: int, buffers: Any) -> int:
            if failure != "partial":
                raise failure()
            return os.write(fd, b"".join(buffers)[:20001])  # ends inside a buffer

        connection.protocol._io.write, connection.protocol._io.writev = short_write, short_writev
        connection.receive(small)  # one small read: os.write()
        connection.receive(large)  # one large read, one message: os.writev()
        connection.protocol.data_received(data)  # one read, many messages: os.writev()
        echoes = encode(TEXT, "one") + encode(BINARY, b"L" * 30000) + expected
        assert connection.read(len(echoes)) == echoes
        assert len(connection.transport.writes) == 3  # the rest of each, in order
        connection.close()

    _in_loop(test)


def test_a_broken_connection_fails_through_the_transport(
    echo_impl: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    def test() -> None:
        connection = _Connection(monkeypatch)
        connection.peer.close()
        failures: list[bytes] = []

        def broken_write(data: Any) -> None:  # asyncio's transport reports the error and closes
            failures.append(bytes(data))
            connection.transport.closing = True

        monkeypatch.setattr(connection.transport, "write", broken_write)
        connection.protocol.data_received(echo_impl.encode_frame(BINARY, b"lost", mask=True))
        assert failures == [echo_impl.encode_frame(BINARY, b"lost")]
        connection.protocol.data_received(echo_impl.encode_frame(BINARY, b"also lost", mask=True))
        assert len(failures) == 1  # a closing transport is not written to again
        connection.protocol.connection_lost(None)
        connection.ours.close()

    _in_loop(test)


def test_close_ends_the_batch_and_the_echo_loop(echo_impl: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    encode = echo_impl.encode_frame

    def test() -> None:
        connection = _Connection(monkeypatch)
        connection.protocol.data_received(
            encode(TEXT, "last", mask=True) + encode(CLOSE, b"\x03\xe8bye", mask=True) + encode(TEXT, "late", mask=True)
        )
        expected = encode(TEXT, "last") + encode(CLOSE, b"\x03\xe8bye")
        assert connection.read(len(expected)) == expected
        assert connection.transport.eof and connection.protocol._io.fd == -1
        connection.protocol.data_received(encode(TEXT, "after the close", mask=True))  # dropped
        connection.transport.write_eof = lambda: None  # type: ignore[method-assign]
        connection.ours.shutdown(socket.SHUT_WR)
        assert connection.peer.recv(100) == b""
        connection.close()

    _in_loop(test)


def test_a_protocol_error_echoes_what_came_before_then_closes(
    echo_impl: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    encode = echo_impl.encode_frame

    def test() -> None:
        connection = _Connection(monkeypatch)
        connection.protocol.data_received(
            encode(TEXT, "ok", mask=True) + encode(PING, b"p", mask=True) + encode(TEXT, b"\xff", mask=True)
        )
        expected = encode(TEXT, "ok") + encode(PONG, b"p")
        answer = connection.read(len(expected) + 2 + 2)
        assert answer[: len(expected)] == expected
        assert answer[len(expected)] == 0x88 and answer[len(expected) + 2 :] == (1007).to_bytes(2, "big")
        connection.close()

    _in_loop(test)


def test_direct_writes_stop_while_the_transport_holds_bytes(
    echo_impl: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    def test() -> None:
        connection = _Connection(monkeypatch)
        if not connection.direct:
            assert connection.protocol._io.fd == -1
            connection.close()
            return
        assert (connection.transport.high, connection.transport.low) == (0, 0)  # pause_writing() at its first byte
        fd = connection.ours.fileno()
        assert connection.protocol._io.fd == fd
        connection.protocol.pause_writing()
        assert connection.protocol._io.fd == -1 and connection.protocol.is_reading()  # below the high-water mark
        connection.protocol.data_received(echo_impl.encode_frame(BINARY, b"queued", mask=True))
        assert connection.system_writes == 0 and connection.transport.writes == [
            echo_impl.encode_frame(BINARY, b"queued")
        ]
        monkeypatch.setattr(connection.transport, "get_write_buffer_size", lambda: server.FLOW_HIGH_WATER + 1)
        connection.protocol.data_received(echo_impl.encode_frame(BINARY, b"more", mask=True))
        assert not connection.protocol.is_reading()  # above it: the server stops reading
        connection.protocol.resume_writing()
        assert connection.protocol._io.fd == fd and connection.protocol.is_reading()
        connection.protocol.data_received(echo_impl.encode_frame(BINARY, b"direct", mask=True))
        assert connection.system_writes == 1
        connection.close()

    _in_loop(test)


@pytest.mark.parametrize("tls", [False, True])
@pytest.mark.parametrize("vectored", [False, True])
def test_a_large_echo_goes_beside_its_header_where_the_transport_keeps_flow_control(
    echo_impl: ModuleType, monkeypatch: pytest.MonkeyPatch, vectored: bool, tls: bool
) -> None:
    """asyncio's own socket transport pauses the protocol for writelines() only on recent Pythons
    (VECTORED_WRITES); a TLS transport (as uvloop's) always does. Where it does not, a large payload that
    goes through the transport is joined to its header."""
    monkeypatch.setattr(server, "VECTORED_WRITES", vectored)
    vectors: list[int] = []
    plain_info = _Transport.get_extra_info
    monkeypatch.setattr(
        _Transport,
        "get_extra_info",
        lambda self, name, default=None: object() if tls and name == "sslcontext" else plain_info(self, name, default),
    )

    def writelines(self: _Transport, buffers: Any) -> None:
        vectors.append(len(buffers))
        self.write(b"".join(buffers))

    monkeypatch.setattr(_Transport, "writelines", writelines)
    payload = bytes(range(256)) * 100

    def test() -> None:
        connection = _Connection(monkeypatch)
        protocol = connection.protocol
        assert connection.direct == (server.DIRECT_WRITES and not tls)
        assert protocol._vectored == (vectored or tls)
        assert (protocol._io.header is None) == (not connection.direct and not protocol._vectored)
        connection.protocol.pause_writing()  # direct writes too go through the transport while it holds bytes
        connection.receive(echo_impl.encode_frame(BINARY, payload, mask=True))
        echo = echo_impl.encode_frame(BINARY, payload)
        assert connection.read(len(echo)) == echo
        assert vectors == ([2] if protocol._vectored else [])
        connection.close()

    _in_loop(test)


# ---------------------------------------------------------------- the echo loop over a real connection


def test_order_holds_while_a_slow_reader_makes_writes_queue(echo_impl: ModuleType) -> None:
    count = 200
    payloads = [bytes([i]) * (70000 if i % 3 == 0 else 5 + i) for i in range(count)]  # ~4.6 MiB in flight

    async def scenario() -> None:
        listener, reader, writer, protocol = await _open_echo(small_buffers=True)
        for payload in payloads:
            writer.write(echo_impl.encode_frame(BINARY, payload, mask=True))
        while protocol.is_reading():
            await asyncio.sleep(0.01)
        assert protocol.paused
        for payload in payloads:
            echo = echo_impl.encode_frame(BINARY, payload)
            assert await reader.readexactly(len(echo)) == echo
        if server.DIRECT_WRITES:  # everything sent: the echo writes to the socket directly again
            assert protocol._io.fd == protocol.transport.get_extra_info("socket").fileno()
        writer.close()
        listener.close()

    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_the_echo_loop_on_uvloop(impl: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """On uvloop every echo goes through its transport, a large payload beside its header (writelines), and
    flow control holds."""
    if sys.platform == "win32" or sys.implementation.name != "cpython":
        pytest.skip("uvloop is built for CPython on POSIX only")
    uvloop = needs.module("uvloop")
    _use(impl, monkeypatch, server.DIRECT_WRITES)
    payloads = [bytes([i]) * (70000 if i % 3 == 0 else 5 + i) for i in range(200)]  # ~4.6 MiB in flight

    async def scenario() -> None:
        listener, reader, writer, protocol = await _open_echo(small_buffers=True)
        assert protocol._io.fd == -1 and protocol._io.transport is protocol.transport
        assert protocol._io.header is not None  # uvloop's writelines() keeps flow control: vectored
        for size in (0, 125, _echo_py.VECTORED_MIN - 1, _echo_py.VECTORED_MIN, 65536, 1 << 20):
            message = bytes(i % 251 for i in range(size))
            writer.write(impl.encode_frame(BINARY, message, mask=True))
            echo = impl.encode_frame(BINARY, message)
            assert await reader.readexactly(len(echo)) == echo, size
        for payload in payloads:
            writer.write(impl.encode_frame(BINARY, payload, mask=True))
        while protocol.is_reading():
            await asyncio.sleep(0.01)
        assert protocol.paused
        for payload in payloads:
            echo = impl.encode_frame(BINARY, payload)
            assert await reader.readexactly(len(echo)) == echo
        writer.close()
        listener.close()

    loop = uvloop.new_event_loop()
    try:
        loop.run_until_complete(asyncio.wait_for(scenario(), 60))
    finally:
        loop.close()


# ---------------------------------------------------------------- direct reads over a real connection


@pytest.mark.parametrize("ending", ["fin", "reset"])
def test_direct_reads_hand_the_end_of_input_back_to_the_transport(echo_impl: ModuleType, ending: str) -> None:
    async def scenario() -> None:
        listener, reader, writer, protocol = await _open_echo(small_buffers=False)
        direct = server.DIRECT_WRITES  # the echo_impl fixture turns both on or off
        assert (protocol._reader is not None) is direct
        duplicate = protocol._reader.fileno() if protocol._reader is not None else -1
        writer.write(echo_impl.encode_frame(BINARY, b"tea", mask=True))
        assert await reader.readexactly(5) == echo_impl.encode_frame(BINARY, b"tea")
        lost = asyncio.get_running_loop().create_future()
        original = protocol.connection_lost

        def connection_lost(exc: Exception | None) -> None:
            original(exc)
            lost.set_result(exc)

        protocol.connection_lost = connection_lost  # type: ignore[method-assign]
        if ending == "reset":  # SO_LINGER 0: close() sends a reset
            writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.close()
        await asyncio.wait_for(lost, 10)
        assert protocol._close_code == 1006 and protocol._reader is None
        if direct:  # the duplicate descriptor is closed with the connection
            with pytest.raises(OSError):
                os.fstat(duplicate)
        listener.close()

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_direct_reads_pause_and_resume_with_flow_control(direct_impl: ModuleType) -> None:
    async def scenario() -> None:
        listener, reader, writer, protocol = await _open_echo(small_buffers=True)
        assert protocol._reader is not None and protocol.is_reading()
        protocol._pause_reads()
        protocol._pause_reads()  # twice: still one reader to put back
        assert not protocol.is_reading()
        writer.write(direct_impl.encode_frame(BINARY, b"late", mask=True))
        await asyncio.sleep(0.05)
        assert protocol._io.messages_in == 0  # nothing is read while paused
        protocol._resume_reads()
        assert protocol.is_reading()
        assert await reader.readexactly(6) == direct_impl.encode_frame(BINARY, b"late")
        writer.close()
        listener.close()

    asyncio.run(asyncio.wait_for(scenario(), 30))


class _Recorder:
    """A stand-in protocol for EchoIO: records which of its other paths EchoIO hands a read to."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def data_received(self, data: bytes | bytearray | memoryview) -> None:
        self.calls.append(("data_received", (bytes(data),)))  # a copy: a view is released after the call

    def __getattr__(self, name: str) -> Any:
        return lambda *args: self.calls.append((name, args))


class _EchoTransport:
    """A transport EchoIO hands echoes to (where the connection never writes directly): records them."""

    def __init__(self) -> None:
        self.closing = False
        self.written: list[bytes] = []  # write() calls
        self.lines: list[list[bytes]] = []  # writelines() calls, each buffer apart

    def is_closing(self) -> bool:
        return self.closing

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def writelines(self, buffers: Any) -> None:
        self.lines.append([bytes(buffer) for buffer in buffers])


def _echo_io(impl: ModuleType, size: int = 64) -> tuple[Any, _Recorder]:
    module = importlib.import_module({"python": "wscodec._echo_py", "cython": "wscodec._echo_c"}[impl.NAME])
    protocol = _Recorder()
    return module.EchoIO(protocol, bytearray(size), impl.Message, impl.encode_frame, impl.encode_header), protocol


@pytest.mark.skipif(not server.DIRECT_READS, reason="direct reads exist on POSIX only")
def test_echo_io_hands_every_read_outside_the_echo_loop_back_alike(impl: ModuleType) -> None:
    """The same cases reach the protocol from both twins: nothing to read, the end, an error, reads (small or
    large) before the echo loop runs."""
    io, protocol = _echo_io(impl, _echo_py.VIEW_MIN)
    ours, peer = socket.socketpair()
    ours.setblocking(False)
    try:
        io.read_fd = ours.fileno()
        io.readable()  # nothing there yet (EAGAIN): nothing happens
        assert protocol.calls == []
        peer.sendall(b"x" * 10)
        io.readable()  # read, but the echo loop is not running: the protocol takes the bytes
        assert protocol.calls == [("data_received", (b"x" * 10,))] and io.buffer[:10] == b"x" * 10
        io.buffer[:] = b"y" * _echo_py.VIEW_MIN
        io.updated(_echo_py.VIEW_MIN)  # a large read, as a view of the buffer, which it filled: the buffer doubles
        assert protocol.calls[-1] == ("data_received", (b"y" * _echo_py.VIEW_MIN,))
        assert len(io.buffer) == 2 * _echo_py.VIEW_MIN
        peer.close()
        io.readable()  # the end of input goes back to the transport
        assert protocol.calls[-1:] == [("_stop_direct_reads", ())]
    finally:
        ours.close()
    io.readable()  # a closed descriptor: an error, which the transport meets again and handles
    assert protocol.calls[-1:] == [("_stop_direct_reads", ())]
    assert io.bytes_in == io.bytes_out == io.messages_in == 0  # none of it was the echo loop's


def test_echo_io_echoes_one_small_message_itself_or_hands_it_back(impl: ModuleType) -> None:
    """One small message goes out directly, or to the transport, or (that one closing) back to the protocol."""
    frame = impl.encode_frame(BINARY, b"hello", mask=True)
    io, protocol = _echo_io(impl)
    io.feed, io.open = impl.MessageDecoder().feed, True
    ours, peer = socket.socketpair()
    try:
        io.fd = ours.fileno()
        io.buffer[: len(frame)] = frame
        io.updated(len(frame))
        assert peer.recv(100) == impl.encode_frame(BINARY, b"hello") and protocol.calls == []
        assert (io.bytes_in, io.bytes_out, io.messages_in) == (len(frame), 7, 1)
    finally:
        ours.close()
        peer.close()

    io.fd, io.transport = -1, _EchoTransport()
    io.updated(len(frame))
    assert io.transport.written == [impl.encode_frame(BINARY, b"hello")] and protocol.calls == []
    io.transport.closing = True
    io.updated(len(frame))  # a closing transport: the protocol drops it and counts it
    assert [name for name, _ in protocol.calls] == ["_echo"] and len(io.transport.written) == 1
    io.buffer[:7] = b"\x81\x81\x00\x00\x00\x00\xff"  # masked TEXT, zero key, one byte: 0xff, never UTF-8
    io.updated(7)
    assert protocol.calls[-1][0] == "_fail" and protocol.calls[-1][1][0].code == 1007


def _large_message(impl: ModuleType, compressed: bool) -> tuple[Any, _Recorder, bytes]:
    """EchoIO in the echo loop (every message compressed, or not), with one large masked message in its
    buffer (not filling it), which it returns."""
    frame = impl.encode_frame(BINARY, _LARGE, mask=True)
    io, protocol = _echo_io(impl, 2 * len(frame))
    io.feed, io.open = impl.MessageDecoder().feed, True
    if compressed:
        io.header = None
    io.buffer[: len(frame)] = frame
    return io, protocol, frame


_LARGE = bytes(range(256)) * 100


@pytest.mark.parametrize("compressed", [False, True])
def test_echo_io_echoes_one_large_message_beside_its_header(impl: ModuleType, compressed: bool) -> None:
    """A large read completing one large message: its payload goes out beside its header in one writev (or,
    once every message is compressed, back to the protocol, which frames it whole)."""
    io, protocol, frame = _large_message(impl, compressed)
    vectors: list[int] = []

    def writev(fd: int, buffers: Any) -> int:
        vectors.append(len(buffers))
        return os.writev(fd, buffers)

    io.writev = writev
    ours, peer = socket.socketpair()
    try:
        io.fd = ours.fileno()
        io.updated(len(frame))
        if compressed:
            assert [name for name, _ in protocol.calls] == ["_echo"] and vectors == []
            assert protocol.calls[0][1][0][0].payload == _LARGE
        else:
            echo = impl.encode_frame(BINARY, _LARGE)
            assert _recv_exactly(peer, len(echo)) == echo and protocol.calls == [] and vectors == [2]
            assert (io.bytes_in, io.bytes_out, io.messages_in) == (len(frame), len(echo), 1)
        assert len(io.buffer) == 2 * len(frame)  # not filled: not grown
    finally:
        ours.close()
        peer.close()


@pytest.mark.parametrize("compressed", [False, True])
def test_echo_io_hands_a_large_echo_to_the_transport_beside_its_header(impl: ModuleType, compressed: bool) -> None:
    """Where the connection never writes directly (uvloop, TLS), a large message's header and payload go to the
    transport side by side (or, compressed, or the transport closing, back to the protocol)."""
    io, protocol, frame = _large_message(impl, compressed)
    transport = io.transport = _EchoTransport()
    io.updated(len(frame))
    echo = impl.encode_frame(BINARY, _LARGE)
    if compressed:
        assert [name for name, _ in protocol.calls] == ["_echo"] and transport.lines == []
    else:
        assert transport.lines == [[echo[:4], _LARGE]] and protocol.calls == []
        assert (io.bytes_in, io.bytes_out, io.messages_in) == (len(frame), len(echo), 1)
    transport.closing = True
    io.updated(len(frame))  # a closing transport: the protocol drops it and counts it
    assert [name for name, _ in protocol.calls] == ["_echo"] * (1 + compressed)
    assert len(transport.lines) == 1 - compressed and transport.written == []


@pytest.mark.skipif(not server.DIRECT_WRITES, reason="direct writes exist on POSIX only")
@pytest.mark.parametrize("kernel", ["takes part", "takes nothing", "fails"])
def test_echo_io_queues_what_the_kernel_does_not_take_of_a_large_echo(impl: ModuleType, kernel: str) -> None:
    """The system's own writev (the compiled twin calls it from C): whatever of the header and the payload
    it does not take goes to the protocol's queue, in order, from the first byte not written."""
    payload = bytes(range(256)) * 4096  # 1 MiB: more than a socket buffer holds
    frame = impl.encode_frame(BINARY, payload, mask=True)
    echo = impl.encode_frame(BINARY, payload)
    io, protocol = _echo_io(impl, len(frame))
    io.feed, io.open = impl.MessageDecoder().feed, True
    ours, peer = socket.socketpair()
    ours.setblocking(False)
    try:
        written = b""
        if kernel == "takes nothing":
            with contextlib.suppress(BlockingIOError):
                while True:
                    written += b"j" * ours.send(b"j" * 65536)  # fill the socket's buffers
        elif kernel == "fails":
            peer.close()  # writing gets EPIPE
        io.fd = ours.fileno()
        io.buffer[:] = frame
        io.updated(len(frame))
        [(name, (queued, count))] = protocol.calls
        assert (name, count) == ("_queue", 1)
        rest = b"".join(bytes(part) for part in queued)
        sent = len(echo) - len(rest)
        assert (sent > 0) == (kernel == "takes part") and io.bytes_out == sent and io.messages_in == 1
        if kernel != "fails":
            ours.shutdown(socket.SHUT_WR)
            arrived = b"".join(iter(lambda: peer.recv(1 << 20), b""))
            assert arrived == written + echo[:sent]
        assert echo[sent:] == rest
    finally:
        ours.close()
        peer.close()


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    got = b""
    while len(got) < size:
        chunk = sock.recv(size - len(got))
        assert chunk
        got += chunk
    return got


def test_what_remains_unsent_starts_where_the_write_stopped() -> None:
    buffers = [b"abc", b"", b"defg", b"h"]
    for sent in range(8):
        rest = _echo_py.unsent(buffers, sent)
        assert b"".join(bytes(part) for part in rest) == b"abcdefgh"[sent:]
        assert rest[-1] is buffers[-1] or sent == 7  # whole buffers are kept as they are, uncopied
