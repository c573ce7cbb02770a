"""Raw sockets against the live server: bad handshakes get their HTTP status, bad frames their close code.

Frames are built and read by hand here (not with wscodec), so that the
server is checked against an independent reading of RFC 6455.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

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


def wait_for_log(server: Any, text: str) -> str:
    deadline = time.monotonic() + TIMEOUT
    while text not in (log := server.log_text()):
        assert time.monotonic() < deadline, log
        time.sleep(0.05)
    return log


def test_one_log_line_per_connection(server: Any) -> None:
    with upgrade(server) as sock:
        port = sock.getsockname()[1]
        sock.sendall(frame(TEXT, b"12345") + frame(CLOSE, b"\x0f\xa0"))
        assert read_frame(sock) == (TEXT, b"12345")
        assert closing(sock) == (4000, "")
    log = wait_for_log(server, f":{port} websocket")
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
