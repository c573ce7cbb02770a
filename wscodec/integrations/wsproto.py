"""Shim for wsproto: wscodec's header parsing and masking under wsproto's frame protocol.

wsproto is written in Python throughout. A received frame goes through its
``Buffer`` (a slice copy per field), ``FrameDecoder.parse_header``,
``XorMaskerSimple`` (four ``bytes.translate`` passes) and ``MessageDecoder``
(a new incremental UTF-8 decoder per text message); a sent frame through
``FrameProtocol._serialize_frame``, which masks with ``XorMaskerSimple`` too.
The shim replaces, where wsproto looks them up (module globals of
``wsproto.frame_protocol``, read at call time, and ``wsproto.connection``'s
copy of ``FrameProtocol``):

* ``XorMaskerSimple`` with a masker on wscodec's kernel (same phase-keeping
  ``process(data) -> bytearray``);
* ``FrameDecoder`` with a subclass whose ``process_buffer`` parses a complete
  header with wscodec's ``parse_header`` and unmasks with its ``apply_mask``
  straight out of the receive buffer;
* ``MessageDecoder`` with a subclass that decodes a text message arriving as
  one whole frame in a single ``bytes.decode`` call (CPython's C decoder is
  the fastest way to the ``str`` wsproto hands out; validating first with
  wscodec would only add a pass);
* ``FrameProtocol`` with a subclass whose ``_serialize_frame`` builds the
  header with wscodec's ``encode_header`` and masks in place.

Behaviour is wsproto's, event for event: partial frames of large messages,
``frame_finished``/``message_finished``, close codes, and the exact
``ParseFailed`` (message and code) — every unusual case (an incomplete or
invalid header, RSV bits, a wrong masking direction, negotiated extensions,
payload types other than bytes/bytearray) is handed to wsproto's own code.
With the pure-Python wscodec implementation, masking is left to wsproto where
wsproto's own is faster (see :func:`describe`).
"""

from __future__ import annotations

import importlib
import time
from types import ModuleType
from typing import Any

from ..errors import ProtocolError
from ._patch import InstallReport, Leave, Plan, Replace, Shim, UnsupportedHostError

__all__ = ["HOST", "TESTED_VERSIONS", "install", "uninstall", "is_installed", "describe", "echo_roundtrip"]

#: distribution name of the host library
HOST = "wsproto"
#: host versions whose internals this shim was written against
TESTED_VERSIONS = ("1.3.2",)

# The replacement classes of each wscodec implementation, built once so that
# installing twice installs the very same objects.
_BUILT: dict[str, dict[str, type]] = {}


