"""``python -m wscodec bench``: runs, prints the documented shape, and its correctness checks fire.

Every run here uses ``--quick`` (one tiny round per cell); nothing is timed
or compared by speed.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import needs
import pytest
from impls import IMPL_NAMES

import wscodec
from wscodec.__main__ import main
from wscodec.benchmark import cli
from wscodec.benchmark.harness import ERROR, RATIO

_ROW_LABEL = {"python": "(pure)", "cython": "(compiled)"}


def _bench(*argv: str) -> subprocess.CompletedProcess[str]:
    """Run the command in a fresh interpreter that imports the same wscodec as this one."""
    env = dict(os.environ, PYTHONPATH=str(Path(wscodec.__file__).parent.parent))
    return subprocess.run(
        [sys.executable, "-m", "wscodec", "bench", *argv],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).parent,
        timeout=300,  # not the source tree: -m would import it first
    )


def _check_section(section: Any) -> None:
    assert set(section) == {"title", "columns", "rows", "notes"}
    assert isinstance(section["title"], str) and section["title"]
    assert section["columns"] and all(isinstance(c, str) for c in section["columns"])
    assert all(isinstance(n, str) for n in section["notes"])
    for row in section["rows"]:
        assert len(row) == len(section["columns"]), row
        assert all(v is None or isinstance(v, (str, int, float)) for v in row), row


def _rows(document: dict[str, Any]) -> list[list[Any]]:
    return [row for section in document["sections"] for row in section["rows"]]


def _errors(document: dict[str, Any]) -> list[list[Any]]:
    return [row for row in _rows(document) if str(row[0]).startswith(ERROR)]


@pytest.mark.parametrize(
    ("section", "titles"),
    [
        ("mask", ["mask: apply_mask, new bytes", "mask: in place on a bytearray"]),
        (
            "utf8",
            [
                *(f"utf8: validate {s} texts" for s in ("2 B", "125 B", "1 KiB", "16 KiB", "1 MiB")),
                "utf8: masked text payload to str",
            ],
        ),
        (
            "frames",
            [
                "frames: decode masked client frames (server side)",
                "frames: decode unmasked server frames (client side)",
                "frames: encode one masked binary frame (client side)",
            ],
        ),
    ],
)
def test_section_json(section: str, titles: list[str]) -> None:
    done = _bench("--quick", "--json", "--only", section)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["wscodec"] == wscodec.__version__
    assert [s["title"] for s in document["sections"]] == titles
    for s in document["sections"]:
        _check_section(s)
    assert not _errors(document)
    rows = _rows(document)
    measured = [row for row in rows if str(row[0]).startswith("wscodec") and row[1] != "not built"]
    assert measured, "no wscodec row was measured"
    for row in measured:  # every value cell holds a positive figure
        assert all(isinstance(v, (int, float)) and v > 0 for v in row[3:]), row
    assert any(row[0] == RATIO for row in rows)


def test_tables_are_printed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--quick", "--only", "utf8"]) == 0
    out, err = capsys.readouterr()
    assert "utf8: validate 125 B texts" in out
    assert "wscodec validate_utf8 (pure)" in out
    assert RATIO.strip() in out
    assert "peers:" in out.splitlines()[1]
    assert err.strip(), "no progress was reported on stderr"


def _run_in_process(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    status = main(["bench", "--quick", "--json", *argv])
    return status, json.loads(capsys.readouterr().out)


def _wrong_mask(data: object, mask: object) -> bytes:
    out = bytearray(data)  # type: ignore[call-overload]
    if out:
        out[-1] ^= 1  # every byte right but the last
    return bytes(out)


def test_mask_check_fires(
    impl: types.ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(impl, "apply_mask", _wrong_mask)
    status, document = _run_in_process(capsys, "--only", "mask")
    assert status == 1
    errors = _errors(document)
    label = f"wscodec apply_mask {_ROW_LABEL[impl.NAME]}"
    assert errors and all(label in row[0] for row in errors), errors
    assert {row[0].split(" @ ")[1] for row in errors} == {
        "2 B",
        "125 B",
        "1 KiB",
        "16 KiB",
        "64 KiB",
        "1 MiB",
        "16 MiB",
    }
    assert "differs from the oracle" in errors[0][1]


def test_utf8_check_fires_on_a_validator_that_accepts_everything(
    impl: types.ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(impl, "validate_utf8", lambda data: True)
    status, document = _run_in_process(capsys, "--only", "utf8")
    assert status == 1
    errors = _errors(document)
    assert len(errors) == 25  # 5 kinds x 5 sizes, all caught by the invalid copy
    assert all(f"wscodec validate_utf8 {_ROW_LABEL[impl.NAME]}" in row[0] for row in errors)


def test_frames_check_fires(
    impl: types.ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = impl.FrameDecoder

    class LosesLastFrame:
        def __init__(self, **options: Any) -> None:
            self._decoder = real(**options)

        def feed(self, data: bytes) -> list[Any]:
            out: list[Any] = self._decoder.feed(data)
            return out[:-1]

    monkeypatch.setattr(impl, "FrameDecoder", LosesLastFrame)
    status, document = _run_in_process(capsys, "--only", "frames")
    assert status == 1
    errors = _errors(document)
    assert len(errors) == 10  # 5 sizes x masked/unmasked
    assert all(f"wscodec FrameDecoder {_ROW_LABEL[impl.NAME]}" in row[0] for row in errors)


def test_crash_is_an_error_row(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import wscodec._impl_py as pure

    def broken(*args: object, **kwargs: object) -> bytes:
        raise RuntimeError("boom")

    monkeypatch.setattr(pure, "encode_frame", broken)
    status, document = _run_in_process(capsys, "--only", "frames")
    assert status == 1
    errors = _errors(document)
    assert errors and all("wscodec encode_frame (pure) @ encode" in row[0] for row in errors)
    assert "RuntimeError: boom" in errors[0][1]


def test_external_section_missing(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(cli.EXTERNAL, "server", "wscodec.benchmark.no_such_module")
    assert main(["bench", "--quick", "--server"]) == 2
    captured = capsys.readouterr()
    assert "--server" in captured.err and "not available" in captured.err
    assert captured.out == ""


@pytest.mark.parametrize("failing", [False, True])
def test_external_sections_are_rendered_alike(
    failing: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    module = types.ModuleType("fake_integrations")
    row: list[Any] = [f"{ERROR}: host 16 B", "echo mismatch", None] if failing else ["host", 1234, 1.5]

    def run(args: Any, progress: Any) -> list[dict[str, Any]]:
        progress("fake: running")
        return [
            {
                "title": "integrations: fake",
                "columns": ["host", "msgs/s", "ratio"],
                "rows": [row],
                "notes": ["n"],
            }
        ]

    module.run = run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_integrations", module)
    monkeypatch.setitem(cli.EXTERNAL, "integrations", "fake_integrations")
    status, document = _run_in_process(capsys, "--integrations")
    assert status == (1 if failing else 0)
    assert [s["title"] for s in document["sections"]] == ["integrations: fake"]
    assert main(["bench", "--quick", "--integrations"]) == status
    text = capsys.readouterr().out
    assert "integrations: fake" in text and "  * n" in text
    assert ("echo mismatch" in text) if failing else ("1,234" in text)


# ---------------------------------------------------------------- deflate section

_DEFLATE_TITLES = [
    "deflate: round trip of one message, client encode + server receive",
    "deflate: compress one message",
    "deflate: receive one compressed server message (client side)",
    "deflate: receive compressed masked client frames (server side)",
]


def _deflate_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], backends: tuple[str, ...]
) -> tuple[int, dict[str, Any]]:
    """``bench --quick --json --only deflate`` in this process, at 64 B only and with ``backends``."""
    from wscodec.benchmark import deflate

    monkeypatch.setattr(deflate, "DEFLATE_SIZES", (64,))
    monkeypatch.setattr(deflate, "BACKENDS", backends)
    return _run_in_process(capsys, "--only", "deflate")


def test_deflate_section(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from wscodec.benchmark import deflate

    status, document = _deflate_run(monkeypatch, capsys, deflate.BACKENDS)
    assert status == 0, _errors(document)
    assert [s["title"] for s in document["sections"]] == _DEFLATE_TITLES
    for s in document["sections"]:
        _check_section(s)
        assert s["columns"][3:] == ["64 B us/msg"]
    rows = _rows(document)
    ours = [row for row in rows if str(row[0]).startswith("wscodec")]
    assert len(ours) == 4 * 2 * len(deflate.BACKENDS)  # every table: both implementations, every backend
    measured = [row for row in ours if row[1] not in ("not built", "zlib-ng not installed", "isal not installed")]
    assert any("zlib (pure)" in row[0] for row in measured)
    for row in measured:
        assert all(isinstance(v, (int, float)) and v > 0 for v in row[3:]), row
    ratio_rows = {row[0] for row in rows if str(row[0]).startswith("  vs ")}
    assert {
        "  vs websockets encode+decode",
        "  vs aiohttp writer+reader_c",
        "  vs websockets encode",
        "  vs aiohttp compressor",
        "  vs websockets decode",
        "  vs aiohttp reader_c",
        "  vs websockets parse",
    } <= ratio_rows
    assert RATIO not in ratio_rows  # these tables compare with named peers
    assert any("12-bit windows" in note for note in document["sections"][0]["notes"])


def test_deflate_tables_are_printed(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from wscodec.benchmark import deflate

    needs.module("websockets", python=(3, 11))  # the ratio row compares with it
    monkeypatch.setattr(deflate, "DEFLATE_SIZES", (64,))
    monkeypatch.setattr(deflate, "BACKENDS", ("zlib",))
    assert main(["bench", "--quick", "--only", "deflate"]) == 0
    out = capsys.readouterr().out
    assert "deflate: compress one message" in out
    assert "wscodec PerMessageDeflate.compress zlib (pure)" in out
    assert "  vs websockets encode  " in out and "x" in out.split("  vs websockets encode  ")[1].splitlines()[0]


def test_deflate_receive_checks_fire(
    impl: types.ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = impl.MessageDecoder

    class LosesLastMessage:
        def __init__(self, **options: Any) -> None:
            self._decoder = real(**options)

        def feed(self, data: bytes) -> list[Any]:
            out: list[Any] = self._decoder.feed(data)
            return out[:-1] if out else out

    monkeypatch.setattr(impl, "MessageDecoder", LosesLastMessage)
    status, document = _deflate_run(monkeypatch, capsys, ("zlib",))
    assert status == 1
    which = _ROW_LABEL[impl.NAME]
    assert {row[0] for row in _errors(document)} == {  # the round trip, inflate and receive rows of this implementation
        f"{ERROR}: wscodec encode_message+MessageDecoder zlib {which} @ round trip 64 B",
        f"{ERROR}: wscodec MessageDecoder (client) zlib {which} @ inflate 64 B",
        f"{ERROR}: wscodec MessageDecoder (server) zlib {which} @ receive 64 B",
    }


def test_deflate_compress_check_fires(
    impl: types.ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = impl.PerMessageDeflate

    class CompressesSomethingElse:
        """Compresses every message with one byte more: valid deflate data, the wrong message."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self._real = real(*args, **kwargs)

        def compress(self, payload: bytes) -> bytes:
            compressed: bytes = self._real.compress(bytes(payload) + b" ")
            return compressed

    monkeypatch.setattr(impl, "PerMessageDeflate", CompressesSomethingElse)
    status, document = _deflate_run(monkeypatch, capsys, ("zlib",))
    assert status == 1
    errors = {row[0]: row[1] for row in _errors(document)}
    label = f"{ERROR}: wscodec PerMessageDeflate.compress zlib {_ROW_LABEL[impl.NAME]} @ compress 64 B"
    assert label in errors and "differs from the oracle" in errors[label]


