"""Shim for autobahn: wscodec's UTF-8 validator, masker and compression behind autobahn's APIs.

autobahn picks its validator and maskers when ``autobahn.websocket`` is
imported: the NVX ones (C through CFFI: a table DFA at about 0.1–0.4 GB/s and
a masker that copies twice, ~1 µs a call) when its wheel has them, which is
the default, or pure-Python ones (a DFA and a byte loop at about 0.01 GB/s)
with ``AUTOBAHN_USE_NVX=0`` or without the build. ``autobahn.websocket.protocol``
copies them with ``from … import``; the shim replaces those copies and the
names in ``autobahn.websocket.utf8validator`` and ``autobahn.websocket.xormasker``:

* ``Utf8Validator`` with wscodec's, which keeps autobahn's
  ``validate(data) -> (valid, ends_on_codepoint, current_index, total_index)``
  and ``reset()`` (and, like autobahn's pure one, ``decode(octet)``);
* ``create_xor_masker`` (and, where autobahn defines them, ``XorMaskerSimple``
  and ``XorMaskerShifted1``) with a masker on wscodec's whose ``process()``,
  ``pointer()`` and ``reset()`` behave as autobahn's: the frame parser ends a
  frame when ``pointer()`` reaches its length.

``XorMaskerNull`` is left alone: it masks nothing. With the pure-Python
wscodec implementation, NVX (and autobahn 24.4's wsaccel) is left in place
(it is faster on small messages); autobahn's own pure-Python classes are
always replaced.

permessage-deflate: ``PerMessageDeflate`` (where the protocol finds it, in
a view of its ``PERMESSAGE_COMPRESSION_EXTENSION`` registry, and where code
constructs it, in ``autobahn.websocket.compress_deflate`` and ``.compress``)
is replaced by a subclass compressing and inflating with wscodec's
``PerMessageDeflate``: the agreed windows and context takeover, autobahn's
level 6 and the extension's ``mem_level`` (default 8; the same bytes on the
wire), autobahn's errors (``PayloadExceededError``, ``PayloadCorruptError``).
Fixed while installed:

* inflation was unbounded unless the application set a limit
  (``maxMessagePayloadSize`` defaults to 0, no limit): it is now bounded by
  ``install(max_message_size=)``, 16 MiB by default, when the application
  set none (1009 past it, the excess never inflated);
* after a message whose deflate stream ends with a BFINAL block (RFC 7692
  §7.2.3.4), autobahn delivered the next messages empty, silently (compiled
  implementation only: see below).

With the pure-Python implementation the subclass keeps autobahn's own zlib
calls and adds only the bound: wscodec's pure ``PerMessageDeflate`` costs
about 4 µs a message more than they do (measured), which small messages
would feel; the BFINAL fix then does not apply. Messages sent through the
streaming API (``beginMessage``/``sendMessageFrame``) have each frame's
compressed bytes flushed (autobahn holds them until the end): other bytes on
the wire, the same message inflated. A ``PerMessageDeflate`` subclass defined
before :func:`install`, and connections opened before it, keep autobahn's
code.

Supported releases (:data:`SUPPORTED_VERSIONS`): autobahn 24.4 to 26.11.x,
tested on the latest release of each line: 24.4.2, 25.9.1, 25.10.2, 25.11.1,
25.12.2, 26.6.2, 26.7.1, 26.10.2 and 26.11.1. 24.4 is the release most
installations ran for the year and a half before 25.9; it has no NVX (its
compiled code is wsaccel's, when installed, which compiled wscodec replaces
and pure wscodec leaves alone, as it does NVX). Before 26.7
``decompress_message_data(data)`` takes no budget and the protocol catches
no ``PayloadExceededError``: the shim also replaces
``WebSocketProtocol.onFrameData`` with one that gives the subclass the
protocol's ``maxMessagePayloadSize`` and fails the connection with 1009
past it, as 26.7 does. That also fixes two bugs of those releases: their
``maxMessagePayloadSize`` bounded the compressed bytes only, so a few KiB
inflated past it (GHSA-hxp9-w8x3-p566), and the extension's
``max_message_size`` cut an inflated message short, silently (the shim
raises ``PayloadExceededError``, as 26.7 does). Before 26.10 corrupt
compressed data raises ``zlib.error`` (autobahn's ``PayloadCorruptError``
comes in 26.10): the subclass raises what the installed release does. A
newer release installs only if its self-check (``_self_check``) passes.
"""

