"""Shim for tornado: wscodec's masking behind ``websocket_mask(mask, data) -> bytes``, and its compression.

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

permessage-deflate: ``tornado.websocket``'s ``_PerMessageDeflateCompressor``
and ``_PerMessageDeflateDecompressor`` are replaced (with the compiled
implementation) by subclasses on wscodec's ``PerMessageDeflate``, with tornado's
settings exactly (the agreed windows and context takeover, the handler's
``compression_level``, default 6, and ``mem_level``, default 8: the same
bytes on the wire) and its errors (``ValueError`` for a bad window,
``_DecompressTooLargeError`` past ``max_message_size``, ``zlib.error`` for
corrupt data); an 8-bit window, which zlib cannot compress with, keeps
tornado's own compressor and its failure. ``WebSocketProtocol13`` is replaced
by a subclass whose ``_receive_frame`` is tornado's, except for tornado's
compression bugs, which it fixes:

* RSV1 on a control frame made tornado inflate the control frame and drop
  the connection on an uncaught ``zlib.error``: it now closes with 1002;
* a control frame between the fragments of a compressed message made tornado
  take the message as uncompressed (a text message was dropped with the
  connection, a binary one delivered still compressed): the message is now
  delivered intact;
* corrupt compressed data dropped the connection on an uncaught
  ``zlib.error``: it now closes with 1007;
* after a message whose deflate stream ends with a BFINAL block (RFC 7692
  §7.2.3.4), tornado delivered the next messages as empty, silently: they
  now inflate from the window (compiled implementation only).

With the pure-Python implementation tornado's compressor and decompressor
are left alone: they are thin Python over zlib, and wscodec's pure
``PerMessageDeflate`` costs 2-4 µs a message more (measured); the protocol
subclass, and with it the first three fixes, is installed with either.

Inflation stays bounded by tornado's ``max_message_size`` (the excess is
never inflated). The subclass also reads a masked frame's mask and payload
together (up to 16 KiB): one read less per frame. Connections opened before
:func:`install` keep tornado's classes; those opened while it is installed
keep the shim's after :func:`uninstall`.

Supported releases (:data:`SUPPORTED_VERSIONS`): tornado 6.3 to 6.6.x, tested
on 6.3.3, 6.4.2, 6.5.10 and 6.6.1. The floor is the oldest line checked: from
6.3 on, ``_receive_frame`` (which the subclass re-implements), the compressor
and decompressor and ``_websocket_mask`` are the same code; the one
difference, the arguments of the ``ValueError`` for a bad window size (a
format string and its values before 6.6), is kept by letting tornado's own
constructor raise it. A newer release installs only if its self-check (``_self_check``)
passes, which requires its ``_receive_frame`` to be that same code.
"""

from __future__ import annotations

