"""Timing engine and result tables shared by every benchmark section.

Section shape
-------------
Every benchmark section -- the ones here and those of ``--server`` and
``--integrations`` -- is a plain dict that ``json.dumps`` accepts::

    {
        "title":   str,                      # what was measured, with the unit
        "columns": [str, ...],               # header of each column
        "rows":    [[str | float | int | None, ...], ...],  # one value per column
        "notes":   [str, ...],               # method, caveats, contention
    }

Conventions the renderer and the exit status rely on:

* ``None`` is an empty cell (rendered as ``-``); a string is shown as is
  (``"not installed"``, ``"error"``, ``"too slow"``).
* A row whose first cell starts with ``"ERROR"`` reports a failed correctness
  check or a crash; ``python -m wscodec bench`` exits with status 1 if any
  section holds one.
* A row whose first cell is :data:`RATIO` (``"  vs best peer"``) holds
  ratios for the wscodec row just above it, one per value column (best
  peer's time / this row's time: above 1 is faster than every peer); they
  are printed as ``1.23x``. A table may instead compare with named peers:
  one row per peer, ``"  vs <peer>"`` (:func:`ratio_label`); every row
  whose first cell starts with :data:`RATIO_PREFIX` is a ratio row.

A module providing sections to the command (``server_echo``,
``integrations``) exposes ``run(args, progress) -> list[Section]``, where
``args`` is the command's ``argparse.Namespace`` (``args.quick`` asks for a
short run) and ``progress(message: str)`` shows what is running on stderr.
Own sections build their tables with :func:`table`.

Timing method
-------------
The machine these run on is shared and noisy, so (see :func:`measure`): every
timed call is checked against an oracle first; each cell is calibrated so a
round lasts about ``Settings.round_ns``; the cells of a section are then
interleaved over several passes (a burst of noise hits one pass of a cell,
not all its rounds) and the median of all rounds is reported. The garbage
collector is off while timing, and the timing loop holds the function and
its arguments in local variables.

Rounds are timed with the thread's CPU-time clock where it has fine
resolution (Linux): time spent preempted by other processes -- on a busy
two-core machine, most of the noise -- is then not counted, while cache and
memory-bandwidth contention still is. Elsewhere the wall clock
(``perf_counter_ns``) is used.
"""

from __future__ import annotations

import gc
import itertools
import os
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypedDict

__all__ = [
    "ERROR",
    "RATIO",
    "RATIO_PREFIX",
    "Call",
    "Cell",
    "Column",
    "CpuContention",
    "Measurement",
    "Progress",
    "Row",
    "Section",
    "Settings",
    "cpu_contention",
    "measure",
    "ratio_label",
    "table",
]

ERROR = "ERROR"
RATIO_PREFIX = "  vs "
RATIO = RATIO_PREFIX + "best peer"


def ratio_label(peer: str) -> str:
    """The first cell of a row of ratios against ``peer``."""
    return RATIO_PREFIX + peer


# The thread CPU clock reads in ~0.5 us (a system call): nothing next to a round of milliseconds.
if time.get_clock_info("thread_time").resolution <= 1e-6:
    CLOCK, CLOCK_NAME = time.thread_time_ns, "thread CPU time"
else:
    CLOCK, CLOCK_NAME = time.perf_counter_ns, "wall clock"

Value = str | float | int | None
Progress = Callable[[str], None]


class Section(TypedDict):
    """One result table; see the module docstring for the conventions."""

    title: str
    columns: list[str]
    rows: list[list[Value]]
    notes: list[str]


@dataclass(frozen=True)
class Settings:
    """How long and how often each cell is timed."""

    passes: int = 4
    rounds_per_pass: int = 3
    round_ns: int = 4_000_000
    max_call_ns: int = 1_000_000_000  # a cell whose single call takes longer is skipped

    @classmethod
    def quick(cls) -> Settings:
        """One tiny round per cell: checks everything, measures roughly (for tests and smoke runs)."""
        return cls(passes=1, rounds_per_pass=1, round_ns=200_000)

    def describe(self) -> str:
        """One sentence for the notes of a section."""
        rounds = self.passes * self.rounds_per_pass
        return (
            f"median of {rounds} round{'s' if rounds > 1 else ''} per cell "
            f"({self.passes} interleaved passes x {self.rounds_per_pass}), ~{self.round_ns / 1e6:g} ms per round "
            f"({CLOCK_NAME}), GC off; ns/call includes the Python call and loop"
        )


