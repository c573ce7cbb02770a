"""Shim for aiohttp: wscodec's masking behind ``websocket_mask(mask, data)`` (in place), and wscodec's
permessage-deflate behind aiohttp's WebSocket compressor and decompressor.

Masking. aiohttp selects ``_websocket_mask_cython`` (compiled) or
``_websocket_mask_python`` in ``aiohttp._websocket.helpers`` and copies the
choice with ``from .helpers import websocket_mask`` into
``aiohttp._websocket.writer`` (client-side masking) and
``aiohttp._websocket.reader_py`` (the pure reader, used when aiohttp runs
without its extensions). Its compiled reader, ``reader_c``, takes the
compiled mask with ``cimport``, at C level: already native, and out of reach of any patch.

With compiled wscodec all three Python-level names are replaced, whichever
mask the host selected: the replacement is a compiled key-first entry
(``HostMaskFallback(host).mask_inplace_keyfirst``), called as cheaply as
aiohttp's own Cython function and with no Python layer in between, so it is
faster than the compiled host mask up to tens of KiB and no slower above, and
tens of times faster than the pure one. Pure-Python wscodec replaces no mask:
its in-place masking is no faster than aiohttp's own ``bytes.translate`` loop
on a bytearray (the same technique), and slower than the compiled one.

Calls outside the fast path (anything but a 4-byte ``bytes`` key and a
``bytearray``; aiohttp's own calls never are) go to the host's own function,
so results and errors are the host's. aiohttp decodes text with
``bytes.decode`` (C) once per message: there is no Python-level UTF-8 work to
replace.

Compression (both wscodec implementations). aiohttp compresses in its
``WebSocketWriter`` with a ``ZLibCompressor`` per connection (its server has
compression on by default). The shim replaces ``WebSocketWriter``, where
aiohttp's server and client look it up, with a subclass whose compressor is
wscodec's ``PerMessageDeflate`` with aiohttp's settings exactly: level
``Z_BEST_SPEED`` of the zlib backend in use (``set_zlib_backend``: zlib,
zlib-ng or isal), memory level 8, the negotiated window bits,
``Z_FULL_FLUSH`` without context takeover; the bytes sent are aiohttp's.
Messages above ``WEBSOCKET_MAX_SYNC_CHUNK_SIZE`` are still compressed in the
writer's executor (from 3.13.2 under its lock and shield), as aiohttp does.

Versions: aiohttp 3.10 to 3.14.x (:data:`SUPPORTED_VERSIONS`; the latest
3.10, 3.11, 3.12, 3.13 and 3.14 are tested). 3.11 moved the WebSocket code
into ``aiohttp._websocket`` (helpers, reader, writer); 3.10 keeps it in one
module, ``aiohttp.http_websocket``, where the mask is ``_websocket_mask``
(the reader's and the writer's), the reader is pure Python and the writer
sends with ``_send_frame()``: the shim patches the names each layout has. The
writer's compression is taken over at the step each release has: from 3.13.2
its per-message steps (``_get_compressor``, ``_send_compressed_frame_sync``,
``_send_compressed_frame_async_locked``); before, ``send_frame()`` compresses
with what ``_make_compress_obj(compress)`` returns, which the shim's writer
returns instead (its ``compress`` + ``flush`` give wscodec's payload). 3.10
and 3.11 have no ``set_zlib_backend``: they compress with zlib alone. A release newer
than the range installs only if those steps have the expected signatures and,
at install, the mask and the writer give aiohttp's own bytes on a few inputs
(see ``wscodec.integrations``).

What changes, because it is a bug of aiohttp 3.14.5 (and of every release from 3.10 on):
``send_str``/``send_bytes``/``send_json(..., compress=N)`` on a connection
that negotiated compression compressed that one message with a fresh
compressor, while the peer inflates every message with its one window
(RFC 7692 §7.2.3, context takeover): the next normally compressed message
then referred to a window the peer does not have, and arrived silently
corrupted. The shim compresses such a message with the connection's own
compressor (its negotiated window and flush), so that both windows hold it:
a sender may use no larger window than negotiated, and ``N`` only ever chose
a window, not a separate stream. (Sending it with a fresh compressor and
restarting the connection's compressor after it would be correct too, but
costs the next message its context.) Without negotiated compression
``compress=N`` keeps aiohttp's behaviour: a compressor for that message alone.

What the shim does not reach, and why:

* aiohttp's readers (``reader_c``, ``reader_py``) keep aiohttp's own
  ``ZLibDecompressor``: aiohttp decodes a message made of several complete
  DEFLATE streams (each ending with a final block) stream after stream, up to
  1024 of them, and its own tests hold it to that, where wscodec's inflater
  ends a message's data at its first final block. So its BFINAL bug stays:
  after a message ending with a final block the next one is inflated without
  the window (``zlib.error``, or silently wrong data if the peer refers back).
  aiohttp 3.10's reader inflates inside its ``_feed_data``, with the framing
  and the limits, which the shim leaves as it is; there the messages after a
  final block arrive empty, silently;
* a zlib backend other than zlib, zlib-ng and isal (``set_zlib_backend``
  accepts any module with zlib's API), or ``compress=N`` with ``N`` outside
  9-15 without negotiated compression: aiohttp's own compressor, so that the
  bytes and the errors stay the backend's (the ``compress=N`` fix applies
  on those backends too);
* before 3.13.2, a send cancelled while its message is compressed in the
  executor (above ``WEBSOCKET_MAX_SYNC_CHUNK_SIZE``) is lost after the
  compressor took it in, so the peer cannot inflate the next message:
  aiohttp's own ``send_frame()`` awaits the compression unshielded, and
  fixing it means replacing that method (3.13.2 shields it);
* connections made before :func:`install` keep aiohttp's writer; those made
  while the shim is installed keep wscodec's after :func:`uninstall`.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
import zlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from ..deflate_params import DeflateParams
from ._patch import (
    Leave,
    Plan,
    Replace,
    Shim,
    UnsupportedHostError,
    Versions,
    expect_function,
    host_mask_fallback,
)

__all__ = [
    "HOST",
    "SUPPORTED_VERSIONS",
    "describe",
    "install",
    "is_installed",
    "uninstall",
]

#: distribution name of the host library
HOST = "aiohttp"
#: the host releases this shim supports (a newer one is installed only if it passes the checks at install)
SUPPORTED_VERSIONS = Versions(oldest="3.10", newest="3.14")


@dataclass(frozen=True)
class _Layout:
    """Where an aiohttp generation keeps what the shim patches."""

    #: the module choosing the mask, and the name it gives it
    mask_module: str
    mask_name: str
    #: modules that copy the mask with ``from … import``
    mask_followers: tuple[str, ...]
    #: the compiled reader, which takes the compiled mask at C level (if any)
    reader_c: str | None
    #: the writer's module
    writer: str
    #: modules that copy WebSocketWriter with ``from … import WebSocketWriter`` (aiohttp.web_ws on import of
    #: aiohttp.web)
    writer_followers: tuple[str, ...]
    #: the readers, whose inflater is left alone, and why
    readers: tuple[str, ...]
    readers_why: str
    #: the writer's method sending one frame
    send: str


# aiohttp 3.11 on: the WebSocket code in the package aiohttp._websocket.
_SPLIT = _Layout(
    mask_module="aiohttp._websocket.helpers",
    mask_name="websocket_mask",
    mask_followers=("aiohttp._websocket.writer", "aiohttp._websocket.reader_py"),
    reader_c="aiohttp._websocket.reader_c",
    writer="aiohttp._websocket.writer",
    writer_followers=(
        "aiohttp.http_websocket",
        "aiohttp.http",
        "aiohttp.client_ws",
        "aiohttp.client",
        "aiohttp.web_ws",
    ),
    readers=("aiohttp._websocket.reader_py", "aiohttp._websocket.reader_c"),
    readers_why=(
        "aiohttp's own inflater: it decodes a message made of several DEFLATE streams stream after stream "
        "(up to 1024), where wscodec's ends the message's data at the first final block"
    ),
    send="send_frame",
)
# aiohttp 3.10: one module, aiohttp.http_websocket (aiohttp._websocket is the compiled mask alone).
_ONE_MODULE = _Layout(
    mask_module="aiohttp.http_websocket",
    mask_name="_websocket_mask",
    mask_followers=(),
    reader_c=None,
    writer="aiohttp.http_websocket",
    writer_followers=("aiohttp.http", "aiohttp.client_ws", "aiohttp.client", "aiohttp.web_ws"),
    readers=("aiohttp.http_websocket",),
    readers_why=(
        "aiohttp's own inflater, called inside its reader's _feed_data with the framing and the limits: "
        "taking it over means replacing aiohttp's reader"
    ),
    send="_send_frame",
)


def _layout() -> _Layout:
    """The installed aiohttp's layout."""
    try:
        importlib.import_module(_SPLIT.mask_module)
    except ImportError:  # (3.10: "aiohttp._websocket is not a package")
        return _ONE_MODULE
    return _SPLIT


