"""Close-frame payloads (RFC 6455 §5.5.1 and §7.4), shared by both implementations.

A close payload is at most 125 bytes and is parsed once per connection, so
one pure version serves both; its UTF-8 check is CPython's strict decoder.
"""

from __future__ import annotations

from .errors import ProtocolError

__all__ = ["parse_close", "encode_close", "is_valid_close_code"]

_MAX_REASON = 123  # 125-byte control payload minus the 2-byte code


def is_valid_close_code(code: int) -> bool:
    """True for the codes an endpoint may put on the wire: 1000–1003, 1007–1014, 3000–4999."""
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


def parse_close(payload: bytes | bytearray | memoryview) -> tuple[int, str]:
    """Parse a CLOSE frame's payload into ``(code, reason)``.

    An empty payload gives ``(1005, "")`` (no status received). Raises
    :class:`ProtocolError` with code 1002 for a 1-byte payload, a payload over
    125 bytes or a code that must not appear on the wire, and with code 1007
    for a reason that is not valid UTF-8.
    """
    data = bytes(payload)
    n = len(data)
    if n == 0:
        return 1005, ""
    if n == 1:
        raise ProtocolError(1002, "close frame payload of 1 byte")
    if n > 125:
        raise ProtocolError(1002, "close frame payload over 125 bytes")
    code = int.from_bytes(data[:2], "big")
    if not is_valid_close_code(code):
        raise ProtocolError(1002, f"invalid close code {code}")
    try:
        reason = data[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError(1007, "close reason is not valid UTF-8") from None
    return code, reason


def encode_close(code: int = 1000, reason: str | bytes = "") -> bytes:
    """Return a CLOSE frame's payload: the 2-byte code then the UTF-8 reason.

    Raises ``ValueError`` for a code that must not appear on the wire, a reason
    over 123 bytes once encoded, or a ``bytes`` reason that is not UTF-8.
    """
    if not isinstance(code, int) or isinstance(code, bool):
        raise TypeError(f"close code must be int, not {type(code).__name__}")
    if not is_valid_close_code(code):
        raise ValueError(f"close code {code} may not be sent on the wire")
    if isinstance(reason, str):
        raw = reason.encode("utf-8")
    elif isinstance(reason, (bytes, bytearray, memoryview)):
        raw = bytes(reason)
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("close reason is not valid UTF-8") from None
    else:
        raise TypeError(f"close reason must be str or bytes, not {type(reason).__name__}")
    if len(raw) > _MAX_REASON:
        raise ValueError(f"close reason is {len(raw)} bytes; the limit is {_MAX_REASON}")
    return code.to_bytes(2, "big") + raw