def _build(impl: ModuleType) -> dict[str, type]:
    """Create the replacement classes on top of wscodec implementation ``impl``."""
    fp: Any = importlib.import_module("wsproto.frame_protocol")
    apply_mask = impl.apply_mask
    apply_mask_inplace = impl.apply_mask_inplace
    parse_header = impl.parse_header
    encode_header = impl.encode_header
    Frame = fp.Frame
    Header = fp.Header
    ParseFailed = fp.ParseFailed
    XorMaskerNull = fp.XorMaskerNull
    TEXT = fp.Opcode.TEXT
    BINARY = fp.Opcode.BINARY
    CONTINUATION = fp.Opcode.CONTINUATION
    INVALID_PAYLOAD = fp.CloseReason.INVALID_FRAME_PAYLOAD_DATA
    no_rsv = fp.RsvBits(False, False, False)
    # wsproto's Opcode member for each wire value (wscodec's parse_header rejects the others).
    opcodes = {int(op): op for op in fp.Opcode}

    class XorMaskerSimple:
        """wsproto's stateful masker on wscodec's kernel: ``process`` keeps the mask phase across chunks."""

        __slots__ = ("_key", "_phase")

        def __init__(self, masking_key: bytes | bytearray) -> None:
            self._key = bytes(masking_key)
            self._phase = 0

        def process(self, data: bytearray) -> bytearray:
            """Return a masked copy of ``data`` as a bytearray, continuing the phase of the previous chunk."""
            out = bytearray(data)
            if out:
                apply_mask_inplace(out, self._key, self._phase)
                self._phase = (self._phase + len(out)) & 3
            return out

        def unmask(self, chunk: Any) -> bytes:
            """Like :meth:`process`, but straight to ``bytes`` (one copy), for the frame decoder."""
            phase = self._phase
            key = self._key
            self._phase = (phase + len(chunk)) & 3
            return apply_mask(chunk, key[phase:] + key[:phase] if phase else key)

    class FrameDecoder(fp.FrameDecoder):  # type: ignore[misc]
        """wsproto's FrameDecoder, with complete headers parsed and payloads unmasked by wscodec."""

        def process_buffer(self) -> Any:
            """Return the next (possibly partial) frame, or None if more bytes are needed (as wsproto does)."""
            data = self.buffer.buffer
            if self.extensions or self.buffer.bytes_used:
                return super().process_buffer()
            if self.header is None:
                if len(data) < 2:
                    return None  # no header starts with fewer than two bytes
                if not self._start_frame(data):
                    # Incomplete or invalid header: wsproto's parser decides when and how to fail.
                    return super().process_buffer()
            header = self.header
            length = header.payload_len
            available = len(data)
            if available < self.payload_required:
                return None  # a control frame is delivered whole
            n = length - self.payload_consumed
            if available < n:
                n = available
            if not n and length:
                return None
            masker = self.masker
            if type(masker) is XorMaskerSimple:
                unmask = masker.unmask
            elif type(masker) is XorMaskerNull:
                unmask = bytes
            else:  # a masker set by wsproto's own parse_header after uninstall()
                return super().process_buffer()
            if n == available:
                payload = unmask(data)
            else:
                with memoryview(data) as view:
                    payload = unmask(view[:n])
            del data[:n]
            self.payload_consumed += n
            finished = self.payload_consumed == length
            # tuple.__new__ skips the NamedTuple's Python-level __new__; the result is the same Frame.
            frame = tuple.__new__(Frame, (self.effective_opcode, payload, finished, header.fin))
            if finished:
                self.header = None
                self.effective_opcode = None
                self.masker = None
            else:
                self.effective_opcode = CONTINUATION
            return frame

        def _start_frame(self, data: bytearray) -> bool:
            """Consume a complete, valid header without RSV bits; False (consuming nothing) otherwise."""
            try:
                found = parse_header(data)
            except ProtocolError:
                return False
            if found is None or found.rsv1 or found.rsv2 or found.rsv3 or found.masked == self.client:
                return False
            del data[: found.header_size]
            opcode = opcodes[found.opcode]
            length = found.length
            self.header = tuple.__new__(Header, (found.fin, no_rsv, opcode, length, None))
            self.effective_opcode = opcode
            self.masker = XorMaskerSimple(found.mask) if found.masked else XorMaskerNull()
            self.payload_required = length if opcode >= 8 else 0
            self.payload_consumed = 0
            return True

    class MessageDecoder(fp.MessageDecoder):  # type: ignore[misc]
        """wsproto's MessageDecoder; a message that is one whole frame is decoded in one call."""

        def process_frame(self, frame: Any) -> Any:
            """Turn a frame into a message frame (text decoded), raising ParseFailed as wsproto does."""
            if self.opcode is None and frame.frame_finished is True and frame.message_finished is True:
                opcode = frame.opcode
                payload = frame.payload
                if opcode is BINARY:
                    return frame
                if opcode is TEXT and type(payload) is bytes:
                    try:
                        text = payload.decode("utf-8")
                    except UnicodeDecodeError as exc:
                        raise ParseFailed(str(exc), INVALID_PAYLOAD) from None
                    return tuple.__new__(Frame, (TEXT, text, True, True))
            return super().process_frame(frame)

    class FrameProtocol(fp.FrameProtocol):  # type: ignore[misc]
        """wsproto's FrameProtocol, framing outgoing data with wscodec's header encoder and masking."""

        def _serialize_frame(self, opcode: Any, payload: Any = b"", fin: bool = True) -> bytearray:
            if self.extensions or type(payload) not in (bytes, bytearray) or type(fin) is not bool:
                return super()._serialize_frame(opcode, payload, fin)  # type: ignore[no-any-return]
            length = len(payload)
            if length > 125 and opcode >= 8:
                raise ValueError("payload too long for control frame")
            header = encode_header(opcode, length, fin=fin, mask=self.client)
            out = bytearray(header)
            out += payload
            if self.client and length:
                with memoryview(out) as view:
                    apply_mask_inplace(view[len(header) :], header[-4:])
            return out

    return {
        "XorMaskerSimple": XorMaskerSimple,
        "FrameDecoder": FrameDecoder,
        "MessageDecoder": MessageDecoder,
        "FrameProtocol": FrameProtocol,
    }


