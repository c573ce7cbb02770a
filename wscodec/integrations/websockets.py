"""Shim for websockets: wscodec's masking behind ``apply_mask(data, mask) -> bytes``.

websockets selects ``websockets.speedups.apply_mask`` (C) or
``websockets.utils.apply_mask`` (pure) at import time and copies it with
``from … import apply_mask`` into ``websockets.frames`` (the new API, asyncio,
sync and sans-I/O) and ``websockets.legacy.framing`` (the deprecated API).
The shim replaces those copies and the selected source, so that a later
import of the legacy API binds the replacement too; it does not import the
legacy API itself (that import emits a DeprecationWarning).

The replacement is ``HostMaskFallback(original).apply_mask``, a method
written in C (a Python-level wrapper would cost more per call than the
host's whole C function): arguments the host's function might treat
specially (anything but a ``bytes``/``bytearray`` payload with a 4-byte
``bytes`` key) go to the host's own function, so errors are the host's,
word for word.
websockets parses frames in Python but decodes text with ``bytes.decode`` (C),
so masking is the only kernel worth replacing.
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
HOST = "websockets"
#: host versions whose internals this shim was written against
TESTED_VERSIONS = ("17.4",)

_LEGACY = "websockets.legacy.framing"
# where frames.apply_mask may come from: the C speedups, else the pure fallback
_SOURCES = ("websockets.speedups", "websockets.utils")


def _source_of(original: object) -> tuple[str, ModuleType]:
    """The module websockets took ``apply_mask`` from: its C speedups or its pure utils."""
    for name in _SOURCES:
        module = sys.modules.get(name)
        if module is not None and getattr(module, "apply_mask", None) is original:
            return name, module
    raise UnsupportedHostError(
        "websockets.frames.apply_mask comes from neither websockets.speedups nor websockets.utils"
    )


def _plan(impl: ModuleType) -> Plan:
    frames = importlib.import_module("websockets.frames")
    original = expect_function(frames, "apply_mask", ("data", "mask"))
    source_name, source = _source_of(original)
    where = ["websockets.frames.apply_mask", f"{source_name}.apply_mask", f"{_LEGACY}.apply_mask"]
    if native_beats_pure(original, impl):
        why = f"the host's compiled {source_name}.apply_mask is faster than pure-Python wscodec"
        return [Leave(name, why) for name in where]
    what = f"wscodec apply_mask ({impl.NAME})"
    replacement = host_mask_fallback(impl, original).apply_mask
    plan: Plan = [
        Replace(frames, "apply_mask", replacement, what),
        Replace(source, "apply_mask", replacement, what, followers=(_LEGACY,)),
    ]
    legacy = sys.modules.get(_LEGACY)
    if legacy is not None:
        expect_function(legacy, "apply_mask", ("data", "mask"))
        plan.append(Replace(legacy, "apply_mask", replacement, what))
    return plan


_SHIM = Shim(HOST, TESTED_VERSIONS, _plan)


def install(impl: ModuleType | str | None = None) -> InstallReport:
    """Replace websockets' ``apply_mask`` with wscodec's (``impl``: default the active one).

    Idempotent; returns what was replaced and what was left alone and why.
    Raises :class:`~wscodec.integrations.UnsupportedHostError` on an untested
    websockets version or unexpected internals.
    """
    return _SHIM.install(impl)


def uninstall() -> None:
    """Restore websockets' own ``apply_mask`` everywhere the shim replaced it."""
    _SHIM.uninstall()


def is_installed() -> bool:
    """True while the shim is installed."""
    return _SHIM.is_installed()


def describe(impl: ModuleType | str | None = None) -> list[str]:
    """What :func:`install` would replace or leave alone, one line per name."""
    return _SHIM.describe(impl)


def echo_roundtrip(size: int, count: int) -> float:
    """Messages per second over a loopback echo (websockets' asyncio server and client).

    One binary message of ``size`` bytes at a time, sent and echoed back,
    ``count`` times after a short warm-up; compression off.
    """
    return asyncio.run(_echo(size, count))


async def _echo(size: int, count: int) -> float:
    from websockets.asyncio.client import connect
    from websockets.asyncio.server import ServerConnection, serve

    async def handler(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    payload = bytes(size)
    async with serve(handler, "127.0.0.1", 0, compression=None, max_size=None) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", compression=None, max_size=None) as client:
            for _ in range(min(count, 10)):
                await client.send(payload)
                await client.recv()
            start = time.perf_counter()
            for _ in range(count):
                await client.send(payload)
                await client.recv()
            elapsed = time.perf_counter() - start
    return count / elapsed
