"""The one exception both implementations raise for a peer's protocol violation."""

from __future__ import annotations

from typing import Any

__all__ = ["ProtocolError"]


class ProtocolError(Exception):
    """The peer broke RFC 6455; close the connection with ``code``.

    ``code`` is the close code to send (1002 protocol error, 1007 invalid
    payload data, 1009 message too big), ``reason`` a short human-readable
    explanation. ``frames`` holds what the decoder completed in the same call
    before the violation, in order, so that nothing the peer sent correctly is
    lost.
    """

    def __init__(self, code: int, reason: str, frames: list[Any] | None = None) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason
        self.frames: list[Any] = [] if frames is None else frames

    def __str__(self) -> str:
        return f"{self.reason} (close code {self.code})"