_UTILS = "aiohttp.compression_utils"
# The writer's per-message compression steps the shim takes over (aiohttp 3.13.2 added them); before,
# send_frame() compresses with what _make_compress_obj(compress) gives it, the one step taken over there.
_COMPRESS_HOOKS = ("_get_compressor", "_send_compressed_frame_sync", "_send_compressed_frame_async_locked")
_LEGACY_HOOK = "_make_compress_obj"
# What the sync flush of a compressed message ends with; aiohttp's send_frame() before 3.13.2 removes it.
_TAIL = b"\x00\x00\xff\xff"

# aiohttp leaves memLevel to the backend's compressobj default, zlib's DEF_MEM_LEVEL (also zlib-ng's and isal's).
_MEM_LEVEL = 8
# wscodec's backend name for each module aiohttp's set_zlib_backend may be given.
_BACKENDS = {"zlib": "zlib", "zlib_ng.zlib_ng": "zlib-ng", "isal.isal_zlib": "isal"}

# The replacement objects of each wscodec implementation, built once so that
# installing twice installs the very same objects.
_BUILT: dict[str, dict[str, Any]] = {}


def _backend_name(module: object) -> str | None:
    """wscodec's name for aiohttp's zlib backend module, or None if wscodec has no such backend."""
    name = getattr(module, "__name__", None)
    if name in _BACKENDS and sys.modules.get(name) is module:
        return _BACKENDS[name]
    return None


