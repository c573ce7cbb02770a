"""Hostile peers: what a decoder allocates and keeps when the bytes are built to hurt it.

* a declared 2**62-byte frame fails from its header and allocates nothing;
* a frame one byte over a limit fails from its header alone, before any payload;
* a 10 MiB message in 1-byte fragments (7 bytes each on the wire) is held in
  a small multiple of its size — the factor SECURITY.md documents;
* after a ProtocolError the decoder holds nothing and every later feed raises
  without keeping what it was given.

Memory is measured with tracemalloc, which also sees the compiled decoder's
buffers (they are allocated with PyMem_*), except for the pure decoder's
10 MiB run: tracemalloc would slow its 10 million frames tenfold, so that
run is measured by peak resident size in a fresh process. The measuring
tests run on CPython (the factors are CPython's; PyPy's collector keeps
garbage a while); the rest run everywhere.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest
from tracing import peak_during, traced, tracing

import wscodec
from wscodec.errors import ProtocolError

KEY = b"\x0f\x1e\x2d\x3c"
MIB = 1 << 20
#: The documented bound (SECURITY.md): peak memory while reassembling a message, as a multiple of its size.
MESSAGE_MEMORY_FACTOR = 3


#: Tests that measure memory: CPython's tracemalloc and allocator.
cpython_only = pytest.mark.skipif(sys.implementation.name != "cpython", reason="measures CPython's allocator")


def _header(opcode: int, length: int, *, fin: bool = True, masked: bool = True) -> bytes:
    """A frame header written by hand (wscodec's encoder would refuse some of these)."""
    b0 = (0x80 if fin else 0) | opcode
    mbit = 0x80 if masked else 0
    if length < 126:
        head = bytes((b0, mbit | length))
    elif length < 1 << 16:
        head = bytes((b0, mbit | 126)) + length.to_bytes(2, "big")
    else:
        head = bytes((b0, mbit | 127)) + length.to_bytes(8, "big")
    return head + KEY if masked else head


def _decoder(impl: ModuleType, kind: str, limit: int | None, client: bool = False) -> object:
    if kind == "frames":
        return impl.FrameDecoder(client=client, max_frame_size=limit)
    return impl.MessageDecoder(client=client, max_message_size=limit)


def _raises(decoder: object, data: bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        decoder.feed(data)  # type: ignore[attr-defined]
    return info.value


@cpython_only
@pytest.mark.parametrize("kind", ["frames", "messages"])
@pytest.mark.parametrize("client", [False, True])
def test_declared_2_62_byte_frame_fails_at_once_allocating_nothing(impl: ModuleType, kind: str, client: bool) -> None:
    header = _header(2, 1 << 62, masked=not client)
    decoder = _decoder(impl, kind, 1024, client)
    errors: list[ProtocolError] = []
    peak = peak_during(lambda: errors.append(_raises(decoder, header)))
    assert [e.code for e in errors] == [1009]
    assert peak < 16 * 1024
    assert getattr(decoder, "buffered", 0) == 0


@pytest.mark.parametrize("kind", ["frames", "messages"])
@pytest.mark.parametrize("limit", [0, 125, 126, 65535, 65536, 10 * MIB])
def test_one_byte_over_the_limit_fails_from_the_header_alone(impl: ModuleType, kind: str, limit: int) -> None:
    header = _header(2, limit + 1)
    decoder = _decoder(impl, kind, limit)
    for i in range(len(header) - 1):  # the header's bytes one at a time: nothing to judge until the last
        assert decoder.feed(header[i : i + 1]) == []  # type: ignore[attr-defined]
    assert _raises(decoder, header[-1:]).code == 1009
    # At the limit itself the header is accepted (and the decoder waits for the payload, if any).
    assert len(_decoder(impl, kind, limit).feed(_header(2, limit))) == (limit == 0)  # type: ignore[attr-defined]


@pytest.mark.parametrize("limit", [1, 200, 65536])
def test_fragment_taking_a_message_over_its_limit_fails_from_its_header(impl: ModuleType, limit: int) -> None:
    half = limit // 2
    first = _header(2, half, fin=False) + bytes(half)  # masking zeros with KEY gives KEY's bytes: any payload will do
    decoder = impl.MessageDecoder(max_message_size=limit)
    assert decoder.feed(first) == []
    assert _raises(decoder, _header(0, limit - half + 1)).code == 1009


def _one_byte_fragments(total: int, opcode: int) -> list[bytes]:
    """A ``total``-byte message of "a" as 1-byte masked frames, cut into 64 KiB socket reads.

    Every read but the first and last is the same bytes object: the wire is
    never materialised, so it does not count in the measurement.
    """

    def frame(b0: int) -> bytes:
        return bytes((b0, 0x81)) + KEY + bytes((ord("a") ^ KEY[0],))

    per_read = 65536 // 7
    middle = frame(0x00) * per_read
    reads = [frame(opcode)]
    left = total - 2
    reads += [middle] * (left // per_read)
    reads += [middle[: (left % per_read) * 7], frame(0x80)]
    return reads


_PURE_RUN = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from test_hostile import _one_byte_fragments
    from test_memory import peak_rss
    from wscodec._impl_py import MessageDecoder

    size = {size}
    reads = _one_byte_fragments(size, 2)
    decoder = MessageDecoder(max_message_size=None)
    decoder.feed(reads[0] + reads[1][:7000])  # warm up: every code path and allocator arena in use
    before = peak_rss()
    out = decoder.feed(reads[1][7000:])
    for read in reads[2:]:
        out += decoder.feed(read)
    after = peak_rss()
    assert len(out) == 1 and out[0].payload == b"a" * size
    print(after - before)
    """
)


@cpython_only
@pytest.mark.slow
def test_10_mib_message_in_1_byte_fragments(impl: ModuleType) -> None:
    """The compiled decoder is measured with tracemalloc, text and binary; the pure one by resident size, binary."""
    size = 10 * MIB
    if impl.NAME == "python":
        peaks = {2: _pure_fragments_peak(size)}
    else:
        peaks = {opcode: _compiled_fragments_peak(impl, size, opcode) for opcode in (1, 2)}
    for opcode, peak in peaks.items():
        print(f"{impl.NAME}, opcode {opcode}: peak {peak / size:.2f} x message, {peak / (7 * size):.2f} x wire")
        assert peak < MESSAGE_MEMORY_FACTOR * size


def _compiled_fragments_peak(impl: ModuleType, size: int, opcode: int) -> int:
    reads = _one_byte_fragments(size, opcode)
    decoder = impl.MessageDecoder(max_message_size=None)
    out: list[object] = []

    def receive() -> None:
        for read in reads:
            out.extend(decoder.feed(read))

    peak = peak_during(receive)
    assert [(m.opcode, m.payload) for m in out] == [(opcode, b"a" * size)]  # type: ignore[attr-defined]
    return peak


def _pure_fragments_peak(size: int) -> int:
    tests = str(Path(__file__).resolve().parent)
    package_dir = str(Path(wscodec.__file__).resolve().parents[1])
    result = subprocess.run(
        [sys.executable, "-c", _PURE_RUN.format(tests=tests, size=size)],
        env={**os.environ, "PYTHONPATH": package_dir},
        capture_output=True,
        text=True,
        check=True,
        cwd=tests,
    )
    return int(result.stdout.split()[-1])


_VIOLATIONS = {
    "reserved opcode": _header(3, 0),
    "unmasked frame to a server": _header(0, 0, masked=False),
    "new message inside a fragmented one": _header(2, 0),
    "declared 2**62 bytes": _header(0, 1 << 62),
    "invalid UTF-8": _header(0, 2) + bytes(b ^ k for b, k in zip(b"\xc3\x28", KEY[:2], strict=True)),
}


@cpython_only
@pytest.mark.parametrize("violation", sorted(_VIOLATIONS))
def test_failed_message_decoder_drops_what_it_held_and_keeps_nothing_more(impl: ModuleType, violation: str) -> None:
    decoder = impl.MessageDecoder(max_message_size=64 * MIB)
    # A 1 MiB text fragment the decoder keeps, waiting for the rest (zeros masked with KEY: valid ASCII).
    held = _header(1, MIB, fin=False) + bytes(MIB)
    chunk = bytes(MIB)
    with tracing():
        before = traced()
        assert decoder.feed(held) == []
        assert traced() - before >= MIB
        _raises(decoder, _VIOLATIONS[violation])
        after_error = traced()
        assert after_error - before < MIB // 4, "the held fragment was not dropped"
        for _ in range(32):
            _raises(decoder, chunk)
        assert traced() - after_error < 64 * 1024
    assert getattr(decoder, "buffered", 0) == 0


@cpython_only
@pytest.mark.parametrize("client", [False, True])
def test_failed_frame_decoder_keeps_nothing_it_is_fed(impl: ModuleType, client: bool) -> None:
    decoder = impl.FrameDecoder(client=client)
    _raises(decoder, _header(2, 10, masked=client)[:2])  # the wrong mask direction, seen at byte 2
    chunk = bytes(MIB)
    with tracing():
        before = traced()
        for _ in range(32):
            assert _raises(decoder, chunk).code == 1002
            assert decoder.buffered == 0
        assert traced() - before < 64 * 1024


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_a_forked_child_draws_mask_keys_of_its_own(impl: ModuleType) -> None:
    """Keys come from a pool of CSPRNG bytes: a child must not inherit the parent's unused ones,
    or two connections (one per process) would be masked with the same keys."""

    def keys() -> bytes:
        return b"".join(impl.encode_header(2, 0, mask=True)[2:] for _ in range(4))

    keys()  # the pool is filled now, most of it unused
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its keys and leave at once
        os.write(write, keys())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read, "rb") as pipe:
        child = pipe.read()
    assert len(child) == 16
    assert child != keys()
