"""Threads: wscodec from 8 threads at once, with the GIL switching as often as it can (or with no GIL).

* Every thread with its own decoders, plus the stateless functions on
  shared inputs: every result is checked.
* One decoder, validator or masker shared by several threads: the answers
  may interleave in any way, but the process must not crash, and only
  BufferError (the pure decoder's receive buffer) or RuntimeError (a feed
  refused while another thread is inside one) may come out.

Payloads are large enough for the compiled modules' GIL-free sections
(masking, UTF-8 and decoder copies from 256 KiB, deflate from 64 KiB), where another
thread runs meanwhile. On a free-threaded CPython the same tests run with
the GIL disabled (``sys._is_gil_enabled()`` is then False). A write to
freed memory may go unnoticed in a normal build; under tools/sanitize.sh
it fails the run at once.
"""

from __future__ import annotations

import random
import sys
from types import ModuleType

import pytest
from together import in_threads

from wscodec.benchmark.oracle import xor_mask
from wscodec.enums import Opcode

THREADS = 8
KEY = b"\xa1\xb2\xc3\xd4"
BIG = 300 * 1024  # past every GIL-free threshold
TEXT = ("wscodec ☃ κόσμε 😀 " * (BIG // 20)).encode()


def test_separate_decoders_and_shared_functions_from_8_threads(impl: ModuleType) -> None:
    rng = random.Random(5)
    binary = rng.randbytes(BIG)
    messages = [(1, TEXT), (2, binary), (2, b"small"), (1, "☃".encode())]
    # Every message fragmented in three, a ping between the fragments: masked, as a client sends them.
    wire = b""
    for opcode, payload in messages:
        third = len(payload) // 3
        wire += impl.encode_frame(opcode, payload[:third], fin=False, mask=True)
        wire += impl.encode_frame(9, b"ping", mask=True)
        wire += impl.encode_frame(0, payload[third : 2 * third], fin=False, mask=True)
        wire += impl.encode_frame(0, payload[2 * third :], mask=True)
    masked_binary = xor_mask(binary, KEY)
    bad_text = TEXT[:-1] + b"\xff"

    def work(i: int) -> None:
        read = 65536 + 4093 * i  # each thread its own socket read size
        for _ in range(3):
            decoder = impl.MessageDecoder()
            out = []
            for pos in range(0, len(wire), read):
                out += decoder.feed(wire[pos : pos + read])
            got = [(m.opcode, m.payload) for m in out if isinstance(m, impl.Message)]
            assert got == messages
            assert sum(isinstance(f, impl.Frame) for f in out) == len(messages)
            frames = impl.FrameDecoder().feed(impl.encode_frame(2, binary, mask=True))
            assert [f.payload for f in frames] == [binary]
            assert impl.apply_mask(binary, KEY) == masked_binary
            buf = bytearray(binary)
            impl.apply_mask_inplace(buf, KEY)
            assert buf == masked_binary
            assert impl.Masker(KEY).process(binary) == masked_binary
            assert impl.validate_utf8(TEXT) and not impl.validate_utf8(bad_text)
            validator = impl.Utf8Validator()
            assert validator.feed(TEXT[:1001]) and validator.feed(TEXT[1001:]) and validator.complete
            header = impl.parse_header(impl.encode_header(2, BIG, mask=True))
            assert (header.length, header.masked, len(header.mask)) == (BIG, True, 4)

    in_threads(work, THREADS)


def _feed_together(decoder: object, chunk: bytes, reads: int) -> list[int]:
    """4 threads feed ``chunk`` ``reads`` times each to ``decoder``; the payload sizes delivered."""
    delivered: list[int] = []

    def work(i: int) -> None:
        for _ in range(reads):
            try:
                delivered.extend(len(item.payload) for item in decoder.feed(chunk))  # type: ignore[attr-defined]
            except BufferError:
                pass  # the pure decoder's buffer, resized by one thread while another reads it
            except RuntimeError:
                pass  # a decoder may refuse a feed while another thread is inside one

    in_threads(work, 4)
    return delivered


def test_a_decoder_shared_by_threads_does_not_crash(impl: ModuleType) -> None:
    # One huge frame whose payload all threads feed at once: any interleaving of the reads is still a
    # valid payload, so the decoder keeps receiving, its buffers growing, every read copied in without
    # the GIL (from 256 KiB: NOGIL_MIN in wscodec/_buffer.pxd) while other threads feed. Many fresh
    # decoders: most growth is early.
    chunk = bytes(288 * 1024)
    reads = 2
    total = 4 * reads * len(chunk)
    header = impl.encode_header(2, total, mask=KEY)
    for _ in range(10):
        for decoder in (impl.FrameDecoder(max_frame_size=None), impl.MessageDecoder(max_message_size=None)):
            assert decoder.feed(header) == []
            assert sum(_feed_together(decoder, chunk, reads)) <= total


def test_a_validator_and_a_masker_shared_by_threads_do_not_crash(impl: ModuleType) -> None:
    validator = impl.Utf8Validator()
    masker = impl.Masker(KEY)
    data = random.Random(9).randbytes(BIG)

    def work(i: int) -> None:
        for _ in range(4):
            validator.feed(TEXT)
            validator.validate(TEXT[: 1000 + i])
            assert isinstance(validator.complete, bool)
            assert len(masker.process(data)) == len(data)
            assert 0 <= masker.offset <= 3
            if i == 0:
                validator.reset()

    in_threads(work, THREADS)


def test_a_feed_entered_while_another_runs_is_refused(impl: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both implementations refuse a second feed() while one is running, with the same error.

    Deterministic: the decoder's own call to parse_close (for the CLOSE frame below) enters a second
    feed(), as another thread would when the first one is inside.
    """
    decoder = impl.MessageDecoder()
    module = sys.modules[impl.MessageDecoder.__module__]
    real = module.parse_close
    refused: list[str] = []

    def reenter(payload: object) -> tuple[int, str]:
        try:
            decoder.feed(b"")
        except RuntimeError as exc:
            refused.append(str(exc))
        parsed: tuple[int, str] = real(payload)
        return parsed

    monkeypatch.setattr(module, "parse_close", reenter)
    [close] = decoder.feed(impl.encode_frame(Opcode.CLOSE, b"\x03\xe8", mask=KEY))
    assert close.opcode == Opcode.CLOSE
    assert refused == ["feed() is already running in another thread"]
    assert decoder.feed(b"") == []  # the first feed ended: the decoder takes data again
