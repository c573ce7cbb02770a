"""``python -m wscodec bench --plot DIR``: what each chart shows, the files written, and matplotlib missing.

What a chart shows is worked out without matplotlib (:func:`wscodec.benchmark.plot.chart`)
and tested everywhere; drawing needs matplotlib (the ``plot`` extra), and those tests skip
without it. Nothing here is timed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import needs
import pytest

from wscodec.__main__ import main
from wscodec.benchmark import plot
from wscodec.benchmark.harness import ERROR, RATIO, Section, ratio_label

MATPLOTLIB = "pip install '.[plot]' (or '.[dev]') in a checkout, or pip install matplotlib"

MASK: Section = {
    "title": "mask: apply_mask, new bytes",
    "columns": ["impl", "version", "kind", "2 B ns", "1 MiB GB/s"],
    "rows": [
        ["websockets speedups.apply_mask", "17.4", "C", 60.0, 29.0],
        ["wscodec apply_mask (compiled)", "0.1.0", "Cython + C", 24.0, 31.0],
        [RATIO, "", "", 2.5, 1.07],
        ["wscodec apply_mask (pure)", "0.1.0", "pure Python", 1400.0, 0.4],
        [RATIO, "", "", 0.04, 0.01],
    ],
    "notes": [],
}


def test_ratio_rows_are_the_bars_named_by_the_wscodec_row_above() -> None:
    figure = plot.chart(MASK)
    assert figure is not None
    assert figure.groups == ["2 B", "1 MiB"]  # the unit left out of the group's name
    assert figure.series == [
        ("wscodec apply_mask (compiled)", [2.5, 1.07]),
        ("wscodec apply_mask (pure)", [0.04, 0.01]),
    ]
    assert figure.baseline == 1.0
    assert "best peer" in figure.ylabel


def test_named_peers_each_get_a_bar_and_one_rate_in_two_units_one_group() -> None:
    section: Section = {
        "title": "frames: decode",
        "columns": ["impl", "version", "kind", "64 KiB frames/s", "64 KiB GB/s", "1 MiB frames/s"],
        "rows": [
            ["wscodec MessageDecoder (compiled)", "0.1.0", "Cython", 100, 6.5, 4000],
            [ratio_label("aiohttp"), "", "", 2.0, 2.0, 1.5],
            [ratio_label("websockets"), "", "", 3.0, 3.0, None],
        ],
        "notes": [],
    }
    figure = plot.chart(section)
    assert figure is not None
    assert figure.groups == ["64 KiB", "1 MiB"]
    assert figure.series == [
        ("wscodec MessageDecoder (compiled) vs aiohttp", [2.0, 1.5]),
        ("wscodec MessageDecoder (compiled) vs websockets", [3.0, None]),
    ]


def test_columns_that_differ_in_meaning_keep_their_units() -> None:
    section: Section = {
        "title": "Echo server",
        "columns": ["server", "version", "kind", "16 B msg/s", "16 B server CPU µs/msg", "16 B µs/msg"],
        "rows": [["wscodec serve", "0.1.0", "compiled", 60000, 6.3, 7.0], [RATIO, "", "", 2.7, 4.7, 1.2]],
        "notes": [],
    }
    figure = plot.chart(section)
    assert figure is not None
    assert figure.groups == ["16 B msg/s", "16 B server CPU µs/msg", "16 B µs/msg"]
    assert figure.series == [("wscodec serve", [2.7, 4.7, 1.2])]


def test_integrations_show_shim_over_alone_per_host_and_size() -> None:
    section: Section = {
        "title": "Integrations: loopback echo",
        "columns": ["host", "messages", "size", "host alone (msg/s)", "with shim (msg/s)", "shim / alone", "range"],
        "rows": [
            ["wsproto 1.3.2", "binary", "16 B", 50000, 180000, 3.6, "3.5-3.7"],
            ["wsproto 1.3.2", "binary", "1 MiB", 232, 4339, 18.8, "18-20"],
            ["tornado 6.6.1", "binary", "16 B", 9733, 9663, 0.996, "0.85-1.04"],
            ["tornado 6.6.1", "deflate text", "64 B", 9000, 9100, 1.01, "0.99-1.02"],
            [f"{ERROR} aiohttp: RuntimeError: broken"],
            ["autobahn 26.10.2", None, None, "unsupported", None, None, None],
        ],
        "notes": [],
    }
    figure = plot.chart(section)
    assert figure is not None
    assert figure.groups == ["wsproto 1.3.2\nbinary", "tornado 6.6.1\nbinary", "tornado 6.6.1\ndeflate text"]
    # sizes in byte order, though 64 B came last
    assert figure.series == [("16 B", [3.6, 0.996, None]), ("64 B", [None, None, 1.01]), ("1 MiB", [18.8, None, None])]
    assert figure.baseline == 1.0


def test_a_table_without_ratios_shows_its_values() -> None:
    section: Section = {
        "title": "memory: resident KiB per connection after one 1 KiB message each way",
        "columns": ["connection", "version", "15/8", "12/5", "off"],
        "rows": [
            ["websockets, documented", "-", 316, 64, 14],
            ["wscodec compiled, zlib", "0.1.0", 105.0, 45.2, 0.3],
            ["wscodec, isal", "not installed", None, None, None],
        ],
        "notes": [],
    }
    figure = plot.chart(section)
    assert figure is not None
    assert figure.groups == ["15/8", "12/5", "off"]
    assert figure.series == [
        ("websockets, documented", [316.0, 64.0, 14.0]),
        ("wscodec compiled, zlib", [105.0, 45.2, 0.3]),
    ]
    assert figure.baseline is None
    assert figure.ylabel == "KiB"


def test_a_section_without_figures_has_no_chart() -> None:
    failed: Section = {
        "title": "mask: failed",
        "columns": ["impl", "version", "kind", "2 B ns"],
        "rows": [[f"{ERROR} wscodec apply_mask @ 2 B: wrong result"], ["wsaccel", "not installed", "", None]],
        "notes": [],
    }
    assert plot.chart(failed) is None
    assert plot.chart({**MASK, "rows": [row for row in MASK["rows"] if row[0] != RATIO]}) is not None  # values


def test_file_names_come_from_the_titles() -> None:
    assert plot.filename("mask: apply_mask, new bytes", "svg") == "mask-apply-mask-new-bytes.svg"
    assert plot.filename("Echo server: round trips/s", "png") == "echo-server-round-trips-s.png"
    assert plot.filename("!!!", "svg") == "section.svg"


def test_without_matplotlib_the_error_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # None in sys.modules: the import raises ImportError
    with pytest.raises(plot.PlotUnavailable, match=r"wscodec\[plot\]"):
        plot.require()
    # the command says so before it measures anything, and writes nothing
    assert main(["bench", "--quick", "--only", "mask", "--plot", str(tmp_path / "charts")]) == 2
    out, err = capsys.readouterr()
    assert not out
    assert "matplotlib" in err and "pip install 'wscodec[plot]'" in err
    assert not (tmp_path / "charts").exists()


def test_write_refuses_an_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="format"):
        plot.write([MASK], tmp_path, "gif")


@pytest.mark.parametrize("fmt", plot.FORMATS)
def test_write_draws_one_file_per_section_with_figures(fmt: str, tmp_path: Path) -> None:
    needs.module("matplotlib", MATPLOTLIB)
    empty: Section = {"title": "nothing measured", "columns": ["impl", "2 B ns"], "rows": [], "notes": []}
    written = plot.write([MASK, empty], tmp_path / "out", fmt)
    assert written == [tmp_path / "out" / f"mask-apply-mask-new-bytes.{fmt}"]
    data = written[0].read_bytes()
    if fmt == "svg":
        text = data.decode()
        assert text.lstrip().startswith("<?xml") and "<svg" in text
        assert "wscodec apply_mask (compiled)" in text  # the legend, kept as text
    else:
        assert data.startswith(b"\x89PNG\r\n\x1a\n")


def test_the_same_figures_give_the_same_svg(tmp_path: Path) -> None:
    needs.module("matplotlib", MATPLOTLIB)
    first = plot.write([MASK], tmp_path / "a")[0].read_bytes()
    second = plot.write([MASK], tmp_path / "b")[0].read_bytes()
    assert first == second  # committed charts change only when the figures do


def test_bench_plot_writes_a_chart_per_table(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    needs.module("matplotlib", MATPLOTLIB)
    assert main(["bench", "--quick", "--only", "mask", "--plot", str(tmp_path), "--plot-format", "png"]) == 0
    out, err = capsys.readouterr()
    titles = [line for line in out.splitlines() if line.startswith("mask: ")]
    assert titles == ["mask: apply_mask, new bytes", "mask: in place on a bytearray"]
    files = sorted(path.name for path in tmp_path.iterdir())
    assert files == sorted(plot.filename(title, "png") for title in titles)
    assert all(f"wrote {tmp_path / name}" in err for name in files)