from __future__ import annotations

import collections
import importlib
import inspect
import zlib
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from .. import _rules
from ..deflate_params import DeflateParams
from ..errors import ProtocolError
from ._patch import Leave, Plan, Replace, Shim, UnsupportedHostError, Versions, check_size_limit, expect_function

__all__ = [
    "HOST",
    "SUPPORTED_VERSIONS",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "describe",
    "install",
    "is_installed",
    "uninstall",
]

#: distribution name of the host library
HOST = "autobahn"
#: the host releases this shim supports (a newer one is installed only if it passes the checks at install)
SUPPORTED_VERSIONS = Versions(oldest="24.4", newest="26.11")

_PROTOCOL = "autobahn.websocket.protocol"
_VALIDATOR = "autobahn.websocket.utf8validator"
_MASKER = "autobahn.websocket.xormasker"

_DEFLATE = "autobahn.websocket.compress_deflate"
_COMPRESS = "autobahn.websocket.compress"

#: the default of ``install(max_message_size=)``: 16 MiB, wscodec's own default
DEFAULT_MAX_MESSAGE_SIZE = _rules.DEFAULT_MAX_MESSAGE_SIZE

# What a compressed message may inflate to when the application set no limit (None: no limit).
_max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE
# autobahn's compressor level: zlib.Z_DEFAULT_COMPRESSION, which is level 6 (its memLevel is the extension's).
_LEVEL = 6
_TAIL = b"\x00\x00\xff\xff"
# The budget of a message's last call (its 00 00 FF FF tail, whose output autobahn discards).
_TAIL_BUDGET = 1 << 16

# The replacement classes of each wscodec implementation, built once so that
# installing twice installs the very same objects.
_BUILT: dict[str, tuple[type, type, Any, type]] = {}
# autobahn's onFrameData -> the shim's, before autobahn 26.7 (see _bounded_frame_data).
_FRAME_DATA: dict[Any, Any] = {}


