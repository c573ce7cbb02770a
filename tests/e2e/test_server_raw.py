"""Raw sockets against the live server: bad handshakes get their HTTP status, bad frames their close code,
and permessage-deflate agreements hold on the wire.

Frames are built and read by hand here (not with wscodec), and compressed payloads with CPython's zlib,
so that the server is checked against an independent reading of RFC 6455 and RFC 7692.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from wscodec.benchmark.oracle import ZlibReceiver

TIMEOUT = 30
RFC_KEY, RFC_ACCEPT = "dGhlIHNhbXBsZSBub25jZQ==", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455 §1.3
VALID_HEADERS = [
    ("Host", "127.0.0.1"),
    ("Upgrade", "websocket"),
    ("Connection", "Upgrade"),
    ("Sec-WebSocket-Key", RFC_KEY),
    ("Sec-WebSocket-Version", "13"),
]
TEXT, BINARY, CONT, CLOSE, PING, PONG = 1, 2, 0, 8, 9, 10


# ---------------------------------------------------------------- helpers


def request_head(
    method: str = "GET",
    target: str = "/",
    version: str = "HTTP/1.1",
    headers: list[tuple[str, str]] | None = None,
    drop: tuple[str, ...] = (),
    add: tuple[tuple[str, str], ...] = (),
) -> bytes:
    """A handshake request: the valid one, with headers dropped, replaced or added."""
    fields = [(k, v) for k, v in (VALID_HEADERS if headers is None else headers) if k not in drop]
    lines = [f"{method} {target} {version}", *(f"{k}: {v}" for k, v in (*fields, *add))]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def connect(server: Any) -> socket.socket:
    sock = socket.create_connection((server.host, server.port), timeout=TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_to_eof(sock: socket.socket) -> bytes:
    """Everything until the server closes (a timeout fails the test: the server must close)."""
    chunks = []
    while chunk := sock.recv(1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def parse_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    version, status, _ = lines[0].split(" ", 2)
    assert version == "HTTP/1.1"
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(status), headers, body


def exchange(server: Any, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``data``; return the response once the server has closed the connection."""
    with connect(server) as sock:
        sock.sendall(data)
        return parse_response(read_to_eof(sock))


def recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, f"connection closed after {len(data)} of {n} bytes"
        data += chunk
    return data


def upgrade(server: Any, after: bytes = b"") -> socket.socket:
    """An open WebSocket connection (``after`` is sent in the same segment as the request)."""
    sock = connect(server)
    sock.sendall(request_head() + after)
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        head += recv_exact(sock, 1)
    status, headers, _ = parse_response(head)
    assert status == 101 and headers["sec-websocket-accept"] == RFC_ACCEPT
    return sock


def frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bool = True,
    length: int | None = None,
) -> bytes:
    """A client frame, by hand; ``length`` overrides the declared payload length."""
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | rsv << 4 | opcode])
    mbit = 0x80 if mask else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 1 << 16:
        head += bytes([mbit | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([mbit | 127]) + n.to_bytes(8, "big")
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def read_frame(sock: socket.socket) -> tuple[int, bytes]:
    """One server frame as ``(opcode, payload)``; server frames are final and never masked here."""
    b0, b1 = recv_exact(sock, 2)
    assert b0 & 0x80 and not b0 & 0x70 and not b1 & 0x80, (b0, b1)
    n = b1 & 0x7F
    if n == 126:
        n = int.from_bytes(recv_exact(sock, 2), "big")
    elif n == 127:
        n = int.from_bytes(recv_exact(sock, 8), "big")
    return b0 & 0x0F, recv_exact(sock, n)


def closing(sock: socket.socket) -> tuple[int | None, str]:
    """The server's close frame as ``(code, reason)`` (None: empty close); then the server must close TCP."""
    opcode, payload = read_frame(sock)
    assert opcode == CLOSE, (opcode, payload)
    assert read_to_eof(sock) == b""
    if not payload:
        return None, ""
    return int.from_bytes(payload[:2], "big"), payload[2:].decode()


@pytest.fixture
def ws(server: Any) -> Iterator[socket.socket]:
    with upgrade(server) as sock:
        yield sock


# ---------------------------------------------------------------- the opening handshake

BAD_HANDSHAKES = {
    "POST": (request_head(method="POST"), 405, ("allow", "GET")),
    "HTTP/1.0": (request_head(version="HTTP/1.0"), 505, None),
    "request line of 2 parts": (b"GET /\r\nHost: x\r\n\r\n", 400, None),
    "double space in request line": (b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400, None),
    "absolute target": (request_head(target="http://127.0.0.1/"), 400, None),
    "unknown path": (request_head(target="/chat"), 404, None),
    "no Host": (request_head(drop=("Host",)), 400, None),
    "two Hosts": (request_head(add=(("Host", "other"),)), 400, None),
    "Upgrade not websocket": (request_head(drop=("Upgrade",), add=(("Upgrade", "h2c"),)), 400, None),
    "Connection without upgrade": (
        request_head(drop=("Connection",), add=(("Connection", "keep-alive"),)),
        400,
        None,
    ),
    "no key": (request_head(drop=("Sec-WebSocket-Key",)), 400, None),
    "key too short": (
        request_head(drop=("Sec-WebSocket-Key",), add=(("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAA"),)),
        400,
        None,
    ),
    "key not base64": (
        request_head(drop=("Sec-WebSocket-Key",), add=(("Sec-WebSocket-Key", "!" * 22 + "=="),)),
        400,
        None,
    ),
    "two keys": (request_head(add=(("Sec-WebSocket-Key", RFC_KEY),)), 400, None),
    "version 8": (
        request_head(drop=("Sec-WebSocket-Version",), add=(("Sec-WebSocket-Version", "8"),)),
        426,
        ("sec-websocket-version", "13"),
    ),
    "no version": (request_head(drop=("Sec-WebSocket-Version",)), 426, ("sec-websocket-version", "13")),
    "header without colon": (
        request_head(add=(("X-Broken", ""),)).replace(b"X-Broken: ", b"X-Broken"),
        400,
        None,
    ),
    "space before colon": (request_head().replace(b"Host:", b"Host :"), 400, None),
    "obsolete line folding": (
        request_head(add=(("X-A", "b"),)).replace(b"X-A: b", b"X-A: b\r\n c"),
        400,
        None,
    ),
    "NUL in a value": (request_head(add=(("X-A", "b\0c"),)), 400, None),
    "bare LF in a value": (request_head(add=(("X-A", "b\nc"),)), 400, None),
    "101 headers": (request_head(add=tuple((f"X-{i}", "1") for i in range(96))), 431, None),
    "20 KiB header": (request_head(add=(("Cookie", "c" * 20000),)), 431, None),
    "malformed Sec-WebSocket-Extensions": (
        request_head(add=(("Sec-WebSocket-Extensions", 'permessage-deflate; x="'),)),
        400,
        None,
    ),
}


@pytest.mark.parametrize("name", BAD_HANDSHAKES)
def test_bad_handshake_gets_its_status_then_the_connection_closes(server: Any, name: str) -> None:
    data, expected, header = BAD_HANDSHAKES[name]
    status, headers, body = exchange(server, data)
    assert status == expected, body
    assert headers["connection"] == "close" and int(headers["content-length"]) == len(body)
    if header is not None:
        assert headers[header[0]] == header[1]


def test_endless_request_head_gets_431(server: Any) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nX: ")
        for _ in range(20):  # no blank line ever: the server must give up at its limit
            sock.sendall(b"x" * 1024)
        status, _, _ = parse_response(read_to_eof(sock))
    assert status == 431


def test_get_without_upgrade_serves_the_page(server: Any) -> None:
    status, headers, body = exchange(server, b"GET /?from=test HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    assert b"new WebSocket(" in body and len(body) == int(headers["content-length"])


def test_token_lists_are_case_insensitive(server: Any) -> None:
    head = request_head(
        headers=[
            ("host", "127.0.0.1"),
            ("UPGRADE", "WebSocket"),
            ("connection", "keep-alive, Upgrade"),
            ("sec-websocket-key", RFC_KEY),
            ("sec-websocket-version", "13"),
        ]
    )
    with connect(server) as sock:
        sock.sendall(head)
        response = b""
        while b"\r\n\r\n" not in response:
            response += sock.recv(1024)
    status, headers, _ = parse_response(response)
    assert status == 101 and headers["sec-websocket-accept"] == RFC_ACCEPT
    assert headers["upgrade"].lower() == "websocket" and headers["connection"].lower() == "upgrade"
    assert "sec-websocket-extensions" not in headers  # nothing negotiated, so RSV bits stay forbidden


def test_request_dribbled_byte_by_byte(server: Any) -> None:
    with connect(server) as sock:
        for byte in request_head() + frame(TEXT, b"hi"):
            sock.sendall(bytes([byte]))
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            head += recv_exact(sock, 1)
        assert parse_response(head)[0] == 101
        assert read_frame(sock) == (TEXT, b"hi")


def test_frames_right_behind_the_request_are_echoed(server: Any) -> None:
    with upgrade(server, after=frame(TEXT, b"early") + frame(BINARY, b"bird")) as sock:
        assert read_frame(sock) == (TEXT, b"early")
        assert read_frame(sock) == (BINARY, b"bird")


# ---------------------------------------------------------------- frames


def test_ping_between_fragments_is_answered_first(ws: socket.socket) -> None:
    ws.sendall(frame(TEXT, b"one ", fin=False) + frame(PING, b"p") + frame(CONT, b"two"))
    assert read_frame(ws) == (PONG, b"p")
    assert read_frame(ws) == (TEXT, b"one two")


def test_unsolicited_pong_is_ignored(ws: socket.socket) -> None:
    ws.sendall(frame(PONG, b"x") + frame(BINARY, b"after"))
    assert read_frame(ws) == (BINARY, b"after")


@pytest.mark.parametrize(
    ("payload", "code", "reason"),
    [
        (b"\x03\xe8bye", 1000, "bye"),
        (b"\x0f\x9fthat's all \xe2\x9c\x93", 3999, "that's all ✓"),
        (b"", None, ""),
    ],
)
def test_close_is_echoed_then_tcp_closed(ws: socket.socket, payload: bytes, code: int | None, reason: str) -> None:
    ws.sendall(frame(CLOSE, payload))
    assert closing(ws) == (code, reason)


def test_nothing_after_a_close_is_answered(ws: socket.socket) -> None:
    ws.sendall(frame(CLOSE, b"\x03\xe8") + frame(TEXT, b"too late") + frame(PING))
    assert closing(ws) == (1000, "")


BAD_FRAMES = {
    "unmasked frame": (frame(TEXT, b"hi", mask=False), 1002),
    "reserved opcode 3": (frame(3, b"x"), 1002),
    "reserved opcode 11": (frame(11), 1002),
    "RSV1 without extension": (frame(TEXT, b"x", rsv=4), 1002),
    "RSV3 on a ping": (frame(PING, rsv=1), 1002),
    "invalid UTF-8": (frame(TEXT, b"caf\xc3"), 1007),
    "surrogate in UTF-8": (frame(TEXT, b"\xed\xa0\x80"), 1007),
    "invalid UTF-8 in a first fragment": (frame(TEXT, b"ok \xff", fin=False), 1007),
    "continuation without a message": (frame(CONT, b"x"), 1002),
    "new message inside a fragmented one": (frame(TEXT, b"a", fin=False) + frame(BINARY, b"b"), 1002),
    "fragmented ping": (frame(PING, b"x", fin=False), 1002),
    "126-byte ping": (frame(PING, b"x" * 126), 1002),
    "1-byte close": (frame(CLOSE, b"\x03"), 1002),
    "close code 1005 on the wire": (frame(CLOSE, (1005).to_bytes(2, "big")), 1002),
    "close code 999": (frame(CLOSE, (999).to_bytes(2, "big")), 1002),
    "close code 5000": (frame(CLOSE, (5000).to_bytes(2, "big")), 1002),
    "close reason not UTF-8": (frame(CLOSE, b"\x03\xe8\xff"), 1007),
    "64-bit length with the top bit set": (frame(BINARY, length=1 << 63), 1002),
}


@pytest.mark.parametrize("name", BAD_FRAMES)
def test_bad_frame_gets_its_close_code_then_tcp_closed(ws: socket.socket, name: str) -> None:
    data, code = BAD_FRAMES[name]
    ws.sendall(data)
    assert closing(ws)[0] == code


def test_too_big_is_refused_from_the_header(server: Any, ws: socket.socket) -> None:
    ws.sendall(frame(BINARY, length=server.max_message_size + 1))  # the header alone: no payload follows
    assert closing(ws)[0] == 1009


def test_too_big_counts_all_fragments(server: Any, ws: socket.socket) -> None:
    ws.sendall(frame(BINARY, b"x" * server.max_message_size, fin=False) + frame(CONT, b"y"))
    assert closing(ws)[0] == 1009


def test_what_came_before_a_bad_frame_is_still_echoed(ws: socket.socket) -> None:
    ws.sendall(frame(TEXT, b"first") + frame(PING, b"p") + frame(BINARY, b"second") + frame(TEXT, b"x", mask=False))
    assert read_frame(ws) == (TEXT, b"first")
    assert read_frame(ws) == (PONG, b"p")
    assert read_frame(ws) == (BINARY, b"second")
    assert closing(ws)[0] == 1002


# ---------------------------------------------------------------- logging and stopping


def wait_for_log(server: Any, text: str, start: int = 0) -> str:
    """The server's log from offset ``start``, once ``text`` is in it."""
    deadline = time.monotonic() + TIMEOUT
    while text not in (log := server.log_text()[start:]):
        assert time.monotonic() < deadline, log
        time.sleep(0.05)
    return log


def test_one_log_line_per_connection(server: Any) -> None:
    # Only the lines logged from here on: an earlier test's connection may have had the same client port.
    start = server.log_mark()
    with upgrade(server) as sock:
        port = sock.getsockname()[1]
        sock.sendall(frame(TEXT, b"12345") + frame(CLOSE, b"\x0f\xa0"))
        assert read_frame(sock) == (TEXT, b"12345")
        assert closing(sock) == (4000, "")
    log = wait_for_log(server, f":{port} websocket", start)
    [line] = [line for line in log.splitlines() if f":{port} " in line]
    assert " websocket in=1 msgs/" in line and " out=1 msgs/" in line and " close=4000 " in line


@pytest.mark.skipif(os.name != "posix", reason="stopping by a signal is POSIX behaviour")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_stopping_closes_open_connections_with_1001(own_server: Any, sig: int) -> None:
    server = own_server
    with upgrade(server) as sock:
        sock.sendall(frame(TEXT, b"hello"))
        assert read_frame(sock) == (TEXT, b"hello")
        server.process.send_signal(sig)
        assert closing(sock) == (1001, "server shutting down")
    status, log = server.wait()
    assert status == 0
    assert "Traceback" not in log and log.rstrip().endswith("stopped"), log


# ---------------------------------------------------------------- permessage-deflate, checked with zlib

DEFLATE_TAIL = b"\x00\x00\xff\xff"  # RFC 7692 §7.2.1: removed from every compressed message, appended to inflate


class ZlibPeer:
    """One direction of a permessage-deflate connection done with CPython's zlib and exactly the agreed
    window (RFC 7692 §7.2): ``inflate`` what the server sent, ``deflate`` what to send it.

    Inflation takes at most 64 bytes per zlib call, so any back-reference more than 64 bytes beyond the
    window fails with "invalid distance too far back" (see the oracle's ZlibReceiver).
    """

    def __init__(self, bits: int, takeover: bool) -> None:
        self.bits, self.takeover = bits, takeover
        self.inflate = ZlibReceiver(bits, takeover, step=64).message
        self._deflater: Any = None

    def deflate(self, message: bytes) -> bytes:
        """``message`` compressed for the server, tail removed."""
        if self._deflater is None or not self.takeover:
            self._deflater = zlib.compressobj(6, zlib.DEFLATED, -self.bits)
        data: bytes = self._deflater.compress(message) + self._deflater.flush(zlib.Z_SYNC_FLUSH)
        assert data.endswith(DEFLATE_TAIL)
        return data[:-4]


def read_any_frame(sock: socket.socket) -> tuple[bool, bool, int, bytes]:
    """One server frame as ``(fin, rsv1, opcode, payload)``; never masked, RSV2 and RSV3 never set."""
    b0, b1 = recv_exact(sock, 2)
    assert not b0 & 0x30 and not b1 & 0x80, (b0, b1)
    n = b1 & 0x7F
    if n == 126:
        n = int.from_bytes(recv_exact(sock, 2), "big")
    elif n == 127:
        n = int.from_bytes(recv_exact(sock, 8), "big")
    return bool(b0 & 0x80), bool(b0 & 0x40), b0 & 0x0F, recv_exact(sock, n)


def upgrade_offering(server: Any, offer: str) -> tuple[socket.socket, str | None]:
    """An open connection whose request offered ``offer``; and the server's Sec-WebSocket-Extensions."""
    sock = connect(server)
    sock.sendall(request_head(add=(("Sec-WebSocket-Extensions", offer),)))
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        head += recv_exact(sock, 1)
    status, headers, _ = parse_response(head)
    assert status == 101 and headers["sec-websocket-accept"] == RFC_ACCEPT
    return sock, headers.get("sec-websocket-extensions")


def window_messages(bits: int) -> list[tuple[int, bytes]]:
    """Messages that tell windows apart: random data a window and 1000 bytes long; then 100 bytes of it
    from beyond the window (they can only be literals) and 100 from well inside it (a back-reference
    when the context is kept); text that repeats itself; an empty message."""
    window = 1 << bits
    first = random.Random(bits).randbytes(window + 1000)
    # zlib's compressor reaches back at most the window less 262 bytes (its lookahead)
    inside = len(first) + 100 - min(window // 2, window - 300)
    return [
        (BINARY, first),
        (BINARY, first[:100] + first[inside : inside + 100]),
        (TEXT, ("héllo ☃ 😀 " * 300).encode()),
        (BINARY, b""),
    ]


#: id: (the server's options, the offer, the answer, the server's window bits and context takeover, the
#: client's). The first offer of "declined-then-accepted" is unacceptable (an unknown parameter).
DEFLATE_AGREEMENTS: dict[str, tuple[tuple[str, ...], str, str, int, bool, int, bool]] = {
    "defaults": (
        (),
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
        *(12, True, 12, True),
    ),
    "client window not offered": (
        (),
        "permessage-deflate",
        "permessage-deflate; server_max_window_bits=12",
        *(12, True, 15, True),
    ),
    "smaller windows offered": (
        (),
        "permessage-deflate; server_max_window_bits=9; client_max_window_bits=10",
        "permessage-deflate; server_max_window_bits=9; client_max_window_bits=10",
        *(9, True, 10, True),
    ),
    "no context takeover offered": (
        (),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12",
        *(12, False, 15, False),
    ),
    "declined-then-accepted": (
        (),
        "permessage-deflate; x-unknown, permessage-deflate; server_max_window_bits=11",
        "permessage-deflate; server_max_window_bits=11",
        *(11, True, 15, True),
    ),
    "server --server-no-context-takeover": (
        ("--server-no-context-takeover",),
        "permessage-deflate; server_max_window_bits=10",
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=10",
        *(10, False, 15, True),
    ),
    "server with 9-bit windows": (
        ("--server-max-window-bits", "9", "--client-max-window-bits", "9"),
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; server_max_window_bits=9; client_max_window_bits=9",
        *(9, True, 9, True),
    ),
}


@pytest.mark.parametrize("name", DEFLATE_AGREEMENTS)
def test_compressed_echo_inflates_with_zlib_and_exactly_the_agreed_window(
    serve_with: Callable[..., Any], name: str
) -> None:
    options, offer, answer, server_bits, server_takeover, client_bits, client_takeover = DEFLATE_AGREEMENTS[name]
    from_server, to_server = ZlibPeer(server_bits, server_takeover), ZlibPeer(client_bits, client_takeover)
    sock, agreed = upgrade_offering(serve_with(*options), offer)
    with sock:
        assert agreed == answer
        sizes = []
        for i, (opcode, message) in enumerate(window_messages(server_bits)):
            # Sent compressed with the client's agreed window, odd messages in three fragments (RSV1 on the
            # first only) with a ping between each two.
            data = to_server.deflate(message)
            if i % 2:
                cuts = [data[: len(data) // 3], data[len(data) // 3 : len(data) // 2], data[len(data) // 2 :]]
                sock.sendall(
                    frame(opcode, cuts[0], fin=False, rsv=4)
                    + frame(PING, b"1")
                    + frame(CONT, cuts[1], fin=False)
                    + frame(PING, b"2")
                    + frame(CONT, cuts[2])
                )
                pongs = [read_any_frame(sock) for _ in range(2)]
                assert pongs == [(True, False, PONG, b"1"), (True, False, PONG, b"2")]
            else:
                sock.sendall(frame(opcode, data, rsv=4))
            fin, rsv1, echo_opcode, payload = read_any_frame(sock)
            assert (fin, rsv1, echo_opcode) == (True, True, opcode)  # compressed, one frame
            assert from_server.inflate(payload) == message
            sizes.append(len(payload))
        # The repeat from inside the window is a back-reference only when the server keeps its context.
        assert sizes[1] < 150 if server_takeover else sizes[1] > 200, sizes
        assert sizes[2] < 200  # 4.8 KB of repeated text
        sock.sendall(frame(CLOSE, b"\x03\xe8"))
        assert closing(sock) == (1000, "")


def test_zlib_peer_catches_a_larger_window() -> None:
    # The check above can fail: echoes compressed with zlib's largest window are refused at a smaller one.
    for bits in (9, 12):
        peer, wide = ZlibPeer(bits, True), ZlibPeer(15, True)
        with pytest.raises(zlib.error, match="too far back"):
            for _, message in window_messages(bits):
                peer.inflate(wide.deflate(message))


@pytest.mark.parametrize(
    ("options", "offer"),
    [
        ((), "permessage-deflate; x-unknown"),  # unknown parameter: declined
        ((), "permessage-deflate; server_max_window_bits=8"),  # zlib cannot compress with 8 bits: declined
        ((), "permessage-deflate; client_max_window_bits=09"),  # leading zero: declined
        ((), "x-webkit-deflate-frame"),  # another extension: not ours
        (("--no-deflate",), "permessage-deflate; client_max_window_bits"),
    ],
    ids=["unknown-parameter", "server-window-8", "leading-zero", "other-extension", "server--no-deflate"],
)
def test_declined_offer_means_no_extension_and_no_rsv1(
    serve_with: Callable[..., Any], options: tuple[str, ...], offer: str
) -> None:
    sock, agreed = upgrade_offering(serve_with(*options), offer)
    with sock:
        assert agreed is None
        sock.sendall(frame(TEXT, b"plain"))
        assert read_frame(sock) == (TEXT, b"plain")  # read_frame refuses RSV bits
        sock.sendall(frame(TEXT, ZlibPeer(15, True).deflate(b"compressed"), rsv=4))
        assert closing(sock)[0] == 1002
