"""Leaks: a million encode/decode cycles leave memory flat; calls that raise leave their inputs alone.

Three measures, each after a warm-up (free lists, caches and allocator arenas
filled) against the end of the run:

* ``sys.getallocatedblocks()`` — small objects of either implementation
  (every bytes, Frame and Message under 512 bytes comes from there);
* peak resident size, in a fresh process — the large payloads and the
  compiled decoders' buffers, which bypass the small-object allocator;
* tracemalloc, on a shorter run (it slows pure Python tenfold) — every
  Python allocation, the compiled module's PyMem_* buffers included.

A leak of one object per cycle shows in all three. These are CPython's
allocator statistics (PyPy has no reference counts or allocated blocks to
read), so the module runs on CPython only.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from tracing import traced, tracing

import wscodec
from wscodec.close import parse_close
from wscodec.errors import ProtocolError

pytestmark = pytest.mark.skipif(sys.implementation.name != "cpython", reason="reads CPython's allocator statistics")

KEY = b"\x9a\x01\xfe\x55"
CYCLES = 1_000_000
BATCH = 1000  # frames encoded, then decoded, per step
READ = 4093  # socket read size: frames straddle reads, large ones arrive over many


def peak_rss() -> int:
    """The process's peak resident size in bytes."""
    if sys.platform == "win32":
        import ctypes
        from ctypes import wintypes

        class Counters(ctypes.Structure):
            _fields_ = [("cb", wintypes.DWORD), ("faults", wintypes.DWORD)] + [
                (name, ctypes.c_size_t)
                for name in ("peak", "working", "qpp", "qp", "qnpp", "qnp", "pagefile", "peak_pagefile")
            ]

        counters = Counters()
        counters.cb = ctypes.sizeof(counters)
        process = ctypes.windll.kernel32.GetCurrentProcess()
        ctypes.windll.psapi.GetProcessMemoryInfo(process, ctypes.byref(counters), counters.cb)
        return int(counters.peak)
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB elsewhere


def _mixed_frames(seed: int) -> list[tuple[int, bytes, bool]]:
    """One batch of (opcode, payload, fin): chat-sized and control frames, a fragmented text
    message, every length form, and one 270 KiB frame (past the compiled decoder's GIL-free size)."""
    rng = random.Random(seed)
    frames: list[tuple[int, bytes, bool]] = []
    while len(frames) < BATCH - 4:
        kind = rng.randrange(6)
        if kind == 0:
            frames.append((9 + rng.randrange(2), rng.randbytes(rng.randrange(126)), True))
        elif kind == 1:
            frames.append((1, "héllo ☃ wörld"[: rng.randrange(14)].encode() * rng.randrange(1, 9), True))
        elif kind == 2:
            frames += [(1, b"fragmented ", False), (9, b"", True), (0, "text ☃".encode(), True)]
        else:
            frames.append((2, rng.randbytes(rng.choice((0, 2, 125, 126, 1000, 65535))), True))
    frames.append((2, rng.randbytes(270_000), True))
    return frames


def _cycle(impl: ModuleType, frames: list[tuple[int, bytes, bool]], client: bool) -> int:
    """Encode a batch for one side, decode it with that side's decoder (frames on the server side,
    messages on the client side); return how many items were decoded."""
    data = b"".join(impl.encode_frame(op, payload, fin=fin, mask=not client) for op, payload, fin in frames)
    decoder = impl.MessageDecoder(client=True) if client else impl.FrameDecoder()
    return sum(len(decoder.feed(data[pos : pos + READ])) for pos in range(0, len(data), READ))


def _run(impl: ModuleType, batches: int, frames: list[tuple[int, bytes, bool]]) -> None:
    """``batches`` times ``len(frames)`` cycles, the two sides taking turns."""
    expected = {False: len(frames), True: sum(fin for _, _, fin in frames)}  # every frame; messages and controls
    for i in range(batches):
        assert _cycle(impl, frames, bool(i & 1)) == expected[bool(i & 1)]


def _measure_long_run(name: str) -> dict[str, int]:
    """In a fresh process (so the peak resident size is this run's): a million cycles of ``name``'s
    implementation; small-object blocks and peak resident size after a 10% warm-up and at the end."""
    impl = importlib.import_module(f"wscodec._impl_{'py' if name == 'python' else 'c'}")
    frames = _mixed_frames(7)
    batches = CYCLES // BATCH
    warm = batches // 10
    _run(impl, warm, frames)
    gc.collect()
    blocks, rss = sys.getallocatedblocks(), peak_rss()
    _run(impl, batches - warm, frames)
    gc.collect()
    return {"blocks": blocks, "rss": rss, "end_blocks": sys.getallocatedblocks(), "end_rss": peak_rss()}


