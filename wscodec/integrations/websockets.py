"""Shim for websockets: wscodec's masking behind ``apply_mask(data, mask) -> bytes``, and wscodec's
permessage-deflate behind websockets' ``PerMessageDeflate`` extension.

Masking. websockets selects ``websockets.speedups.apply_mask`` (C) or
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
so masking is the only framing kernel worth replacing.

Compression. websockets negotiates permessage-deflate by default on both
sides and compresses and inflates every data frame in its extension,
``websockets.extensions.permessage_deflate.PerMessageDeflate``, with
``zlib`` objects called from Python. The shim replaces that class, where its
negotiation factories look it up (the module's global), with a subclass on
wscodec's ``PerMessageDeflate``: the negotiated parameters are websockets'
own, and the compressor keeps the connection's ``compress_settings`` exactly
(``level``, ``memLevel``; zlib's defaults 6 and 8 where they are not given;
websockets' own defaults set memLevel 5), so the bytes on the wire are the
host's (at level 0, no compression, a large message may be cut into stored
blocks elsewhere: the same content). Frame by frame as websockets calls it,
with its exceptions: ``PayloadTooBig`` past ``max_size``,
``ProtocolError("decompression failed")`` (from a ``zlib.error``, as
websockets chains it) for corrupt data, and ``ProtocolError("RSV1 bit set in
continuation frame")``. One wscodec object per direction, so that websockets'
sync API, which sends in one thread while another receives, never uses one
from two threads. Without context takeover a message's compressor (inflater)
is made for it and dropped after it, as websockets does, so an idle
connection holds none. With pure-Python wscodec only inflation is
wscodec's: websockets' own ``encode()`` compresses, since wscodec's pure
compressor makes the very same zlib calls behind more Python.

Versions: websockets 13.0 to 17.4.x (:data:`SUPPORTED_VERSIONS`; the latest
patch release of every minor line in it is tested). 13.0 is the floor because
it brought ``websockets.asyncio``, the implementation its tests and
the shim's benchmark (``wscodec.benchmark.hosts.websockets``) run (12.x has only the legacy asyncio API
and ``websockets.sync``): the internals patched have the same shape in 12.0,
but an older release could not be tested as the others are. Within the
range the shim reads what differs from the host
itself, not from its version: the continuation opcode (``frames.CONT`` from
17.0, ``OP_CONT`` before: the shim uses ``Opcode.CONT``); ``PayloadTooBig``
(``(size, max_size)`` from 14.0, a message before: made as the host makes
it); and RSV1 on a continuation frame of a compressed message, asked of the
host's own extension when the shim is built: websockets 13.x passes the bit
on, for its frame check to refuse the frame ("reserved bits must be 0"), and
so does the shim; 14.0 to 16.0 drop the bit and accept the frame (against
RFC 7692 §6.1), where the shim refuses it with ``ProtocolError("RSV1 bit set
in continuation frame")``, as websockets does from 16.1. A release newer than
the range installs only if these internals have the expected shape and, at
install, ``apply_mask`` and the extension's ``encode``/``decode`` give
websockets' own results on a few inputs (see ``wscodec.integrations``).

What changes, because it is a bug of websockets 17.4 (and of every release
from 13.0):

* after a message whose DEFLATE stream ends with a final block (BFINAL set,
  RFC 7692 §7.2.3.4), websockets' inflater stays finished and delivers every
  later compressed message as empty bytes, silently. wscodec starts a new
  stream for the next message, keeping the window;
* ``decode(frame, max_size=0)`` inflates without any bound in websockets
  (zlib reads ``max_length=0`` as "no limit"), within 0 bytes with the shim
  (websockets' protocol never asks: it refuses a non-empty frame over
  ``max_size`` by its length first).

What the shim does not reach, and why:

* with compiled wscodec, an extension built with ``compress_settings`` that
  wscodec's compressor cannot reproduce (``strategy``, ``zdict``, a
  ``method`` other than ``DEFLATED``, a level or memLevel out of zlib's
  range) is websockets' own class, BFINAL bug included: the shim would
  change the bytes or the errors;
* connections made before :func:`install` keep websockets' extension (its
  zlib state belongs to the connection); those made while it is installed
  keep wscodec's after :func:`uninstall`;
* the extension objects have no ``decoder`` attribute (a zlib object), nor
  ``encoder`` with compiled wscodec; the four negotiated attributes,
  ``compress_settings`` and the ``repr`` are websockets'.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import zlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

from ..deflate_params import DeflateParams
from ..errors import ProtocolError as CodecError
from ._patch import (
    Leave,
    Plan,
    Replace,
    Shim,
    UnsupportedHostError,
    Versions,
    expect_function,
    host_mask_fallback,
    native_beats_pure,
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
HOST = "websockets"
#: the host releases this shim supports (a newer one is installed only if it passes the checks at install)
SUPPORTED_VERSIONS = Versions(oldest="13.0", newest="17.4")

_LEGACY = "websockets.legacy.framing"
# where frames.apply_mask may come from: the C speedups, else the pure fallback
_SOURCES = ("websockets.speedups", "websockets.utils")
_DEFLATE = "websockets.extensions.permessage_deflate"
_DEFLATE_INIT = (
    "remote_no_context_takeover",
    "local_no_context_takeover",
    "remote_max_window_bits",
    "local_max_window_bits",
    "compress_settings",
)

_TAIL = b"\x00\x00\xff\xff"
# The inflation budget when websockets sets no limit (max_size=None): more than any message can be.
_UNBOUNDED = 1 << 62
# zlib.compressobj's defaults for what compress_settings leaves out: Z_DEFAULT_COMPRESSION is level 6.
_ZLIB_LEVEL = 6
_ZLIB_MEM_LEVEL = 8
_DEFLATED = 8
_Z_DEFAULT_STRATEGY = 0

# The replacement class of each wscodec implementation, built once so that
# installing twice installs the very same object.
_BUILT: dict[str, type] = {}


def _source_of(original: object) -> tuple[str, ModuleType]:
    """The module websockets took ``apply_mask`` from: its C speedups or its pure utils."""
    for name in _SOURCES:
        module = sys.modules.get(name)
        if module is not None and getattr(module, "apply_mask", None) is original:
            return name, module
    raise UnsupportedHostError(
        "websockets.frames.apply_mask comes from neither websockets.speedups nor websockets.utils"
    )


def _compressor_settings(settings: dict[Any, Any]) -> tuple[int, int] | None:
    """``(level, mem_level)`` for websockets' ``compress_settings`` (keyword arguments of
    ``zlib.compressobj``), or None if wscodec's compressor cannot reproduce them exactly."""
    level, mem_level = _ZLIB_LEVEL, _ZLIB_MEM_LEVEL
    for key, value in settings.items():
        if type(value) is not int:
            return None
        if key == "level" and -1 <= value <= 9:
            level = _ZLIB_LEVEL if value == -1 else value
        elif key == "memLevel" and 1 <= value <= 9:
            mem_level = value
        elif not ((key == "method" and value == _DEFLATED) or (key == "strategy" and value == _Z_DEFAULT_STRATEGY)):
            return None
    return level, mem_level


