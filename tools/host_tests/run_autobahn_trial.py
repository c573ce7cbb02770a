"""Run autobahn's Twisted test modules under trial with wscodec's autobahn shim installed first.

Usage: ``USE_TWISTED=1 python run_autobahn_trial.py autobahn.websocket.test [more modules]``
(trial's arguments). ``WSCODEC_SHIM_IMPL`` picks the wscodec implementation
("python" or "cython"; default: the active one). The run fails if the shim is
not installed at the end.
"""

from __future__ import annotations

import sys

from _runner import run_under_shim  # this script's folder

from wscodec.integrations import autobahn as shim

# Before 26.7 two of autobahn's own tests assert what 26.7 changed and the shim already does: an
# extension with max_message_size cut the inflated message short, silently (26.7 and the shim raise
# PayloadExceededError), and a message body carrying a zlib checksum after its final block inflated
# (26.7's test sends a permessage-deflate body; the compiled shim refuses bytes after the final block).
_CHANGED_IN_26_7 = ("test_max_size", "test_no_max_size")


def skip_tests_of_old_behaviour() -> None:
    """Mark the tests of ``_CHANGED_IN_26_7`` skipped, before autobahn 26.7 (trial honours ``skip``)."""
    if shim._takes_budget(shim._host_deflate()):
        return
    from autobahn.websocket.test import test_websocket_frame

    deflate_tests = getattr(test_websocket_frame, "TestDeflate", None)
    for name in _CHANGED_IN_26_7 if deflate_tests is not None else ():
        getattr(deflate_tests, name).skip = "asserts the behaviour autobahn 26.7 changed, which the shim has"


def tests() -> None:
    """trial on ``sys.argv[1:]``, once the tests of old behaviour are marked."""
    skip_tests_of_old_behaviour()
    from twisted.scripts.trial import run

    sys.argv = ["trial", *sys.argv[1:]]
    run()


if __name__ == "__main__":
    sys.exit(run_under_shim("autobahn", tests))