@pytest.mark.slow
def test_a_million_cycles_leave_memory_flat(impl: ModuleType) -> None:
    tests = str(Path(__file__).resolve().parent)
    script = (
        f"import json, sys; sys.path.insert(0, {tests!r}); import test_memory; "
        f"print(json.dumps(test_memory._measure_long_run({impl.NAME!r})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tests,
        env={**os.environ, "PYTHONPATH": str(Path(wscodec.__file__).resolve().parents[1])},
        capture_output=True,
        text=True,
        check=True,
    )
    m = json.loads(result.stdout.splitlines()[-1])
    grown_blocks, grown_rss = m["end_blocks"] - m["blocks"], m["end_rss"] - m["rss"]
    print(
        f"{impl.NAME}: after warm-up {m['rss'] / 2**20:.1f} MiB peak RSS, {m['blocks']} blocks; "
        f"end +{grown_rss / 2**20:.2f} MiB, {grown_blocks:+d} blocks"
    )
    assert grown_blocks < 1000  # vs 900 000 more cycles: far less than one block per 100 cycles
    assert grown_rss < 8 * 2**20


def test_traced_memory_flat_over_many_cycles(impl: ModuleType) -> None:
    frames = _mixed_frames(11)
    _run(impl, 3, frames)
    with tracing():
        _run(impl, 3, frames)  # warm-up under tracing: its own bookkeeping settles
        gc.collect()
        before = traced()
        _run(impl, 20, frames)
        gc.collect()
        grown = traced() - before
    assert grown < 64 * 1024, f"{grown} bytes still allocated after 20 000 cycles"


# ---------------------------------------------------------------- reference counts after errors


def _inputs(data: bytes) -> list[object]:
    return [data, bytearray(data), memoryview(data), memoryview(bytearray(data))]


def _raising_calls(impl: ModuleType, obj: object) -> list[tuple[type[Exception], Callable[[], object]]]:
    """Calls that must raise with ``obj`` as the data argument (``obj`` holds a reserved-opcode frame)."""
    failed = impl.FrameDecoder()
    try:
        failed.feed(b"\x83\x80" + KEY)
    except ProtocolError:
        pass
    return [
        (ProtocolError, lambda: impl.FrameDecoder().feed(obj)),
        (ProtocolError, lambda: failed.feed(obj)),
        (ProtocolError, lambda: impl.MessageDecoder().feed(obj)),
        (ProtocolError, lambda: impl.parse_header(obj)),
        (ValueError, lambda: impl.parse_header(obj, -1)),
        (ValueError, lambda: impl.encode_frame(3, obj)),
        (ValueError, lambda: impl.encode_frame(1, obj, mask=b"abc")),
        (ValueError, lambda: impl.encode_frame(9, obj, fin=False)),
        (ValueError, lambda: impl.encode_header(1, -1, mask=obj)),
        (ValueError, lambda: impl.apply_mask(obj, b"abc")),
        (ValueError, lambda: impl.apply_mask(KEY, obj)),
        (ValueError, lambda: impl.Masker(obj)),
        (ValueError, lambda: impl.apply_mask_inplace(bytearray(8), KEY, -1)),
        (ProtocolError, lambda: parse_close(obj)),  # type: ignore[arg-type]  # a buffer of any kind
        (ProtocolError, lambda: impl.decode_text(obj)),  # 0x83 starts no UTF-8 sequence
        (ValueError, lambda: impl.decode_text(obj, b"abc")),
        (ValueError, lambda: impl.decode_text(KEY, obj)),
    ]


def _with_str(impl: ModuleType) -> list[tuple[type[Exception], Callable[[], object]]]:
    """Calls that must raise for a str argument (TypeError; a payload str only if it cannot be encoded)."""
    return [
        (TypeError, lambda: impl.FrameDecoder().feed("text")),
        (TypeError, lambda: impl.MessageDecoder().feed("text")),
        (UnicodeEncodeError, lambda: impl.encode_frame(1, "lone \ud800 surrogate", mask=KEY)),
        (TypeError, lambda: impl.decode_text("text")),
        (TypeError, lambda: impl.apply_mask("text", KEY)),
        (TypeError, lambda: impl.Masker(KEY).process("text")),
        (TypeError, lambda: impl.validate_utf8("text")),
        (TypeError, lambda: impl.Utf8Validator().feed("text")),
    ]


@pytest.mark.parametrize("kind", ["bytes", "bytearray", "memoryview", "memoryview-of-bytearray"])
def test_calls_that_raise_leave_their_inputs_alone(impl: ModuleType, kind: str) -> None:
    data = b"\x83\x80" + KEY + bytes(200)  # a reserved opcode, masked; 206 bytes: no mask key, no close payload
    obj = _inputs(data)[["bytes", "bytearray", "memoryview", "memoryview-of-bytearray"].index(kind)]
    calls = _raising_calls(impl, obj) + _with_str(impl)
    for expected, call in calls:  # once first: lazy imports and caches
        with pytest.raises(expected):
            call()
    gc.collect()
    refs, blocks = sys.getrefcount(obj), sys.getallocatedblocks()
    for _ in range(200):
        for expected, call in calls:
            try:
                call()
            except expected:
                pass
            else:
                raise AssertionError(f"{call} did not raise {expected.__name__}")
    gc.collect()
    assert sys.getrefcount(obj) == refs
    assert sys.getallocatedblocks() - blocks < 200  # vs 200 rounds of every call: no leak per call
    # No buffer export was left behind: a bytearray can still resize, a memoryview be released.
    if isinstance(obj, bytearray):
        obj.append(0)
        del obj[-1]
    if isinstance(obj, memoryview):
        obj.release()
