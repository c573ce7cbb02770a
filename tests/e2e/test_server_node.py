"""A real Node.js client (the npm ws package) drives the server through the same message set, without
permessage-deflate, with ws' default offer and each of its four parameters, and against servers started
with other deflate options.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

CLIENT = Path(__file__).with_name("echo_client.js")

#: Every case echo_client.js must report, in order (a case it skipped is a failure).
CASES = [
    "open",
    "text",
    "text-multibyte",
    "binary",
    "empty-text",
    "empty-binary",
    *(f"{kind}-{size}" for size in (1, 125, 126, 65535, 65536) for kind in ("binary", "text")),
    "binary-1MiB",
    "text-1MiB",
    "fragmented-text",
    "fragmented-binary",
    "fragmented-text-pings",
    "fragmented-binary-pings",
    "fragmented-text-1MiB-pings",
    "fragmented-empty-pings",
    "ping",
    "close",
]

#: The server's answer to ws' default offer (``permessage-deflate; client_max_window_bits``) at its defaults.
DEFAULT_ANSWER = "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"

#: id: (ws' perMessageDeflate option, the server's extra options, the Sec-WebSocket-Extensions answer or None).
RUNS: dict[str, tuple[Any, tuple[str, ...], str | None]] = {
    "no-offer": (False, (), None),
    "default-offer": (True, (), DEFAULT_ANSWER),
    "serverNoContextTakeover": (
        {"serverNoContextTakeover": True},
        (),
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12",
    ),
    "clientNoContextTakeover": (
        {"clientNoContextTakeover": True},
        (),
        "permessage-deflate; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12",
    ),
    "serverMaxWindowBits=9": (
        {"serverMaxWindowBits": 9},
        (),
        "permessage-deflate; server_max_window_bits=9; client_max_window_bits=12",
    ),
    "clientMaxWindowBits=10": (
        {"clientMaxWindowBits": 10},
        (),
        "permessage-deflate; server_max_window_bits=12; client_max_window_bits=10",
    ),
    "server--no-deflate": (True, ("--no-deflate",), None),
    "server--server-no-context-takeover": (
        True,
        ("--server-no-context-takeover",),
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12",
    ),
    "server-windows-9": (
        True,
        ("--server-max-window-bits", "9", "--client-max-window-bits", "9"),
        "permessage-deflate; server_max_window_bits=9; client_max_window_bits=9",
    ),
}


def ws_params(answer: str) -> dict[str, Any]:
    """The parameters of a permessage-deflate answer as ws holds them: numbers for windows, true for flags."""
    _, *params = answer.split("; ")
    pairs = (param.partition("=") for param in params)
    return {name: int(value) if value else True for name, _, value in pairs}


@dataclass
class NodeRun:
    """One connection echo_client.js made: the server it talked to, where that server's log stood
    before, and the lines it printed for it."""

    server: Any
    mark: int
    reports: list[dict[str, Any]]


@pytest.fixture(scope="module")
def _node_runs() -> dict[str, dict[str, NodeRun]]:
    return {}


@pytest.fixture
def node_runs(
    impl: ModuleType,
    serve_with: Callable[..., Any],
    node: tuple[str, str],
    _node_runs: dict[str, dict[str, NodeRun]],
) -> dict[str, NodeRun]:
    """Every run of RUNS against this implementation's servers, made by one node process (starting node
    costs about half a second; a run, a third of one)."""
    if impl.NAME not in _node_runs:
        servers = {run: serve_with(*options) for run, (_, options, _) in RUNS.items()}
        marks = {run: server.log_mark() for run, server in servers.items()}
        binary, node_path = node
        argv = [arg for run, (deflate, _, _) in RUNS.items() for arg in (servers[run].url, json.dumps(deflate))]
        done = subprocess.run(
            [binary, str(CLIENT), *argv],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            env={**os.environ, "NODE_PATH": node_path},
        )
        assert done.returncode == 0, (done.stdout, done.stderr)
        reports = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        _node_runs[impl.NAME] = {
            run: NodeRun(servers[run], marks[run], [r for r in reports if r["run"] == index])
            for index, run in enumerate(RUNS)
        }
    return _node_runs[impl.NAME]


@pytest.mark.parametrize("run", RUNS)
def test_ws_client_gets_every_echo(node_runs: dict[str, NodeRun], run: str) -> None:
    _, _, answer = RUNS[run]
    server, mark, reports = node_runs[run].server, node_runs[run].mark, node_runs[run].reports
    assert [r["case"] for r in reports] == CASES, reports
    assert [r for r in reports if not r["ok"]] == []

    opened = reports[0]
    assert opened["extensions"] == answer
    if answer is None:
        assert (opened["names"], opened["params"]) == ("", None)
    else:
        assert (opened["names"], opened["params"]) == ("permessage-deflate", ws_params(answer))

    connection = server.connection(mark, opened["port"])
    echoed = sum(r.get("bytes", 0) for r in reports)
    assert connection.deflate == (answer is not None)
    assert connection.messages_in == connection.messages_out == len([r for r in reports if "bytes" in r])
    assert connection.close == 4000
    # Compressed, the text and the repetitive payloads shrink to almost nothing, so well under half of what
    # was echoed went each way; uncompressed, at least all of it. ws compresses what it sends too, but
    # under client_no_context_takeover not a message whose first fragment is under its 1024-byte threshold
    # (the fragmented MiB of text starts with one byte).
    if connection.deflate:
        assert connection.bytes_out < echoed // 2, (connection, echoed)
        if "client_no_context_takeover" not in str(answer):
            assert connection.bytes_in < echoed // 2, (connection, echoed)
    else:
        assert min(connection.bytes_in, connection.bytes_out) > echoed, (connection, echoed)
