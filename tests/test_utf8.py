"""UTF-8 validation (RFC 3629): both implementations and every compiled kernel against two oracles.

The oracles are CPython's strict decoder (is it valid?) and :func:`reference`,
a DFA written out from RFC 3629's table of well-formed byte sequences (where
exactly does it fail?). The compiled module's private ``_Kernel`` runs one
named kernel, one-shot and through the C streaming API, so every SIMD kernel
this CPU has is checked, not only the one it selects.
"""

from __future__ import annotations

import array
import copy
import ctypes
import itertools
import mmap
import pickle
import random
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any

import pytest
from buffer_kinds import array_of, misaligned, mmap_of, strided, two_dimensional
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from impls import IMPL_NAMES

KERNEL_NAMES = {"avx512", "avx2", "ssse3", "neon", "scalar"}

if "cython" in IMPL_NAMES:
    from wscodec import _utf8_c

    KERNELS: tuple[str, ...] = _utf8_c.available_kernels()
else:  # a pure-Python run has no kernels to test
    KERNELS = ()


def examples(n: int) -> settings:
    """No deadline (the machine is shared); the ``impl`` fixture is a module, safe to reuse across examples."""
    return settings(max_examples=n, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


# ---------------------------------------------------------------- oracles

# RFC 3629 §4: the allowed range of the second byte, by lead byte; every other
# continuation byte is 80-BF.
_SECOND = {0xE0: (0xA0, 0xBF), 0xED: (0x80, 0x9F), 0xF0: (0x90, 0xBF), 0xF4: (0x80, 0x8F)}


def _length(lead: int) -> int:
    """Bytes in the sequence a lead byte starts; 0 if it can start none."""
    if lead < 0x80:
        return 1
    if 0xC2 <= lead <= 0xDF:
        return 2
    if 0xE0 <= lead <= 0xEF:
        return 3
    if 0xF0 <= lead <= 0xF4:
        return 4
    return 0


def reference(data: bytes) -> int:
    """-1 if ``data`` is valid UTF-8; ``len(data)`` if valid but cut inside a code point;
    else the index of the first byte after which no continuation can make it valid."""
    i, n = 0, len(data)
    while i < n:
        size = _length(data[i])
        if not size:
            return i
        for k in range(1, size):
            if i + k == n:
                return n
            lo, hi = _SECOND.get(data[i], (0x80, 0xBF)) if k == 1 else (0x80, 0xBF)
            if not lo <= data[i + k] <= hi:
                return i + k
        i += size
    return -1


def decodes(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# ---------------------------------------------------------------- what is run

OneShot = Callable[[Any], bool]
# A stream runner takes chunks and returns (per chunk: -1 while valid, else the
# index of the bad byte in the chunk that failed; None after it), complete.
Stream = Callable[[Sequence[Any]], tuple[list[int | None], bool]]


def one_shots(impl: ModuleType) -> dict[str, OneShot]:
    """``validate_utf8``, and for the compiled implementation the same through every kernel."""
    runs: dict[str, OneShot] = {"validate_utf8": impl.validate_utf8}
    if impl.NAME == "cython":
        for kernel in KERNELS:
            runs[kernel] = _utf8_c._Kernel(kernel).validate
    return runs


def _by_validate(impl: ModuleType) -> Stream:
    def run(chunks: Sequence[Any]) -> tuple[list[int | None], bool]:
        validator = impl.Utf8Validator()
        results: list[int | None] = []
        start = 0
        for chunk in chunks:
            valid, ends, current, total = validator.validate(chunk)
            if results and results[-1] != -1:  # failed before: nothing more is read or counted
                assert (valid, ends, current, total) == (False, False, 0, start)
                results.append(None)
                continue
            if valid:
                assert (ends, current, total) == (validator.complete, memoryview(chunk).nbytes, start + current)
            else:
                assert (ends, total) == (False, start + current)
            results.append(-1 if valid else current)
            start = total
        return results, validator.complete

    return run


def _by_feed(impl: ModuleType) -> Stream:
    def run(chunks: Sequence[Any]) -> tuple[list[int | None], bool]:
        validator = impl.Utf8Validator()
        ok = [validator.feed(chunk) for chunk in chunks]
        # feed() only says when; the index comes from the other runners.
        return [-1 if valid else None for valid in ok], validator.complete

    return run


def _by_kernel(kernel: str) -> Stream:
    def run(chunks: Sequence[Any]) -> tuple[list[int | None], bool]:
        raw, complete = _utf8_c._Kernel(kernel).feed(chunks)
        results: list[int | None] = []
        for r in raw:
            if results and results[-1] != -1:  # the C API answers 0 once failed
                assert r == 0
                results.append(None)
            else:
                results.append(r)
        return results, complete

    return run


def streams(impl: ModuleType) -> dict[str, Stream]:
    """``Utf8Validator`` driven by ``validate`` and by ``feed``, and for the compiled
    implementation the C API through every kernel."""
    runs = {"validate": _by_validate(impl), "feed": _by_feed(impl)}
    if impl.NAME == "cython":
        for kernel in KERNELS:
            runs[kernel] = _by_kernel(kernel)
    return runs


def expected_stream(chunks: Sequence[bytes], bad: int | None = None) -> tuple[list[int | None], bool]:
    """What every stream runner must answer: the failure lands in the chunk holding the
    byte :func:`reference` rejects (fail fast), at that byte. ``bad`` is that
    index if the caller knows it (-1 if valid, the length if cut short)."""
    whole = b"".join(chunks)
    if bad is None:
        bad = reference(whole)
    results: list[int | None] = []
    start = 0
    failed = False
    for chunk in chunks:
        if failed:
            results.append(None)
        elif 0 <= bad < start + len(chunk):
            results.append(bad - start)
            failed = True
        else:
            results.append(-1)
        start += len(chunk)
    return results, bad == -1


def check_one_shot(impl: ModuleType, data: bytes) -> None:
    want = decodes(data)
    if len(data) <= 4096:
        assert (reference(data) == -1) == want  # the two oracles agree
    for name, run in one_shots(impl).items():
        assert run(data) is want, (name, data.hex())


def check_stream(
    impl: ModuleType, chunks: Sequence[bytes], bad: int | None = None, given: Sequence[Any] | None = None
) -> None:
    """Every stream runner on ``chunks`` (or on ``given``, other buffers with the same bytes)."""
    want_results, want_complete = expected_stream(chunks, bad)
    for name, run in streams(impl).items():
        results, complete = run(chunks if given is None else given)
        if name == "feed":  # feed() reports when, not where
            want = [None if r is not None and r >= 0 else r for r in want_results]
            assert results == want, (name, [c.hex() for c in chunks])
        else:
            assert results == want_results, (name, [c.hex() for c in chunks])
        assert complete is want_complete, (name, [c.hex() for c in chunks])


# ---------------------------------------------------------------- vectors

VALID = {
    "empty": b"",
    "ascii": b"hello, world",
    "nul": b"\x00",
    "U+007F": b"\x7f",
    "U+0080": b"\xc2\x80",
    "U+07FF": b"\xdf\xbf",
    "U+0800": b"\xe0\xa0\x80",
    "U+D7FF (below the surrogates)": b"\xed\x9f\xbf",
    "U+E000 (above the surrogates)": b"\xee\x80\x80",
    "U+FFFF": b"\xef\xbf\xbf",
    "U+FEFF (BOM)": b"\xef\xbb\xbf",
    "U+10000": b"\xf0\x90\x80\x80",
    "U+10FFFF": b"\xf4\x8f\xbf\xbf",
    "every width": "aé中😀".encode(),
    "kuhn greek": "κόσμε".encode(),
}

INVALID = {
    # overlong forms
    "overlong NUL (C0 80)": b"\xc0\x80",
    "overlong / (C0 AF)": b"\xc0\xaf",
    "overlong U+007F (C1 BF)": b"\xc1\xbf",
    "overlong 3-byte (E0 80 80)": b"\xe0\x80\x80",
    "overlong 3-byte max (E0 9F BF)": b"\xe0\x9f\xbf",
    "overlong 4-byte (F0 80 80 80)": b"\xf0\x80\x80\x80",
    "overlong 4-byte max (F0 8F BF BF)": b"\xf0\x8f\xbf\xbf",
    # surrogates
    "U+D800": b"\xed\xa0\x80",
    "U+DBFF": b"\xed\xaf\xbf",
    "U+DC00": b"\xed\xb0\x80",
    "U+DFFF": b"\xed\xbf\xbf",
    "surrogate pair": b"\xed\xa0\xbd\xed\xb8\x80",
    # above U+10FFFF
    "U+110000": b"\xf4\x90\x80\x80",
    "U+13FFFF": b"\xf4\xbf\xbf\xbf",
    "F5 lead": b"\xf5\x80\x80\x80",
    "F7 BF BF BF": b"\xf7\xbf\xbf\xbf",
    "5-byte form": b"\xf8\x88\x80\x80\x80",
    "6-byte form": b"\xfc\x84\x80\x80\x80\x80",
    # bytes that never appear
    **{f"lone {b:02X}": bytes([b]) for b in (0xC0, 0xC1, *range(0xF5, 0x100))},
    # stray continuation bytes
    "lone 80": b"\x80",
    "lone BF": b"\xbf",
    "continuation after ASCII": b"a\x80",
    "continuation after a 2-byte char": b"\xc3\xa9\xa9",
    "continuation after a 4-byte char": b"\xf0\x9f\x98\x80\x80",
    "two continuations": b"\x80\x80",
    # truncated sequences
    "truncated 2-byte": b"\xc3",
    "truncated 3-byte (1 of 3)": b"\xe4",
    "truncated 3-byte (2 of 3)": b"\xe4\xb8",
    "truncated 4-byte (3 of 4)": b"\xf0\x9f\x98",
    "truncated then ASCII": b"\xe4\xb8a",
    "truncated then lead": b"\xc3\xc3\xa9",
    "4-byte lead, two continuations, ASCII": b"\xf0\x9f\x98a",
    "truncated in the middle": b"ab\xe4\xb8cd",
}


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_vectors(impl: ModuleType, name: str) -> None:
    data = VALID[name]
    assert decodes(data)
    check_one_shot(impl, data)
    # the same inside ASCII, and at every offset of a 64-byte block
    for pad in (1, 15, 31, 60, 63, 64, 100):
        check_one_shot(impl, b"x" * pad + data + b"y" * (pad % 7))


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_vectors(impl: ModuleType, name: str) -> None:
    data = INVALID[name]
    assert not decodes(data)
    check_one_shot(impl, data)
    for pad in (1, 15, 31, 60, 63, 64, 100):
        check_one_shot(impl, b"x" * pad + data)
        check_one_shot(impl, "é".encode() * pad + data + b"y" * (pad % 7))


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_vectors_streamed(impl: ModuleType, name: str) -> None:
    data = b"abc" + INVALID[name] + b"xyz"
    for cut in range(len(data) + 1):
        check_stream(impl, [data[:cut], data[cut:]])


def test_every_byte_pair(impl: ModuleType) -> None:
    """All 65,536 two-byte inputs: alone (short inputs go to the DFA), across a 16-byte lane
    of a vector, and across the end of a 64-byte block into the partial last one."""
    runs = one_shots(impl).items()
    for first in range(256):
        for second in range(256):
            pair = bytes((first, second))
            want = decodes(pair)
            for name, run in runs:
                assert run(pair) is want, (name, pair.hex())
                assert run(b"x" * 15 + pair + b"y" * 47) is want, (name, pair.hex())
                assert run(b"x" * 63 + pair) is want, (name, pair.hex())


# ---------------------------------------------------------------- fail fast

# Prefixes no continuation can complete: the chunk that ends with them fails.
DEAD_ENDS = {
    b"\xf4\x90": 1,
    b"\xf4\xbf": 1,
    b"\xed\xa0": 1,
    b"\xed\xbf": 1,
    b"\xe0\x80": 1,
    b"\xe0\x9f": 1,
    b"\xf0\x80": 1,
    b"\xf0\x8f": 1,
    b"\xc0": 0,
    b"\xc1": 0,
    b"\xf5": 0,
    b"\xff": 0,
    b"\xe4\xb8\xc3": 2,
    b"\xf0\x9f\x98\xc3": 3,
}
# Prefixes that can still be completed: valid so far, not complete.
LIVE_ENDS = (b"\xf4\x8f", b"\xed\x9f", b"\xe0\xa0", b"\xf0\x90", b"\xc2", b"\xf4", b"\xf3\xbf\xbf", b"\xe1\x80")


@pytest.mark.parametrize("prefix", [b"", b"ok ", b"x" * 61, "中".encode() * 30])
def test_fail_fast_on_dead_end(impl: ModuleType, prefix: bytes) -> None:
    for end, at in DEAD_ENDS.items():
        chunk = prefix + end
        validator = impl.Utf8Validator()
        assert validator.feed(b"head ") is True
        assert validator.feed(chunk) is False, end.hex()
        assert validator.complete is False
        validator = impl.Utf8Validator()
        assert validator.validate(chunk) == (False, False, len(prefix) + at, len(prefix) + at), end.hex()
        check_stream(impl, [chunk, b"\x80\x80\x80"])


@pytest.mark.parametrize("prefix", [b"", b"ok ", b"x" * 61, "中".encode() * 30])
def test_live_end_is_not_a_failure(impl: ModuleType, prefix: bytes) -> None:
    for end in LIVE_ENDS:
        validator = impl.Utf8Validator()
        assert validator.feed(prefix + end) is True, end.hex()
        assert validator.complete is False
        check_stream(impl, [prefix + end, b"\x80\x80\x80"[: 4 - len(end)] if end[0] >= 0xF0 else b"\x80"])


def test_code_point_split_across_many_chunks(impl: ModuleType) -> None:
    for char in ("é", "中", "😀", "\U0010ffff"):
        data = char.encode()
        validator = impl.Utf8Validator()
        for i, byte in enumerate(data, 1):
            assert validator.feed(bytes([byte])) is True
            assert validator.complete is (i == len(data))
        check_stream(impl, [bytes([b]) for b in data])
        check_stream(impl, [b"", *(bytes([b]) for b in data), b""])


# ---------------------------------------------------------------- the validate() quad


def test_validate_quad(impl: ModuleType) -> None:
    v = impl.Utf8Validator()
    assert v.validate(b"abc") == (True, True, 3, 3)
    assert v.validate("é".encode()[:1]) == (True, False, 1, 4)
    assert v.validate("é".encode()[1:] + b"xy") == (True, True, 3, 7)
    assert v.validate(b"") == (True, True, 0, 7)
    assert v.validate(b"ok\xffok") == (False, False, 2, 9)
    assert v.complete is False
    # once invalid, always invalid (and nothing more is counted) until reset
    assert v.validate(b"fine") == (False, False, 0, 9)
    assert v.feed(b"fine") is False
    assert v.validate(b"") == (False, False, 0, 9)
    v.reset()
    assert v.complete is True
    assert v.validate(b"\xe4\xb8") == (True, False, 2, 2)
    assert v.validate(b"\xad") == (True, True, 1, 3)


def test_validate_counts_the_failing_byte_after_feed(impl: ModuleType) -> None:
    """feed() and validate() share one count: the bytes up to the one that failed."""
    v = impl.Utf8Validator()
    assert v.feed(b"abcd") is True
    assert v.feed(b"ef\xc0") is False
    assert v.validate(b"x") == (False, False, 0, 6)


def test_fresh_and_reset_validators_are_complete(impl: ModuleType) -> None:
    v = impl.Utf8Validator()
    assert v.complete is True
    assert v.feed(b"") is True
    assert v.complete is True
    assert v.feed(b"\xc3") is True
    assert v.complete is False
    v.reset()
    assert v.complete is True
    assert v.feed(b"\xa9") is False  # the carried lead byte was forgotten


@pytest.mark.parametrize("copier", [copy.copy, copy.deepcopy, lambda v: pickle.loads(pickle.dumps(v))])
def test_copies_carry_the_state(impl: ModuleType, copier: Callable[[Any], Any]) -> None:
    v = impl.Utf8Validator()
    v.feed(b"ab\xe4")
    twin = copier(v)
    assert twin.complete is False
    assert twin.validate(b"\xb8\xad") == (True, True, 2, 5)
    assert v.validate(b"x") == (False, False, 0, 3)  # the original is untouched
    failed = copier(v)
    assert failed.validate(b"") == (False, False, 0, 3)


# ---------------------------------------------------------------- differential (hypothesis)

widths = st.sampled_from(
    [
        st.characters(max_codepoint=0x7F),
        st.characters(min_codepoint=0x80, max_codepoint=0x7FF),
        st.characters(min_codepoint=0x800, max_codepoint=0xFFFF, exclude_categories=["Cs"]),
        st.characters(min_codepoint=0x10000),
        st.characters(exclude_categories=["Cs"]),
    ]
)


@st.composite
def texts(draw: st.DrawFn, max_size: int = 300) -> bytes:
    """Valid UTF-8 of up to about ``max_size`` bytes: runs of characters of one width or mixed."""
    out = b""
    while len(out) < max_size and draw(st.integers(0, 3)):
        out += draw(st.text(draw(widths), max_size=80)).encode()
    return out


@st.composite
def corrupted(draw: st.DrawFn) -> bytes:
    """Valid text with one byte replaced (by anything, or by a telling byte)."""
    data = bytearray(draw(texts()))
    if not data:
        return bytes(draw(st.binary(max_size=1)))
    at = draw(st.integers(0, len(data) - 1))
    data[at] = draw(st.one_of(st.integers(0, 255), st.sampled_from([0x80, 0xBF, 0xC0, 0xE0, 0xED, 0xF4, 0xFF])))
    return bytes(data)


@st.composite
def truncated(draw: st.DrawFn) -> bytes:
    """Valid text cut at any byte (often inside a code point)."""
    data = draw(texts())
    return data[: draw(st.integers(0, len(data)))]


any_input = st.one_of(texts(), st.binary(max_size=300), corrupted(), truncated())


@examples(300)
@given(data=any_input)
def test_one_shot_matches_decoder(impl: ModuleType, data: bytes) -> None:
    check_one_shot(impl, data)


@examples(150)
@given(data=any_input, cuts=st.lists(st.integers(0, 300), max_size=6))
def test_random_splits_match_reference(impl: ModuleType, data: bytes, cuts: list[int]) -> None:
    bounds = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    check_stream(impl, [data[a:b] for a, b in itertools.pairwise(bounds)])


@examples(40)
@given(data=st.one_of(texts(max_size=150), corrupted(), truncated()))
def test_split_at_every_position(impl: ModuleType, data: bytes) -> None:
    for cut in range(len(data) + 1):
        check_stream(impl, [data[:cut], data[cut:]])


def test_implementations_agree(impls: list[ModuleType]) -> None:
    rng = random.Random(7)
    for _ in range(300):
        data = rng.randbytes(rng.randrange(40)) if rng.random() < 0.5 else "aé中😀".encode() * rng.randrange(20)
        if data and rng.random() < 0.5:
            data = data[: rng.randrange(len(data))]
        cut = rng.randrange(len(data) + 1)
        answers = set()
        for impl in impls:
            v = impl.Utf8Validator()
            answers.add((impl.validate_utf8(data), v.validate(data[:cut]), v.validate(data[cut:]), v.complete))
        assert len(answers) == 1, data.hex()


# ---------------------------------------------------------------- large inputs


def _mixed_text(n: int, seed: int) -> bytes:
    """``n`` bytes of valid text mixing all widths, ASCII-padded at the end."""
    rng = random.Random(seed)
    pieces = ["a", "é", "ß", "中", "語", "😀", "\U0010ffff", "\ud7ff", "\ue000", "\u0800", "\x7f", "\x80"]
    out = "".join(rng.choice(pieces) for _ in range(n)).encode()[:n]
    out = out.decode("utf-8", "ignore").encode()  # drops the code point the cut split
    return out.ljust(n, b"z")


def _replaced(data: bytes, at: int, byte: int) -> bytes:
    return data[:at] + bytes((byte,)) + data[at + 1 :]


@pytest.mark.parametrize("size", [64, 65, 127, 128, 191, 256 + 37])
def test_error_at_every_position(impl: ModuleType, size: int) -> None:
    """Every block position and every tail position, with errors of each kind."""
    base = _mixed_text(size, size)
    for at in range(size):
        for byte in (0xFF, 0x80, 0xC0, 0xE0, 0xED):
            check_one_shot(impl, _replaced(base, at, byte))
    for cut in range(size - 8, size + 1):  # truncated at the tail
        check_one_shot(impl, base[:cut])


@pytest.mark.parametrize("size", [64 * 4 + 13, 1000])
def test_error_index_at_every_position(impl: ModuleType, size: int) -> None:
    """The failing index is exact wherever the error is, one chunk or two."""
    base = _mixed_text(size, size + 1)
    for at in range(0, size, 3):
        data = _replaced(base, at, 0xF8 if at % 2 else 0x80)
        check_stream(impl, [data])
        check_stream(impl, [data[: at // 2], data[at // 2 :]])


@pytest.mark.parametrize("size", [4096 + 61, 256 * 1024 + 3, 1024 * 1024 + 1])
def test_large(impl: ModuleType, size: int) -> None:
    """Sizes past the GIL-release threshold: valid, with an error near the end, cut short."""
    data = _mixed_text(size, 3)
    broken = _replaced(data, size - 70, 0xC0)  # never valid: the DFA rejects it whatever it replaced
    cut_short = data + "中".encode()[:2]
    half = size // 2
    for name, run in one_shots(impl).items():
        assert run(data) is True, name
        assert run(broken) is False, name
        assert run(cut_short) is False, name
        assert run(b"x" * size) is True, name
        assert run(b"x" * (size - 2) + b"\xed\xa0") is False, name
    check_stream(impl, [data[:half], data[half:]], bad=-1)
    check_stream(impl, [broken], bad=size - 70)
    check_stream(impl, [broken[:half], broken[half:]], bad=size - 70)
    check_stream(impl, [cut_short[:half], cut_short[half:]], bad=len(cut_short))


# ---------------------------------------------------------------- input types


BUFFER_KINDS: dict[str, Callable[[bytes], Any]] = {
    "bytes": bytes,
    "bytearray": bytearray,
    "memoryview": memoryview,
    "read-only memoryview": lambda d: memoryview(bytearray(d)).toreadonly(),
    "array-B": lambda d: array.array("B", d),
    "array-H": array_of("H"),
    "mmap": mmap_of,
    "misaligned-1": misaligned(1),
    "misaligned-3": misaligned(3),
    "misaligned-33": misaligned(33),
    "2-d": two_dimensional,
    "non-contiguous": strided,
}

TYPE_SAMPLES = [b"", b"plain", "aé中😀".encode() * 40, b"x" * 70 + b"\xed\xa0\x80", "中".encode() * 50 + b"\xe4"]


@pytest.mark.parametrize("kind", sorted(BUFFER_KINDS))
def test_buffer_kinds(impl: ModuleType, kind: str) -> None:
    make = BUFFER_KINDS[kind]
    for sample in TYPE_SAMPLES:
        want = decodes(sample)
        for name, run in one_shots(impl).items():
            assert run(make(sample)) is want, (name, sample.hex())
        v = impl.Utf8Validator()
        valid, ends, *_ = v.validate(make(sample))
        assert (valid and ends) is want
        assert v.feed(make(b"")) is valid
        cut = len(sample) // 3
        check_stream(impl, [sample[:cut], sample[cut:]], given=[make(sample[:cut]), make(sample[cut:])])


def test_empty_buffer_with_zero_in_shape(impl: ModuleType) -> None:
    """A C-contiguous but empty 2-D buffer (shape (4, 0)) is just empty text."""
    empty_2d = ((ctypes.c_uint8 * 0) * 4)()
    assert impl.validate_utf8(empty_2d) is True
    assert impl.Utf8Validator().validate(empty_2d) == (True, True, 0, 0)


NOT_BUFFERS = ["text", 5, None, 1.5, [1, 2], object()]


@pytest.mark.parametrize("value", NOT_BUFFERS, ids=lambda v: type(v).__name__)
def test_non_buffers_raise_type_error(impl: ModuleType, value: object) -> None:
    with pytest.raises(TypeError):
        impl.validate_utf8(value)
    v = impl.Utf8Validator()
    with pytest.raises(TypeError):
        v.feed(value)
    with pytest.raises(TypeError):
        v.validate(value)
    assert v.validate(b"ok") == (True, True, 2, 2)  # a rejected argument changes nothing
    assert v.feed(b"\xff") is False
    with pytest.raises(TypeError):  # still checked after a failure
        v.feed(value)
    with pytest.raises(TypeError):
        v.validate(value)


def test_arguments_are_positional_only(impl: ModuleType) -> None:
    with pytest.raises(TypeError):
        impl.validate_utf8(data=b"")
    with pytest.raises(TypeError):
        impl.Utf8Validator().feed(data=b"")
    with pytest.raises(TypeError):
        impl.Utf8Validator().validate(data=b"")


def test_no_export_is_leaked(impl: ModuleType) -> None:
    """The bytearray can be resized after every kind of call (each export was released)."""
    buffer = bytearray(b"ok \xe4\xb8")
    impl.validate_utf8(buffer)
    v = impl.Utf8Validator()
    v.feed(buffer)
    v.validate(buffer)
    v.feed(bytearray(b"\xff"))
    v.feed(buffer)
    buffer.extend(b"!")  # BufferError if an export were still held


# ---------------------------------------------------------------- memory safety


def _guarded(data: bytes, at_end: bool) -> tuple[mmap.mmap, memoryview]:
    """``data`` in anonymous memory with an inaccessible page right after it (``at_end``)
    or right before it: a read past the buffer's edge is a crash, not a silent pass."""
    page = mmap.PAGESIZE
    m = mmap.mmap(-1, 3 * page)
    base = ctypes.addressof(ctypes.c_char.from_buffer(m))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    for guard in (base, base + 2 * page):
        assert libc.mprotect(guard, page, 0) == 0, ctypes.get_errno()  # PROT_NONE
    start = 2 * page - len(data) if at_end else page
    view = memoryview(m)[start : start + len(data)]
    view[:] = data
    return m, view


@pytest.mark.skipif(sys.platform == "win32", reason="mprotect is POSIX")
@pytest.mark.parametrize("at_end", [True, False], ids=["guard-after", "guard-before"])
def test_no_read_outside_the_buffer(impl: ModuleType, at_end: bool) -> None:
    samples = [b"", b"a", b"\xc3", b"\xf0\x9f\x98", "中".encode() * 43, b"x" * 64, b"x" * 63 + b"\xe4\xb8"]
    samples += [_mixed_text(n, n) for n in (1, 15, 16, 31, 33, 63, 64, 65, 127, 129, 200)]
    for sample in samples:
        m, view = _guarded(sample, at_end)
        for run in one_shots(impl).values():
            assert run(view) is decodes(sample)
        for cut in (0, 1, len(sample) // 2, len(sample)):
            check_stream(impl, [sample[:cut], sample[cut:]], given=[view[:cut], view[cut:]])
        view.release()
        m.close()


def test_validators_on_several_threads(impl: ModuleType) -> None:
    """Threads validating at once (each its own validator, one shared) get their own answers."""
    data = _mixed_text(300 * 1024, 5)  # past the GIL-release threshold
    bad = data[:-1] + b"\xff"
    shared = impl.Utf8Validator()

    def work(seed: int) -> None:
        v = impl.Utf8Validator()
        for i in range(6):
            sample = bad if (seed + i) % 2 else data
            assert impl.validate_utf8(sample) is (sample is data)
            v.reset()
            assert v.feed(sample) is (sample is data)
            shared.feed(sample)  # racing on one validator must not crash

    with ThreadPoolExecutor(4) as pool:
        for done in [pool.submit(work, seed) for seed in range(4)]:
            done.result()  # re-raises a failed assertion
    assert shared.feed(b"x") is False


# ---------------------------------------------------------------- compiled kernels


@pytest.fixture(params=[name for name in IMPL_NAMES if name == "cython"])
def utf8_c(request: pytest.FixtureRequest) -> ModuleType:
    """The compiled UTF-8 module (absent from a pure-Python run)."""
    return _utf8_c


def test_selected_kernel_is_available(utf8_c: ModuleType) -> None:
    available = utf8_c.available_kernels()
    assert utf8_c.kernel() == available[0]  # the widest one this CPU supports
    assert set(available) <= KERNEL_NAMES
    assert available[-1] == "scalar"


def test_kernel_hooks_reject_bad_names(utf8_c: ModuleType) -> None:
    with pytest.raises(ValueError, match="unknown kernel"):
        utf8_c._Kernel("mmx")
    for name in KERNEL_NAMES - set(utf8_c.available_kernels()):
        with pytest.raises(ValueError):
            utf8_c._Kernel(name)


def test_unpickling_rejects_unknown_states(utf8_c: ModuleType) -> None:
    for state in (1, 5, 7, 54, 60, 2**31):
        with pytest.raises(ValueError, match="not a UTF-8 validator state"):
            utf8_c._restore_validator(state, 0)


# ASCII checks: every length to past two 256-byte steps, each with a high byte at every position.
@pytest.mark.parametrize("kernel", KERNELS)
def test_ascii_check_finds_a_high_byte_anywhere(kernel: str) -> None:
    is_ascii = _utf8_c._Kernel(kernel).is_ascii
    for n in (*range(0, 80), *range(120, 136), *range(250, 262), 511, 512, 513, 600):
        clean = bytes(i & 0x7F for i in range(n))  # every ASCII value, no high bit
        assert is_ascii(clean) is True, n
        for pos in range(n):
            for high in (0x80, 0xFF):
                assert is_ascii(clean[:pos] + bytes([high]) + clean[pos + 1 :]) is False, (n, pos, high)


@examples(200)
@given(
    data=st.one_of(
        st.binary(max_size=700),
        st.builds(lambda s: s.encode(), st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=700)),
        st.builds(lambda s: s.encode(), st.text(max_size=300)),
    )
)
def test_ascii_check_matches_isascii(utf8_c: ModuleType, data: bytes) -> None:
    for kernel in KERNELS:
        assert utf8_c._Kernel(kernel).is_ascii(data) is data.isascii(), kernel


@pytest.mark.skipif(sys.platform == "win32", reason="mprotect is POSIX")
@pytest.mark.parametrize("at_end", [True, False], ids=["guard-after", "guard-before"])
def test_ascii_check_reads_nothing_outside_the_buffer(utf8_c: ModuleType, at_end: bool) -> None:
    for sample in (b"", b"a", b"x" * 63, b"x" * 64, b"x" * 255, b"x" * 257 + b"\x80", b"\x80" + b"x" * 300):
        m, view = _guarded(sample, at_end)
        for kernel in KERNELS:
            assert utf8_c._Kernel(kernel).is_ascii(view) is sample.isascii()
        view.release()
        m.close()
