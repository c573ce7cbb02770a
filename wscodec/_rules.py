# cython: annotation_typing=False
"""The codec's limits, words and argument checks, written once for both implementations.

The pure modules import this module as it is. The build also compiles this
same file as ``_rules_c``, whose ``.pxd`` makes the checks C functions that the
compiled modules cimport (their reasons they read from ``_rules_c`` on raising
paths only, so the hot loops never look a name up); the annotations are for type
checkers alone (the directive above). Every ``ProtocolError`` reason and every
argument error message lives here; the tests compare them byte for byte across
the implementations.
"""

from __future__ import annotations

import operator

from .enums import Opcode
from .errors import ProtocolError

__all__ = [
    "DEFAULT_MAX_FRAME_SIZE",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "OPCODES",
    "RESERVED_OPCODE",
    "FRAGMENTED_CONTROL",
    "CONTROL_TOO_LONG",
    "NON_MINIMAL_16",
    "LENGTH_TOP_BIT",
    "NON_MINIMAL_64",
    "FRAME_TOO_BIG",
    "MESSAGE_TOO_BIG",
    "RSV_NOT_NEGOTIATED",
    "MASKED_FROM_SERVER",
    "UNMASKED_FROM_CLIENT",
    "RSV1_ON_CONTROL",
    "RSV1_ON_CONTINUATION",
    "ORPHAN_CONTINUATION",
    "DATA_INSIDE_FRAGMENTED",
    "INVALID_UTF8_TEXT",
    "INFLATED_TOO_BIG",
    "COMPRESSED_INVALID",
    "COMPRESSED_UNFINISHED",
    "COMPRESSED_TRAILING",
    "MASK_NOT_4_BYTES",
    "OFFSET_NEGATIVE",
    "LENGTH_NEGATIVE",
    "LENGTH_TOO_BIG",
    "INVALID_OPCODE",
    "SEND_CONTROL_FRAGMENTED",
    "SEND_CONTROL_TOO_LONG",
    "SEND_DATA_ONLY",
    "BUFFER_READ_ONLY",
    "BUFFER_NOT_CONTIGUOUS",
    "HOST_NOT_CALLABLE",
    "FEED_IN_ANOTHER_THREAD",
    "COMPRESSING_IN_ANOTHER_THREAD",
    "INFLATING_IN_ANOTHER_THREAD",
    "check_size_limit",
    "check_rsv_allowed",
    "check_fragment_size",
    "check_deflate",
    "compressed_frame_limit",
    "check_start",
    "check_extended_length",
    "check_send_start",
]

#: Default largest frame payload a decoder accepts (16 MiB).
DEFAULT_MAX_FRAME_SIZE = 1 << 24
#: Default largest message (all fragments together) a MessageDecoder accepts (16 MiB).
DEFAULT_MAX_MESSAGE_SIZE = 1 << 24

#: Opcode members by value; None marks the reserved opcodes 3–7 and 11–15.
OPCODES: tuple[Opcode | None, ...] = tuple(Opcode(i) if i in Opcode._value2member_map_ else None for i in range(16))

# ProtocolError reasons. Those with ``{}`` are str.format templates, filled with the offending values.

#: 1002: opcodes 3-7 and 11-15 (RFC 6455 §5.2).
RESERVED_OPCODE = "reserved opcode {}"
#: 1002: a control frame without FIN (§5.5).
FRAGMENTED_CONTROL = "fragmented control frame"
#: 1002: a control frame's payload over 125 bytes (§5.5).
CONTROL_TOO_LONG = "control frame payload over 125 bytes"
#: 1002: a 16-bit extended length below 126 (§5.2: "the minimal number of bytes MUST be used").
NON_MINIMAL_16 = "non-minimal 16-bit payload length"
#: 1002: a 64-bit length with its top bit set (§5.2).
LENGTH_TOP_BIT = "64-bit payload length with the most significant bit set"
#: 1002: a 64-bit extended length below 65536.
NON_MINIMAL_64 = "non-minimal 64-bit payload length"
#: 1009: the frame's length and the limit.
FRAME_TOO_BIG = "frame payload of {} bytes exceeds the limit of {}"
#: 1009: the message's size so far with this frame, and the limit.
MESSAGE_TOO_BIG = "message of {} bytes or more exceeds the limit of {}"
#: 1002: an RSV bit that no extension negotiated (§5.2).
RSV_NOT_NEGOTIATED = "reserved bit set without a negotiated extension"
#: 1002: a client's decoder got a masked frame (§5.1).
MASKED_FROM_SERVER = "masked frame from a server"
#: 1002: a server's decoder got an unmasked frame (§5.1).
UNMASKED_FROM_CLIENT = "unmasked frame from a client"
#: 1002: permessage-deflate's RSV1 belongs on a data message's first frame only (RFC 7692 §6).
RSV1_ON_CONTROL = "RSV1 set on a control frame"
RSV1_ON_CONTINUATION = "RSV1 set on a continuation frame"
#: 1002: fragmentation errors (§5.4).
ORPHAN_CONTINUATION = "continuation frame without a message to continue"
DATA_INSIDE_FRAGMENTED = "new data frame inside a fragmented message"
#: 1007: a text message that is not UTF-8 (§8.1).
INVALID_UTF8_TEXT = "invalid UTF-8 in text message"
#: 1009: a compressed message inflates past the limit.
INFLATED_TOO_BIG = "message exceeds the size limit once inflated"
#: 1007: the inflater's own words follow.
COMPRESSED_INVALID = "invalid compressed data: {}"
COMPRESSED_UNFINISHED = "invalid compressed data: the message ends inside a deflate block"
COMPRESSED_TRAILING = "invalid compressed data: bytes after the final deflate block"

