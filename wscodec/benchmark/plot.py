"""Bar charts of benchmark sections: ``python -m wscodec bench --plot DIR``.

One chart per section (see ``wscodec.benchmark.harness`` for the section shape), written as
``DIR/<title slug>.<format>``:

* a section with ratio rows (``"  vs best peer"``, ``"  vs <peer>"``) shows
  those ratios, one bar per wscodec row and peer for each value column, with a
  line at 1 (as fast as the peer): above it wscodec is faster;
* the integrations section shows its ``shim / alone`` column, one group of
  bars per host and kind of message, one bar per message size, with a line at
  1 (the host alone);
* any other section (memory per connection) shows its numbers as they are,
  one group per column and one bar per row.

What to draw (:func:`chart`) is worked out without matplotlib; drawing
(:func:`write`) needs it, and imports it only when called: matplotlib is the
optional ``plot`` extra, and :func:`require` says how to install it.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .harness import ERROR, RATIO, RATIO_PREFIX, Section, Value

__all__ = ["FORMATS", "INSTALL", "Chart", "PlotUnavailable", "chart", "filename", "require", "write"]

#: The file formats ``--plot-format`` offers.
FORMATS = ("svg", "png")
#: How to get matplotlib, for the error when it is missing.
INSTALL = "pip install 'wscodec[plot]' (in a checkout: pip install '.[plot]'), or pip install matplotlib"

# The units that end a value column's name ("2 B ns", "64 KiB GB/s"): a group is labelled by its size alone.
_UNIT = re.compile(r"\s+(?:ns|us/msg|µs/msg|GB/s|frames/s|msg/s)$")
# The integrations section's columns (wscodec.benchmark.integrations).
_SHIM_RATIO, _HOST, _KIND, _SIZE = "shim / alone", "host", "messages", "size"


class PlotUnavailable(RuntimeError):
    """matplotlib is not installed; the message says how to install it."""


@dataclass(frozen=True)
class Chart:
    """What one bar chart shows: ``series`` label -> one value (or None) per group."""

    title: str
    ylabel: str
    groups: list[str]
    series: list[tuple[str, list[float | None]]]
    #: A horizontal line drawn at this value (1 for ratios), labelled ``baseline_label``.
    baseline: float | None = None
    baseline_label: str = ""

    def values(self) -> list[float]:
        """Every value drawn."""
        return [v for _, values in self.series for v in values if v is not None]


def _number(value: Value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _is_error(row: Sequence[Value]) -> bool:
    return bool(row) and isinstance(row[0], str) and row[0].startswith(ERROR)


def _is_ratio(row: Sequence[Value]) -> bool:
    return bool(row) and isinstance(row[0], str) and row[0].startswith(RATIO_PREFIX)


def _group_labels(columns: list[str], indices: list[int], series: list[list[float | None]]) -> list[int]:
    """The value columns to draw: of columns that differ only in unit and hold the same ratios, the first."""
    kept: list[int] = []
    seen: dict[str, list[float | None]] = {}
    for position, index in enumerate(indices):
        label = _UNIT.sub("", columns[index])
        values = [values[position] for values in series]
        if seen.get(label) == values:
            continue  # "64 KiB frames/s" and "64 KiB GB/s": one rate in two units, one ratio
        seen.setdefault(label, values)
        kept.append(position)
    return kept


def _ratio_chart(section: Section) -> Chart | None:
    columns, rows = section["columns"], [row for row in section["rows"] if not _is_error(row)]
    named: list[tuple[str, Sequence[Value]]] = []
    above: Value = None
    for row in rows:
        if _is_ratio(row):
            peer = str(row[0])
            name = str(above) if peer == RATIO else f"{above} {peer.strip()}"
            named.append((name, row))
        else:
            above = row[0] if row else None
    indices = [i for i in range(1, len(columns)) if any(_number(row[i]) is not None for _, row in named)]
    if not indices:
        return None
    values = [[_number(row[i]) for i in indices] for _, row in named]
    kept = _group_labels(columns, indices, values)
    labels = [_UNIT.sub("", columns[indices[p]]) for p in kept]
    if len(set(labels)) < len(labels):  # units differ in meaning (msg/s and CPU µs/msg): keep them
        labels = [columns[indices[p]] for p in kept]
    series = [(name, [v[p] for p in kept]) for (name, _), v in zip(named, values)]
    peers = "the best peer" if all(str(row[0]) == RATIO for _, row in named) else "the peer named"
    return Chart(
        title=section["title"],
        ylabel=f"wscodec against {peers} (above 1: wscodec is faster)",
        groups=labels,
        series=series,
        baseline=1.0,
        baseline_label="as fast as the peer",
    )


def _bytes(label: str) -> float:
    """``"64 KiB"`` -> 65536; an unknown label sorts last."""
    number, _, unit = label.partition(" ")
    scale = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}.get(unit)
    try:
        return float(number) * scale if scale else math.inf
    except ValueError:
        return math.inf


def _shim_chart(section: Section) -> Chart | None:
    columns = section["columns"]
    host, kind, size, ratio = (columns.index(name) for name in (_HOST, _KIND, _SIZE, _SHIM_RATIO))
    groups: list[str] = []
    sizes: list[str] = []
    cells: dict[tuple[str, str], float] = {}
    for row in section["rows"]:
        if _is_error(row) or len(row) <= ratio or (value := _number(row[ratio])) is None:
            continue
        group, label = f"{row[host]}\n{row[kind]}", str(row[size])
        if group not in groups:
            groups.append(group)
        if label not in sizes:
            sizes.append(label)
        cells[group, label] = value
    if not cells:
        return None
    sizes.sort(key=_bytes)  # the kinds measure different sizes: one order for all, smallest first
    return Chart(
        title=section["title"],
        ylabel="messages/s with the shim / host alone",
        groups=groups,
        series=[(label, [cells.get((group, label)) for group in groups]) for label in sizes],
        baseline=1.0,
        baseline_label="host alone",
    )


def _value_chart(section: Section) -> Chart | None:
    columns = section["columns"]
    rows = [row for row in section["rows"] if not _is_error(row) and any(_number(v) is not None for v in row[1:])]
    indices = [i for i in range(1, len(columns)) if any(len(row) > i and _number(row[i]) is not None for row in rows)]
    if not indices:
        return None
    unit = re.search(r"\b(KiB|msg/s|µs|ns|GB/s)\b", section["title"])
    return Chart(
        title=section["title"],
        ylabel=unit.group(1) if unit else "",
        groups=[columns[i] for i in indices],
        series=[(str(row[0]), [_number(row[i]) if len(row) > i else None for i in indices]) for row in rows],
    )


def chart(section: Section) -> Chart | None:
    """What to draw for ``section``; None when it holds no figure (every row failed or was not built)."""
    if any(_is_ratio(row) for row in section["rows"]):
        return _ratio_chart(section)
    if all(name in section["columns"] for name in (_HOST, _KIND, _SIZE, _SHIM_RATIO)):
        return _shim_chart(section)
    return _value_chart(section)


def filename(title: str, fmt: str) -> str:
    """A file name for a section's chart: its title in lower case, words joined by dashes."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return f"{slug[:80].rstrip('-') or 'section'}.{fmt}"