@dataclass(frozen=True)
class Call:
    """A call to time, ``fn(*args, **kwargs)``, and how to read its result for the correctness check.

    ``result`` maps the return value -- or the exception raised -- to
    something comparable with the oracle's answer; it may also read state
    the call changed (an in-place buffer, a fake transport).
    """

    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    result: Callable[[Any], Any] = lambda value: value

    def checked(self) -> Any:
        """Call once and return ``result`` of the value or of the exception raised.

        An exception that ``result`` does not interpret is returned as is,
        for the report.
        """
        try:
            value = self.fn(*self.args, **self.kwargs)
        except Exception as exc:  # noqa: BLE001 -- the check reports any failure; it must not stop the run
            value = exc
        try:
            return self.result(value)
        except Exception:
            if isinstance(value, Exception):
                return value
            raise


@dataclass(frozen=True)
class Cell:
    """One measurement: a row (implementation) at a column (input).

    ``bind`` builds a fresh :class:`Call` (fresh state: a new masker, buffer
    or decoder); one is used for the correctness check, another for timing.
    ``expected`` is the oracle's answer for ``Call.checked()``; ``also``
    adds checks on other inputs (an invalid text a validator must reject).
    """

    row: str
    column: str
    bind: Callable[[], Call]
    expected: Any
    also: tuple[tuple[Callable[[], Call], Any], ...] = ()  # more (bind, expected) checks, not timed

    @property
    def key(self) -> tuple[str, str]:
        """``(row, column)``."""
        return (self.row, self.column)


@dataclass(frozen=True)
class Measurement:
    """The median time of one call, or why there is none."""

    ns: float | None = None
    spread: float = 0.0  # (max - min) / median over the rounds
    error: str | None = None
    skipped: str | None = None


_LOOPS: dict[tuple[int, tuple[str, ...]], Callable[..., int]] = {}


def _timing_loop(nargs: int, kwnames: tuple[str, ...]) -> Callable[..., int]:
    """Compile ``loop(n, fn, a0.., k0..) -> ns`` that calls ``fn`` n times with every name a local."""
    key = (nargs, kwnames)
    if key not in _LOOPS:
        params = [f"a{i}" for i in range(nargs)] + [f"k{i}" for i in range(len(kwnames))]
        call = [f"a{i}" for i in range(nargs)] + [f"{name}=k{i}" for i, name in enumerate(kwnames)]
        source = (
            f"def loop(n, fn, {', '.join(params)}):\n"
            "    it = repeat(None, n)\n"
            "    start = clock()\n"
            "    for _ in it:\n"
            f"        fn({', '.join(call)})\n"
            "    return clock() - start\n"
        )
        namespace: dict[str, Any] = {"repeat": itertools.repeat, "clock": CLOCK}
        exec(compile(source, "<wscodec-bench-loop>", "exec"), namespace)
        _LOOPS[key] = namespace["loop"]
    return _LOOPS[key]


@dataclass
class _Timed:
    """A cell that passed its check, ready to be timed ``n`` calls per round."""

    cell: Cell
    loop: Callable[..., int]
    params: tuple[Any, ...]
    n: int = 1
    samples: list[float] = field(default_factory=list)

    def round(self) -> float:
        return self.loop(self.n, *self.params) / self.n


def _prepare(cell: Cell, settings: Settings) -> _Timed | Measurement:
    """Check the cell against its oracle and calibrate its calls per round."""
    try:
        for bind, expected in ((cell.bind, cell.expected), *cell.also):
            got = bind().checked()
            if got != expected:
                return Measurement(error=_mismatch(got, expected))
        call = cell.bind()
    except Exception as exc:  # noqa: BLE001 -- a broken binding is reported, never fatal
        return Measurement(error=f"{type(exc).__name__}: {exc}")
    kwnames = tuple(call.kwargs)
    timed = _Timed(
        cell,
        _timing_loop(len(call.args), kwnames),
        (call.fn, *call.args, *(call.kwargs[k] for k in kwnames)),
    )
    try:
        once = timed.round()
        if once > settings.max_call_ns:
            return Measurement(skipped="too slow")
        # Grow n tenfold until a round is long enough to time reliably, then scale it to the target.
        elapsed = once
        while elapsed < settings.round_ns / 10:
            timed.n *= 10
            elapsed = timed.round() * timed.n
        timed.n = max(1, round(settings.round_ns * timed.n / max(elapsed, 1.0)))
    except Exception as exc:  # noqa: BLE001 -- as above
        return Measurement(error=f"{type(exc).__name__} while timing: {exc}")
    return timed


