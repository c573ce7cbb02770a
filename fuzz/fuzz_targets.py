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
import zlib
from collections.abc import Callable
from functools import partial
from types import ModuleType
from typing import Any

from fuzz_differential import IMPLS, normalise, run_decoder, same_outcome
from fuzz_input import BUFFER_KINDS, FuzzInput, as_buffer, cut

from wscodec.benchmark.oracle import ZlibReceiver, xor_mask
from wscodec.close import encode_close, parse_close
from wscodec.deflate_params import DeflateParams
from wscodec.errors import ProtocolError

__all__ = ["TARGETS", "close", "deflate", "frame_decoder", "mask", "message_decoder", "utf8"]

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
    for args in ((text,), (xor_mask(text, key, 0), key)):

        def decode(impl: ModuleType, args: tuple[bytes, ...] = args) -> Any:
            return impl.decode_text(as_buffer(args[0], kind), *args[1:])

        decoded = same_outcome(decode)
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
        bad_indices = [-1 if v[0] else v[2] for v in validated]
        for name in _UTF8_KERNELS:
            kernel = _UTF8_C._Kernel(name)
            _check(kernel.validate(text) is truth, f"kernel {name}: validate", text)
            _check(kernel.is_ascii(text) is text.isascii(), f"kernel {name}: is_ascii", text)
            _check(kernel.feed(chunks) == (bad_indices, truth), f"kernel {name}: feed", chunks)


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
        _check(impl.apply_mask(as_buffer(payload, kind), key) == xor_mask(payload, key, 0), f"{impl.NAME}: apply_mask")
        buf = _misaligned(payload, misalign & 63)
        impl.apply_mask_inplace(buf, as_buffer(key, kind), offset)
        _check(buf == xor_mask(payload, key, offset), f"{impl.NAME}: apply_mask_inplace", offset)
        masker = impl.Masker(key)
        pieces = [masker.process(as_buffer(chunk, kind)) for chunk in cut(payload, sizes)]
        _check(b"".join(pieces) == xor_mask(payload, key, 0), f"{impl.NAME}: Masker")
        _check(masker.offset == len(payload) % 4, f"{impl.NAME}: Masker.offset")
    if _MASK_C is not None:
        want = xor_mask(payload, key, offset)
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


# ---------------------------------------------------------------- permessage-deflate

_TAIL = b"\x00\x00\xff\xff"
_DEFLATE_LIMITS = (1 << 30, 1 << 20, 0, 1, 5, 100, 1000, 65536)
_DEFLATE_BACKENDS = {"zlib": "zlib", "zlib-ng": "zlib_ng.zlib_ng", "isal": "isal.isal_zlib"}


