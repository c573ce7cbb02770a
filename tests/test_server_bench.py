"""``python -m wscodec bench --server``: every server starts, echoes correctly and is timed; instruction counts.

Nothing here compares speeds: the runs are tiny, and only the shape of the
tables and the sanity of the figures are checked.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
from pathlib import Path

import pytest

import wscodec
from wscodec.__main__ import main
from wscodec.benchmark import server_echo
from wscodec.benchmark.harness import ERROR, RATIO

PEERS = {"picows", "websockets", "aiohttp"}
UVLOOP = importlib.util.find_spec("uvloop") is not None


def _rows(section: dict[str, object]) -> dict[str, list[object]]:
    rows = section["rows"]
    assert isinstance(rows, list)
    errors = [row for row in rows if str(row[0]).startswith(ERROR)]
    assert errors == []
    return {row[0]: row for row in rows if row[0] != RATIO}


def test_quick_server_bench_measures_every_server() -> None:
    messages: list[str] = []
    [section] = server_echo.run(argparse.Namespace(quick=True, instructions="no"), messages.append)
    assert section["columns"][:3] == ["server", "version", "kind"] and len(section["columns"]) == 3 + 2 * 3
    rows = _rows(section)  # type: ignore[arg-type]
    expected = {server.label for server in server_echo.SERVERS if UVLOOP or not server.uvloop}
    assert set(rows) == expected
    assert any(note.startswith("uvloop is not installed") for note in section["notes"]) == (not UVLOOP)
    # a peer library may be missing (websockets needs Python >= 3.11): its row says so
    present = {peer for peer in PEERS if importlib.util.find_spec(peer) is not None}
    for server in server_echo.SERVERS:
        if server.label not in rows:
            continue
        row = rows[server.label]
        if server.implementation == "cython" and row[1] == "not built":
            continue
        if server.ours or server.name in present:
            assert all(isinstance(v, float) and v > 0 for v in row[3:9]), row
            assert server.uvloop == ("uvloop" in str(row[1])), row
        else:
            assert row[1] == "not installed" and row[3:] == [None] * 6, row
    assert messages and all(m.startswith("server: ") for m in messages)


def _fake(label: str, ours: bool, uvloop: bool) -> server_echo.Server:
    return server_echo.Server(label, "wscodec", "kind", "wscodec", None, ours, uvloop)


def test_ratios_compare_with_the_best_peer_on_the_same_event_loop() -> None:
    servers = [
        _fake("ours", True, False),
        _fake("peer a", False, False),
        _fake("peer b", False, False),
        _fake("ours + uvloop", True, True),
        _fake("peer a + uvloop", False, True),
        _fake("missing", False, False),
    ]
    measured: dict[str, list[object]] = {
        "ours": [100, 10.0],
        "peer a": [400, 40.0],
        "peer b": [200, 20.0],
        "ours + uvloop": [50, 5.0],
        "peer a + uvloop": [100, 2.0],
    }
    versions = dict.fromkeys(measured, "1.0")
    absent = {"missing": "not installed"}
    rows = server_echo._table(servers, measured, versions, absent, [True, False])  # type: ignore[arg-type]
    labels = ["ours", RATIO, "peer a", "peer b", "ours + uvloop", RATIO, "peer a + uvloop", "missing"]
    assert [row[0] for row in rows] == labels
    assert rows[1][3:] == [0.25, 2.0]  # 100/400 msg/s; 20/10 CPU: the best peer of its loop, not the uvloop one
    assert rows[5][3:] == [0.5, 0.4]
    assert rows[-1] == ["missing", "not installed", "kind", None, None]


def test_uvloop_rows_are_left_out_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_echo, "_uvloop_version", lambda: None)
    servers, notes = server_echo._servers(None)
    assert servers == [server for server in server_echo.SERVERS if not server.uvloop] and len(servers) == 5
    assert notes == ["uvloop is not installed: its rows are left out"]


def test_every_server_has_a_row_on_each_event_loop() -> None:
    labels = [server.label for server in server_echo.SERVERS]
    assert len(labels) == len(set(labels)) == 10
    base = [server for server in server_echo.SERVERS if not server.uvloop]
    assert {server.name for server in base} == {"wscodec", *PEERS}
    assert base[0].args == ("-m", "wscodec", "serve")  # the command itself, on asyncio's default loop
    on_uvloop = {server.label: server for server in server_echo.SERVERS if server.uvloop}
    for server in base:
        twin = on_uvloop[f"{server.label} + uvloop"]
        assert twin.args[-1] == server.name and "--uvloop" in twin.args and twin.ours == server.ours


def _affinities(monkeypatch: pytest.MonkeyPatch) -> list[tuple[set[int], set[int]]]:
    """Record (the client thread's CPUs, the server's CPUs) at every timed run."""
    seen: list[tuple[set[int], set[int]]] = []
    measure = server_echo._Running.measure

    def recording(self: server_echo._Running, size: int) -> None:
        seen.append((os.sched_getaffinity(0), os.sched_getaffinity(self.process.pid)))
        measure(self, size)

    monkeypatch.setattr(server_echo._Running, "measure", recording)
    return seen


@pytest.mark.parametrize("pinned", [True, False])
def test_the_client_and_the_servers_run_on_cpus_of_their_own(monkeypatch: pytest.MonkeyPatch, pinned: bool) -> None:
    if not hasattr(os, "sched_setaffinity"):
        assert server_echo.placement() is None  # nothing to pin with: the table says so (below)
        return
    before = os.sched_getaffinity(0)
    cpus = sorted(before)
    # (with one CPU the client and the servers share it: the pinning is still exercised)
    cpus_used = (cpus[0], cpus[-1]) if pinned else None
    if pinned:
        assert server_echo.placement() == ((cpus[0], cpus[1]) if len(cpus) > 1 else None)
    monkeypatch.setattr(server_echo, "placement", lambda: cpus_used)
    seen = _affinities(monkeypatch)
    # wscodec's server on the implementation installed here (the other may not be built)
    servers = [s for s in server_echo.SERVERS if s.implementation == wscodec.implementation and not s.uvloop]
    section = server_echo.cpu_table(servers, lambda message: None, passes=1, seconds=0.02)
    assert len(seen) == len(servers) * len(server_echo.SIZES)
    if cpus_used is None:
        assert seen == [(before, before)] * len(seen)
        assert "client and servers unpinned: fewer than two CPUs to pin them to" in section["notes"]
    else:
        assert seen == [({cpus_used[0]}, {cpus_used[1]})] * len(seen)
        assert f"the client runs on CPU {cpus_used[0]}, every server on CPU {cpus_used[1]}" in " ".join(
            section["notes"]
        )
    assert os.sched_getaffinity(0) == before  # the bench's own thread is free again


def test_without_valgrind_the_instruction_table_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    sections = server_echo.run(argparse.Namespace(quick=True, instructions="only"), lambda message: None)
    assert len(sections) == 1 and sections[0]["rows"] == []
    assert "valgrind is not installed" in sections[0]["notes"][0]


def test_the_instructions_option_chooses_the_tables(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert main(["bench", "--server", "--instructions", "only"]) == 0
    out = capsys.readouterr().out
    assert "user-space instructions per round trip" in out and "valgrind is not installed" in out
    assert "server CPU" not in out
    with pytest.raises(SystemExit):
        main(["bench", "--server", "--instructions", "always"])


def test_callgrind_totals_are_read(tmp_path: Path) -> None:
    out = tmp_path / "callgrind.out"
    out.write_text(
        "version: 1\ncreator: callgrind-3.19.0\nevents: Ir\nsummary: 123456\n\nfn=main\n1 5\ntotals: 123456\n"
    )
    assert server_echo._callgrind_total(out) == 123456
    out.write_text("events: Ir\n")
    with pytest.raises(ValueError, match="no instruction total"):
        server_echo._callgrind_total(out)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed (apt-get install valgrind)")
def test_instructions_per_round_trip_are_counted_under_callgrind() -> None:
    [compiled] = [server for server in server_echo.SERVERS if server.implementation == "cython" and not server.uvloop]
    messages: list[str] = []
    section = server_echo.instruction_table([compiled], messages.append, counts=(2, 12), sizes=(16,))
    assert section["columns"] == ["server", "version", "kind", "16 B instructions/msg"]
    [row] = section["rows"]
    assert row[0] == compiled.label and not str(row[0]).startswith(ERROR), row
    if row[1] != "not built":
        # a round trip runs the event loop, the decoder and a write: thousands of instructions, not millions
        assert isinstance(row[3], int) and 1_000 < row[3] < 1_000_000, row
    assert "(instructions of a run with 12 round trips" in section["notes"][0]
    assert messages == [f"server: counting instructions of {compiled.label}"]
