"""Command line: ``python -m wscodec {info,bench,integrations,serve}``.

Each command lives in its own module exposing ``HELP``, ``add_arguments(parser)``
and ``run(args) -> int``; they are imported only to build this parser, and
import anything heavy only inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "info": "wscodec._info",
    "bench": "wscodec.benchmark.cli",
    "integrations": "wscodec.integrations.cli",
    "serve": "wscodec.server",
}


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; return its exit status."""
    parser = argparse.ArgumentParser(prog="python -m wscodec", description="wscodec: a fast WebSocket frame codec")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = {}
    for name, path in COMMANDS.items():
        module = importlib.import_module(path)
        modules[name] = module
        module.add_arguments(sub.add_parser(name, help=module.HELP, description=module.HELP))
    args = parser.parse_args(argv)
    return int(modules[args.command].run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