def _build(impl: ModuleType, host_writer: type) -> dict[str, Any]:
    """The writer subclass on wscodec implementation ``impl``, for aiohttp's writer ``host_writer``."""
    utils: Any = importlib.import_module(_UTILS)
    writer_module: Any = importlib.import_module(_layout().writer)
    Deflate = impl.PerMessageDeflate
    # aiohttp 3.12 added set_zlib_backend (and ZLibBackend); before, zlib alone.
    ZLibBackend = getattr(utils, "ZLibBackend", None)
    # Pure-Python wscodec compresses with the very zlib calls aiohttp makes, behind more Python: the
    # writer keeps aiohttp's own compressor then, and only its choice of compressor changes.
    compiled = impl.NAME != "python"

    class Compressor:
        """One compressor of a writer: wscodec's ``PerMessageDeflate`` with aiohttp's settings.

        ``compress(message)`` is a whole message, flushed, its tail removed (aiohttp's
        ``compress`` + ``flush`` + ``removesuffix``); ``_executor`` and
        ``_max_sync_chunk_size`` are aiohttp's ``ZLibCompressor``'s: a message above the
        latter is compressed in the former. As there, ``compress()`` takes one message at a
        time, in the order sent: before 3.13.2 concurrent sends reach it unserialized.
        """

        __slots__ = ("_deflate", "_executor", "_lock", "_max_sync_chunk_size")

        def __init__(self, backend: str, level: int, wbits: int, notakeover: bool) -> None:
            params = DeflateParams(server_no_context_takeover=notakeover, server_max_window_bits=wbits)
            self._deflate = Deflate(params, level=level, mem_level=_MEM_LEVEL, backend=backend)
            self._executor: Any = None
            self._max_sync_chunk_size: int | None = writer_module.WEBSOCKET_MAX_SYNC_CHUNK_SIZE
            self._lock = asyncio.Lock()

        def compress_sync(self, message: Any) -> bytes:
            """The payload of compressed ``message`` (RSV1 set), on the event loop."""
            return self._deflate.compress(message)  # type: ignore[no-any-return]

        async def compress(self, message: Any) -> bytes:
            """The payload of compressed ``message``; in the executor above ``_max_sync_chunk_size``."""
            async with self._lock:
                limit = self._max_sync_chunk_size
                if limit is not None and len(message) > limit:
                    loop = asyncio.get_running_loop()
                    return await loop.run_in_executor(self._executor, self._deflate.compress, message)
                return self._deflate.compress(message)  # type: ignore[no-any-return]

        def flush(self, mode: int) -> bytes:
            """The tail that aiohttp's ``send_frame()`` before 3.13.2 removes after ``compress()``:
            ``compress()`` flushed the message already (``mode`` is that flush, fixed at creation)."""
            return _TAIL

    def wscodec_compressor(bits: object, notakeover: bool) -> Compressor | None:
        """wscodec's compressor with window ``bits``; None where aiohttp's own must compress (pure
        wscodec, a backend wscodec does not have, or ``bits`` outside 9-15)."""
        if ZLibBackend is None:
            backend: str | None = "zlib"
            level = zlib.Z_BEST_SPEED
        else:
            backend, level = _backend_name(ZLibBackend._zlib_backend), ZLibBackend.Z_BEST_SPEED
        if not compiled or backend is None or type(bits) is not int or not 9 <= bits <= 15:
            return None
        return Compressor(backend, level, bits, notakeover)

    if not hasattr(host_writer, _COMPRESS_HOOKS[0]):

        class LegacyWebSocketWriter(host_writer):  # type: ignore[misc]
            __doc__ = host_writer.__doc__
            _compressobj: Any

            def _make_compress_obj(self, compress: int) -> Any:
                """The compressor of a message: the connection's whenever it negotiated compression
                (a per-message ``compress`` included: see the module docstring), else one for the message."""
                if self.compress:
                    if self._compressobj:
                        return self._compressobj
                    compress = self.compress
                compressor = wscodec_compressor(compress, self.notakeover) or super()._make_compress_obj(compress)
                if self.compress:
                    self._compressobj = compressor
                return compressor

        return {"WebSocketWriter": LegacyWebSocketWriter}

    class WebSocketWriter(host_writer):  # type: ignore[misc]
        __doc__ = host_writer.__doc__
        _compressobj: Any

        def _get_compressor(self, compress: int | None) -> Any:
            """The compressor of a message: the connection's whenever it negotiated compression
            (a per-message ``compress`` included: see the module docstring), else one for the message."""
            bits = self.compress
            if bits:
                if self._compressobj is not None:
                    return self._compressobj
            else:
                bits = compress
            compressor = wscodec_compressor(bits, self.notakeover)
            if compressor is None:
                return super()._get_compressor(None if self.compress else compress)
            if self.compress:
                self._compressobj = compressor
            return compressor

        if compiled:  # pure wscodec changes only the choice of compressor: aiohttp's own methods send

            def _send_compressed_frame_sync(self, message: bytes, opcode: int, compress: int | None) -> None:
                compressor = self._get_compressor(compress)
                if type(compressor) is not Compressor:
                    # aiohttp's own compressor (another backend): aiohttp's own method.
                    super()._send_compressed_frame_sync(message, opcode, None if self.compress else compress)
                    return
                # (0x40) RSV1 is set for compressed frames (RFC 7692 §7.2.3.1)
                self._write_websocket_frame(compressor._deflate.compress(message), opcode, 0x40)

            async def _send_compressed_frame_async_locked(
                self, message: bytes, opcode: int, compress: int | None
            ) -> None:
                compressor = self._get_compressor(compress)
                if type(compressor) is not Compressor:
                    await super()._send_compressed_frame_async_locked(
                        message, opcode, None if self.compress else compress
                    )
                    return
                # Under the lock the whole time, as aiohttp's own (see its docstring): compress and send as one.
                async with self._send_lock:
                    self._write_websocket_frame(await compressor.compress(message), opcode, 0x40)

    return {"WebSocketWriter": WebSocketWriter}


