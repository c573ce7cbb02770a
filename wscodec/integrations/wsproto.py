"""Shim for wsproto: wscodec's header parsing, framing and masking under wsproto's connection.

wsproto is Python throughout. A received frame goes through its ``Buffer``
(a copy per read and per field), ``FrameDecoder.parse_header``,
``XorMaskerSimple`` (four ``bytes.translate`` passes), ``MessageDecoder`` (a
new incremental UTF-8 decoder per text message), two generators and the
``Connection`` event dispatch; a sent frame through ``send_data``,
``_serialize_frame`` (``XorMaskerSimple`` again) and three more copies.

The shim replaces, where wsproto looks them up at call time (the globals of
``wsproto.frame_protocol``, ``wsproto.connection``'s ``FrameProtocol``, and
the ``Connection`` that ``wsproto.handshake`` instantiates):

* ``XorMaskerSimple`` with a masker on wscodec's kernel (same phase-keeping
  ``process(data) -> bytearray``) — with the compiled implementation only:
  the pure one masks a bytearray no faster than wsproto's ``bytes.translate``;
* ``FrameDecoder`` with a subclass whose ``process_buffer`` parses headers
  with wscodec's ``parse_header`` and unmasks with its ``apply_mask``,
  straight from the bytes received (no copy into the buffer unless a frame
  straddles two reads); a text message arriving as one whole frame becomes
  its ``str`` there, through ``decode_text`` (an ASCII payload is unmasked
  straight into the ``str``: one pass instead of unmask, copy and decode);
* ``MessageDecoder`` with a subclass that passes such a ``str`` on, and
  decodes any other whole-frame text message in one ``bytes.decode`` call;
* ``FrameProtocol`` with a subclass that frames with wscodec's
  ``encode_frame`` (header, copy and mask in one pass; a ``str`` is framed
  from its own data when ASCII, so text is not encoded into a copy first);
* ``Connection`` with a subclass whose ``send``, ``receive_data`` and
  ``events`` take the direct route for data messages on an open connection.

Behaviour is wsproto's, event for event: partial frames of large messages,
``frame_finished``/``message_finished``, close codes, the exact
``ParseFailed`` messages and codes, ``LocalProtocolError``. Every unusual
case — an incomplete or invalid header, RSV bits, a wrong masking direction,
extensions other than wsproto's PerMessageDeflate, closing states, payload
types other than bytes/bytearray/memoryview — is handed to wsproto's own
code. Connections created before :func:`install` keep wsproto's classes;
those created while it is installed keep working after :func:`uninstall`.

permessage-deflate: when a connection's one extension is wsproto's own
``PerMessageDeflate`` (negotiated), the shim compresses and inflates with
wscodec's ``PerMessageDeflate``, with the parameters the extension agreed
(windows, context takeover) and wsproto's compressor settings (level 6, its
``Z_DEFAULT_COMPRESSION``, and zlib's memLevel 8), and the extension object
is left unused. Whole messages go on the wire as wsproto's own bytes; a
message sent in fragments has each fragment flushed (wsproto flushes only at
the end), which changes its compressed bytes, not what the peer inflates.
Events and errors are wsproto's (RSV1 on a control or continuation frame,
corrupt data: "error in extension", 1002 and 1007), except for wsproto's bugs,
which the shim fixes:

* inflation had no bound (65 KB on the wire became 64 MiB, 192 MiB at the
  peak): a compressed message may now inflate to ``max_message_size`` bytes
  (an :func:`install` argument, 16 MiB by default), past which ``events()``
  yields ``CloseConnection(1009)``, the excess never inflated;
* a control frame between the fragments of a compressed message made wsproto
  treat the rest of the message as uncompressed (a text message then failed
  as invalid UTF-8): the message is now delivered intact;
* a message whose deflate stream ends with a BFINAL block (RFC 7692
  §7.2.3.4) broke the next message (1007): it now goes on from the window.

Not reached: a ``PerMessageDeflate`` subclass, another extension next to it,
or a ``FrameDecoder`` built directly with the extension keep wsproto's own
code (and its bugs); so do connections created before :func:`install`.
Uncompressed messages have no size limit: wsproto delivers their bytes as
they arrive, so what they cost in memory is the application's to decide.

Supported releases (:data:`SUPPORTED_VERSIONS`): wsproto 1.2 to 1.3.x, tested
on 1.2.0 and 1.3.2. The floor is the oldest line checked. The classes the
shim subclasses have the same methods and state from 1.2 on; what 1.2 does
otherwise is found by running wsproto's own code at install (``_Shapes``)
and followed: its masker returns bytes, an unmasked (or empty) payload is
delivered as a bytearray, a payload neither bytes nor str raises ValueError,
and a server's memoryview payload is framed by wsproto itself (which fails on
a strided one). A newer release installs only if its self-check (``_self_check``) passes.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from types import ModuleType
from typing import Any, NamedTuple

from .. import _rules
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
HOST = "wsproto"
#: the host releases this shim supports (a newer one is installed only if it passes the checks at install)
SUPPORTED_VERSIONS = Versions(oldest="1.2", newest="1.3")
#: the default of ``install(max_message_size=)``: 16 MiB, wscodec's own default and uvicorn's ``ws_max_size``
DEFAULT_MAX_MESSAGE_SIZE = _rules.DEFAULT_MAX_MESSAGE_SIZE

# What a compressed message may inflate to on connections created from now on (None: no limit).
_max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE

# The replacement classes of each wscodec implementation (a copy of _wsproto_classes each), built once
# so that installing twice installs the very same objects.
_BUILT: dict[str, ModuleType] = {}


def _classes(impl: ModuleType) -> ModuleType:
    """The replacement classes on wscodec implementation ``impl``: a copy of ``_wsproto_classes`` (which
    imports wsproto) of its own, executed with ``IMPL`` set to ``impl``; built on first use."""
    module = _BUILT.get(impl.NAME)
    if module is None:
        spec = importlib.util.find_spec(f"{__package__}._wsproto_classes")
        if spec is None or spec.loader is None:
            raise ImportError(f"{__package__}._wsproto_classes is missing")
        module = importlib.util.module_from_spec(spec)
        setattr(module, "IMPL", impl)  # noqa: B010  # (read by the module's body, which runs next)
        spec.loader.exec_module(module)
        module = _BUILT[impl.NAME] = module
    return module


class _Shapes(NamedTuple):
    """What differs across the supported wsproto releases, found by running wsproto's own code."""

    #: the type of a payload wsproto unmasked (its ``XorMaskerSimple.process``): bytes before 1.3, then bytearray
    masked_type: type
    #: the type of an unmasked payload it delivers: bytearray before 1.3 (its buffer's slice), then bytes
    unmasked_type: type
    #: what ``send_data`` raises for a payload neither bytes nor str: ValueError before 1.3, then TypeError
    not_data_error: type[Exception]
    #: whether a server frames any memoryview (before 1.3 it concatenates it to the header, which fails for a
    #: strided one and counts elements, not bytes, for one of wider items: its own code runs for those)
    server_memoryview: bool


