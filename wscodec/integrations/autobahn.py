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
wscodec implementation, NVX is left in place (it is faster on small
messages); autobahn's own pure-Python classes are always replaced.

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

Supported releases (:data:`SUPPORTED_VERSIONS`): autobahn 26.7 to 26.11.x,
tested on 26.7.1, 26.10.2 and 26.11.1. The floor is 26.7, the first release
whose ``PerMessageDeflate.decompress_message_data(data, max_output_len)``
takes a budget and whose protocol catches ``PayloadExceededError`` from it
(closing with 1009): the subclass's bound relies on both. Before 26.7 the
protocol calls it without a budget and catches nothing, so the bound could
only drop the connection (and 24.4 has neither NVX nor ``USES_NVX``). From
26.7 to 26.9 corrupt compressed data raises ``zlib.error`` (autobahn's
``PayloadCorruptError`` comes in 26.10): the subclass raises what the
installed release does. A newer release installs only if
its self-check (``_self_check``) passes.
"""

from __future__ import annotations

import collections
import importlib
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
SUPPORTED_VERSIONS = Versions(oldest="26.7", newest="26.11")

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


def _build_deflate(impl: ModuleType) -> type:
    """autobahn's PerMessageDeflate on ``impl``'s PerMessageDeflate (for the pure implementation, on
    autobahn's own zlib calls with the shim's bound: see :class:`Bounded`)."""
    PerMessageDeflate = impl.PerMessageDeflate
    exception: Any = importlib.import_module("autobahn.exception")
    PayloadExceededError = exception.PayloadExceededError
    # Corrupt data: autobahn raises PayloadCorruptError from 26.10, zlib's own error before (not wrapped).
    PayloadCorruptError = getattr(exception, "PayloadCorruptError", None)

    def corrupt(reason: str) -> Exception:
        """autobahn's error for corrupt compressed data (``reason``: wscodec's)."""
        if PayloadCorruptError is None:
            return zlib.error(f"Error -3 while decompressing data: {reason.rpartition(': ')[2]}")
        return PayloadCorruptError(f"invalid permessage-deflate data: {reason}")  # type: ignore[no-any-return]

    Host: Any = importlib.import_module(_DEFLATE).PerMessageDeflate

    class Deflate(Host):  # type: ignore[misc]
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
                if max_output_len is None and self.max_message_size is None and _max_message_size is not None:
                    max_output_len = _max_message_size - self._decompress_message_size  # the shim's bound
                return super().decompress_message_data(data, max_output_len)  # type: ignore[no-any-return]
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
                    raise PayloadExceededError(
                        "WebSocket message exceeds decompression limit "
                        f"(max_message_size={limit}, max_output_len={max_output_len})"
                    ) from None
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

    class Bounded(Host):  # type: ignore[misc]
        """autobahn's ``PerMessageDeflate`` as it is, but for inflation bounded by the shim's
        ``max_message_size`` when the application set no limit (neither the extension's
        ``max_message_size`` nor the protocol's ``maxMessagePayloadSize``).

        For the pure-Python implementation: autobahn's own code is thin Python
        over zlib, which wscodec's pure PerMessageDeflate cannot beat (measured:
        about 4 µs a message more, too much for small messages), so only the
        bound is added.
        """

        def decompress_message_data(self, data: bytes, max_output_len: int | None = None) -> bytes:
            """autobahn's, with the shim's bound if no other applies."""
            if max_output_len is None and self.max_message_size is None and _max_message_size is not None:
                max_output_len = _max_message_size - self._decompress_message_size
            return super().decompress_message_data(data, max_output_len)  # type: ignore[no-any-return]

    return Bounded if impl.NAME == "python" else Deflate


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
                raise AssertionError("Mask must be exactly 4 bytes")  # autobahn asserts this
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
        ("decompress_message_data", ("self", "data", "max_output_len")),
        ("end_decompress_message", ("self",)),
    ):
        expect_function(Host, name, params)
    registry = importlib.import_module(_COMPRESS).PERMESSAGE_COMPRESSION_EXTENSION
    protocol: Any = importlib.import_module(_PROTOCOL)
    if (
        protocol.PERMESSAGE_COMPRESSION_EXTENSION is not registry
        or registry.get(Host.EXTENSION_NAME, {}).get("PMCE") is not Host
        or not hasattr(Host(True, False, False, 15, 15, 8), "_decompress_message_size")
    ):
        raise UnsupportedHostError(
            f"{_PROTOCOL} does not find {_DEFLATE}.PerMessageDeflate as expected; "
            "this autobahn version is not supported"
        )


def _plan(impl: ModuleType) -> Plan:
    websocket: Any = importlib.import_module("autobahn.websocket")
    protocol: Any = importlib.import_module(_PROTOCOL)
    validator: Any = importlib.import_module(_VALIDATOR)
    masker: Any = importlib.import_module(_MASKER)
    expect_function(protocol, "create_xor_masker", ("mask", "length"))
    expect_function(masker, "create_xor_masker", ("mask", "length"))
    expect_function(protocol.XorMaskerNull, "pointer", ("self",))
    _check_deflate()
    if not any(protocol.Utf8Validator is built[0] for built in _BUILT.values()):  # (installed: ours)
        expect_function(protocol.Utf8Validator, "validate", ("self", "ba"))
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
    nvx = bool(websocket.USES_NVX)
    if nvx and impl.NAME == "python":
        why = "autobahn uses its compiled NVX code, faster than pure-Python wscodec on small messages"
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
    was = "NVX" if nvx else "pure-Python"
    plan: Plan = [
        Replace(protocol, "Utf8Validator", validator_class, f"wscodec's Utf8Validator ({impl.NAME}; was {was})"),
        Replace(validator, "Utf8Validator", validator_class, f"wscodec's Utf8Validator ({impl.NAME}; was {was})"),
        Replace(protocol, "create_xor_masker", factory, f"a maker of wscodec maskers ({impl.NAME}; was {was})"),
        Replace(masker, "create_xor_masker", factory, f"a maker of wscodec maskers ({impl.NAME}; was {was})"),
    ]
    for name in ("XorMaskerSimple", "XorMaskerShifted1"):  # defined only when autobahn runs without NVX
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
    return [
        Replace(importlib.import_module(_PROTOCOL), "PERMESSAGE_COMPRESSION_EXTENSION", view, f"a view naming {what}"),
        Replace(importlib.import_module(_DEFLATE), "PerMessageDeflate", deflate_class, what),
        Replace(compress, "PerMessageDeflate", deflate_class, what),
    ]


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
