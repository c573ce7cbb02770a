"""``python -m wscodec bench``: runs, prints the documented shape, and its correctness checks fire.

Every run here uses ``--quick`` (one tiny round per cell); nothing is timed
or compared by speed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

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
            return self._decoder.feed(data)[:-1]

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
