"""Rendering of benchmark sections: aligned text tables, the JSON document, the progress line."""

from __future__ import annotations

import importlib
import os
import platform
import shutil
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

from .._names import COMPILED_MODULES
from .harness import ERROR, RATIO_PREFIX, Section, Settings, Value
from .registry import PEER_DISTRIBUTIONS, version

__all__ = ["ProgressLine", "document", "has_errors", "render"]


def has_errors(sections: Sequence[Section]) -> bool:
    """True if any section holds an error row."""
    return any(
        isinstance(row[0], str) and row[0].startswith(ERROR) for section in sections for row in section["rows"] if row
    )


def _machine() -> str:
    """CPU model (Linux) or processor name, architecture and CPU count."""
    model = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
    except OSError:
        pass
    return f"{model or platform.system()} ({platform.machine()}, {os.cpu_count()} CPUs)"


def environment() -> dict[str, Any]:
    """The versions and machine behind the figures."""
    from .._version import __version__

    compiled = {}
    for module in COMPILED_MODULES:
        try:
            importlib.import_module(f"wscodec.{module}")
            compiled[module] = True
        except ImportError:
            compiled[module] = False
    return {
        "wscodec": __version__,
        "compiled": compiled,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "machine": _machine(),
        "peers": {dist: version(dist) for dist in PEER_DISTRIBUTIONS},
    }


def document(sections: Sequence[Section], settings: Settings) -> dict[str, Any]:
    """The ``--json`` output: the environment, the timing settings and the sections."""
    return {
        **environment(),
        "settings": {
            "passes": settings.passes,
            "rounds_per_pass": settings.rounds_per_pass,
            "round_ns": settings.round_ns,
        },
        "sections": list(sections),
    }


def _cell(value: Value, ratio: bool) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if ratio:
        return f"{value:.2f}x"
    if isinstance(value, int):
        return f"{value:,}"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def render_section(section: Section) -> str:
    """One section as an aligned text table, its notes below."""
    header = list(section["columns"])
    body = []
    for row in section["rows"]:
        first = row[0] if row else ""
        ratio = isinstance(first, str) and first.startswith(RATIO_PREFIX)
        cells = [_cell(v, ratio and i > 0) for i, v in enumerate(row)]
        if isinstance(first, str) and first.startswith(ERROR):
            body.append(["  ".join(c for c in cells if c != "-")])  # an error spans the line
        else:
            body.append(cells)
    aligned = [header, *(cells for cells in body if len(cells) > 1)]
    widths = [max(len(cells[i]) for cells in aligned if len(cells) > i) for i in range(len(header))]

    numeric = [
        any(len(row) > i and isinstance(row[i], (int, float)) for row in section["rows"]) for i in range(len(header))
    ]

    def line(cells: list[str]) -> str:
        if len(cells) == 1 and len(header) > 1:
            return cells[0]
        return "  ".join(c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric)).rstrip()

    out = [section["title"], "=" * len(section["title"]), line(header), line(["-" * w for w in widths])]
    out += [line(cells) for cells in body]
    out += [f"  * {note}" for note in section["notes"]]
    return "\n".join(out)


def render(sections: Sequence[Section]) -> str:
    """The header (versions, machine) and every section."""
    env = environment()
    peers = ", ".join(f"{d} {v}" for d, v in env["peers"].items() if v)
    absent = [d for d, v in env["peers"].items() if not v]
    built = [m for m, ok in env["compiled"].items() if ok]
    missing = [m for m, ok in env["compiled"].items() if not ok]
    compiled = ", ".join(built) + (f" (not built: {', '.join(missing)})" if missing else "") if built else "none"
    head = [
        f"wscodec {env['wscodec']} on {env['python']}, {env['machine']}; compiled modules: {compiled}",
        f"peers: {peers or 'none'}" + (f"; not installed: {', '.join(absent)}" if absent else ""),
    ]
    return "\n\n".join(["\n".join(head), *(render_section(s) for s in sections)]) + "\n"


class ProgressLine:
    """Says on ``stream`` what is being measured.

    One rewritten line on a terminal, a line every few seconds otherwise.
    """

    def __init__(self, stream: TextIO = sys.stderr, interval: float = 5.0) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._interval = interval
        self._last = 0.0
        self._shown = False

    def __call__(self, message: str) -> None:
        """Show ``message``."""
        if self._tty:
            width = shutil.get_terminal_size().columns - 1
            self._stream.write("\r" + message[:width].ljust(width))
            self._stream.flush()
            self._shown = True
        elif time.monotonic() - self._last >= self._interval:
            self._last = time.monotonic()
            self._stream.write(message + "\n")
            self._stream.flush()

    def clear(self) -> None:
        """Erase the line (on a terminal) before the results are printed."""
        if self._shown:
            self._stream.write("\r" + " " * (shutil.get_terminal_size().columns - 1) + "\r")
            self._stream.flush()
            self._shown = False