def _build_deflate(impl: ModuleType) -> type:
    """autobahn's PerMessageDeflate on ``impl``'s PerMessageDeflate (for the pure implementation, on
    autobahn's own zlib calls with the shim's bound: see :class:`Bounded`)."""
    PerMessageDeflate = impl.PerMessageDeflate
    exception: Any = importlib.import_module("autobahn.exception")
    PayloadExceededError = exception.PayloadExceededError
    # Corrupt data: autobahn raises PayloadCorruptError from 26.10, zlib's own error before (not wrapped).
    PayloadCorruptError = getattr(exception, "PayloadCorruptError", None)
    Host: Any = _host_deflate()
    takes_budget = _takes_budget(Host)

    def corrupt(reason: str) -> Exception:
        """autobahn's error for corrupt compressed data (``reason``: wscodec's), zlib's words in it."""
        error = zlib.error(f"Error -3 while decompressing data: {reason.rpartition(': ')[2]}")
        if PayloadCorruptError is None:
            return error
        return PayloadCorruptError(f"invalid permessage-deflate data: {error}")  # type: ignore[no-any-return]

    def exceeded(limit: int | None, max_output_len: int | None) -> Exception:
        return PayloadExceededError(  # type: ignore[no-any-return]
            f"WebSocket message exceeds decompression limit (max_message_size={limit}, max_output_len={max_output_len})"
        )

    def host_inflate(pmce: Any, data: bytes, max_output_len: int | None) -> bytes:
        """autobahn's own inflation, bounded: by the extension's ``max_message_size`` and
        ``max_output_len``, else by the shim's ``max_message_size``."""
        size = pmce._decompress_message_size
        if max_output_len is None and pmce.max_message_size is None and _max_message_size is not None:
            max_output_len = _max_message_size - size
        if takes_budget:
            return Host.decompress_message_data(pmce, data, max_output_len)  # type: ignore[no-any-return]
        # Before 26.7 autobahn's call takes no budget (and its max_message_size cut the output short, silently).
        limits = [n for n in (max_output_len, pmce.max_message_size) if n is not None]
        if pmce.max_message_size is not None:
            limits[-1] -= size
        if not limits:
            out: bytes = pmce._decompressor.decompress(data)
        else:
            limit = max(min(limits), 0)
            out = pmce._decompressor.decompress(data, limit + 1)
            if len(out) > limit:
                raise exceeded(pmce.max_message_size, max_output_len)
        pmce._decompress_message_size = size + len(out)
        return out

    class Bounded(Host):  # type: ignore[misc]
        """autobahn's ``PerMessageDeflate`` as it is, but for inflation bounded by the shim's
        ``max_message_size`` when the application set no limit (neither the extension's
        ``max_message_size`` nor the protocol's ``maxMessagePayloadSize``).

        For the pure-Python implementation: autobahn's own code is thin Python
        over zlib, which wscodec's pure PerMessageDeflate cannot beat (measured:
        about 4 µs a message more, too much for small messages), so only the
        bound is added.
        """

        #: the autobahn class this one replaces
        host = Host
        #: the receiving protocol's maxMessagePayloadSize, which the shim's onFrameData sets before
        #: autobahn 26.7 (from 26.7 the protocol passes what is left of it as ``max_output_len``)
        protocol_limit = 0

        def start_decompress_message(self) -> None:
            """A compressed message arrives."""
            super().start_decompress_message()
            self._decompress_message_size = 0

        def decompress_message_data(self, data: bytes, max_output_len: int | None = None) -> bytes:
            """autobahn's, with the shim's bound if no other applies."""
            return host_inflate(self, data, self._budget(max_output_len))

        def _budget(self, max_output_len: int | None) -> int | None:
            """``max_output_len``, or what is left of the protocol's limit if it passed none."""
            if max_output_len is None and self.protocol_limit > 0:
                return self.protocol_limit - self._decompress_message_size
            return max_output_len

    class Deflate(Bounded):
        """autobahn's ``PerMessageDeflate``, compressing and inflating with wscodec's.

        The parameters are the agreed ones (windows, context takeover, the
        extension's ``mem_level``) at autobahn's level 6; the errors are
        autobahn's (``PayloadExceededError`` past the budget,
        ``PayloadCorruptError`` for corrupt data). Fixed: with no limit set
        (neither ``max_message_size`` nor the protocol's budget), inflation
        is bounded by the shim's ``max_message_size``; a message whose deflate
        stream ends with a BFINAL block no longer makes the next messages
        arrive empty. Settings wscodec refuses keep autobahn's own code (with
        the shim's bound).
        """

        def __init__(
            self,
            is_server: bool,
            server_no_context_takeover: bool,
            client_no_context_takeover: bool,
            server_max_window_bits: int,
            client_max_window_bits: int,
            mem_level: int,
            max_message_size: int | None = None,
        ) -> None:
            super().__init__(
                is_server,
                server_no_context_takeover,
                client_no_context_takeover,
                server_max_window_bits,
                client_max_window_bits,
                mem_level,
                max_message_size,
            )
            self._wscodec: Any = None
            try:
                params = DeflateParams(
                    server_no_context_takeover=bool(self.server_no_context_takeover),
                    client_no_context_takeover=bool(self.client_no_context_takeover),
                    server_max_window_bits=self.server_max_window_bits,
                    client_max_window_bits=self.client_max_window_bits,
                )
                self._wscodec = PerMessageDeflate(params, client=not is_server, level=_LEVEL, mem_level=self.mem_level)
            except (TypeError, ValueError):
                pass
            # The message being compressed had a piece sent without its 00 00 FF FF (owed to the next piece).
            self._owed = False

        def start_compress_message(self) -> None:
            """A message to send begins."""
            if self._wscodec is None:
                super().start_compress_message()
                return
            self._owed = False

        def compress_message_data(self, data: bytes) -> bytes:
            """The compressed bytes of the next piece of the message (flushed, so they can go out now)."""
            if self._wscodec is None:
                return super().compress_message_data(data)  # type: ignore[no-any-return]
            out: bytes = self._wscodec.compress(data)
            if self._owed:
                out = _TAIL + out
            self._owed = True
            return out

        def end_compress_message(self) -> bytes:
            """The message's last compressed bytes (those of an empty message if nothing came before)."""
            if self._wscodec is None:
                return super().end_compress_message()  # type: ignore[no-any-return]
            if self._owed:
                self._owed = False
                return b""
            return self._wscodec.compress(b"")  # type: ignore[no-any-return]

        def start_decompress_message(self) -> None:
            """A compressed message arrives."""
            if self._wscodec is None:
                super().start_decompress_message()
                return
            self._decompress_message_size = 0

        def decompress_message_data(self, data: bytes, max_output_len: int | None = None) -> bytes:
            """The inflated bytes of the next compressed bytes of the message, within its budget."""
            if self._wscodec is None:
                return super().decompress_message_data(data, max_output_len)
            max_output_len = self._budget(max_output_len)
            size = self._decompress_message_size
            limit = self.max_message_size
            budget = None if limit is None else limit - size
            if max_output_len is not None:
                budget = max_output_len if budget is None else min(budget, max_output_len)
            if budget is None and _max_message_size is not None:  # the application set no limit
                budget = _max_message_size - size
            try:
                out: bytes = self._wscodec._inflate(data, (1 << 62) if budget is None else max(budget, 0))
            except ProtocolError as exc:
                if exc.code == 1009:
                    raise exceeded(limit, max_output_len) from None
                raise corrupt(exc.reason) from None
            self._decompress_message_size = size + len(out)
            return out

        def end_decompress_message(self) -> None:
            """The message's compressed bytes have all arrived: its tail is inflated (and discarded)."""
            if self._wscodec is None:
                super().end_decompress_message()
                return
            try:
                self._wscodec._inflate(b"", _TAIL_BUDGET, True)
            except ProtocolError as exc:
                raise corrupt(exc.reason) from None

    return Bounded if impl.NAME == "python" else Deflate


