"""A real browser: headless Chromium loads the served page, whose script echoes text and binary messages
from 0 B to 1 MiB and reports the extensions the server agreed to.

Chromium offers ``permessage-deflate; client_max_window_bits``; it cannot fragment a message or send a
ping from a page, so those are left to the other clients.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

#: The page's messages in order, with their sizes in bytes (wscodec/static/echo.html builds the same).
PAGE_MESSAGES = [
    ("text", 14),
    ("utf-8", len("héllo wörld — ¿qué tal? 你好 🌍🚀".encode())),
    ("binary", 256),
    ("empty text", 0),
    ("empty binary", 0),
    *((f"{kind} {size} B", size) for size in (1, 125, 126, 65535, 65536) for kind in ("text", "binary")),
    ("text 1 MiB", 1 << 20),
    ("binary 1 MiB repetitive", 1 << 20),
    ("binary 1 MiB random", 1 << 20),
]
TOTAL = sum(size for _, size in PAGE_MESSAGES)

#: What the server answers Chromium's offer with, by its options (the defaults: 12-bit windows both ways).
AGREED = {
    (): "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
    ("--no-deflate",): "",
}


def check_page(page: Any) -> None:
    """Every echo intact and in order, then a clean close with 1000."""
    assert page.result == "pass", page
    count = len(PAGE_MESSAGES)
    assert page.status == f"PASS: {count}/{count} echoes intact ({TOTAL} bytes), closed cleanly with 1000"
    lines = page.log.splitlines()
    assert [line.split(":")[0] for line in lines[1:-1]] == [
        f"echo {i} {name} intact" for i, (name, _) in enumerate(PAGE_MESSAGES, 1)
    ], page
    assert lines[2].endswith('"héllo wörld — ¿qué tal? 你好 🌍🚀"')
    assert lines[-1] == 'close code=1000 reason="done" clean=true'
    assert page.status in page.console  # the page reports on the console too


@pytest.mark.parametrize("options", list(AGREED), ids=["deflate", "no-deflate"])
def test_page_echoes_every_message_and_reports_what_the_server_agreed_to(
    serve_with: Callable[..., Any], browser: Any, options: tuple[str, ...]
) -> None:
    server = serve_with(*options)
    mark = server.log_mark()
    page = browser.open_echo_page(f"http://{server.host}:{server.port}/")
    check_page(page)
    assert page.extensions == AGREED[options]
    assert page.log.splitlines()[0].endswith(f'extensions="{AGREED[options]}"')
    connection = server.connection(mark)
    assert connection.deflate == bool(AGREED[options])
    assert connection.messages_in == connection.messages_out == len(PAGE_MESSAGES)
    # Compressed, the text and the repetitive MiB shrink to almost nothing, so well under half of what was
    # echoed went each way (Chromium compresses what it sends too); uncompressed, at least all of it.
    if connection.deflate:
        assert max(connection.bytes_in, connection.bytes_out) < TOTAL // 2, connection
    else:
        assert min(connection.bytes_in, connection.bytes_out) > TOTAL, connection