def _deflate_plan(impl: ModuleType) -> Plan:
    """The entries of the writer class, and of the readers' decompressor (left alone)."""
    layout = _layout()
    writer: Any = importlib.import_module(layout.writer)
    host_writer = writer.WebSocketWriter
    built = _BUILT.get(impl.NAME)
    if any(host_writer is entry["WebSocketWriter"] for entry in _BUILT.values()):
        host_writer = host_writer.__mro__[1]  # describe() while installed: plan against aiohttp's own
    if not isinstance(host_writer, type):
        raise UnsupportedHostError(
            f"{layout.writer}.WebSocketWriter is not a class; this host version is not supported"
        )
    readers: Plan = [Leave(f"{name}.ZLibDecompressor", layout.readers_why) for name in layout.readers]
    # aiohttp 3.13.2 on: the per-message steps; before, the one step of send_frame() (see _build).
    hooks = _COMPRESS_HOOKS if hasattr(host_writer, _COMPRESS_HOOKS[0]) else (_LEGACY_HOOK, layout.send)
    for name in hooks:
        expected = (
            ("self", "compress")
            if name in (_COMPRESS_HOOKS[0], _LEGACY_HOOK)
            else ("self", "message", "opcode", "compress")
        )
        expect_function(host_writer, name, expected)  # type: ignore[arg-type]
    if built is None or built["WebSocketWriter"].__mro__[1] is not host_writer:
        built = _BUILT[impl.NAME] = _build(impl, host_writer)
    what_writer = (
        f"WebSocketWriter on wscodec PerMessageDeflate ({impl.NAME})"
        if impl.NAME != "python"
        else "WebSocketWriter compressing every message with the connection's compressor (aiohttp's own)"
    )
    followers = tuple(name for name in layout.writer_followers if name not in sys.modules)
    plan: Plan = [Replace(writer, "WebSocketWriter", built["WebSocketWriter"], what_writer, followers=followers)]
    for name in layout.writer_followers:
        module = sys.modules.get(name)
        if module is None:
            continue
        if getattr(module, "WebSocketWriter", None) is not host_writer:
            raise UnsupportedHostError(
                f"{name}.WebSocketWriter is not {layout.writer}'s; this host version is not supported"
            )
        plan.append(Replace(module, "WebSocketWriter", built["WebSocketWriter"], what_writer))
    return plan + readers