def _installed(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


#: The backends a round trip may compress with (zlib always; the others when installed).
_SEND_BACKENDS = tuple(name for name, module in _DEFLATE_BACKENDS.items() if _installed(module))


class _Record:
    """One message of a deflate input: opcode, compressed or not, fragments, pings between them, payload."""

    __slots__ = ("compressed", "fragment_size", "opcode", "payload", "pieces", "pings")

    def __init__(self, inp: FuzzInput) -> None:
        flags = inp.byte()
        self.opcode = 1 + (flags & 1)
        self.compressed = bool(flags & 2)
        self.pings = flags >> 2 & 3
        self.pieces = 1 + (flags >> 4 & 3)
        self.fragment_size = (inp.byte() or None) if flags & 0x40 else None
        repeat = 1 + (inp.byte() & 31) if flags & 0x80 else 1
        self.payload = inp.take(inp.byte() | inp.byte() << 8) * repeat


def _records(inp: FuzzInput, most: int = 16) -> list[_Record]:
    """The records left in ``inp``, each after a byte that says one more follows."""
    records: list[_Record] = []
    while len(records) < most and inp.take(1):
        records.append(_Record(inp))
    return records


def _frame(opcode: int, payload: bytes, key: bytes | None, fin: bool = True, rsv1: bool = False) -> bytes:
    """A frame laid out by hand (RFC 6455 §5.2), independently of wscodec."""
    n = len(payload)
    head = bytes(((0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode,))
    mbit = 0x80 if key is not None else 0
    if n < 126:
        head += bytes((mbit | n,))
    elif n < 0x10000:
        head += bytes((mbit | 126,)) + n.to_bytes(2, "big")
    else:
        head += bytes((mbit | 127,)) + n.to_bytes(8, "big")
    if key is None:
        return head + payload
    return head + key + xor_mask(payload, key, 0)


def _at_block_boundary(inflater: Any) -> bool:
    """Whether a message's inflated stream (its tail included) ends between two deflate blocks, nothing pending:
    only then do empty blocks (a stored one, its padding bits set, then a final one) end it at their last
    byte, producing nothing. A payload cut inside a block does not: there their bits are codes of that block
    (one empty final block, 03 00, may decode as a final block's end alone: the fuzz found it)."""
    probe = inflater.copy()
    try:
        return probe.decompress(b"\xf8\x00\x00\xff\xff\x03\x00") == b"" and probe.eof and not probe.unused_data
    except zlib.error:
        return False


class _Step:
    """What the model expects of one message: ``item`` delivered (None: never), or failing with one of ``codes``."""

    __slots__ = ("codes", "item")

    def __init__(self, item: tuple[Any, ...] | None, codes: set[int]) -> None:
        self.item, self.codes = item, codes


def _too_large(opcode: int, data: bytes, limit: int) -> set[int]:
    """The codes for a message past the limit: 1009, or 1007 for invalid text judged before the excess (as it
    was inflated, or in the fragments before the one whose header went past the limit)."""
    return {1009, 1007} if opcode == 1 and not _viable_prefixes([data[:limit]])[0] else {1009}


def _deflate_model(records: list[_Record], bits: int, takeover: bool, limit: int) -> list[_Step]:
    """What RFC 7692 and zlib make of ``records`` sent as they are, message by message, up to the first one that
    must fail. A compressed payload that stops inside a deflate block may be delivered as zlib inflates it or
    refused (1007): RFC 7692 does not make zlib's leniency there a rule, and either is safe. So may one that
    refers back past the agreed window: zlib accepts such a distance while it reaches into output of the same
    inflate call, so whether it does depends on how the message's bytes arrived. Corrupt data past the limit
    may be 1007 or 1009 for the same reason: whole, zlib decodes the bad code before it stops for want of
    room; in small pieces, the output passes the limit before that code has arrived."""
    inflater: Any = None
    history = b""
    window = 1 << bits
    steps: list[_Step] = []
    for record in records:
        data = record.payload
        codes: set[int] = set()
        if record.compressed:
            if inflater is None or not takeover:
                primed = history[-window:] if takeover else b""
                inflater = zlib.decompressobj(-bits, zdict=primed) if primed else zlib.decompressobj(-bits)
            accepted, produced = _inflates_piecewise(inflater.copy(), record.payload + _TAIL, limit + 1)
            try:
                data = inflater.decompress(record.payload + _TAIL, limit + 1)
            except zlib.error:
                # Read in small pieces, the output may pass the limit before zlib meets the corrupt code.
                return [*steps, _Step(None, {1007, 1009} if produced > limit else {1007})]
            if not accepted:
                codes.add(1007)
            if len(data) > limit:
                return [*steps, _Step(None, _too_large(record.opcode, data, limit))]
            if not inflater.eof and not _at_block_boundary(inflater):
                codes.add(1007)
            if inflater.eof:
                # After a BFINAL block only zero padding may follow, then the whole tail: a final block that
                # ends inside the tail was cut short, its end made of the tail's bits.
                rest = inflater.unused_data[: len(inflater.unused_data) - len(_TAIL)]
                if len(inflater.unused_data) < len(_TAIL) or rest.count(0) != len(rest):
                    return [*steps, _Step(None, {1007})]
                inflater = None
            history = (history + data)[-window:] if takeover else b""
        elif len(data) > limit:
            return [*steps, _Step(None, _too_large(record.opcode, data, limit))]
        if record.opcode == 1 and not _strict_utf8(data):
            return [*steps, _Step(None, {1007})]
        steps.append(_Step(("message", record.opcode, data), codes))
    return steps


def _inflates_piecewise(inflater: Any, data: bytes, most: int) -> tuple[bool, int]:
    """``inflater`` fed ``data`` a byte at a time, as a decoder reading small pieces inflates it, up to
    ``most`` bytes of output: whether it accepts all it reads, and how much it produces first."""
    produced = 0
    try:
        for i in range(len(data)):
            produced += len(inflater.decompress(data[i : i + 1], most - produced))
            if produced >= most or inflater.eof:
                break
    except zlib.error:
        return False, produced
    return True, produced


def deflate(data: bytes) -> None:
    """MessageDecoder(deflate=) on any bytes and on arbitrary compressed payloads, against each other and zlib;
    encode_message(deflate=) round trips, inflated by zlib with exactly the agreed window.

    Options: the decoder's side, the mode, the message limit, each direction's context takeover and window
    (the receiving one 8-15, the other 9-15), the sender's level, memory level and backend; then the buffer
    kind and the read sizes. Mode 0 feeds the rest as wire bytes; mode 1 reads records (one message each:
    opcode, RSV1 or not, fragments with pings between them, the payload as sent); modes 2 and 3 read records
    as messages to compress and send.
    """
    inp = FuzzInput(data)
    flags = inp.byte()
    client = bool(flags & 1)  # the decoder's side; the messages come from the other one
    mode = flags >> 1 & 3
    limit = _DEFLATE_LIMITS[flags >> 3 & 7]
    windows = inp.byte()
    recv_bits, other_bits = 8 + (windows & 7), 9 + (windows >> 4) % 7
    recv_takeover, other_takeover = not flags & 0x40, not flags & 0x80
    settings = inp.byte()
    level, mem_level = settings % 10, 1 + (settings >> 4) % 9
    backend = _SEND_BACKENDS[inp.byte() % len(_SEND_BACKENDS)]
    if backend == "isal":
        level %= 4  # isal's levels are 0-3
    kind = inp.choice(BUFFER_KINDS)
    sizes = inp.sizes()
    if mode >= 2:
        recv_bits = max(recv_bits, 9)  # the sender must be able to honour it
    # Named from the sender's side: the server sends to a client decoder.
    incoming = (recv_bits, not recv_takeover)  # (window bits, no context takeover)
    outgoing = (other_bits, not other_takeover)
    server_side, client_side = (incoming, outgoing) if client else (outgoing, incoming)
    params = DeflateParams(
        server_no_context_takeover=server_side[1],
        client_no_context_takeover=client_side[1],
        server_max_window_bits=server_side[0],
        client_max_window_bits=client_side[0],
    )
    key = None if client else b"\x5a\xc3\x0f\x96"

    def decode(impl: ModuleType, chunks: list[bytes]) -> Any:
        deflater = impl.PerMessageDeflate(params, client=client)
        decoder = impl.MessageDecoder(client=client, max_message_size=limit, max_frame_size=1 << 24, deflate=deflater)
        return run_decoder(impl, decoder, [as_buffer(chunk, kind) for chunk in chunks])

    if mode == 0:
        stream = inp.rest()
        trace = same_outcome(lambda impl: decode(impl, cut(stream, sizes)))[1]
        _check_text(trace)
        return
    records = _records(inp)
    if mode == 1:
        stream = b""
        for record in records:
            stream += _pieces(record, record.payload, key)
        trace = same_outcome(lambda impl: decode(impl, cut(stream, sizes)))[1]
        _check_text(trace)
        steps = _deflate_model(records, recv_bits, recv_takeover, limit)
        delivered = [item for answer in trace for item in _items(answer) if item[0] == "message"]
        failed = [answer[1] for answer in trace if answer and answer[0] == "error"]
        done = len(delivered)
        wanted = [step.item for step in steps[:done]]
        _check(delivered == wanted, "deflate: messages differ from zlib's", delivered, wanted)
        if failed:
            _check(done < len(steps) and failed[0] in steps[done].codes, "deflate: close code", failed, done)
        else:
            _check(done == len(steps), "deflate: messages missing", done, len(steps))
            _check(all(step.item is not None for step in steps), "deflate: accepted what zlib refuses", done)
        return
    _round_trip(records, params, client, key, level, mem_level, backend, recv_bits, recv_takeover, kind, sizes)


def _pieces(record: _Record, payload: bytes, key: bytes | None) -> bytes:
    """``payload`` as the frames of one message: RSV1 on the first if compressed, pings between them."""
    out = b""
    cuts = [len(payload) * i // record.pieces for i in range(record.pieces + 1)]
    for i in range(record.pieces):
        last = i == record.pieces - 1
        out += _frame(0 if i else record.opcode, payload[cuts[i] : cuts[i + 1]], key, last, record.compressed and not i)
        if not last:
            out += b"".join(_frame(9, b"%d" % n, key) for n in range(record.pings))
    return out


def _check_text(trace: list[tuple[Any, ...]]) -> None:
    for answer in trace:
        for item in _items(answer):
            if item[0] == "message" and item[1] == 1:
                _check(_strict_utf8(item[2]), "invalid UTF-8 delivered as text", item)


def _round_trip(
    records: list[_Record],
    params: DeflateParams,
    client: bool,
    key: bytes | None,
    level: int,
    mem_level: int,
    backend: str,
    bits: int,
    takeover: bool,
    kind: str,
    sizes: list[int],
) -> None:
    """encode_message(deflate=) by each implementation: the same bytes, decoded alike, inflated by zlib."""
    bodies: list[bytes | str] = [
        record.payload.decode("utf-8", "replace") if record.opcode == 1 else record.payload for record in records
    ]

    def send(impl: ModuleType) -> bytes:
        deflater = impl.PerMessageDeflate(params, client=not client, level=level, mem_level=mem_level, backend=backend)
        return b"".join(
            impl.encode_message(
                record.opcode,
                body,
                mask=key,
                deflate=deflater if record.compressed else None,
                fragment_size=record.fragment_size,
            )
            for record, body in zip(records, bodies, strict=True)
        )

    sent = same_outcome(send)
    _check(sent[0] == "value", "deflate: encode_message raised", sent)
    wire = sent[1]
    wanted = [
        ("message", record.opcode, body.encode() if isinstance(body, str) else body)
        for record, body in zip(records, bodies, strict=True)
    ]

    def receive(impl: ModuleType) -> Any:
        deflater = impl.PerMessageDeflate(params, client=client)
        decoder = impl.MessageDecoder(client=client, max_message_size=1 << 30, deflate=deflater)
        return run_decoder(impl, decoder, [as_buffer(chunk, kind) for chunk in cut(wire, sizes)])

    trace = same_outcome(receive)[1]
    delivered = [item for answer in trace for item in _items(answer)]
    _check(delivered == wanted, "deflate: round trip", delivered, wanted)
    # zlib inflates each compressed payload with exactly the agreed window; plain ones never touch it.
    peer = ZlibReceiver(bits, takeover)
    payloads = _message_payloads(wire, key)
    for (compressed, payload), (_, _, body) in zip(payloads, wanted, strict=True):
        if compressed:
            try:
                inflated = peer.message(payload)
            except zlib.error as exc:
                raise AssertionError(f"deflate: zlib refuses what we sent ({exc})") from None
            _check(inflated == body, "deflate: zlib inflates something else", inflated, body)
        else:
            _check(payload == body, "deflate: a plain message changed", payload, body)


def _message_payloads(wire: bytes, key: bytes | None) -> list[tuple[bool, bytes]]:
    """(RSV1, payload) of each message on ``wire``, read back by hand."""
    messages: list[tuple[bool, bytes]] = []
    pos = 0
    current: list[Any] = []
    while pos < len(wire):
        b0, b1 = wire[pos], wire[pos + 1]
        n = b1 & 0x7F
        pos += 2
        if n >= 126:
            width = 2 if n == 126 else 8
            n = int.from_bytes(wire[pos : pos + width], "big")
            pos += width
        _check(bool(b1 & 0x80) == (key is not None), "deflate: mask bit", b1)
        frame_key = wire[pos : pos + 4] if b1 & 0x80 else None
        pos += 4 if frame_key else 0
        payload = wire[pos : pos + n]
        pos += n
        if frame_key:
            payload = xor_mask(payload, frame_key, 0)
        if b0 & 0x0F:
            current = [bool(b0 & 0x40), b""]
        else:
            _check(not b0 & 0x40, "deflate: RSV1 on a continuation frame", b0)
        current[1] += payload
        if b0 & 0x80:
            messages.append((current[0], current[1]))
    return messages


#: Every target by name; the name is also its seed corpus directory under fuzz/corpus/.
TARGETS: dict[str, Callable[[bytes], None]] = {
    "frame_decoder": frame_decoder,
    "message_decoder": message_decoder,
    "utf8": utf8,
    "close": close,
    "mask": mask,
    "deflate": deflate,
}
