"""The fuzz targets: each takes one input (bytes) and raises AssertionError on any divergence.

Every target is differential: the compiled implementation must answer
exactly as the pure-Python reference does (same frames, messages, values;
the same exception with the same close code and reason), and both must
agree with an oracle independent of wscodec where one exists (CPython's
strict UTF-8 decoder, a plain XOR, the RFC's close-payload rules). The
compiled modules' SIMD kernels are each run too, not only the one this CPU
selects. :data:`TARGETS` maps each target's name (its corpus directory) to
its function; :mod:`fuzz_input` tells how an input is read.
"""

from __future__ import annotations

import codecs
import importlib
import itertools
from collections.abc import Callable
from functools import partial
from types import ModuleType
from typing import Any

from fuzz_differential import IMPLS, normalise, run_decoder, same_outcome
from fuzz_input import BUFFER_KINDS, FuzzInput, as_buffer, cut

from wscodec.close import encode_close, parse_close
from wscodec.errors import ProtocolError

__all__ = ["TARGETS", "close", "frame_decoder", "mask", "message_decoder", "utf8"]

_FRAME_LIMITS = (None, 1 << 24, 0, 1, 125, 126, 65535, 65536)
_MESSAGE_LIMITS = (None, 1 << 24, 0, 1, 125, 126, 200, 65536)


def _compiled(name: str) -> ModuleType | None:
    """A compiled module (for its kernel test hooks), or None when only the pure implementation runs."""
    return importlib.import_module(f"wscodec.{name}") if len(IMPLS) > 1 else None


_MASK_C = _compiled("_mask_c")
_UTF8_C = _compiled("_utf8_c")
_MASK_KERNELS: tuple[str, ...] = _MASK_C.available_kernels() if _MASK_C else ()
_UTF8_KERNELS: tuple[str, ...] = _UTF8_C.available_kernels() if _UTF8_C else ()


def _check(ok: bool, what: str, *details: object) -> None:
    if not ok:
        raise AssertionError(" ".join([what, *map(repr, details)]))


# ---------------------------------------------------------------- frames and messages


def frame_decoder(data: bytes) -> None:
    """FrameDecoder on any bytes, in any chunking, fed as any buffer type; plus parse_header and re-encoding."""
    inp = FuzzInput(data)
    flags = inp.byte()
    options = {
        "client": bool(flags & 1),
        "rsv_allowed": flags >> 1 & 7,
        "max_frame_size": _FRAME_LIMITS[flags >> 4 & 7],
    }
    kind = inp.choice(BUFFER_KINDS)
    sizes = inp.sizes()
    key = inp.take(4).ljust(4, b"\0")
    stream = inp.rest()
    chunks = [as_buffer(chunk, kind) for chunk in cut(stream, sizes)]
    trace = same_outcome(lambda impl: run_decoder(impl, impl.FrameDecoder(**options), chunks, buffered=True))[1]
    same_outcome(lambda impl: _header_fields(impl.parse_header(as_buffer(stream, kind))))
    delivered = [item for answer in trace for item in _items(answer)]
    _check(sum(len(item[3]) for item in delivered) <= len(stream), "delivered more than was fed")
    _check_reencoding(delivered[:256], key)  # enough to vary every field; thousands would only slow the run