def _plan(impl: ModuleType) -> Plan:
    layout = _layout()
    helpers = importlib.import_module(layout.mask_module)
    name = layout.mask_name
    original = expect_function(helpers, name, ("mask", "data"))
    deflate = _deflate_plan(impl)
    native: Plan = []
    if layout.reader_c is not None:
        why = "cimported at C level from aiohttp's compiled mask: already native"
        native.append(Leave(f"{layout.reader_c}.{name}", why))
    if impl.NAME == "python":
        why = (
            "pure-Python wscodec masks in place no faster than aiohttp's own bytes.translate loop, "
            "and slower than its compiled mask"
        )
        where = [f"{module}.{name}" for module in (layout.mask_module, *layout.mask_followers)]
        return native + [Leave(dotted, why) for dotted in where] + deflate
    what = f"wscodec mask_inplace_keyfirst ({impl.NAME}; aiohttp's own function outside the fast path)"
    replacement = host_mask_fallback(impl, original).mask_inplace_keyfirst
    plan: Plan = [Replace(helpers, name, replacement, what, followers=layout.mask_followers)]
    for follower in layout.mask_followers:
        module = sys.modules.get(follower)
        if module is not None:
            # Their calls fall back to helpers' function: it must be the one they hold.
            if getattr(module, name, None) is not original:
                raise UnsupportedHostError(
                    f"{follower}.{name} is not {layout.mask_module}'s; this host version is not supported"
                )
            plan.append(Replace(module, name, replacement, what))
    return native + plan + deflate