def _mismatch(got: Any, expected: Any) -> str:
    """Say briefly how a result differs from the oracle's."""
    if isinstance(got, Exception):
        return f"raised {type(got).__name__}: {got}"
    if isinstance(got, (bytes, bytearray)) and isinstance(expected, (bytes, bytearray)):
        if len(got) != len(expected):
            return f"output has {len(got)} bytes, expected {len(expected)}"
        first = next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), None)
        return f"output differs from the oracle at byte {first}"
    if isinstance(got, list) and isinstance(expected, list):
        if len(got) != len(expected):
            return f"{len(got)} items, expected {len(expected)}"
        first = next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), None)
        return f"item {first} differs from the oracle"
    text = repr(got)
    return f"returned {text[:60]}{'...' if len(text) > 60 else ''}, expected {expected!r}"[:200]


def measure(
    title: str, cells: Sequence[Cell], settings: Settings, progress: Progress
) -> dict[tuple[str, str], Measurement]:
    """Check every cell, then time them interleaved; return a measurement per ``cell.key``."""
    results: dict[tuple[str, str], Measurement] = {}
    ready: list[_Timed] = []
    for i, cell in enumerate(cells, 1):
        progress(f"{title}: checking {i}/{len(cells)} {cell.row} @ {cell.column}")
        outcome = _prepare(cell, settings)
        if isinstance(outcome, Measurement):
            results[cell.key] = outcome
        else:
            ready.append(outcome)
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for p in range(settings.passes):
            # Alternate the order so a slow drift of the machine does not favour the first cells.
            order = ready if p % 2 == 0 else ready[::-1]
            for i, timed in enumerate(order, 1):
                if timed.cell.key in results:
                    continue  # failed in an earlier pass
                cell = timed.cell
                progress(f"{title}: pass {p + 1}/{settings.passes}, {i}/{len(order)} {cell.row} @ {cell.column}")
                try:
                    for _ in range(settings.rounds_per_pass):
                        timed.samples.append(timed.round())
                except Exception as exc:  # noqa: BLE001 -- reported as the cell's error
                    results[cell.key] = Measurement(error=f"{type(exc).__name__} while timing: {exc}")
    finally:
        if enabled:
            gc.enable()
    for timed in ready:
        if timed.cell.key in results:
            continue
        median = statistics.median(timed.samples)
        spread = (max(timed.samples) - min(timed.samples)) / median if median else 0.0
        results[timed.cell.key] = Measurement(ns=median, spread=spread)
    return results


# ---------------------------------------------------------------- tables


@dataclass(frozen=True)
class Row:
    """An implementation: a table row. ``missing`` says why it has no cells ("not installed")."""

    label: str
    version: str
    kind: str
    ours: bool = False
    missing: str | None = None


@dataclass(frozen=True)
class Column:
    """A value column: the cell column ``key`` it reads, shown in ``unit`` under ``title``.

    ``unit`` is ``"ns"`` (per call), ``"GB/s"`` (``nbytes`` per call),
    ``"frames/s"`` (``frames`` per call) or ``"us/msg"`` (microseconds per
    message, a call handling ``frames`` messages).
    """

    key: str
    unit: str
    nbytes: int = 0
    frames: int = 0
    title: str = ""  # the input as shown; ``key`` when empty (keys are unique per section, titles per table)

    @property
    def label(self) -> str:
        """The header: input and unit."""
        return f"{self.title or self.key} {self.unit}"

    def value(self, ns: float) -> float | int:
        """Convert a time per call to this column's unit."""
        if self.unit == "ns":
            return round(ns, 1)
        if self.unit == "GB/s":
            return round(self.nbytes / ns, 3)
        if self.unit == "frames/s":
            return round(self.frames * 1e9 / ns)
        if self.unit == "us/msg":
            return round(ns / self.frames / 1000, 3)
        raise ValueError(f"unknown unit {self.unit!r}")


