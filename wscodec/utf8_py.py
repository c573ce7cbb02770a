"""Strict UTF-8 validation (RFC 3629), pure-Python implementation.

Built on CPython's own strict decoder, which already rejects overlongs,
surrogates and code points above U+10FFFF, and — in its incremental form —
rejects a truncated sequence as soon as no continuation could make it valid
(``F4 90``, ``ED A0``, ``C0``), which is the fail-fast behaviour RFC 6455
§8.1 asks of an endpoint.
"""

from __future__ import annotations

import codecs

from ._buffers import readable

__all__ = ["Utf8Validator", "validate_utf8"]

_IncrementalDecoder = codecs.getincrementaldecoder("utf-8")


def validate_utf8(data: object, /) -> bool:
    """True if ``data`` (any bytes-like object) is complete, strictly valid UTF-8."""
    buf = readable(data)
    if type(buf) is bytes:
        if buf.isascii():
            return True
        try:
            buf.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True
    try:
        str(buf, "utf-8")
    except UnicodeDecodeError:
        return False
    return True


# Second-byte ranges by lead byte (RFC 3629 §4); other continuations are 80–BF.
_SECOND = {0xE0: (0xA0, 0xBF), 0xED: (0x80, 0x9F), 0xF0: (0x90, 0xBF), 0xF4: (0x80, 0x8F)}


def _dead_end(pending: bytes) -> int:
    """Index of the first byte of an unfinished sequence that no continuation can complete, or -1.

    CPython's incremental decoder keeps some such prefixes (``ED A0``) pending
    instead of failing; the RFC asks to fail as soon as the input cannot be valid.
    """
    lo, hi = _SECOND.get(pending[0], (0x80, 0xBF))
    if len(pending) > 1 and not lo <= pending[1] <= hi:
        return 1
    if len(pending) > 2 and not 0x80 <= pending[2] <= 0xBF:
        return 2
    return -1


def _is_bad_lead(byte: int) -> bool:
    # Bytes that can never start a sequence: continuations, C0/C1 (overlong), F5–FF.
    return 0x80 <= byte <= 0xC1 or byte >= 0xF5


class Utf8Validator:
    """Incremental validator for the fragments of a text message.

    :meth:`feed` answers False as soon as the bytes fed so far cannot begin
    any valid UTF-8 text, and keeps answering False until :meth:`reset`.
    """

    __slots__ = ("_decoder", "_total", "_valid")

    def __init__(self) -> None:
        self._decoder = _IncrementalDecoder()
        self._valid = True
        self._total = 0

    def __copy__(self) -> Utf8Validator:
        # Copies carry the state but never share the decoder (pickles and deep copies already don't).
        twin = Utf8Validator()
        twin._decoder.setstate(self._decoder.getstate())
        twin._valid, twin._total = self._valid, self._total
        return twin

    def reset(self) -> None:
        """Forget everything fed so far."""
        self._decoder.reset()
        self._valid = True
        self._total = 0

    def _step(self, data: object) -> tuple[int, int]:
        """Validate one chunk: ``(at, length)``, ``at`` being -1 while valid, else
        the index in it of the byte that made the input invalid.

        Once failed, the chunk is not read (``(0, 0)``), but a non-buffer still
        raises TypeError.
        """
        buf = readable(data)
        if not self._valid:
            return 0, 0
        pending = len(self._decoder.getstate()[0])
        try:
            self._decoder.decode(buf, False)
        except UnicodeDecodeError as exc:
            # CPython reports where the bad sequence starts; a DFA stops at the
            # byte that made it impossible: the lead itself, or the first byte
            # after the sequence's valid prefix.
            joined = exc.object
            at = exc.start if _is_bad_lead(joined[exc.start]) else exc.end
            return self._fail(at - pending), len(buf)
        rest = self._decoder.getstate()[0]
        if rest:
            bad = _dead_end(rest)
            if bad >= 0:
                return self._fail(len(buf) - len(rest) + bad), len(buf)
        self._total += len(buf)
        return -1, len(buf)

    def _fail(self, at: int) -> int:
        self._valid = False
        self._total += at
        return at

    def feed(self, data: object, /) -> bool:
        """Validate the next chunk; False once any invalid byte has been seen."""
        self._step(data)
        return self._valid

    @property
    def complete(self) -> bool:
        """True if everything fed is valid and ends on a code-point boundary."""
        return self._valid and not self._decoder.getstate()[0]

    def validate(self, data: object, /) -> tuple[bool, bool, int, int]:
        """Autobahn's incremental API: ``(valid, ends_on_codepoint, current_index, total_index)``.

        When valid, ``current_index`` is ``len(data)`` and ``total_index`` the
        number of bytes consumed in all; when invalid, both point at the byte
        that made the input invalid (within this chunk, and overall). Once
        invalid, it answers ``(False, False, 0, total_index)`` until reset.
        """
        at, length = self._step(data)
        if at < 0:
            return True, not self._decoder.getstate()[0], length, self._total
        return False, False, at, self._total