def _shapes(fp: Any) -> _Shapes:
    """The shapes of the installed wsproto (see ``_Shapes``); UnsupportedHostError for any other.

    Found once, on wsproto's own classes (the first call comes before any install).
    """
    global _found_shapes
    if _found_shapes is not None:
        return _found_shapes
    masked = fp.XorMaskerSimple(b"\x01\x02\x03\x04").process(bytearray(b"abcd"))
    decoder = fp.FrameDecoder(client=True)
    decoder.receive_bytes(b"\x82\x01x")
    frame = decoder.process_buffer()
    unmasked = type(getattr(frame, "payload", None))
    try:
        fp.FrameProtocol(True, []).send_data(0)
    except (TypeError, ValueError) as exc:
        error: type[Exception] = type(exc)
    else:
        error = Exception
    try:
        strided = memoryview(b"xyz")[::2]
        server_memoryview = bytes(fp.FrameProtocol(False, [])._serialize_frame(fp.Opcode.BINARY, strided))
    except TypeError:
        server_memoryview = b""
    if (
        bytes(masked) != b"````"
        or type(masked) not in (bytes, bytearray)
        or unmasked not in (bytes, bytearray)
        or frame.payload != b"x"
        or error not in (TypeError, ValueError)
        or server_memoryview not in (b"", b"\x82\x02xz")
    ):
        raise UnsupportedHostError("wsproto's frame payloads differ; this wsproto version is not supported")
    _found_shapes = _Shapes(type(masked), unmasked, error, bool(server_memoryview))
    return _found_shapes


