"""A real Node.js client (the npm ws package) drives the server through the same message set."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

CLIENT = Path(__file__).with_name("echo_client.js")

#: Every case echo_client.js must report, in order (a case it skipped is a failure).
CASES = [
    "text",
    "text-multibyte",
    "binary",
    "empty-text",
    "empty-binary",
    "binary-125",
    "text-125",
    "binary-126",
    "text-126",
    "binary-65535",
    "text-65535",
    "binary-65536",
    "text-65536",
    "binary-1MiB",
    "text-1MiB",
    "fragmented-text",
    "fragmented-binary",
    "ping",
    "close",
]


def test_ws_client_gets_every_echo(server: Any, node: tuple[str, str]) -> None:
    binary, node_path = node
    done = subprocess.run(
        [binary, str(CLIENT), server.url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "NODE_PATH": node_path},
    )
    reports = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert [r["case"] for r in reports] == CASES, done.stdout
    assert [r for r in reports if not r["ok"]] == []
