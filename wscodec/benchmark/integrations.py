"""``python -m wscodec bench --integrations``: each host's loopback echo with and without its shim.

For every host library that is installed, its benchmark module's
``echo_roundtrip(size, count, **kind)`` (:mod:`wscodec.benchmark.hosts`: the host's own
server and client echoing one message at a time) is timed at 16 B, 1 KiB, 64 KiB and 1 MiB
with the host alone and with the shim installed (the active wscodec
implementation). The two configurations alternate within every pass, in
alternating order, and the median of the passes is reported, so a burst of
noise on this shared machine hits one pass of one configuration, not all.

A host's benchmark module declares ``KINDS``; the kind
``"text"`` is measured as ``echo_roundtrip(size, count, text=True)``, for
hosts whose shim replaces text validation, and ``"text validation"`` as the
module's ``text_validation_rate(size, count)``: the host's validator alone,
for a host whose echo costs far more than its validation. The kind
``"deflate text"`` is ``echo_roundtrip(size, count, text=True, deflate=True)``
at 64 B, 1 KiB and 64 KiB: JSON-like text
(:func:`~wscodec.benchmark.inputs.json_text`) with the host's
permessage-deflate on, at the host's own defaults.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import importlib.metadata
import statistics
from collections.abc import Callable
from types import ModuleType
from typing import NamedTuple

from ..integrations import SHIMS, InstallReport, UnsupportedHostError, shim_module
from .harness import ERROR, Progress, Section, Value
from .inputs import json_text

__all__ = ["DEFLATE_SIZES", "SIZES", "json_text_messages", "run"]

#: message sizes of the echo, in bytes
SIZES = (16, 1024, 65536, 1 << 20)
#: message sizes of the echo with compression on (kind ``"deflate text"``), in bytes
DEFLATE_SIZES = (64, 1024, 65536)
# The kind measured with compression on ("deflate": its former name, still understood).
_DEFLATE_KINDS = ("deflate text", "deflate")

_COLUMNS = [
    "host",
    "messages",
    "size",
    "host alone (msg/s)",
    "with shim (msg/s)",
    "shim / alone",
    "range over passes",
]


def _label(size: int) -> str:
    if size >= 1 << 20:
        return f"{size >> 20} MiB"
    if size >= 1024:
        return f"{size >> 10} KiB"
    return f"{size} B"


class _Result(NamedTuple):
    alone: float  # median messages/s, host alone
    shimmed: float  # median messages/s, with the shim
    ratios: list[float]  # with/alone of each pass (the two runs of a pass are adjacent in time)


@functools.lru_cache(maxsize=8)
def json_text_messages(size: int, count: int = 64) -> tuple[str, ...]:
    """The ``count`` JSON-like text messages of ``size`` bytes the echoes with compression on send, in
    turn (:func:`~wscodec.benchmark.inputs.json_text`: they share keys, not values, so that with context
    takeover a message compresses against the ones before it as in a real feed, not to nothing)."""
    return tuple(json_text(size, index) for index in range(count))


def _rate(module: ModuleType, kind: str) -> Callable[[int, int], float]:
    """The function of benchmark module ``module`` (:mod:`wscodec.benchmark.hosts`) measuring ``kind``
    for one host: ``rate(size, count) -> messages per second``."""
    if kind == "text validation":
        return module.text_validation_rate  # type: ignore[no-any-return]
    if kind in _DEFLATE_KINDS:
        return functools.partial(module.echo_roundtrip, text=True, deflate=True)
    if kind == "text":
        return functools.partial(module.echo_roundtrip, text=True)
    return module.echo_roundtrip  # type: ignore[no-any-return]


def _measure(module: ModuleType, bench: ModuleType, kind: str, size: int, passes: int, seconds: float) -> _Result:
    """Rates of ``bench`` with and without the shim ``module``; the count is calibrated to last about ``seconds``."""
    echo = _rate(bench, kind)
    module.uninstall()
    count = max(5, min(50_000, int(seconds * echo(size, 20))))
    alone: list[float] = []
    shimmed: list[float] = []
    for index in range(passes):
        for with_shim in (False, True) if index % 2 == 0 else (True, False):
            if with_shim:
                module.install()
            else:
                module.uninstall()
            (shimmed if with_shim else alone).append(echo(size, count))
    module.uninstall()
    ratios = sorted(b / a for a, b in zip(alone, shimmed, strict=True))
    return _Result(statistics.median(alone), statistics.median(shimmed), ratios)


def _summary(report: InstallReport) -> str:
    """What the shim of one host did, names grouped by what replaced them or why they were left alone."""
    groups: dict[str, list[str]] = {}
    for where, what in report.replaced.items():
        groups.setdefault(f"replaced by {what}", []).append(where)
    for where, why in report.left_alone.items():
        groups.setdefault(f"left alone ({why})", []).append(where)
    parts = [f"{', '.join(names)}: {how}" for how, names in groups.items()]
    return f"{report.host} shim on wscodec ({report.implementation}): " + "; ".join(parts)


def _host_rows(host: str, passes: int, seconds: float, progress: Progress, notes: list[str]) -> list[list[Value]]:
    """The rows of one host (and its notes: what the shim replaced)."""
    module = shim_module(host)
    try:
        version = importlib.metadata.version(module.HOST)
    except importlib.metadata.PackageNotFoundError:
        return [[host, None, None, "not installed", None, None, None]]
    name = f"{host} {version}"
    try:
        report = module.install()
    except UnsupportedHostError as exc:
        notes.append(str(exc))
        return [[name, None, None, "unsupported", None, None, None]]
    finally:
        module.uninstall()
    notes.append(_summary(report))
    bench = importlib.import_module(f"{__package__}.hosts.{host}")
    rows: list[list[Value]] = []
    for kind in bench.KINDS:
        for size in DEFLATE_SIZES if kind in _DEFLATE_KINDS else SIZES:
            progress(f"integrations: {host} {kind} {_label(size)}")
            try:
                result = _measure(module, bench, kind, size, passes, seconds)
            except Exception as exc:  # noqa: BLE001 - one broken host must not hide the others
                rows.append([f"{ERROR} {name} {kind} {_label(size)}: {type(exc).__name__}: {exc}"])
                continue
            spread = f"{result.ratios[0]:.2f}-{result.ratios[-1]:.2f}"
            ratio = statistics.median(result.ratios)
            rows.append([name, kind, _label(size), result.alone, result.shimmed, ratio, spread])
    return rows


def run(args: argparse.Namespace, progress: Progress) -> list[Section]:
    """Measure every installed host with and without its shim; one section."""
    quick = bool(getattr(args, "quick", False))
    passes, seconds = (1, 0.02) if quick else (11, 0.15)
    notes: list[str] = []
    rows: list[list[Value]] = []
    for host in SHIMS:
        try:
            rows += _host_rows(host, passes, seconds, progress, notes)
        except Exception as exc:  # noqa: BLE001 - one broken shim must not hide the others
            rows.append([f"{ERROR} {host}: {type(exc).__name__}: {exc}"])
    notes.insert(
        0,
        "one message at a time over loopback TCP, the host's own server and client in one process "
        "(wsproto, sans-I/O: its two connections pass each other their bytes in memory); "
        "'text validation': the host's validator alone on each text message (autobahn's reset() and "
        "validate(), multi-byte UTF-8); 'deflate text': distinct JSON-like text messages with the host's "
        "permessage-deflate negotiated at its own defaults (context takeover, 15-bit windows, level 6, "
        "memLevel 8 for wsproto, tornado and autobahn), the other kinds with compression off; "
        f"{passes} passes of ~{seconds:g} s per configuration, the two configurations "
        "back to back within each pass (in alternating order); rates are medians over the passes, "
        "'shim / alone' the median of the per-pass ratios and the range their lowest and highest",
    )
    return [
        {
            "title": "Integrations: loopback echo, messages per second, host alone vs with the wscodec shim",
            "columns": _COLUMNS,
            "rows": rows,
            "notes": notes,
        }
    ]