def _host_deflate() -> Any:
    """autobahn's own PerMessageDeflate (also while the shim's subclass stands in its place)."""
    current = importlib.import_module(_DEFLATE).PerMessageDeflate
    return current.host if any(current is built[3] for built in _BUILT.values()) else current


def _takes_budget(host: Any) -> bool:
    """Whether autobahn's ``decompress_message_data`` takes ``max_output_len`` (from 26.7)."""
    return "max_output_len" in inspect.signature(host.decompress_message_data).parameters


def _host_frame_data() -> Any:
    """autobahn's own ``WebSocketProtocol.onFrameData`` (also while the shim's stands in its place)."""
    current = importlib.import_module(_PROTOCOL).WebSocketProtocol.onFrameData
    return getattr(current, "host", current)


def _bounded_frame_data(host: Any) -> Any:
    """``onFrameData`` for autobahn before 26.7: a compressed message past its limit fails the connection.

    Before 26.7 the protocol neither passes its ``maxMessagePayloadSize`` to
    the extension (it checks the compressed size only) nor catches
    ``PayloadExceededError``, which would drop the connection without a close
    frame. This one gives the limit to the shim's subclass (inflated bytes
    count) and fails the connection with 1009 as 26.7 does.
    """
    PayloadExceededError = importlib.import_module("autobahn.exception").PayloadExceededError

    def onFrameData(self: Any, payload: bytes) -> Any:
        """autobahn's ``onFrameData``; a compressed message past its limit fails the connection with 1009."""
        pmce = self._perMessageCompress
        if self.current_frame.opcode > 7 or not self._isMessageCompressed or not hasattr(pmce, "protocol_limit"):
            return host(self, payload)
        limit = self.maxMessagePayloadSize
        pmce.protocol_limit = limit
        try:
            return host(self, payload)
        except PayloadExceededError:
            if not self.failedByMe:
                self.wasMaxMessagePayloadSizeExceeded = True
                reason = f"received WebSocket message exceeds payload limit of {limit} octets after decompression"
                self._max_message_size_exceeded(limit, limit, reason)
            return False

    onFrameData.host = host  # type: ignore[attr-defined]
    return onFrameData