_found_shapes: _Shapes | None = None


def _check_internals(fp: Any, conn: Any) -> None:
    """Raise UnsupportedHostError unless wsproto's internals are the ones the subclasses build on."""
    for owner, name, params in (
        (fp.XorMaskerSimple, "process", ("self", "data")),
        (fp.FrameDecoder, "__init__", ("self", "client", "extensions")),
        (fp.FrameDecoder, "receive_bytes", ("self", "data")),
        (fp.FrameDecoder, "process_buffer", ("self",)),
        (fp.FrameDecoder, "parse_header", ("self",)),
        (fp.MessageDecoder, "process_frame", ("self", "frame")),
        (fp.FrameProtocol, "__init__", ("self", "client", "extensions")),
        (fp.FrameProtocol, "received_frames", ("self",)),
        (fp.FrameProtocol, "send_data", ("self", "payload", "fin")),
        (fp.FrameProtocol, "_serialize_frame", ("self", "opcode", "payload", "fin")),
        (fp.FrameProtocol, "_process_close", ("self", "frame")),
        (conn.Connection, "__init__", ("self", "connection_type", "extensions", "trailing_data")),
        (conn.Connection, "send", ("self", "event")),
        (conn.Connection, "receive_data", ("self", "data")),
        (conn.Connection, "events", ("self",)),
    ):
        expect_function(owner, name, params)
    if fp.Frame._fields != (
        "opcode",
        "payload",
        "frame_finished",
        "message_finished",
    ) or fp.Header._fields != (
        "fin",
        "rsv",
        "opcode",
        "payload_len",
        "masking_key",
    ):
        raise UnsupportedHostError("wsproto's Frame or Header fields differ; this wsproto version is not supported")
    proto = conn.Connection(conn.ConnectionType.SERVER)._proto
    decoder: Any = getattr(proto, "_frame_decoder", None)
    state = (
        "_message_decoder",
        "_outbound_opcode",
        "extensions",
    )
    if (
        not all(hasattr(proto, name) for name in state)
        or type(getattr(decoder, "buffer", None)) is not fp.Buffer
        or type(decoder.buffer.buffer) is not bytearray
        or not all(hasattr(decoder, name) for name in ("header", "masker", "payload_required", "payload_consumed"))
    ):
        raise UnsupportedHostError("wsproto's frame protocol state differs; this wsproto version is not supported")
    # What the shim reads of a negotiated PerMessageDeflate to compress as it would.
    extension = importlib.import_module("wsproto.extensions").PerMessageDeflate()
    agreed = ("server_no_context_takeover", "client_no_context_takeover")
    if not all(type(getattr(extension, name, None)) is bool for name in agreed) or not all(
        getattr(extension, f"{side}_max_window_bits", None) == 15 for side in ("server", "client")
    ):
        raise UnsupportedHostError("wsproto's PerMessageDeflate differs; this wsproto version is not supported")


