"""``python -m wscodec bench``: wscodec against the installed WebSocket libraries, side by side.

Sections: ``mask`` (masking, copying and in place), ``utf8`` (validation),
``frames`` (stream decoding and frame encoding) and ``deflate``
(permessage-deflate: round trip, compress, inflate, receive); ``--server``,
``--integrations`` and ``--memory`` run the echo-server, drop-in-shim and
memory-per-connection benchmarks of :mod:`wscodec.benchmark.server_echo`,
:mod:`wscodec.benchmark.integrations` and :mod:`wscodec.benchmark.memory`,
modules that expose ``run(args, progress) -> list[section]``. Every section
is a dict of the shape documented in :mod:`wscodec.benchmark.harness`; the
command prints them as tables, or with ``--json`` as one JSON document
``{"wscodec", "compiled", "python", "machine", "peers", "settings",
"sections": [...]}``. ``--plot DIR`` also draws one bar chart per section into
``DIR`` (:mod:`wscodec.benchmark.plot`; matplotlib, the ``plot`` extra). The
exit status is 1 if any correctness check failed, 2 if a requested section or
matplotlib is unavailable.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .harness import Section

    SectionRunner = Callable[..., list[Section]]

HELP = "measure wscodec against the installed WebSocket libraries (masking, UTF-8, frames, permessage-deflate)"

#: Own sections, in the order they run: name -> "module:function".
SECTIONS = {
    "mask": "wscodec.benchmark.primitives:run_mask",
    "utf8": "wscodec.benchmark.primitives:run_utf8",
    "frames": "wscodec.benchmark.frames:run",
    "deflate": "wscodec.benchmark.deflate:run",
}

#: Sections other modules provide, each ``run(args, progress) -> list[section]``: flag -> module.
EXTERNAL = {
    "server": "wscodec.benchmark.server_echo",
    "integrations": "wscodec.benchmark.integrations",
    "memory": "wscodec.benchmark.memory",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``bench`` options."""
    parser.add_argument("--json", action="store_true", help="print the results as one JSON document instead of tables")
    parser.add_argument(
        "--quick", action="store_true", help="one short round per cell: checks everything, times roughly"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=list(SECTIONS),
        metavar="SECTION",
        help=f"run only these sections (of: {', '.join(SECTIONS)}); default: all",
    )
    parser.add_argument(
        "--server",
        action="store_true",
        help="run the echo-server round-trip benchmark (alone, or after the --only sections)",
    )
    parser.add_argument(
        "--instructions",
        choices=["auto", "only", "no"],
        default="auto",
        help=(
            "with --server: also count each server's instructions per round trip under valgrind's callgrind "
            "(auto: where valgrind is installed; only: that table alone; no: never) (default: %(default)s)"
        ),
    )
    parser.add_argument(
        "--integrations",
        action="store_true",
        help="run the drop-in integration benchmark (alone, or after the --only sections)",
    )
    parser.add_argument(
        "--memory",
        action="store_true",
        help=(
            "measure memory per connection with permessage-deflate, per backend and setting, next to websockets "
            "(alone, or after the --only sections)"
        ),
    )

    parser.add_argument(
        "--plot",
        metavar="DIR",
        help="also write one bar chart per table into DIR (needs matplotlib: pip install 'wscodec[plot]')",
    )
    parser.add_argument(
        "--plot-format", choices=("svg", "png"), default="svg", help="the charts' file format (default: svg)"
    )


def _own(name: str) -> SectionRunner:
    module, function = SECTIONS[name].split(":")
    runner: SectionRunner = getattr(importlib.import_module(module), function)
    return runner


def _external(flag: str) -> SectionRunner | None:
    """The ``run`` of an external section's module; None (and a message) if that module is missing."""
    module = EXTERNAL[flag]
    try:
        runner: SectionRunner = importlib.import_module(module).run
        return runner
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        print(
            f"python -m wscodec bench --{flag}: {module} is not available in this version of wscodec",
            file=sys.stderr,
        )
        return None


def run(args: argparse.Namespace) -> int:
    """Run the chosen sections; print tables or JSON; 1 if a check failed, 2 if a section or matplotlib is missing."""
    from .harness import Settings
    from .report import ProgressLine, document, has_errors, render

    plot = getattr(args, "plot", None)
    if plot is not None:
        from . import plot as charts

        try:  # before measuring anything: a missing matplotlib is reported in a second, not after the run
            charts.require()
        except charts.PlotUnavailable as exc:
            print(f"python -m wscodec bench: {exc}", file=sys.stderr)
            return 2

    flags = [flag for flag in EXTERNAL if getattr(args, flag)]
    names = args.only or ([] if flags else list(SECTIONS))
    external = [_external(flag) for flag in flags]
    runners = [runner for runner in external if runner is not None]
    if len(runners) < len(external):
        return 2
    settings = Settings.quick() if args.quick else Settings()
    progress = ProgressLine(sys.stderr)
    sections: list[Section] = []
    try:
        for name in names:
            sections += _own(name)(settings, progress)
        for runner in runners:
            sections += runner(args, progress)
    finally:
        progress.clear()
    if args.json:
        json.dump(document(sections, settings), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render(sections))
    if plot is not None:
        for path in charts.write(sections, plot, getattr(args, "plot_format", "svg")):
            print(f"wrote {path}", file=sys.stderr)
    return 1 if has_errors(sections) else 0
