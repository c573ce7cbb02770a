"""Shim for aiohttp: wscodec's masking behind ``websocket_mask(mask, data)`` (in place).

aiohttp selects ``_websocket_mask_cython`` (compiled) or
``_websocket_mask_python`` in ``aiohttp._websocket.helpers`` and copies the
choice with ``from .helpers import websocket_mask`` into
``aiohttp._websocket.writer`` (client-side masking) and
``aiohttp._websocket.reader_py`` (the pure reader, used when aiohttp runs
without its extensions). Its compiled reader, ``reader_c``, ``cimport``s the
compiled mask at C level: already native, and out of reach of any patch.

With compiled wscodec all three Python-level names are replaced, whichever
mask the host selected: the replacement is a compiled key-first entry
(``HostMaskFallback(host).mask_inplace_keyfirst``), called as cheaply as
aiohttp's own Cython function and with no Python layer in between, so it is
faster than the compiled host mask up to tens of KiB and no slower above, and
tens of times faster than the pure one. Pure-Python wscodec replaces nothing:
its in-place masking is no faster than aiohttp's own ``bytes.translate`` loop
on a bytearray (the same technique), and slower than the compiled one.

Calls outside the fast path (anything but a 4-byte ``bytes`` key and a
``bytearray``; aiohttp's own calls never are) go to the host's own function,
so results and errors are the host's. aiohttp decodes text with
``bytes.decode`` (C) once per message: there is no Python-level UTF-8 work to
replace.
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
)

__all__ = ["HOST", "TESTED_VERSIONS", "describe", "echo_roundtrip", "install", "is_installed", "uninstall"]

#: distribution name of the host library
HOST = "aiohttp"
#: host versions whose internals this shim was written against
TESTED_VERSIONS = ("3.14.5",)

_HELPERS = "aiohttp._websocket.helpers"
_FOLLOWERS = ("aiohttp._websocket.writer", "aiohttp._websocket.reader_py")
_READER_C = "aiohttp._websocket.reader_c"


def _plan(impl: ModuleType) -> Plan:
    helpers = importlib.import_module(_HELPERS)
    original = expect_function(helpers, "websocket_mask", ("mask", "data"))
    native: Plan = [
        Leave(f"{_READER_C}.websocket_mask", "cimported at C level from aiohttp's compiled mask: already native")
    ]
    if impl.NAME == "python":
        why = (
            "pure-Python wscodec masks in place no faster than aiohttp's own bytes.translate loop, "
            "and slower than its compiled mask"
        )
        where = [f"{_HELPERS}.websocket_mask", *(f"{name}.websocket_mask" for name in _FOLLOWERS)]
        return native + [Leave(name, why) for name in where]
    what = f"wscodec mask_inplace_keyfirst ({impl.NAME}; aiohttp's own function outside the fast path)"
    replacement = host_mask_fallback(impl, original).mask_inplace_keyfirst
    plan: Plan = [Replace(helpers, "websocket_mask", replacement, what, followers=_FOLLOWERS)]
    for name in _FOLLOWERS:
        module = sys.modules.get(name)
        if module is not None:
            # Their calls fall back to helpers' function: it must be the one they hold.
            if getattr(module, "websocket_mask", None) is not original:
                raise UnsupportedHostError(
                    f"{name}.websocket_mask is not {_HELPERS}'s; this host version is not supported"
                )
            plan.append(Replace(module, "websocket_mask", replacement, what))
    return native + plan


_SHIM = Shim(HOST, TESTED_VERSIONS, _plan)


def install(impl: ModuleType | str | None = None) -> InstallReport:
    """Replace aiohttp's ``websocket_mask`` with compiled wscodec's (``impl``: default the active one).

    Idempotent; returns what was replaced and what was left alone and why.
    Raises :class:`~wscodec.integrations.UnsupportedHostError` on an untested
    aiohttp version or unexpected internals.
    """
    return _SHIM.install(impl)


def uninstall() -> None:
    """Restore aiohttp's own ``websocket_mask`` everywhere the shim replaced it."""
    _SHIM.uninstall()


def is_installed() -> bool:
    """True while the shim is installed."""
    return _SHIM.is_installed()


def describe(impl: ModuleType | str | None = None) -> list[str]:
    """What :func:`install` would replace or leave alone, one line per name."""
    return _SHIM.describe(impl)


def echo_roundtrip(size: int, count: int) -> float:
    """Messages per second over a loopback echo (aiohttp's web server and ClientSession).

    One binary message of ``size`` bytes at a time, sent and echoed back,
    ``count`` times after a short warm-up; compression off.
    """
    return asyncio.run(_echo(size, count))


async def _echo(size: int, count: int) -> float:
    import aiohttp
    from aiohttp import web

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False, max_msg_size=0)
        await ws.prepare(request)
        async for message in ws:
            await ws.send_bytes(message.data)
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    payload = bytes(size)
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(f"http://127.0.0.1:{port}/", max_msg_size=0) as client,
        ):
            for _ in range(min(count, 10)):
                await client.send_bytes(payload)
                await client.receive()
            start = time.perf_counter()
            for _ in range(count):
                await client.send_bytes(payload)
                await client.receive()
            elapsed = time.perf_counter() - start
    finally:
        await runner.cleanup()
    return count / elapsed