import importlib
import struct
import sys
import zlib
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from ..deflate_params import DeflateParams
from ..errors import ProtocolError
from ._patch import (
    Leave,
    Plan,
    Replace,
    Shim,
    UnsupportedHostError,
    Versions,
    code_fingerprint,
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
HOST = "tornado"
#: the host releases this shim supports (a newer one is installed only if it passes the checks at install)
SUPPORTED_VERSIONS = Versions(oldest="6.3", newest="6.6")

_FOLLOWERS = ("tornado.websocket", "tornado.web")
# tornado's compression classes, replaced with the compiled implementation
_COMPRESSION = ("_PerMessageDeflateCompressor", "_PerMessageDeflateDecompressor")

# Up to this payload size a masked frame's mask and payload are read in one call (one read less per
# frame; the payload is then copied out, which costs less than a read up to here).
_JOINED_READ_MAX = 1 << 14

# The replacement classes of each wscodec implementation, built once so that
# installing twice installs the very same objects.
_BUILT: dict[str, dict[str, type]] = {}


def _build(impl: ModuleType) -> dict[str, type]:
    """Create tornado's compressor, decompressor and protocol classes on top of ``impl``."""
    websocket: Any = importlib.import_module("tornado.websocket")
    PerMessageDeflate = impl.PerMessageDeflate
    HostCompressor: Any = websocket._PerMessageDeflateCompressor
    HostDecompressor: Any = websocket._PerMessageDeflateDecompressor
    TooLarge = websocket._DecompressTooLargeError
    default_level = importlib.import_module("tornado.web").GZipContentEncoding.GZIP_LEVEL

    def valid_wbits(max_wbits: int | None) -> bool:
        """Whether tornado accepts this window size (None: 15). It refuses the others with a ValueError
        whose arguments differ across its releases (a format string and its values before 6.6): its own
        constructor raises it, so it is tornado's exactly."""
        return 8 <= (zlib.MAX_WBITS if max_wbits is None else max_wbits) <= zlib.MAX_WBITS

    class Compressor(HostCompressor):  # type: ignore[misc]
        """tornado's per-message compressor on wscodec's PerMessageDeflate, with tornado's settings:
        the agreed window and context takeover, ``compression_level`` (default 6) and ``mem_level``
        (default 8). Settings wscodec refuses (an 8-bit window, which zlib cannot compress with) keep
        tornado's own compressor, and its errors."""

        _deflate: Any  # wscodec's PerMessageDeflate, or None where tornado's own code runs

        def __init__(
            self, persistent: bool, max_wbits: int | None, compression_options: dict[str, Any] | None = None
        ) -> None:
            if not valid_wbits(max_wbits):
                self._deflate = None
                super().__init__(persistent, max_wbits, compression_options)  # (raises tornado's ValueError)
                return
            options = compression_options or {}
            self._max_wbits = zlib.MAX_WBITS if max_wbits is None else max_wbits
            self._compression_level = options.get("compression_level", default_level)
            self._mem_level = options.get("mem_level", 8)
            self._compressor = None
            level = self._compression_level
            try:
                params = DeflateParams(
                    server_no_context_takeover=not persistent, server_max_window_bits=self._max_wbits
                )
                self._deflate = PerMessageDeflate(
                    params, level=6 if level == zlib.Z_DEFAULT_COMPRESSION else level, mem_level=self._mem_level
                )
            except (TypeError, ValueError):
                self._deflate = None
                super().__init__(persistent, max_wbits, compression_options)

        def compress(self, data: bytes) -> bytes:
            """One whole message, compressed; the ``00 00 FF FF`` tail removed."""
            if self._deflate is None:
                return super().compress(data)  # type: ignore[no-any-return]
            return self._deflate.compress(data)  # type: ignore[no-any-return]

    class Decompressor(HostDecompressor):  # type: ignore[misc]
        """tornado's per-message decompressor on wscodec's PerMessageDeflate: the agreed window and
        context takeover, at most ``max_message_size`` bytes out (the excess never inflated). A BFINAL
        block no longer ends the stream for the messages after it; a message of exactly the limit
        passes (tornado refused it when the input went on past the limit's last byte)."""

        _deflate: Any  # wscodec's PerMessageDeflate, or None where tornado's own code runs

        def __init__(
            self,
            persistent: bool,
            max_wbits: int | None,
            max_message_size: int,
            compression_options: dict[str, Any] | None = None,
        ) -> None:
            if not valid_wbits(max_wbits):
                self._deflate = None
                super().__init__(persistent, max_wbits, max_message_size, compression_options)  # (raises)
                return
            self._max_message_size = max_message_size
            self._max_wbits = zlib.MAX_WBITS if max_wbits is None else max_wbits
            self._decompressor = None
            try:
                params = DeflateParams(
                    client_no_context_takeover=not persistent, client_max_window_bits=self._max_wbits
                )
                self._deflate = PerMessageDeflate(params)
            except (TypeError, ValueError):
                self._deflate = None
                super().__init__(persistent, max_wbits, max_message_size, compression_options)

        def decompress(self, data: bytes) -> bytes:
            """One whole message, inflated: ``_DecompressTooLargeError`` past the limit, ``zlib.error``
            for corrupt data (as tornado's)."""
            if self._deflate is None:
                return super().decompress(data)  # type: ignore[no-any-return]
            try:
                return self._deflate._inflate(data, self._max_message_size, True)  # type: ignore[no-any-return]
            except ProtocolError as exc:
                if exc.code == 1009:
                    raise TooLarge() from None
                raise zlib.error(f"Error -3 while decompressing data: {exc.reason.rpartition(': ')[2]}") from None

    class WebSocketProtocol13(websocket.WebSocketProtocol13):  # type: ignore[misc]
        """tornado's protocol, receiving frames as tornado does except for its compression bugs:

        * RSV1 on a control frame (with compression on) closes the connection
          with 1002; tornado inflated the control frame's payload and dropped
          the connection with an uncaught ``zlib.error``;
        * a control frame between the fragments of a compressed message is
          handled uncompressed and leaves the message's compression alone
          (tornado then delivered the message still compressed, or dropped it);
        * corrupt compressed data closes the connection with 1007 (tornado:
          an uncaught ``zlib.error``).

        A masked frame of up to 16 KiB has its mask and payload read together
        (one read less: the same bytes, in the same order).
        """

        # tornado's attributes, set by its __init__
        _fragmented_message_buffer: Any
        _fragmented_message_opcode: Any
        _frame_compressed: Any
        _frame_mask: Any
        _frame_length: Any

        async def _receive_frame(self) -> None:
            # tornado's _receive_frame, with the three changes above (marked "shim").
            data = await self._read_bytes(2)
            header, mask_payloadlen = data[0], data[1]
            is_final_frame = header & self.FIN
            reserved_bits = header & self.RSV_MASK
            opcode = header & self.OPCODE_MASK
            opcode_is_control = opcode & 0x8
            if self._decompressor is not None and opcode != 0:
                if not opcode_is_control:  # shim: only a message's first frame says it is compressed
                    self._frame_compressed = bool(reserved_bits & self.RSV1)
                    reserved_bits &= ~self.RSV1
                elif reserved_bits & self.RSV1:  # shim: a control frame is never compressed
                    self.close(1002, "RSV1 set on a control frame")
                    self._abort()
                    return
            if reserved_bits:
                # client is using as-yet-undefined extensions; abort
                self._abort()
                return
            is_masked = bool(mask_payloadlen & 0x80)
            payloadlen = mask_payloadlen & 0x7F

            # Parse and validate the length.
            if opcode_is_control and payloadlen >= 126:
                # control frames must have payload < 126
                self._abort()
                return
            if payloadlen < 126:
                self._frame_length = payloadlen
            elif payloadlen == 126:
                data = await self._read_bytes(2)
                payloadlen = struct.unpack("!H", data)[0]
            elif payloadlen == 127:
                data = await self._read_bytes(8)
                payloadlen = struct.unpack("!Q", data)[0]
            new_len = payloadlen
            if self._fragmented_message_buffer is not None:
                new_len += len(self._fragmented_message_buffer)
            if new_len > self.params.max_message_size:
                self.close(1009, "message too big")
                self._abort()
                return

            # Read the payload, unmasking if necessary.
            if is_masked and payloadlen <= _JOINED_READ_MAX:  # shim: the mask and the payload in one read
                data = await self._read_bytes(4 + payloadlen)
                self._frame_mask = data[:4]
                data = websocket._websocket_mask(self._frame_mask, data[4:])
            else:
                if is_masked:
                    self._frame_mask = await self._read_bytes(4)
                data = await self._read_bytes(payloadlen)
                if is_masked:
                    assert self._frame_mask is not None
                    data = websocket._websocket_mask(self._frame_mask, data)

            # Decide what to do with this frame.
            if opcode_is_control:
                # control frames may be interleaved with a series of fragmented
                # data frames, so control frames must not interact with
                # self._fragmented_*
                if not is_final_frame:
                    # control frames must not be fragmented
                    self._abort()
                    return
            elif opcode == 0:  # continuation frame
                if self._fragmented_message_buffer is None:
                    # nothing to continue
                    self._abort()
                    return
                self._fragmented_message_buffer.extend(data)
                if is_final_frame:
                    opcode = self._fragmented_message_opcode
                    data = bytes(self._fragmented_message_buffer)
                    self._fragmented_message_buffer = None
            else:  # start of new data message
                if self._fragmented_message_buffer is not None:
                    # can't start new message until the old one is finished
                    self._abort()
                    return
                if not is_final_frame:
                    self._fragmented_message_opcode = opcode
                    self._fragmented_message_buffer = bytearray(data)

            if is_final_frame:
                if opcode_is_control:  # shim: handled uncompressed, the message's flag kept
                    compressed = self._frame_compressed
                    self._frame_compressed = False
                    try:
                        handled_future = self._handle_message(opcode, data)
                    finally:
                        self._frame_compressed = compressed
                else:
                    try:
                        handled_future = self._handle_message(opcode, data)
                    except zlib.error:  # shim: corrupt compressed data
                        self.close(1007, "invalid compressed data")
                        self._abort()
                        return
                if handled_future is not None:
                    await handled_future

    return {"Compressor": Compressor, "Decompressor": Decompressor, "WebSocketProtocol13": WebSocketProtocol13}


def _check_internals(websocket: Any) -> None:
    """Raise UnsupportedHostError unless tornado's internals are the ones the replacements build on."""
    protocol = websocket.WebSocketProtocol13
    for owner, name, params in (
        (protocol, "_receive_frame", ("self",)),
        (protocol, "_handle_message", ("self", "opcode", "data")),
        (protocol, "_read_bytes", ("self", "n")),
        (protocol, "_abort", ("self",)),
        (protocol, "close", ("self", "code", "reason")),
        (protocol, "_create_compressors", ("self", "side", "agreed_parameters", "compression_options")),
        (
            websocket._PerMessageDeflateCompressor,
            "__init__",
            ("self", "persistent", "max_wbits", "compression_options"),
        ),
        (websocket._PerMessageDeflateCompressor, "compress", ("self", "data")),
        (
            websocket._PerMessageDeflateDecompressor,
            "__init__",
            ("self", "persistent", "max_wbits", "max_message_size", "compression_options"),
        ),
        (websocket._PerMessageDeflateDecompressor, "decompress", ("self", "data")),
    ):
        expect_function(owner, name, params)
    state = protocol(None, False, websocket._WebSocketParams())
    names = (
        "_decompressor",
        "_frame_compressed",
        "_fragmented_message_buffer",
        "_fragmented_message_opcode",
        "_frame_mask",
        "_frame_length",
        "_wire_bytes_in",
        "params",
    )
    if (
        not all(hasattr(state, name) for name in names)
        or not isinstance(getattr(websocket, "_DecompressTooLargeError", None), type)
        or (protocol.FIN, protocol.RSV1, protocol.RSV_MASK, protocol.OPCODE_MASK) != (0x80, 0x40, 0x70, 0x0F)
    ):
        raise UnsupportedHostError("tornado's WebSocketProtocol13 differs; this tornado version is not supported")


def _plan(impl: ModuleType) -> Plan:
    util = importlib.import_module("tornado.util")
    websocket: Any = importlib.import_module("tornado.websocket")  # binds its copy (and tornado.web's) now
    original = expect_function(util, "_websocket_mask", ("mask", "data"))
    for name in _FOLLOWERS:
        module = sys.modules[name]
        if getattr(module, "_websocket_mask", None) is not original:
            raise UnsupportedHostError(
                f"{name}._websocket_mask is not tornado.util's; this host version is not supported"
            )
    if not any(websocket.WebSocketProtocol13 is built["WebSocketProtocol13"] for built in _BUILT.values()):
        _check_internals(websocket)
    classes = _BUILT.get(impl.NAME)
    if classes is None:
        classes = _BUILT[impl.NAME] = _build(impl)
    on = f"wscodec's PerMessageDeflate ({impl.NAME})"
    plan: Plan = [
        Replace(
            websocket,
            "WebSocketProtocol13",
            classes["WebSocketProtocol13"],
            "a subclass receiving frames without tornado's compression bugs",
        )
    ]
    if impl.NAME == "python":
        # Measured: 2-4 µs a message more than tornado's own calls to zlib, which are thin Python too.
        why = "pure-Python wscodec's PerMessageDeflate costs more a message than tornado's own zlib calls"
        plan += [Leave(f"tornado.websocket.{name}", why) for name in _COMPRESSION]
    else:
        plan += [
            Replace(websocket, _COMPRESSION[0], classes["Compressor"], f"a subclass compressing with {on}"),
            Replace(websocket, _COMPRESSION[1], classes["Decompressor"], f"a subclass inflating with {on}"),
        ]
    where = ["tornado.util._websocket_mask", *(f"{name}._websocket_mask" for name in _FOLLOWERS)]
    if native_beats_pure(original, impl):
        why = "tornado's compiled speedups.websocket_mask is faster than pure-Python wscodec"
        return [*(Leave(name, why) for name in where), *plan]
    what = f"wscodec mask_keyfirst ({impl.NAME}; tornado's own function outside the fast path)"
    replacement = host_mask_fallback(impl, original).mask_keyfirst
    plan.insert(0, Replace(util, "_websocket_mask", replacement, what, followers=_FOLLOWERS))
    for index, name in enumerate(_FOLLOWERS, 1):
        plan.insert(index, Replace(sys.modules[name], "_websocket_mask", replacement, what))
    return plan


# tornado's WebSocketProtocol13._receive_frame, 6.3 to 6.6 (the same code throughout), which the shim's
# subclass re-implements with its fixes (code_fingerprint).
_RECEIVE_FRAME_AST = "47b666f44e0f4d52"


def _self_check(impl: ModuleType, originals: Mapping[str, object]) -> None:
    """Raise unless the replacements, installed, give tornado's own results (for a release newer than the range).

    The masking function and the compressor and decompressor are compared
    with tornado's on a few inputs; the protocol's ``_receive_frame``, which
    the shim's subclass re-implements, must be the code it was written from.
    """
    websocket: Any = importlib.import_module("tornado.websocket")
    host_mask: Any = originals.get("tornado.util._websocket_mask")
    if host_mask is not None:
        for size in (0, 1, 7, 125, 4099):
            data = bytes(range(256)) * (size // 256 + 1)
            if importlib.import_module("tornado.util")._websocket_mask(b"\x01\x82\x33\xf4", data[:size]) != host_mask(
                b"\x01\x82\x33\xf4", data[:size]
            ):
                raise UnsupportedHostError("_websocket_mask masks differently")
    host_protocol: Any = originals["tornado.websocket.WebSocketProtocol13"]
    if code_fingerprint(host_protocol._receive_frame) != _RECEIVE_FRAME_AST:
        raise UnsupportedHostError("WebSocketProtocol13._receive_frame is not the code the shim re-implements")
    HostCompressor: Any = originals.get(f"tornado.websocket.{_COMPRESSION[0]}")
    HostDecompressor: Any = originals.get(f"tornado.websocket.{_COMPRESSION[1]}")
    if HostCompressor is None or HostDecompressor is None:
        return
    messages = [b'{"op": "update", "items": [1, 2, 3]}' * n for n in (1, 3, 40)]
    for persistent, wbits, options in ((True, 15, {}), (False, 9, {"compression_level": 1, "mem_level": 5})):
        theirs, ours = (
            HostCompressor(persistent, wbits, options),
            websocket._PerMessageDeflateCompressor(persistent, wbits, options),
        )
        inflate_theirs = HostDecompressor(persistent, wbits, 1 << 20, options)
        inflate_ours = websocket._PerMessageDeflateDecompressor(persistent, wbits, 1 << 20, options)
        for message in messages:
            compressed = theirs.compress(message)
            if ours.compress(message) != compressed:
                raise UnsupportedHostError("messages are compressed differently")
            if inflate_ours.decompress(compressed) != inflate_theirs.decompress(compressed) or (
                inflate_ours.decompress(compressed) != message
            ):
                raise UnsupportedHostError("messages are inflated differently")
    small = websocket._PerMessageDeflateDecompressor(True, 15, 10, {})
    try:
        small.decompress(HostCompressor(True, 15, {}).compress(bytes(100)))
    except websocket._DecompressTooLargeError:
        pass
    else:
        raise UnsupportedHostError("max_message_size is not enforced as tornado does")


_SHIM = Shim(HOST, SUPPORTED_VERSIONS, _plan, _self_check)

# The public functions come from the Shim; what is this host's own is what install() puts in place.
install, uninstall, is_installed, describe = _SHIM.functions(
    __name__,
    install="""Replace tornado's ``_websocket_mask`` and its compression with wscodec's
    (``impl``: default the active one).""",
    uninstall="""Restore tornado's own ``_websocket_mask`` and classes everywhere the shim replaced them.""",
)