def _items(answer: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """The frames or messages of one traced answer (an error's, or a success's without its ``buffered``)."""
    if answer and answer[0] == "error":
        return list(answer[3])
    return [item for item in answer if isinstance(item, tuple)]


def _header_fields(header: Any) -> tuple[Any, ...] | None:
    if header is None:
        return None
    fields = ("fin", "rsv1", "rsv2", "rsv3", "opcode", "masked", "length", "mask", "header_size")
    return tuple(getattr(header, name) for name in fields)


def _check_reencoding(items: list[tuple[Any, ...]], key: bytes) -> None:
    """The delivered frames, encoded again by each implementation (masked with ``key``), decode to themselves."""

    def roundtrip(impl: ModuleType) -> tuple[bytes, tuple[Any, ...]]:
        wire = b""
        for _, fin, opcode, payload, rsv1, rsv2, rsv3 in items:
            bits = {"fin": fin, "rsv1": rsv1, "rsv2": rsv2, "rsv3": rsv3}
            frame = impl.encode_frame(opcode, payload, mask=key, **bits)
            header = impl.encode_header(opcode, len(payload), mask=key, **bits)
            _check(frame.startswith(header), f"{impl.NAME}: encode_header differs from encode_frame's header")
            wire += frame
        frames = impl.FrameDecoder(rsv_allowed=7, max_frame_size=None).feed(wire)
        return wire, tuple(normalise(impl, frame) for frame in frames)

    _, frames = same_outcome(roundtrip)[1]
    _check(frames == tuple(items), "re-encoded frames decode differently", items, frames)


def message_decoder(data: bytes) -> None:
    """MessageDecoder on any bytes, in any chunking, with any size limits."""
    inp = FuzzInput(data)
    flags = inp.byte()
    options = {
        "client": bool(flags & 1),
        "max_message_size": _MESSAGE_LIMITS[flags >> 1 & 7],
        "max_frame_size": _FRAME_LIMITS[flags >> 4 & 7] if flags & 0x80 else None,
    }
    kind = inp.choice(BUFFER_KINDS)
    sizes = inp.sizes()
    stream = inp.rest()
    chunks = [as_buffer(chunk, kind) for chunk in cut(stream, sizes)]
    trace = same_outcome(lambda impl: run_decoder(impl, impl.MessageDecoder(**options), chunks))[1]
    for answer in trace:
        for item in _items(answer):
            if item[0] == "message" and item[1] == 1:
                _check(_strict_utf8(item[2]), "invalid UTF-8 delivered as text", item)
            elif item[0] == "frame" and item[2] == 8:
                parse_close(item[3])  # a delivered CLOSE frame was validated


# ---------------------------------------------------------------- UTF-8


def _strict_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# Continuation bytes at the edges of every second-byte range of RFC 3629.
_CONTINUATIONS = (0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF)


def _completable(pending: bytes) -> bool:
    """Whether continuation bytes can finish the sequence CPython's incremental decoder holds back."""
    for n in (1, 2, 3):
        for tail in itertools.product(_CONTINUATIONS, repeat=n):
            if _strict_utf8(pending + bytes(tail)):
                return True
    return False


def _viable_prefixes(chunks: list[bytes]) -> list[bool]:
    """Oracle for fail-fast: after each chunk, whether everything so far can still begin valid UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    answers = []
    alive = True
    for chunk in chunks:
        if alive:
            try:
                decoder.decode(chunk, False)
                pending = decoder.getstate()[0]
                alive = not pending or _completable(pending)
            except UnicodeDecodeError:
                alive = False
        answers.append(alive)
    return answers


_BAD_TEXT = "invalid UTF-8 in text message"  # decode_text's reason


def utf8(data: bytes) -> None:
    """validate_utf8, Utf8Validator (feed, complete, validate) and decode_text against CPython's strict decoder."""
    inp = FuzzInput(data)
    kind = inp.choice(BUFFER_KINDS)
    sizes = inp.sizes()
    text = inp.rest()
    truth = _strict_utf8(text)
    chunks = cut(text, sizes)
    viable = _viable_prefixes(chunks)
    _check(all(viable) or not truth, "oracle: valid text judged dead")
    key = text[:4].ljust(4, b"k")
    for impl in IMPLS:
        _check(impl.validate_utf8(as_buffer(text, kind)) is truth, f"{impl.NAME}: validate_utf8", text)
    for args in ((text,), (_xor(text, key, 0), key)):
        decoded = same_outcome(lambda impl, args=args: impl.decode_text(as_buffer(args[0], kind), *args[1:]))
        want = ("value", text.decode("utf-8")) if truth else ("raised", ProtocolError, 1007, _BAD_TEXT)
        _check(decoded == want, "decode_text", text, decoded)

    def incremental(impl: ModuleType) -> tuple[list[bool], bool, list[tuple[bool, bool, int, int]]]:
        validator = impl.Utf8Validator()
        fed = [validator.feed(as_buffer(chunk, kind)) for chunk in chunks]
        complete = validator.complete
        validator.reset()
        return fed, complete, [validator.validate(as_buffer(chunk, kind)) for chunk in chunks]

    fed, complete, validated = same_outcome(incremental)[1]
    _check(fed == viable, "feed() is not fail-fast", fed, viable)
    _check(complete is truth, "complete", complete, truth)
    _check([v[0] for v in validated] == viable, "validate() validity", validated, viable)
    if _UTF8_C is not None:
        # validate()'s index of the bad byte is the one every kernel reports.
        want = [-1 if v[0] else v[2] for v in validated]
        for name in _UTF8_KERNELS:
            kernel = _UTF8_C._Kernel(name)
            _check(kernel.validate(text) is truth, f"kernel {name}: validate", text)
            _check(kernel.is_ascii(text) is text.isascii(), f"kernel {name}: is_ascii", text)
            _check(kernel.feed(chunks) == (want, truth), f"kernel {name}: feed", chunks)


# ---------------------------------------------------------------- close payloads


def _close_oracle(payload: bytes) -> tuple[str, Any]:
    """RFC 6455 §5.5.1 and §7.4 as wscodec documents them: ``("value", (code, reason))`` or ``("raised", code)``."""
    if not payload:
        return "value", (1005, "")
    if len(payload) == 1 or len(payload) > 125:
        return "raised", 1002
    code = int.from_bytes(payload[:2], "big")
    if not (1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999):
        return "raised", 1002
    try:
        return "value", (code, payload[2:].decode("utf-8"))
    except UnicodeDecodeError:
        return "raised", 1007


def close(data: bytes) -> None:
    """parse_close against the RFC's rules, and each MessageDecoder's handling of the same CLOSE frame."""
    inp = FuzzInput(data)
    kind = inp.choice(BUFFER_KINDS[:3])  # parse_close takes bytes, bytearray or memoryview
    client = bool(inp.byte() & 1)
    key = inp.take(4).ljust(4, b"\0")
    payload = inp.rest()
    want = _close_oracle(payload)
    try:
        got: tuple[str, Any] = ("value", parse_close(as_buffer(payload, kind)))  # type: ignore[arg-type]
    except ProtocolError as exc:
        got = ("raised", exc.code)
    _check(got == want, "parse_close", payload, got, want)
    if want[0] == "value" and payload:
        _check(encode_close(*want[1]) == payload, "encode_close does not give the payload back", payload)
    if len(payload) > 125:
        return
    frame = bytes((0x88, len(payload) | (0 if client else 0x80))) + (b"" if client else key)
    frame += payload if client else bytes(b ^ key[i & 3] for i, b in enumerate(payload))
    after = b"\x81\x00" if client else b"\x81\x80" + key  # data after a CLOSE is ignored

    def decode(impl: ModuleType) -> list[Any]:
        decoder = impl.MessageDecoder(client=client)
        return [normalise(impl, item) for item in decoder.feed(frame) + decoder.feed(after)]

    answer = same_outcome(decode)
    if want[0] == "value":
        _check(answer == ("value", [("frame", True, 8, payload, False, False, False)]), "decoded close", answer)
    else:
        _check(answer[:3] == ("raised", ProtocolError, want[1]), "decoded bad close", answer, want)


# ---------------------------------------------------------------- masking


def _xor(data: bytes, key: bytes, phase: int) -> bytes:
    """Oracle: ``data`` XOR ``key`` repeated, starting at key byte ``phase % 4``."""
    n = len(data)
    stream = (key * (n // 4 + 2))[phase % 4 : phase % 4 + n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")).to_bytes(n, "little")


def mask(data: bytes) -> None:
    """apply_mask, apply_mask_inplace (every phase) and Masker (any chunking) against a plain XOR."""
    inp = FuzzInput(data)
    kind = inp.choice(BUFFER_KINDS)
    offset = inp.byte() | inp.byte() << 8
    misalign = inp.byte()
    key = inp.take(inp.choice((4, 4, 4, 4, 4, 4, 0, 3, 5)))
    sizes = inp.sizes()
    payload = inp.rest()
    if len(key) != 4:
        for impl in IMPLS:
            _raises(ValueError, partial(impl.apply_mask, payload, key), f"{impl.NAME}: apply_mask key")
            _raises(ValueError, partial(impl.apply_mask_inplace, bytearray(payload), key), f"{impl.NAME}: key")
            _raises(ValueError, partial(impl.Masker, key), f"{impl.NAME}: Masker key")
        return
    for impl in IMPLS:
        _check(impl.apply_mask(as_buffer(payload, kind), key) == _xor(payload, key, 0), f"{impl.NAME}: apply_mask")
        buf = _misaligned(payload, misalign & 63)
        impl.apply_mask_inplace(buf, as_buffer(key, kind), offset)
        _check(buf == _xor(payload, key, offset), f"{impl.NAME}: apply_mask_inplace", offset)
        masker = impl.Masker(key)
        pieces = [masker.process(as_buffer(chunk, kind)) for chunk in cut(payload, sizes)]
        _check(b"".join(pieces) == _xor(payload, key, 0), f"{impl.NAME}: Masker")
        _check(masker.offset == len(payload) % 4, f"{impl.NAME}: Masker.offset")
    if _MASK_C is not None:
        want = _xor(payload, key, offset)
        for name in _MASK_KERNELS:
            src = _misaligned(payload, misalign & 63)
            dst = _misaligned(bytes(len(payload)), misalign >> 6)
            _MASK_C._mask_with(name, dst, src, key, offset)
            _MASK_C._mask_with(name, src, src, key, offset)
            _check(dst == want and src == want, f"kernel {name}", offset, misalign)


def _misaligned(data: bytes, shift: int) -> memoryview:
    """A writable copy of ``data`` starting ``shift`` bytes into its allocation (SIMD alignment paths)."""
    room = bytearray(shift + len(data))
    room[shift:] = data
    return memoryview(room)[shift:]


def _raises(kind: type[Exception], call: Callable[[], object], what: str) -> None:
    try:
        call()
    except kind:
        return
    raise AssertionError(f"{what}: {kind.__name__} not raised")


#: Every target by name; the name is also its seed corpus directory under fuzz/corpus/.
TARGETS: dict[str, Callable[[bytes], None]] = {
    "frame_decoder": frame_decoder,
    "message_decoder": message_decoder,
    "utf8": utf8,
    "close": close,
    "mask": mask,
}
