"""What decoders deliver, in a form two implementations can be compared by, and what they must deliver.

* :func:`normalise` turns a ``Frame`` or ``Message`` of either implementation
  into a plain tuple (the two have their own classes), checking field types
  on the way;
* :func:`drive` feeds chunks to a decoder and records what every call returned
  or raised, checking that a failed decoder stays failed and holds nothing;
* :func:`expected_frames` and :func:`expected_messages` are a small model of
  RFC 6455 and of wscodec's documented policies: from a list of
  :class:`~strategies.FrameSpec` they give the items a decoder must deliver
  and the close code it must fail with, independently of wscodec's code.
"""

from __future__ import annotations

import codecs
import dataclasses
from collections.abc import Iterable, Sequence
from types import ModuleType
from typing import Any

from strategies import FrameSpec

from wscodec.enums import Opcode
from wscodec.errors import ProtocolError

__all__ = [
    "Item",
    "Outcome",
    "completable",
    "drive",
    "expected_frames",
    "expected_messages",
    "frame_item",
    "normalise",
]

#: A normalised decoder output: ("frame", fin, opcode, payload, rsv1, rsv2, rsv3) or ("message", opcode, payload).
Item = tuple[Any, ...]

_DEFAULT_LIMIT = 1 << 24  # DEFAULT_MAX_FRAME_SIZE and DEFAULT_MAX_MESSAGE_SIZE, as DESIGN.md fixes them


def normalise(impl: ModuleType, item: object) -> Item:
    """A ``Frame`` or ``Message`` of ``impl`` as a tuple; asserts the field types both implementations share."""
    if isinstance(item, impl.Frame):
        flags = (item.fin, item.rsv1, item.rsv2, item.rsv3)
        assert all(type(flag) is bool for flag in flags), item
        assert isinstance(item.opcode, Opcode), item
        assert type(item.payload) is bytes, item
        return ("frame", item.fin, int(item.opcode), item.payload, item.rsv1, item.rsv2, item.rsv3)
    if isinstance(item, impl.Message):
        assert isinstance(item.opcode, Opcode), item
        assert type(item.payload) is bytes, item
        return ("message", int(item.opcode), item.payload)
    raise AssertionError(f"decoder delivered {item!r}, neither a Frame nor a Message")


def frame_item(spec: FrameSpec) -> Item:
    """The normalised frame a decoder delivers for ``spec``."""
    return ("frame", spec.fin, spec.opcode, spec.payload, *spec.rsv_bits)


@dataclasses.dataclass
class Outcome:
    """What feeding a decoder chunk by chunk gave.

    ``feeds[i]`` is what call ``i`` returned (for the call that raised, the
    error's ``.frames``); ``error`` is ``(code, reason)`` and ``failed_at`` the
    index of the call that raised, both None if none did.
    """

    feeds: list[list[Item]]
    error: tuple[int, str] | None = None
    failed_at: int | None = None

    @property
    def delivered(self) -> list[Item]:
        """Everything delivered, in order, whichever call delivered it."""
        return [item for items in self.feeds for item in items]

    @property
    def code(self) -> int | None:
        """The close code of the error, if there was one."""
        return None if self.error is None else self.error[0]


def drive(impl: ModuleType, decoder: Any, chunks: Iterable[bytes]) -> Outcome:
    """Feed ``chunks`` one call each; after an error, check the decoder stays failed and holds nothing."""
    feeds: list[list[Item]] = []
    for i, chunk in enumerate(chunks):
        try:
            items = decoder.feed(chunk)
        except ProtocolError as exc:
            assert type(exc) is ProtocolError
            assert isinstance(exc.frames, list)
            feeds.append([normalise(impl, item) for item in exc.frames])
            _check_stays_failed(impl, decoder, exc)
            return Outcome(feeds, (exc.code, exc.reason), i)
        assert type(items) is list
        feeds.append([normalise(impl, item) for item in items])
    return Outcome(feeds)


def _check_stays_failed(impl: ModuleType, decoder: Any, exc: ProtocolError) -> None:
    for more in (b"", b"\x89\x80\x00\x00\x00\x00", bytes(100)):
        try:
            decoder.feed(more)
        except ProtocolError as again:
            assert (again.code, again.reason) == (exc.code, exc.reason)
            assert again.frames == []
        else:
            raise AssertionError("a failed decoder accepted more data")
        if isinstance(decoder, impl.FrameDecoder):
            assert decoder.buffered == 0, "a failed decoder still holds bytes"


# ---------------------------------------------------------------- the model