def _plan(impl: ModuleType) -> Plan:
    package = importlib.import_module("wsproto")
    fp = importlib.import_module("wsproto.frame_protocol")
    conn = importlib.import_module("wsproto.connection")
    handshake = importlib.import_module("wsproto.handshake")
    _check_internals(fp, conn)
    _shapes(fp)
    classes = _classes(impl)
    on = f"wscodec ({impl.NAME})"
    direct = "a subclass with a direct route for data messages"
    framing = (
        f"a subclass framing with {on}, and compressing and inflating with its PerMessageDeflate "
        f"(bounded: max_message_size) where wsproto's PerMessageDeflate is negotiated"
    )
    plan: Plan = [
        Replace(
            fp,
            "FrameDecoder",
            classes.FrameDecoder,
            f"a subclass parsing, unmasking and decoding whole-frame text with {on}",
        ),
        Replace(
            fp,
            "MessageDecoder",
            classes.MessageDecoder,
            "a subclass decoding whole-frame text in one call",
        ),
        Replace(fp, "FrameProtocol", classes.FrameProtocol, framing),
        Replace(conn, "FrameProtocol", classes.FrameProtocol, framing),
        Replace(conn, "Connection", classes.Connection, direct),
        Replace(handshake, "Connection", classes.Connection, direct),
        Replace(package, "Connection", classes.Connection, direct),
    ]
    if impl.NAME == "python":
        # Measured: the same bytes.translate technique, a little slower at 125 B-1 KiB for the extra checks.
        why = "pure-Python wscodec masks a bytearray no faster than wsproto's own bytes.translate masker"
        plan.append(Leave("wsproto.frame_protocol.XorMaskerSimple", why))
    else:
        plan.insert(0, Replace(fp, "XorMaskerSimple", classes.XorMaskerSimple, f"a masker on {on}"))
    return plan