def _build(impl: ModuleType) -> tuple[type, type, Any, type]:
    """Create the validator class, masker class, ``create_xor_masker`` and PerMessageDeflate on ``impl``."""
    Masker = impl.Masker

    class Utf8Validator(impl.Utf8Validator):  # type: ignore[misc,name-defined]
        """autobahn's incremental UTF-8 validator API on wscodec's validator.

        ``validate(data)`` returns ``(valid, ends_on_codepoint, current_index,
        total_index)`` as autobahn's does; once invalid it stays invalid until
        :meth:`reset`.
        """

        def decode(self, octet: int) -> int:
            """Validate one more octet: 0 (a code point ended), 1 (invalid), or 2 (more octets needed)."""
            valid, complete, _, _ = self.validate(bytes((octet,)))
            return 0 if complete else 2 if valid else 1

    class XorMasker:
        """autobahn's masker API on wscodec's: ``process`` keeps the phase, ``pointer`` counts bytes."""

        __slots__ = ("_masker", "_ptr")

        def __init__(self, mask: bytes) -> None:
            if len(mask) != 4:
                # autobahn asserts this; wsaccel raises ValueError
                if _host_code() == "wsaccel":
                    raise ValueError("mask should be 4byte.")
                raise AssertionError("Mask must be exactly 4 bytes")
            self._masker = Masker(mask)
            self._ptr = 0

        def pointer(self) -> int:
            """How many payload bytes were processed since creation or :meth:`reset`."""
            return self._ptr

        def reset(self) -> None:
            """Start again at the beginning of a payload."""
            self._ptr = 0
            self._masker.reset()

        def process(self, data: bytes) -> bytes:
            """Return the next chunk of the payload, masked (or unmasked), as bytes."""
            out: bytes = self._masker.process(data)
            self._ptr += len(data)
            return out

    def create_xor_masker(mask: bytes, length: int | None = None) -> XorMasker:
        """A masker for a payload of ``length`` bytes (any length: wscodec picks its kernel itself)."""
        return XorMasker(mask)

    return Utf8Validator, XorMasker, create_xor_masker, _build_deflate(impl)


