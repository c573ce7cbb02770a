"""Run websockets' own test suite (unittest) with wscodec's websockets shim installed first.

Usage: ``python run_websockets_suite.py TESTS_PARENT [unittest discover arguments]``,
where ``TESTS_PARENT`` is the folder holding websockets' ``tests`` package (a
checkout of its repository). ``WSCODEC_SHIM_IMPL`` picks the wscodec
implementation ("python" or "cython"; default: the active one);
``WEBSOCKETS_NO_SPEEDUPS=1`` runs websockets as if built without its C
extension. The run fails if the shim is not installed at the end.
"""

from __future__ import annotations

import os
import sys
import unittest

from _runner import run_under_shim  # this script's folder


def tests() -> None:
    """The tests discovered in ``sys.argv[1]``'s ``tests`` package; exits 1 if any failed."""
    parent = sys.argv[1]
    sys.path.insert(0, parent)
    suite = unittest.defaultTestLoader.discover(os.path.join(parent, "tests"), top_level_dir=parent)
    if not unittest.TextTestRunner(verbosity=1).run(suite).wasSuccessful():
        sys.exit(1)


if __name__ == "__main__":
    if os.environ.get("WEBSOCKETS_NO_SPEEDUPS"):
        sys.modules["websockets.speedups"] = None  # type: ignore[assignment]  # as if not built, before any import
    sys.exit(run_under_shim("websockets", tests))