def _plan(impl: ModuleType) -> Plan:
    fp = importlib.import_module("wsproto.frame_protocol")
    connection = importlib.import_module("wsproto.connection")
    classes = _BUILT.get(impl.NAME)
    if classes is None:
        classes = _BUILT[impl.NAME] = _build(impl)
    what = f"a subclass on wscodec ({impl.NAME})"
    return [
        Replace(fp, "XorMaskerSimple", classes["XorMaskerSimple"], f"a masker on wscodec ({impl.NAME})"),
        Replace(fp, "FrameDecoder", classes["FrameDecoder"], what),
        Replace(fp, "MessageDecoder", classes["MessageDecoder"], what),
        Replace(fp, "FrameProtocol", classes["FrameProtocol"], what),
        Replace(connection, "FrameProtocol", classes["FrameProtocol"], what),
    ]


_SHIM = Shim(HOST, TESTED_VERSIONS, _plan)


def install(impl: ModuleType | str | None = None) -> InstallReport:
    """Put wscodec under wsproto's frame protocol (``impl``: default the active implementation).

    Idempotent; returns what was replaced and what was left alone and why.
    Connections created before the call keep wsproto's own classes. Raises
    :class:`~wscodec.integrations.UnsupportedHostError` on an untested
    wsproto version or unexpected internals.
    """
    return _SHIM.install(impl)


def uninstall() -> None:
    """Restore wsproto's own classes everywhere the shim replaced them."""
    _SHIM.uninstall()


def is_installed() -> bool:
    """True while the shim is installed."""
    return _SHIM.is_installed()


def describe(impl: ModuleType | str | None = None) -> list[str]:
    """What :func:`install` would replace or leave alone, one line per name."""
    return _SHIM.describe(impl)


def echo_roundtrip(size: int, count: int, *, text: bool = False) -> float:
    """Messages per second echoed between a wsproto client and server connected in memory.

    wsproto is sans-I/O, so the two ``WSConnection`` objects (after a real
    HTTP upgrade handshake) hand each other their bytes directly: the figure
    is wsproto's own cost, with no socket in it. One message of ``size``
    bytes (``text``: that many ASCII characters) at a time, sent and echoed
    back, ``count`` times after a short warm-up.
    """
    from wsproto import ConnectionType, WSConnection
    from wsproto.events import AcceptConnection, BytesMessage, Request, TextMessage

    client = WSConnection(ConnectionType.CLIENT)
    server = WSConnection(ConnectionType.SERVER)
    server.receive_data(client.send(Request(host="localhost", target="/")))
    for event in server.events():
        if isinstance(event, Request):
            client.receive_data(server.send(AcceptConnection()))
    for event in client.events():
        if not isinstance(event, AcceptConnection):
            raise RuntimeError(f"wsproto handshake failed: {event!r}")
    message = TextMessage(data="x" * size) if text else BytesMessage(data=bytes(size))
    kind = type(message)

    def run(rounds: int) -> None:
        for _ in range(rounds):
            server.receive_data(client.send(message))
            for event in server.events():
                client.receive_data(server.send(kind(data=event.data)))
            for event in client.events():
                if len(event.data) != size:
                    raise RuntimeError("wsproto echo returned a different message")

    run(min(count, 10))
    start = time.perf_counter()
    run(count)
    return count / (time.perf_counter() - start)
