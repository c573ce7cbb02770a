"""Run tornado's own test modules with wscodec's tornado shim installed first.

Usage: ``python run_tornado_suite.py tornado.test.websocket_test [more modules]``
(the arguments of ``python -m tornado.test.runtests``). ``WSCODEC_SHIM_IMPL``
picks the wscodec implementation ("python" or "cython"; default: the active
one); ``TORNADO_NO_EXTENSION=1`` runs tornado without its C speedups. The run
fails if the shim is not installed at the end.
"""

from __future__ import annotations

import sys

from _runner import run_under_shim  # this script's folder


def tests() -> None:
    """tornado's runner on ``sys.argv``."""
    from tornado.test.runtests import main as runtests

    runtests()  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    sys.exit(run_under_shim("tornado", tests))