def _check_deflate() -> None:
    """Raise UnsupportedHostError unless autobahn's PerMessageDeflate is the one the subclass builds on."""
    Host: Any = importlib.import_module(_DEFLATE).PerMessageDeflate
    if any(Host is built[3] for built in _BUILT.values()):
        return  # (installed: ours)
    protocol: Any = importlib.import_module(_PROTOCOL)
    if _takes_budget(Host):
        expect_function(Host, "decompress_message_data", ("self", "data", "max_output_len"))
        if not hasattr(Host(True, False, False, 15, 15, 8), "_decompress_message_size"):
            raise UnsupportedHostError(f"{_DEFLATE}.PerMessageDeflate does not count what it inflates")
    else:  # before 26.7: the shim's onFrameData (_bounded_frame_data) gives the budget and fails with 1009
        expect_function(Host, "decompress_message_data", ("self", "data"))
        expect_function(protocol.WebSocketProtocol, "onFrameData", ("self", "payload"))
        expect_function(
            protocol.WebSocketProtocol, "_max_message_size_exceeded", ("self", "msg_size", "max_msg_size", "reason")
        )
    for name, params in (
        (
            "__init__",
            (
                "self",
                "is_server",
                "server_no_context_takeover",
                "client_no_context_takeover",
                "server_max_window_bits",
                "client_max_window_bits",
                "mem_level",
                "max_message_size",
            ),
        ),
        ("start_compress_message", ("self",)),
        ("compress_message_data", ("self", "data")),
        ("end_compress_message", ("self",)),
        ("start_decompress_message", ("self",)),
        ("end_decompress_message", ("self",)),
    ):
        expect_function(Host, name, params)
    registry = importlib.import_module(_COMPRESS).PERMESSAGE_COMPRESSION_EXTENSION
    if (
        protocol.PERMESSAGE_COMPRESSION_EXTENSION is not registry
        or registry.get(Host.EXTENSION_NAME, {}).get("PMCE") is not Host
    ):
        raise UnsupportedHostError(
            f"{_PROTOCOL} does not find {_DEFLATE}.PerMessageDeflate as expected; "
            "this autobahn version is not supported"
        )


def _host_code() -> str:
    """autobahn's own validator and maskers: ``"NVX"`` (from 25.9, by default), ``"wsaccel"`` (24.4, when
    wsaccel is installed) or ``"pure-Python"``."""
    if getattr(importlib.import_module("autobahn.websocket"), "USES_NVX", False):
        return "NVX"
    null = importlib.import_module(_PROTOCOL).XorMaskerNull  # (which the shim leaves in place)
    return "wsaccel" if getattr(null, "__module__", "").startswith("wsaccel") else "pure-Python"


def _plan(impl: ModuleType) -> Plan:
    protocol: Any = importlib.import_module(_PROTOCOL)
    validator: Any = importlib.import_module(_VALIDATOR)
    masker: Any = importlib.import_module(_MASKER)
    was = _host_code()
    # wsaccel's functions name their arguments their own way
    mask_params = ("mask", "len") if was == "wsaccel" else ("mask", "length")
    validate_params = ("self", "buf") if was == "wsaccel" else ("self", "ba")
    if not any(protocol.create_xor_masker is built[2] for built in _BUILT.values()):  # (installed: ours)
        expect_function(protocol, "create_xor_masker", mask_params)
        expect_function(masker, "create_xor_masker", mask_params)
    expect_function(protocol.XorMaskerNull, "pointer", ("self",))
    _check_deflate()
    if not any(protocol.Utf8Validator is built[0] for built in _BUILT.values()):  # (installed: ours)
        expect_function(protocol.Utf8Validator, "validate", validate_params)
        expect_function(protocol.Utf8Validator, "reset", ("self",))
    if protocol.Utf8Validator is not validator.Utf8Validator or protocol.create_xor_masker is not (
        masker.create_xor_masker
    ):
        raise UnsupportedHostError(
            f"{_PROTOCOL} does not use {_VALIDATOR}.Utf8Validator and {_MASKER}.create_xor_masker; "
            "this autobahn version is not supported"
        )
    built = _BUILT.get(impl.NAME)
    if built is None:
        built = _BUILT[impl.NAME] = _build(impl)
    validator_class, masker_class, factory, deflate_class = built
    deflate = _deflate_plan(impl, deflate_class)
    if was != "pure-Python" and impl.NAME == "python":
        why = f"autobahn uses its compiled {was} code, faster than pure-Python wscodec on small messages"
        return [
            *(
                Leave(f"{module}.{name}", why)
                for module, name in (
                    (_PROTOCOL, "Utf8Validator"),
                    (_VALIDATOR, "Utf8Validator"),
                    (_PROTOCOL, "create_xor_masker"),
                    (_MASKER, "create_xor_masker"),
                )
            ),
            *deflate,
        ]
    plan: Plan = [
        Replace(protocol, "Utf8Validator", validator_class, f"wscodec's Utf8Validator ({impl.NAME}; was {was})"),
        Replace(validator, "Utf8Validator", validator_class, f"wscodec's Utf8Validator ({impl.NAME}; was {was})"),
        Replace(protocol, "create_xor_masker", factory, f"a maker of wscodec maskers ({impl.NAME}; was {was})"),
        Replace(masker, "create_xor_masker", factory, f"a maker of wscodec maskers ({impl.NAME}; was {was})"),
    ]
    for name in ("XorMaskerSimple", "XorMaskerShifted1"):  # defined only when autobahn runs its pure Python
        if hasattr(masker, name):
            plan.append(Replace(masker, name, masker_class, f"a masker on wscodec ({impl.NAME}; was {was})"))
    plan.append(Leave(f"{_PROTOCOL}.XorMaskerNull", "it masks nothing (it returns its input, counting bytes)"))
    return plan + deflate