def table(
    title: str,
    rows: Sequence[Row],
    columns: Sequence[Column],
    results: Mapping[tuple[str, str], Measurement],
    notes: Sequence[str] = (),
    versus: Sequence[tuple[str, str]] = (),
) -> Section:
    """Lay measurements out as a :class:`Section`: one row per implementation, ratio rows under each of ours.

    Without ``versus`` each of our rows gets one ratio row, against the best
    peer of each column; ``versus`` lists ``(peer row label, name)`` pairs,
    and each of our rows then gets a ratio row per named peer instead.
    """
    out: list[list[Value]] = []
    errors: list[list[Value]] = []

    def fastest(labels: Sequence[str], column: Column) -> float | None:
        return min((m.ns for label in labels if (m := results.get((label, column.key))) and m.ns), default=None)

    peers = [r.label for r in rows if not r.ours]
    baselines = [(RATIO, peers)] if not versus else [(ratio_label(name), [label]) for label, name in versus]
    best = {(first, c.key): fastest(labels, c) for first, labels in baselines for c in columns}
    spreads: list[tuple[float, str]] = []
    reported: set[tuple[str, str]] = set()
    for row in rows:
        line: list[Value] = [row.label, row.version if row.missing is None else row.missing, row.kind]
        ratios: list[list[Value]] = [[first, "", ""] for first, _ in baselines]
        for column in columns:
            m = results.get((row.label, column.key))
            if m is None or not m.ns:
                for ratio in ratios:
                    ratio.append(None)
            if m is None:
                line.append(None)
            elif m.ns:
                line.append(column.value(m.ns))
                for ratio in ratios:
                    peer = best[(str(ratio[0]), column.key)]
                    ratio.append(round(peer / m.ns, 2) if peer else None)
                spreads.append((m.spread, f"{row.label} @ {column.key}"))
            else:
                line.append("error" if m.error else m.skipped)
                if m.error and (row.label, column.key) not in reported:  # two columns may show one cell
                    reported.add((row.label, column.key))
                    errors.append([f"{ERROR}: {row.label} @ {column.key}", m.error] + [None] * (len(columns) + 1))
        out.append(line)
        if row.ours and row.missing is None:
            out += ratios
    notes = list(notes)
    if any(row.missing == "not built" for row in rows):
        notes.append("'not built': wscodec's compiled modules are missing (python setup.py build_ext --inplace)")
    if spreads:
        worst, where = max(spreads)
        notes.append(f"largest spread (max-min)/median over a cell's rounds: {worst:.0%} ({where})")
    return {
        "title": title,
        "columns": ["impl", "version", "kind", *(c.label for c in columns)],
        "rows": out + errors,
        "notes": notes,
    }


# ---------------------------------------------------------------- contention


class CpuContention:
    """How busy other processes kept the CPUs while a section ran (Linux; unknown elsewhere).

    Use :func:`cpu_contention`; after the ``with`` block :attr:`others` is the
    average number of CPUs busy outside this process, or None.
    """

    def __init__(self) -> None:
        self.others: float | None = None

    def note(self) -> str | None:
        """A sentence for a section's notes, or None if unknown."""
        if self.others is None:
            return None
        return f"other processes kept {self.others:.2f} of {os.cpu_count()} CPUs busy on average during this section"


def _cpu_sample() -> tuple[float, float, float] | None:
    """(CPU seconds busy machine-wide, CPU seconds of this process, wall clock), or None without /proc/stat."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = f.readline().split()[1:]
    except OSError:
        return None
    # user nice system idle iowait irq softirq steal: busy is all but idle and iowait
    values = [int(v) for v in fields[:8]]
    busy = (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")
    own = os.times()
    return busy, own.user + own.system, time.monotonic()


@contextmanager
def cpu_contention() -> Iterator[CpuContention]:
    """Measure :class:`CpuContention` over the ``with`` block."""
    result = CpuContention()
    start = _cpu_sample()
    yield result
    end = _cpu_sample()
    if start is not None and end is not None and end[2] > start[2]:
        busy, own, wall = (b - a for a, b in zip(start, end))
        result.others = max(0.0, (busy - own) / wall)
