"""``python -m wscodec bench --server`` in its quick form: every server starts, echoes correctly and is timed."""

from __future__ import annotations

import argparse
import importlib.util

from wscodec.benchmark import server_echo
from wscodec.benchmark.harness import ERROR, RATIO


def test_quick_server_bench_measures_every_server() -> None:
    messages: list[str] = []
    [section] = server_echo.run(argparse.Namespace(quick=True), messages.append)
    assert section["columns"][:3] == ["server", "version", "kind"] and len(section["columns"]) == 3 + 2 * 3
    errors = [row for row in section["rows"] if str(row[0]).startswith(ERROR)]
    assert errors == []
    rows = {row[0]: row for row in section["rows"] if row[0] != RATIO}
    assert set(rows) == {server.label for server in server_echo.SERVERS}
    # a peer library may be missing (websockets needs Python >= 3.11): its row says so
    peers = {"websockets", "aiohttp"}
    present = {peer for peer in peers if importlib.util.find_spec(peer) is not None}
    for label in ("wscodec serve (pure)", *sorted(present)):
        rates = rows[label][3:6]
        assert all(isinstance(rate, float) and rate > 0 for rate in rates), rows[label]
    for label in peers - present:
        assert rows[label][1] == "not installed" and rows[label][3:] == [None] * 6, rows[label]
    compiled = rows["wscodec serve (compiled)"]
    assert compiled[1] == "not built" or all(isinstance(rate, float) and rate > 0 for rate in compiled[3:6])
    assert messages and all(m.startswith("server: ") for m in messages)