def require() -> Any:
    """Import matplotlib's ``pyplot`` on a non-interactive backend; :class:`PlotUnavailable` if missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display needed, none opened
        import matplotlib.pyplot as pyplot
    except ImportError as exc:
        raise PlotUnavailable(f"--plot needs matplotlib, which is not installed ({exc}): {INSTALL}") from None
    return pyplot


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.fill(line, width) for line in text.split("\n"))


def _draw(pyplot: Any, figure: Chart, path: Path) -> None:
    groups, series = len(figure.groups), len(figure.series)
    width = 0.8 / max(series, 1)
    legend_rows = math.ceil((series + (figure.baseline is not None)) / (2 if series > 4 else 1))
    size = (min(max(6.4, 0.2 * groups * series + 2.5), 14.0), 3.6 + 0.2 * legend_rows)
    fig, ax = pyplot.subplots(figsize=size, layout="constrained")
    # more than ten series: twenty distinct colours, so that no two bars of a group look alike
    colours = pyplot.get_cmap("tab20" if series > 10 else "tab10").colors
    try:
        for n, (label, values) in enumerate(figure.series):
            xs = [g + (n - (series - 1) / 2) * width for g in range(groups)]
            heights = [math.nan if v is None else v for v in values]
            ax.bar(xs, heights, width, label=label, color=colours[n % len(colours)])
        drawn = figure.values()
        if figure.baseline is not None:
            ax.axhline(figure.baseline, color="black", linewidth=0.8, linestyle="--", label=figure.baseline_label)
            # ratios from 0.02x to 180x: on a log scale a tenfold win and a tenfold loss look alike
            if drawn and min(drawn) > 0 and max(drawn) / min(drawn) > 20:
                ax.set_yscale("log")
            ax.yaxis.set_major_formatter(pyplot.FuncFormatter(lambda value, _: f"{value:g}×"))
        # long labels wrapped to the width they have: a group's share of the axis, the figure's for the title
        chars = max(8, int(size[0] * 72 * 0.85 / max(groups, 1) / 5))
        ax.set_xticks(range(groups), [_wrap(label, chars) for label in figure.groups], fontsize=8)
        ax.set_ylabel(figure.ylabel, fontsize=8)
        ax.set_title(_wrap(figure.title, int(size[0] * 12)), fontsize=10)
        ax.grid(axis="y", linewidth=0.3)
        fig.legend(fontsize=7, ncols=2 if series > 4 else 1, loc="outside lower center", frameon=False)
        fig.savefig(path, metadata={"Date": None} if path.suffix == ".svg" else None)
    finally:
        pyplot.close(fig)


def write(sections: Sequence[Section], directory: Path | str, fmt: str = "svg") -> list[Path]:
    """Draw one chart per section that holds figures into ``directory`` (created if needed); the files written."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, not {fmt!r}")
    pyplot = require()
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    # text stays text in an SVG (small, searchable), and ids do not change between runs of the same figures
    with pyplot.rc_context({"svg.fonttype": "none", "svg.hashsalt": "wscodec"}):
        for section in sections:
            figure = chart(section)
            if figure is None:
                continue
            path = out / filename(section["title"], fmt)
            _draw(pyplot, figure, path)
            written.append(path)
    return written