def _deflate_plan(impl: ModuleType, deflate_class: type) -> Plan:
    """The entries that put ``deflate_class`` where autobahn finds its PerMessageDeflate.

    The protocol looks the class up in the registry it imported,
    ``PERMESSAGE_COMPRESSION_EXTENSION``: it gets a view of that very dict
    (later registrations show through) whose permessage-deflate entry names
    the subclass; the module names serve code that constructs the class itself.
    """
    compress: Any = importlib.import_module(_COMPRESS)
    registry = compress.PERMESSAGE_COMPRESSION_EXTENSION
    name = deflate_class.EXTENSION_NAME  # type: ignore[attr-defined]
    view = collections.ChainMap({name: {**registry[name], "PMCE": deflate_class}}, registry)
    if impl.NAME == "python":
        what = (
            "a subclass bounding inflation by the shim's max_message_size when the application set no limit "
            "(autobahn's own zlib calls: pure-Python wscodec's cost more a message)"
        )
    else:
        what = f"a subclass compressing and inflating with wscodec's PerMessageDeflate ({impl.NAME})"
    protocol: Any = importlib.import_module(_PROTOCOL)
    plan: Plan = [
        Replace(protocol, "PERMESSAGE_COMPRESSION_EXTENSION", view, f"a view naming {what}"),
        Replace(importlib.import_module(_DEFLATE), "PerMessageDeflate", deflate_class, what),
        Replace(compress, "PerMessageDeflate", deflate_class, what),
    ]
    if not _takes_budget(_host_deflate()):
        host = _host_frame_data()
        frame_data = _FRAME_DATA.setdefault(host, _bounded_frame_data(host))
        what = (
            "one running autobahn's that gives the subclass maxMessagePayloadSize (counted in inflated bytes) "
            "and fails the connection with 1009 past it (before 26.7 the error escaped, dropping the connection)"
        )
        plan.append(Replace(protocol.WebSocketProtocol, "onFrameData", frame_data, what))
    return plan


