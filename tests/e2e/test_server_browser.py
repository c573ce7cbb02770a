"""A real browser: headless Chromium loads the served page, whose script echoes three messages."""

from __future__ import annotations

from typing import Any


def test_page_echoes_three_messages_and_closes_cleanly(echo_page: Any) -> None:
    lines = echo_page.log.splitlines()
    assert echo_page.result == "pass", echo_page
    assert echo_page.status == "PASS: 3/3 echoes intact, closed cleanly with 1000"
    assert [line.split(":")[0] for line in lines[1:4]] == [
        "echo 1 text intact",
        "echo 2 utf-8 intact",
        "echo 3 binary intact",
    ], echo_page
    assert lines[2].endswith('"héllo wörld — ¿qué tal? 你好 🌍🚀"')
    assert lines[-1] == 'close code=1000 reason="done" clean=true'
    assert echo_page.status in echo_page.console  # the page reports on the console too
