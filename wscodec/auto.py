"""Opt-in automatic installation of every integration shim.

``import wscodec.auto`` early in a program (or from a ``sitecustomize``/``.pth``
hook, for programs whose start-up code cannot be edited) installs the shim of
every importable host library when the environment variable
``WSCODEC_AUTO_INSTALL`` is ``1``; otherwise it does nothing. A host version
the shims do not support is skipped with a RuntimeWarning naming it, so a
library upgrade never stops the program from starting.
"""

from __future__ import annotations

import os

from .integrations import install_all

__all__ = ["installed"]

#: the hosts patched by this import (empty unless WSCODEC_AUTO_INSTALL=1)
installed: list[str] = install_all(strict=False) if os.environ.get("WSCODEC_AUTO_INSTALL") == "1" else []