def _self_check(impl: ModuleType, originals: Mapping[str, object]) -> None:
    """Raise unless the replacements, installed, give autobahn's own results (for a release newer than the range).

    The validator (chunked valid, invalid and truncated UTF-8), the maskers
    (phase and ``pointer()`` across chunks) and the permessage-deflate class
    (the same compressed bytes for whole messages, inflated back, its limit)
    are compared with autobahn's own ``originals`` on a few inputs.
    """
    protocol: Any = importlib.import_module(_PROTOCOL)
    host_validator: Any = originals.get(f"{_PROTOCOL}.Utf8Validator")
    if host_validator is not None:
        text = "a\u00e9\u20ac\U0001f600".encode()
        for chunks in ([text], [text[:2], text[2:5], text[5:]], [b"ok\xc3"], [b"\xed\xa0\x80"], [b"a", b"\xff"]):
            theirs, ours = host_validator(), protocol.Utf8Validator()
            if [tuple(ours.validate(chunk)) for chunk in chunks] != [tuple(theirs.validate(chunk)) for chunk in chunks]:
                raise UnsupportedHostError("Utf8Validator validates differently")
    host_masker: Any = originals.get(f"{_PROTOCOL}.create_xor_masker")
    if host_masker is not None:
        data = bytes(range(256)) * 5
        for length in (5, len(data)):
            theirs, ours = (
                host_masker(b"\x01\x82\x33\xf4", length),
                protocol.create_xor_masker(b"\x01\x82\x33\xf4", length),
            )
            for chunk in (data[:1], data[1:length]):
                if bytes(ours.process(chunk)) != bytes(theirs.process(chunk)) or ours.pointer() != theirs.pointer():
                    raise UnsupportedHostError("create_xor_masker masks differently")
    Host: Any = originals[f"{_DEFLATE}.PerMessageDeflate"]
    Ours: Any = importlib.import_module(_DEFLATE).PerMessageDeflate
    messages = [b'{"op": "update", "items": [1, 2, 3]}' * n for n in (1, 3, 40)]
    for settings in ((True, False, False, 15, 15, 8), (False, True, True, 15, 15, 4)):
        theirs, ours = Host(*settings), Ours(*settings)
        peer_settings = (not settings[0], *settings[1:])
        inflate_theirs, inflate_ours = Host(*peer_settings), Ours(*peer_settings)
        for message in messages:
            sent = []
            for deflate in (theirs, ours):
                deflate.start_compress_message()
                sent.append(deflate.compress_message_data(message) + deflate.end_compress_message())
            if sent[0] != sent[1]:
                raise UnsupportedHostError("PerMessageDeflate compresses differently")
            got = []
            for inflate in (inflate_theirs, inflate_ours):
                inflate.start_decompress_message()
                got.append(inflate.decompress_message_data(sent[0]))
                inflate.end_decompress_message()
            if got != [message, message]:
                raise UnsupportedHostError("PerMessageDeflate inflates differently")
    sender = Host(False, False, False, 15, 15, 8)
    sender.start_compress_message()
    body = sender.compress_message_data(bytes(1000)) + sender.end_compress_message()
    limited = Ours(True, False, False, 15, 15, 8, 10)
    limited.start_decompress_message()
    try:
        limited.decompress_message_data(body)
    except importlib.import_module("autobahn.exception").PayloadExceededError:
        pass
    else:
        raise UnsupportedHostError("PerMessageDeflate's max_message_size is not enforced as autobahn does")


def _options(*, max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE) -> None:
    """install()'s own keyword argument: check it and keep it for the connections created from now on."""
    global _max_message_size
    check_size_limit("max_message_size", max_message_size)
    _max_message_size = max_message_size


_SHIM = Shim(HOST, SUPPORTED_VERSIONS, _plan, _self_check, options=_options)

# The public functions come from the Shim; what is this host's own is what install() puts in place.
install, uninstall, is_installed, describe = _SHIM.functions(
    __name__,
    install="""Put wscodec's validator, masker and permessage-deflate under autobahn (``impl``: default the
    active implementation).

    ``max_message_size``: how many bytes a compressed message may inflate to
    when the application set no limit of its own (default
    :data:`DEFAULT_MAX_MESSAGE_SIZE`, 16 MiB; ``None``: no limit, as autobahn).
    autobahn's default ``maxMessagePayloadSize`` is 0, unlimited, so a peer
    could make it inflate a few KiB into GiB; past this bound autobahn fails
    the connection with 1009, as for its own limit (its close reason names its
    own setting: "limit of 0 octets"), and the excess is never inflated. A
    limit the application sets (``maxMessagePayloadSize``, or the extension's
    ``max_message_size``) applies instead, larger or smaller. It takes effect
    on the next message received.

    Connections opened before the call keep the validator and the compression
    they made.""",
    uninstall="""Restore autobahn's own validator, maskers and PerMessageDeflate everywhere the shim replaced them.""",
)