_OPCODES = {0, 1, 2, 8, 9, 10}
# Second-byte representatives: every UTF-8 continuation range starts or ends at one of these.
_CONTINUATIONS = (0x80, 0x90, 0xA0, 0xBF)


def _header_violation(spec: FrameSpec, client: bool, max_frame_size: int | None, rsv_allowed: int) -> int | None:
    """The close code for the first rule ``spec``'s header breaks, in the documented order."""
    length = spec.length
    if spec.rsv & ~rsv_allowed:
        return 1002
    if spec.opcode not in _OPCODES:
        return 1002
    if spec.opcode >= 8 and (not spec.fin or spec.length_form != "minimal" or length > 125):
        return 1002
    if (spec.mask is not None) == client:
        return 1002
    if length >> 63:
        return 1002
    if (spec.length_form == "16" and length < 126) or (spec.length_form == "64" and length < 0x10000):
        return 1002
    if max_frame_size is not None and length > max_frame_size:
        return 1009
    return None


def expected_frames(
    specs: Sequence[FrameSpec],
    *,
    client: bool,
    max_frame_size: int | None = _DEFAULT_LIMIT,
    rsv_allowed: int = 0,
) -> tuple[list[Item], int | None]:
    """The frames a FrameDecoder must deliver for ``specs``, and the close code it must then fail with."""
    out: list[Item] = []
    for spec in specs:
        code = _header_violation(spec, client, max_frame_size, rsv_allowed)
        if code is not None:
            return out, code
        if spec.declared is not None:  # its payload never comes: the decoder waits
            break
        out.append(frame_item(spec))
    return out, None


def _close_violation(payload: bytes) -> int | None:
    if not payload:
        return None
    code = int.from_bytes(payload[:2], "big")
    if len(payload) == 1 or not (1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999):
        return 1002
    try:
        payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        return 1007
    return None


def completable(pending: bytes) -> bool:
    """Whether some continuation bytes turn an unfinished UTF-8 sequence into a valid one."""
    if not pending:
        return True
    tails = [bytes((a,)) for a in _CONTINUATIONS]
    for _ in range(3):
        for tail in tails:
            try:
                (pending + tail).decode("utf-8")
                return True
            except UnicodeDecodeError:
                pass
        tails = [tail + bytes((a,)) for tail in tails for a in _CONTINUATIONS]
    return False


class _Utf8:
    """Incremental UTF-8 check that fails at the first chunk no continuation could make valid."""

    def __init__(self) -> None:
        self.pending = b""

    def feed(self, data: bytes, final: bool) -> bool:
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            decoder.decode(self.pending + data, final=False)
        except UnicodeDecodeError:
            return False
        self.pending = decoder.getstate()[0]
        return not self.pending if final else completable(self.pending)


def expected_messages(
    specs: Sequence[FrameSpec],
    *,
    client: bool,
    max_message_size: int | None = _DEFAULT_LIMIT,
    max_frame_size: int | None = None,
) -> tuple[list[Item], int | None]:
    """The messages and control frames a MessageDecoder must deliver for ``specs``, and its close code.

    The size limits bound data frames (control frames are at most 125 bytes
    by rule); ``max_frame_size=None`` means ``max_message_size`` (or the
    default when that is None too).
    """
    frame_limit = max_frame_size
    if frame_limit is None:
        frame_limit = _DEFAULT_LIMIT if max_message_size is None else max_message_size
    message_limit = (1 << 63) - 1 if max_message_size is None else max_message_size
    out: list[Item] = []
    opcode = 0
    parts: list[bytes] = []
    utf8 = _Utf8()
    for spec in specs:
        code = _header_violation(spec, client, None, 0)
        if code is not None:
            return out, code
        if spec.opcode < 8:
            if (spec.opcode == 0) == (opcode == 0):  # continuation without a start, or a start inside one
                return out, 1002
            if spec.length > frame_limit or sum(map(len, parts)) + spec.length > message_limit:
                return out, 1009
        if spec.declared is not None:
            break
        if spec.opcode >= 8:
            if spec.opcode == 8:
                code = _close_violation(spec.payload)
                if code is not None:
                    return out, code
            out.append(("frame", True, spec.opcode, spec.payload, False, False, False))
            if spec.opcode == 8:
                break  # nothing is delivered after a CLOSE
            continue
        if spec.opcode:
            opcode, parts, utf8 = spec.opcode, [], _Utf8()
        if opcode == 1 and not utf8.feed(spec.payload, spec.fin):
            return out, 1007
        parts.append(spec.payload)
        if spec.fin:
            out.append(("message", opcode, b"".join(parts)))
            opcode, parts = 0, []
    return out, None