# ---------------------------------------------------------------- memory mode


def test_memory_mode(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from wscodec.benchmark import memory

    needs.module("websockets", python=(3, 11))  # its rows and the comparison note
    monkeypatch.setattr(memory, "BACKENDS", ("zlib",))
    status, document = _run_in_process(capsys, "--memory")
    assert status == 0, _errors(document)
    titles = [s["title"] for s in document["sections"]]
    assert titles == [
        "memory: resident KiB per connection after one 1 KiB message each way",
        "memory: KiB per connection that tracemalloc sees (one 1 KiB message each way)",
        "memory: KiB per connection by what it has done (12/5, 1 KiB messages)",
    ]
    for s in document["sections"]:
        _check_section(s)
    resident = document["sections"][0]
    assert resident["columns"] == ["connection", "version", "12/5", "off"]
    rows = {row[0]: row for row in resident["rows"]}
    assert rows["websockets, documented (docs/topics/memory.rst)"][2:] == [64, 14]
    assert any(note.startswith("at 12/5, the default: wscodec ") for note in resident["notes"])
    # a pure installation (a py3-none-any wheel) shows the compiled rows as not built; the compiled
    # modules are measured wherever they were built, whichever implementation this process runs
    try:
        importlib.import_module("wscodec._deflate_c")
        built: tuple[str, ...] = ("compiled", "pure")
    except ImportError:
        built = ("pure",)
    for kind in ("compiled", "pure"):
        deflating = rows[f"wscodec PerMessageDeflate + MessageDecoder zlib ({kind})"]
        off = rows[f"wscodec MessageDecoder, compression off ({kind})"]
        if kind not in built:
            assert deflating[1] == off[1] == "not built" and deflating[2:] == off[2:] == [None, None]
            continue
        assert isinstance(deflating[2], float) and deflating[3] is None
        assert off[2] is None and isinstance(off[3], float)
    phases = {row[0]: row for row in document["sections"][2]["rows"]}
    assert set(phases) == {
        "websockets PerMessageDeflate (extension alone)",
        "wscodec PerMessageDeflate + MessageDecoder zlib (compiled)",
        "wscodec PerMessageDeflate + MessageDecoder zlib (pure)",
    }
    for label, row in phases.items():
        if "(compiled)" in label and "compiled" not in built:
            assert row[1] == "not built" and not any(row[2:]), row
        else:
            assert all(isinstance(v, float) for v in row[2:]), row


@pytest.mark.parametrize("kind", [{"python": "pure", "cython": "compiled"}[name] for name in IMPL_NAMES])
def test_nothing_is_allocated_for_a_direction_until_it_is_used(kind: str) -> None:
    """A connection that never compressed or inflated costs a small object; each direction costs once used.

    Measured in fresh processes: resident memory for both implementations,
    tracemalloc (exact) for the pure one, whose zlib objects it sees.
    """
    from wscodec.benchmark.memory import Spec, _measure

    figures = {phase: _measure(Spec(kind, phase=phase, count=300, traced=50)) for phase in ("constructed", "both")}
    for phase, outcome in figures.items():
        assert not isinstance(outcome, str), f"{phase}: {outcome}"
    constructed, both = figures["constructed"], figures["both"]
    assert isinstance(constructed, dict) and isinstance(both, dict)
    assert constructed["rss"] < 8 * 1024 < 24 * 1024 < both["rss"], figures
    if kind == "pure":
        # zlib's compressor (12/5) is ~38 KiB and its inflater ~11 KiB, both allocated through Python.
        assert constructed["traced"] < 4 * 1024 and both["traced"] > 40 * 1024, figures


def test_memory_check_fires(impl: types.ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    from wscodec.benchmark import memory

    real = impl.MessageDecoder

    class Garbles:
        def __init__(self, **options: Any) -> None:
            self._decoder = real(**options)

        def feed(self, data: bytes) -> list[Any]:
            return [types.SimpleNamespace(opcode=m.opcode, payload=m.payload[::-1]) for m in self._decoder.feed(data)]

    monkeypatch.setattr(impl, "MessageDecoder", Garbles)
    kind = {"python": "pure", "cython": "compiled"}[impl.NAME]
    with pytest.raises(AssertionError, match="received something else"):
        memory.measure_connections(memory.Spec(kind, count=2, traced=0))