# The self-check's inputs: payloads masked in place, and messages compressed by the writer, one after
# the other on one connection (so that the second and third refer back to the first); each under
# aiohttp's WEBSOCKET_MAX_SYNC_CHUNK_SIZE (5 KiB), so that it is compressed on the spot.
_MASK_INPUTS = (b"", b"abc", bytes(range(256)) * 9)
_MESSAGES = (b'{"id": 1, "text": "hello hello hello"}', b'{"id": 2, "text": "hello hello hello"}', b"", b"ab" * 2000)


class _Transport:
    """Just what the writer's synchronous path uses of a transport: collects what it writes."""

    def __init__(self) -> None:
        self.written: list[bytes] = []

    def is_closing(self) -> bool:
        return False

    def write(self, data: bytes) -> None:
        self.written.append(bytes(data))


def _send_now(writer: Any, message: bytes, opcode: int = 0x1) -> None:
    """``writer.send_frame(message, opcode)`` (3.10: ``_send_frame``) run to its end at once: a small
    message is compressed and written without waiting for anything, so no event loop is needed (one may be
    running already)."""
    step = getattr(writer, _layout().send)(message, opcode)
    try:
        step.send(None)
    except StopIteration:
        return
    step.close()
    raise UnsupportedHostError(
        "WebSocketWriter.send_frame() waits on a small message; this host version is not supported"
    )


def _self_check(impl: ModuleType, originals: Any) -> None:
    """Raise if a replacement gives other results than aiohttp's own on a few inputs (for an aiohttp
    release newer than :data:`SUPPORTED_VERSIONS`, at install, with the shim in place)."""
    layout = _layout()
    mask = originals.get(f"{layout.mask_module}.{layout.mask_name}")
    if mask is not None:
        replacement_mask = getattr(importlib.import_module(layout.mask_module), layout.mask_name)
        for data in _MASK_INPUTS:
            ours, theirs = bytearray(data), bytearray(data)
            replacement_mask(b"wxyz", ours)
            mask(b"wxyz", theirs)
            if ours != theirs:
                raise UnsupportedHostError(f"websocket_mask differs from aiohttp's on {len(data)} bytes")
    host = originals.get(f"{layout.writer}.WebSocketWriter")
    if host is None:
        return
    replacement = importlib.import_module(layout.writer).WebSocketWriter
    for compress, notakeover in ((15, False), (9, False), (12, True)):
        wire = []
        for writer_class in (host, replacement):
            transport = _Transport()
            writer = writer_class(None, transport, compress=compress, notakeover=notakeover)
            for message in _MESSAGES:
                _send_now(writer, message)
            wire.append(transport.written)
        if wire[0] != wire[1]:
            raise UnsupportedHostError(f"WebSocketWriter(compress={compress}) sends other bytes than aiohttp's")


_SHIM = Shim(HOST, SUPPORTED_VERSIONS, _plan, _self_check)

# The public functions come from the Shim; what is this host's own is what install() puts in place.
install, uninstall, is_installed, describe = _SHIM.functions(
    __name__,
    install="""Replace aiohttp's ``websocket_mask`` with compiled wscodec's (``impl``: default the active one).""",
    uninstall="""Restore aiohttp's own ``websocket_mask`` everywhere the shim replaced it.""",
)