# Argument errors (ValueError, BufferError, TypeError, RuntimeError).

MASK_NOT_4_BYTES = "mask must contain 4 bytes"
OFFSET_NEGATIVE = "offset must be >= 0"
LENGTH_NEGATIVE = "length must be >= 0"
LENGTH_TOO_BIG = "payload length must be below 2**63"
#: Filled with the opcode's repr.
INVALID_OPCODE = "invalid opcode {!r}"
SEND_CONTROL_FRAGMENTED = "control frames cannot be fragmented"
SEND_CONTROL_TOO_LONG = "control frame payload cannot exceed 125 bytes"
#: Filled with the opcode's repr.
SEND_DATA_ONLY = "encode_message sends TEXT or BINARY messages, not opcode {!r}"
BUFFER_READ_ONLY = "buffer is read-only"
BUFFER_NOT_CONTIGUOUS = "buffer is not C-contiguous"
HOST_NOT_CALLABLE = "host must be callable"
FEED_IN_ANOTHER_THREAD = "feed() is already running in another thread"
COMPRESSING_IN_ANOTHER_THREAD = "this PerMessageDeflate is already compressing in another thread"
INFLATING_IN_ANOTHER_THREAD = "this PerMessageDeflate is already inflating in another thread"


def check_size_limit(name: str, value: object) -> None:
    """``ValueError`` unless ``value`` (the argument called ``name``) is None or >= 0."""
    if value is not None and value < 0:  # type: ignore[operator]
        raise ValueError(f"{name} must be >= 0 or None")


def check_rsv_allowed(value: object) -> int:
    """``rsv_allowed`` as an int; ``ValueError`` unless it combines RSV1 (4), RSV2 (2) and RSV3 (1)."""
    bits = operator.index(value)  # type: ignore[arg-type]
    if not 0 <= bits <= 7:
        raise ValueError("rsv_allowed must be a combination of RSV1 (4), RSV2 (2) and RSV3 (1)")
    return bits


def check_fragment_size(value: object) -> int | None:
    """``fragment_size`` as an int or None; ``ValueError`` if below 1."""
    if value is None:
        return None
    size = operator.index(value)  # type: ignore[arg-type]
    if size < 1:
        raise ValueError("fragment_size must be >= 1 or None")
    return size


def check_deflate(deflate: object, client: bool | None, cls: type) -> None:
    """``TypeError`` unless ``deflate`` is None or a ``cls`` (this implementation's PerMessageDeflate);
    ``ValueError`` if it was made for the other side of the connection (``client``; None: either)."""
    if deflate is None:
        return
    if not isinstance(deflate, cls):
        raise TypeError(f"deflate must be a {cls.__module__}.PerMessageDeflate, not {type(deflate).__name__}")
    if client is not None and bool(deflate.client) != bool(client):  # type: ignore[attr-defined]
        raise ValueError("deflate was made for the other side: give both the same client=")


def compressed_frame_limit(max_message_size: int | None, max_frame_size: int | None) -> int:
    """The payload limit of a compressed frame: ``max_frame_size`` if given; else the message limit
    plus what deflate may add to incompressible data (fixed Huffman codes: 9 bits a byte).
    """
    if max_frame_size is not None:
        return min(max_frame_size, (1 << 63) - 1)
    base = DEFAULT_MAX_FRAME_SIZE if max_message_size is None else max_message_size
    return min(base + (base >> 3) + 64, (1 << 63) - 1)


# The header rules. The decoders and encoders read and write the bytes (through raw pointers when
# compiled); what the bytes may say is decided here. The opcodes defined are 0-2 and 8-10: an opcode is
# reserved when its low three bits exceed 2, and a control frame's has bit 3 set (RFC 6455 §5.2).


def check_start(b0: int, b1: int) -> None:
    """1002 for what a header's first two bytes alone forbid (bar RSV and mask direction)."""
    if (b0 & 0x07) > 2:
        raise ProtocolError(1002, RESERVED_OPCODE.format(b0 & 0x0F))
    if b0 & 0x08:
        if not b0 & 0x80:
            raise ProtocolError(1002, FRAGMENTED_CONTROL)
        if (b1 & 0x7F) > 125:
            raise ProtocolError(1002, CONTROL_TOO_LONG)


def check_extended_length(code: int, length: int) -> None:
    """1002 unless ``length``, read from the extended field that the 7-bit ``code`` (126 or 127) announces,
    is minimal and, in 64 bits, has its top bit clear (§5.2)."""
    if code == 126:
        if length < 126:
            raise ProtocolError(1002, NON_MINIMAL_16)
    elif length >> 63:
        raise ProtocolError(1002, LENGTH_TOP_BIT)
    elif length < 0x10000:
        raise ProtocolError(1002, NON_MINIMAL_64)


def check_send_start(opcode: object, op: int, fin: bool, length: int) -> None:
    """``ValueError`` unless a frame of opcode ``opcode`` (``op``: its index, -1 if that is out of range),
    ``fin`` and a payload of ``length`` bytes may be sent."""
    if not 0 <= op <= 15 or (op & 0x07) > 2:
        raise ValueError(INVALID_OPCODE.format(opcode))
    if op & 0x08:
        if not fin:
            raise ValueError(SEND_CONTROL_FRAGMENTED)
        if length > 125:
            raise ValueError(SEND_CONTROL_TOO_LONG)