def _self_check(impl: ModuleType, originals: Mapping[str, object]) -> None:
    """Raise unless the replacements, installed, give wsproto's own results (for a release newer than the range).

    wsproto's own code is run from ``originals`` where it looks up none of the
    patched names (its server-side framing, its client-side decoder), the
    shim's through the patched names, on a few frames: whole and in odd chunks,
    text, binary, fragmented, control, invalid UTF-8, and compressed.
    """
    fp: Any = importlib.import_module("wsproto.frame_protocol")
    conn: Any = importlib.import_module("wsproto.connection")
    extensions: Any = importlib.import_module("wsproto.extensions")
    events: Any = importlib.import_module("wsproto.events")
    HostProtocol: Any = originals["wsproto.frame_protocol.FrameProtocol"]
    HostDecoder: Any = originals["wsproto.frame_protocol.FrameDecoder"]
    HostMessages: Any = originals["wsproto.frame_protocol.MessageDecoder"]
    Opcode = fp.Opcode
    HostMasker: Any = originals.get("wsproto.frame_protocol.XorMaskerSimple")
    if HostMasker is not None:
        for chunks in ([b"", b"a", b"bcdefg"], [bytes(range(256)) * 9, b"xyz"]):
            theirs, ours = HostMasker(b"\x01\x82\x33\xf4"), fp.XorMaskerSimple(b"\x01\x82\x33\xf4")
            for chunk in chunks:
                expected, got = theirs.process(bytearray(chunk)), ours.process(bytearray(chunk))
                if got != expected or type(got) is not type(expected):
                    raise UnsupportedHostError("XorMaskerSimple masks differently")

    def host_frame(opcode: Any, payload: Any, fin: bool = True, extensions: Any = ()) -> bytes:
        reference = object.__new__(HostProtocol)
        reference.client, reference.extensions = False, list(extensions)
        return bytes(HostProtocol._serialize_frame(reference, opcode, payload, fin))

    server = conn.Connection(conn.ConnectionType.SERVER)
    wire = b""
    for payload, fin in ((b"", True), (b"abc", True), ("h\u00e9llo", True), (bytes(200), False), (bytes(70000), True)):
        kind = events.TextMessage if isinstance(payload, str) else events.BytesMessage
        ours = bytes(server.send(kind(data=payload, message_finished=fin)))
        # (the last one continues the message the one before left unfinished)
        opcode = (
            Opcode.CONTINUATION if len(payload) == 70000 else Opcode.TEXT if isinstance(payload, str) else Opcode.BINARY
        )
        data = payload.encode() if isinstance(payload, str) else payload
        if ours != host_frame(opcode, data, fin):
            raise UnsupportedHostError("frames are serialized differently")
        wire += ours
    wire += host_frame(Opcode.PING, b"!") + host_frame(Opcode.TEXT, b"\xff") + host_frame(Opcode.CLOSE, b"\x03\xe8")

    def frames(decoder: Any, messages: Any, chunks: list[bytes]) -> list[Any]:
        out: list[Any] = []
        try:
            for chunk in chunks:
                decoder.receive_bytes(chunk)
                while (frame := decoder.process_buffer()) is not None:
                    if frame.opcode < 8:
                        frame = messages.process_frame(frame)
                    out.append((*frame, type(frame.payload)))
        except fp.ParseFailed as exc:
            out.append((str(exc), exc.code))
        return out

    for chunks in ([wire], [wire[i : i + 7] for i in range(0, len(wire), 7)]):
        expected = frames(HostDecoder(client=True), HostMessages(), chunks)
        if frames(fp.FrameDecoder(client=True), fp.MessageDecoder(), chunks) != expected:
            raise UnsupportedHostError("frames are received differently")
    # Compression: the same bytes as wsproto's extension for a whole message, and inflated back.
    Extension = extensions.PerMessageDeflate
    client_ext, server_ext, reference_ext = Extension(), Extension(), Extension()
    offer = client_ext.offer()
    reference_ext.accept(offer)
    client_ext.finalize(f"permessage-deflate; {server_ext.accept(offer)}")
    client = conn.Connection(conn.ConnectionType.CLIENT, [client_ext])
    server = conn.Connection(conn.ConnectionType.SERVER, [server_ext])
    text = '{"op": "update", "items": [1, 2, 3], "name": "wscodec"}' * 3
    for _ in range(2):
        data = bytes(server.send(events.TextMessage(data=text)))
        if data != host_frame(Opcode.TEXT, text.encode(), True, [reference_ext]):
            raise UnsupportedHostError("messages are compressed differently")
        client.receive_data(data)
        if [event.data for event in client.events()] != [text]:
            raise UnsupportedHostError("compressed messages are received differently")


def _options(*, max_message_size: int | None = DEFAULT_MAX_MESSAGE_SIZE) -> None:
    """install()'s own keyword argument: check it and keep it for the connections created from now on."""
    global _max_message_size
    check_size_limit("max_message_size", max_message_size)
    _max_message_size = max_message_size


_SHIM = Shim(HOST, SUPPORTED_VERSIONS, _plan, _self_check, options=_options)

# The public functions come from the Shim; what is this host's own is what install() puts in place.
install, uninstall, is_installed, describe = _SHIM.functions(
    __name__,
    install="""Put wscodec under wsproto's connections (``impl``: default the active implementation).

    ``max_message_size``: how many bytes a compressed message may inflate to
    (default :data:`DEFAULT_MAX_MESSAGE_SIZE`, 16 MiB; ``None``: no limit, as
    wsproto). wsproto has no limit of its own, so a peer could make it inflate
    a few KiB into GiB; past this one the connection's ``events()`` yield a
    ``CloseConnection`` with code 1009 (as for wsproto's other ``ParseFailed``),
    and the excess is never inflated. Uncompressed messages are not limited:
    wsproto delivers their bytes as they arrive, so memory follows what the
    application reads. The limit applies to connections created after the call
    (calling again changes it for the next ones).

    Connections created before the call keep wsproto's own classes.""",
    uninstall="""Restore wsproto's own classes everywhere the shim replaced them.""",
)