def _payload_too_big(PayloadTooBig: Any) -> Callable[[int | None], BaseException]:
    """How websockets' extension makes its ``PayloadTooBig`` for ``max_size``: ``(size, max_size)``
    from 14.0, a message before."""
    try:
        takes_max_size = "max_size" in inspect.signature(PayloadTooBig).parameters
    except ValueError:  # 13.x: no __init__ of its own, only the exception's
        takes_max_size = False
    if takes_max_size:
        return lambda max_size: PayloadTooBig(None, max_size)
    return lambda max_size: PayloadTooBig(f"over size limit (? > {max_size} bytes)")


def _continuation_rsv1_kept(host: type, Frame: Any, Opcode: Any, HostProtocolError: type[Exception]) -> bool:
    """What websockets' own extension does with RSV1 on a continuation frame of a compressed message,
    asked of it: True if it passes the bit on (13.x: its frame check then refuses the frame, as
    "reserved bits must be 0"), which the shim does too; False if it refuses the frame itself (from
    16.1) or drops the bit (14.0 to 16.0: the frame is accepted, against RFC 7692 §6.1), where the
    shim refuses it as websockets 16.1 does."""
    compressor = zlib.compressobj(wbits=-15)
    first = compressor.compress(b"a") + compressor.flush(zlib.Z_SYNC_FLUSH)
    last = (compressor.compress(b"b") + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
    probe: Any = host(False, False, 15, 15)
    probe.decode(Frame(Opcode.TEXT, first, fin=False, rsv1=True))
    try:
        frame = probe.decode(Frame(Opcode.CONT, last, fin=True, rsv1=True))
    except HostProtocolError:
        return False
    return bool(frame.rsv1)


def _build_deflate(impl: ModuleType, host: type) -> type:
    """websockets' ``PerMessageDeflate`` on wscodec implementation ``impl``'s (see the module docstring)."""
    frames: Any = importlib.import_module("websockets.frames")
    exceptions: Any = importlib.import_module("websockets.exceptions")
    Frame = frames.Frame
    CONT = frames.Opcode.CONT  # (frames.CONT from 17.0; frames.OP_CONT before)
    CTRL_OPCODES = frames.CTRL_OPCODES
    HostProtocolError = exceptions.ProtocolError
    too_big = _payload_too_big(exceptions.PayloadTooBig)
    keep_rsv1 = _continuation_rsv1_kept(host, Frame, frames.Opcode, HostProtocolError)
    Deflate = impl.PerMessageDeflate
    # Pure-Python wscodec compresses with the very zlib calls websockets makes, behind more Python:
    # websockets keeps its own encode() (and its compressor), only inflation goes through wscodec.
    compiled = impl.NAME != "python"

    class PerMessageDeflate(host):  # type: ignore[misc]
        __doc__ = host.__doc__

        def __new__(cls, *args: Any, **kwargs: Any) -> Any:
            if compiled:
                settings = kwargs.get("compress_settings", args[4] if len(args) > 4 else None)
                if settings is not None and (not isinstance(settings, dict) or _compressor_settings(settings) is None):
                    return host(*args, **kwargs)  # websockets' own extension, on its own zlib objects
            return super().__new__(cls)

        def __init__(
            self,
            remote_no_context_takeover: bool,
            local_no_context_takeover: bool,
            remote_max_window_bits: int,
            local_max_window_bits: int,
            compress_settings: dict[Any, Any] | None = None,
        ) -> None:
            if compress_settings is None:
                compress_settings = {}
            # websockets' own checks (its negotiation never fails them), as the AssertionError it
            # raises; like its asserts, skipped under python -O.
            if __debug__ and not (
                remote_no_context_takeover in [False, True]
                and local_no_context_takeover in [False, True]
                and 8 <= remote_max_window_bits <= 15
                and 9 <= local_max_window_bits <= 15
                and "wbits" not in compress_settings
            ):
                raise AssertionError  # websockets raises a bare one
            self.remote_no_context_takeover = remote_no_context_takeover
            self.local_no_context_takeover = local_no_context_takeover
            self.remote_max_window_bits = remote_max_window_bits
            self.local_max_window_bits = local_max_window_bits
            self.compress_settings = compress_settings
            # One wscodec object per direction, so that a thread sending while another receives
            # (websockets' sync API) never uses one object from two threads. Without context
            # takeover a message gets fresh ones (see encode and decode): the sending side's
            # object runs with takeover within the message, as websockets' per-message
            # compressor does across the fragments of one message.
            self._params = DeflateParams(
                server_no_context_takeover=False,
                client_no_context_takeover=remote_no_context_takeover,
                server_max_window_bits=local_max_window_bits,
                client_max_window_bits=remote_max_window_bits,
            )
            self._rx: Any = None if remote_no_context_takeover else Deflate(self._params)
            self.decode_cont_data = False
            if compiled:
                settings = _compressor_settings(compress_settings)
                if settings is None:  # pragma: no cover - __new__ made the host's own class instead
                    raise RuntimeError("compressor settings the shim does not take")
                self._level, self._mem_level = settings
                self._tx: Any = None if local_no_context_takeover else self._new_tx()
            elif not local_no_context_takeover:
                # What websockets' __init__ makes for its encode(), which this class keeps.
                self.encoder = zlib.compressobj(wbits=-local_max_window_bits, **compress_settings)

        def _new_tx(self) -> Any:
            return Deflate(self._params, level=self._level, mem_level=self._mem_level)

        def decode(self, frame: Any, *, max_size: int | None = None) -> Any:
            """Inflate an incoming frame (websockets' ``decode``, on wscodec's inflater)."""
            opcode = frame.opcode
            if opcode in CTRL_OPCODES:
                return frame
            fin = frame.fin
            rsv1 = False
            if opcode is CONT:
                if not self.decode_cont_data:
                    return frame
                if frame.rsv1:
                    if not keep_rsv1:
                        raise HostProtocolError("RSV1 bit set in continuation frame")
                    rsv1 = True  # websockets 13.x: its frame check refuses it next, in its own words
                if fin:
                    self.decode_cont_data = False
            else:
                if not frame.rsv1:
                    return frame
                if not fin:
                    self.decode_cont_data = True
                if self.remote_no_context_takeover:
                    self._rx = Deflate(self._params)
            try:
                data = self._rx._inflate(frame.data, _UNBOUNDED if max_size is None else max_size, fin)
            except CodecError as exc:
                if exc.code == 1009:
                    raise too_big(max_size) from None
                # websockets chains zlib's error: the same, in zlib's words.
                detail = exc.reason.rpartition(": ")[2]
                raise HostProtocolError("decompression failed") from zlib.error(
                    f"Error -3 while decompressing data: {detail}"
                )
            if fin and self.remote_no_context_takeover:
                self._rx = None  # no inflater held between messages
            return Frame(opcode, data, fin, rsv1, frame.rsv2, frame.rsv3)

        if compiled:

            def encode(self, frame: Any) -> Any:
                """Compress an outgoing frame (websockets' ``encode``, on wscodec's compressor)."""
                opcode = frame.opcode
                if opcode in CTRL_OPCODES:
                    return frame
                if opcode is not CONT and self.local_no_context_takeover:
                    self._tx = self._new_tx()
                data = self._tx.compress(frame.data)
                fin = frame.fin
                if not fin:
                    data += _TAIL  # a fragment before the last keeps its sync flush's marker
                elif self.local_no_context_takeover:
                    self._tx = None  # no compressor held between messages
                return Frame(opcode, data, fin, opcode is not CONT, frame.rsv2, frame.rsv3)

    PerMessageDeflate.__qualname__ = host.__qualname__
    return PerMessageDeflate


def _deflate_plan(impl: ModuleType) -> Replace:
    module = importlib.import_module(_DEFLATE)
    host = getattr(module, "PerMessageDeflate", None)
    if not isinstance(host, type):
        raise UnsupportedHostError(f"{_DEFLATE}.PerMessageDeflate is not a class; this host version is not supported")
    if host in _BUILT.values():
        host = host.__mro__[1]  # installed (describe() while installed): plan against websockets' own
    params = list(inspect.signature(host).parameters)
    if params != list(_DEFLATE_INIT):
        raise UnsupportedHostError(
            f"{_DEFLATE}.PerMessageDeflate takes ({', '.join(params)}), expected ({', '.join(_DEFLATE_INIT)}); "
            "this host version is not supported"
        )
    for name, expected in (("encode", ["self", "frame"]), ("decode", ["self", "frame", "max_size"])):
        found = list(inspect.signature(getattr(host, name)).parameters)
        if found != expected:
            raise UnsupportedHostError(f"{_DEFLATE}.PerMessageDeflate.{name} takes ({', '.join(found)}); not supported")
    built = _BUILT.get(impl.NAME)
    if built is None or built.__mro__[1] is not host:
        built = _BUILT[impl.NAME] = _build_deflate(impl, host)
    what = (
        f"wscodec PerMessageDeflate ({impl.NAME})"
        if impl.NAME != "python"
        else "wscodec PerMessageDeflate (python) to inflate; websockets' own encode() to compress"
    )
    return Replace(module, "PerMessageDeflate", built, what)


def _plan(impl: ModuleType) -> Plan:
    frames = importlib.import_module("websockets.frames")
    original = expect_function(frames, "apply_mask", ("data", "mask"))
    source_name, source = _source_of(original)
    deflate = _deflate_plan(impl)
    where = ["websockets.frames.apply_mask", f"{source_name}.apply_mask", f"{_LEGACY}.apply_mask"]
    if native_beats_pure(original, impl):
        why = f"the host's compiled {source_name}.apply_mask is faster than pure-Python wscodec"
        return [Leave(name, why) for name in where] + [deflate]
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
    return [*plan, deflate]


# The self-check's inputs: masking (payload, key) pairs, and the messages compressed and inflated, each
# as the frames of one message (a fragmented one, an empty one, one long enough for several blocks).
_MASK_INPUTS = ((b"", b"abcd"), (b"abc", b"\x00\xff\x10\x01"), (bytes(range(256)) * 9, b"wxyz"))
_MESSAGES = ((b'{"id": 1, "text": "hello hello hello"}',), (b"fragmented ", b"message, ", b""), (b"",), (_TAIL * 3000,))
# (remote_no_context_takeover, local_no_context_takeover, remote_max_window_bits, local_max_window_bits,
# compress_settings): websockets' defaults on each side, and the other end of each parameter.
_DEFLATE_ARGS: tuple[tuple[bool, bool, int, int, dict[str, int] | None], ...] = (
    (False, False, 15, 15, {"memLevel": 5}),
    (True, True, 9, 10, None),
    (False, False, 12, 15, {}),
)


def _self_check(impl: ModuleType, originals: Any) -> None:
    """Raise if a replacement gives other results than websockets' own on a few inputs (for a
    websockets release newer than :data:`SUPPORTED_VERSIONS`, at install, with the shim in place)."""
    frames: Any = importlib.import_module("websockets.frames")
    mask = originals.get("websockets.frames.apply_mask")
    if mask is not None:
        for data, key in _MASK_INPUTS:
            if frames.apply_mask(data, key) != mask(data, key):
                raise UnsupportedHostError(f"apply_mask differs from websockets' on {len(data)} bytes")
    host = originals.get(f"{_DEFLATE}.PerMessageDeflate")
    if host is None:
        return
    ours = importlib.import_module(_DEFLATE).PerMessageDeflate
    Frame, Opcode = frames.Frame, frames.Opcode

    def sent(extension: Any) -> list[tuple[Any, ...]]:
        out = []
        for message in _MESSAGES:
            for i, data in enumerate(message):
                last = i == len(message) - 1
                frame = extension.encode(Frame(Opcode.CONT if i else Opcode.TEXT, data, fin=last))
                out.append((frame.opcode, bytes(frame.data), frame.fin, frame.rsv1, frame.rsv2, frame.rsv3))
        return out

    def received(extension: Any, wire: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        out = []
        for opcode, data, fin, rsv1, rsv2, rsv3 in wire:
            frame = extension.decode(Frame(opcode, data, fin, rsv1, rsv2, rsv3), max_size=1 << 20)
            out.append((frame.opcode, bytes(frame.data), frame.fin, frame.rsv1, frame.rsv2, frame.rsv3))
        return out

    for args in _DEFLATE_ARGS:
        wire = sent(host(*args))
        if sent(ours(*args)) != wire:
            raise UnsupportedHostError(f"PerMessageDeflate{args[:4]}.encode differs from websockets'")
        # the receiving end: remote and local swapped
        peer = (args[1], args[0], args[3], args[2])
        if received(ours(*peer), wire) != received(host(*peer), wire):
            raise UnsupportedHostError(f"PerMessageDeflate{peer}.decode differs from websockets'")


_SHIM = Shim(HOST, SUPPORTED_VERSIONS, _plan, _self_check)

# The public functions come from the Shim; what is this host's own is what install() puts in place.
install, uninstall, is_installed, describe = _SHIM.functions(
    __name__,
    install="""Replace websockets' ``apply_mask`` and ``PerMessageDeflate`` with wscodec's
    (``impl``: default the active one).""",
    uninstall="""Restore websockets' own ``apply_mask`` and ``PerMessageDeflate`` everywhere the shim replaced them.""",
)
