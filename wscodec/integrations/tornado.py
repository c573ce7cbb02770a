"""Shim for tornado: wscodec's masking behind ``websocket_mask(mask, data) -> bytes``.

tornado selects ``tornado.speedups.websocket_mask`` (C) or
``tornado.util._websocket_mask_python`` as ``tornado.util._websocket_mask``
and copies it with ``from tornado.util import _websocket_mask`` into
``tornado.websocket`` (frames, both directions) and ``tornado.web`` (XSRF
token masking). The shim replaces all three with a key-first entry
(``HostMaskFallback(host).mask_keyfirst``) that takes tornado's argument
order itself, so no Python layer sits in between: compiled, it is cheaper to
call than tornado's C function (which parses a tuple of arguments on every
call) and masks with wide SIMD. With pure-Python wscodec the compiled host
function is left alone; the pure host function (a byte-by-byte ``array``
loop) is replaced by either implementation.

Calls outside the fast path (anything but a 4-byte ``bytes`` key and
``bytes`` data, e.g. the ``str`` that tornado's C function accepts; tornado's
own calls never are) go to the host's own function, so results and errors
are the host's. tornado decodes text with ``bytes.decode`` (C) once per
message: there is no Python-level UTF-8 work to replace.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
import time
from types import ModuleType

from ._patch import (
    InstallReport,
    Leave,
    Plan,
    Replace,
    Shim,
    UnsupportedHostError,
    expect_function,
    host_mask_fallback,
    native_beats_pure,
)

__all__ = ["HOST", "TESTED_VERSIONS", "describe", "echo_roundtrip", "install", "is_installed", "uninstall"]

#: distribution name of the host library
HOST = "tornado"
#: host versions whose internals this shim was written against
TESTED_VERSIONS = ("6.6.1",)

_FOLLOWERS = ("tornado.websocket", "tornado.web")


def _plan(impl: ModuleType) -> Plan:
    util = importlib.import_module("tornado.util")
    importlib.import_module("tornado.websocket")  # binds its copy (and tornado.web's) now
    original = expect_function(util, "_websocket_mask", ("mask", "data"))
    where = ["tornado.util._websocket_mask", *(f"{name}._websocket_mask" for name in _FOLLOWERS)]
    if native_beats_pure(original, impl):
        why = "tornado's compiled speedups.websocket_mask is faster than pure-Python wscodec"
        return [Leave(name, why) for name in where]
    what = f"wscodec mask_keyfirst ({impl.NAME}; tornado's own function outside the fast path)"
    replacement = host_mask_fallback(impl, original).mask_keyfirst
    plan: Plan = [Replace(util, "_websocket_mask", replacement, what, followers=_FOLLOWERS)]
    for name in _FOLLOWERS:
        module = sys.modules[name]
        if getattr(module, "_websocket_mask", None) is not original:
            raise UnsupportedHostError(
                f"{name}._websocket_mask is not tornado.util's; this host version is not supported"
            )
        plan.append(Replace(module, "_websocket_mask", replacement, what))
    return plan


_SHIM = Shim(HOST, TESTED_VERSIONS, _plan)


def install(impl: ModuleType | str | None = None) -> InstallReport:
    """Replace tornado's ``_websocket_mask`` with wscodec's (``impl``: default the active one).

    Idempotent; returns what was replaced and what was left alone and why.
    Raises :class:`~wscodec.integrations.UnsupportedHostError` on an untested
    tornado version or unexpected internals.
    """
    return _SHIM.install(impl)


def uninstall() -> None:
    """Restore tornado's own ``_websocket_mask`` everywhere the shim replaced it."""
    _SHIM.uninstall()


def is_installed() -> bool:
    """True while the shim is installed."""
    return _SHIM.is_installed()


def describe(impl: ModuleType | str | None = None) -> list[str]:
    """What :func:`install` would replace or leave alone, one line per name."""
    return _SHIM.describe(impl)


def echo_roundtrip(size: int, count: int) -> float:
    """Messages per second over a loopback echo (tornado's WebSocketHandler and websocket_connect).

    One binary message of ``size`` bytes at a time, sent and echoed back,
    ``count`` times after a short warm-up; compression off, TCP_NODELAY on
    both ends (tornado's advice for latency-bound traffic).
    """
    return asyncio.run(_echo(size, count))


async def _echo(size: int, count: int) -> float:
    from tornado.httpserver import HTTPServer
    from tornado.netutil import bind_sockets
    from tornado.web import Application
    from tornado.websocket import WebSocketHandler, websocket_connect

    class Echo(WebSocketHandler):
        def open(self) -> None:
            self.set_nodelay(True)  # else Nagle and delayed ACKs, not the codec, set the pace

        def on_message(self, message: str | bytes) -> None:
            self.write_message(message, binary=isinstance(message, bytes))

    sockets = bind_sockets(0, "127.0.0.1")
    port = sockets[0].getsockname()[1]
    server = HTTPServer(Application([("/", Echo)], websocket_max_message_size=2**31))
    server.add_sockets(sockets)
    payload = bytes(size)
    try:
        client = await websocket_connect(f"ws://127.0.0.1:{port}/", max_message_size=2**31)
        assert client.protocol is not None
        client.protocol.set_nodelay(True)
        for _ in range(min(count, 10)):
            await client.write_message(payload, binary=True)
            await client.read_message()
        start = time.perf_counter()
        for _ in range(count):
            await client.write_message(payload, binary=True)
            await client.read_message()
        elapsed = time.perf_counter() - start
        client.close(1000)
    finally:
        server.stop()
        await server.close_all_connections()
    return count / elapsed
