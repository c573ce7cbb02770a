"""Opcodes and close codes of RFC 6455 (shared by both implementations)."""

from __future__ import annotations

import enum

__all__ = ["Opcode", "CloseCode", "RSV1", "RSV2", "RSV3"]

#: Bits of ``rsv_allowed``: the RSV bits as they sit in the frame's first byte, shifted down by 4.
RSV1 = 4
RSV2 = 2
RSV3 = 1


class Opcode(enum.IntEnum):
    """Frame opcodes (RFC 6455 §5.2); 3–7 and 11–15 are reserved and rejected."""

    CONTINUATION = 0
    TEXT = 1
    BINARY = 2
    CLOSE = 8
    PING = 9
    PONG = 10


class CloseCode(enum.IntEnum):
    """The IANA-registered close codes 1000–1015 (RFC 6455 §7.4 and the IANA registry)."""

    NORMAL_CLOSURE = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    RESERVED = 1004
    NO_STATUS_RCVD = 1005
    ABNORMAL_CLOSURE = 1006
    INVALID_FRAME_PAYLOAD_DATA = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    MANDATORY_EXTENSION = 1010
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    BAD_GATEWAY = 1014
    TLS_HANDSHAKE = 1015
