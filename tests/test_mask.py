"""Masking (RFC 6455 §5.3): both implementations and every compiled kernel against a byte-by-byte oracle.

The compiled module's private ``_mask_with`` runs one named kernel, so the
SIMD kernels this CPU has are all checked, not only the one it selects.
"""

from __future__ import annotations

import array
import ctypes
import importlib
import itertools
import mmap
import operator
import random
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from buffer_kinds import array_of, misaligned, mmap_of, strided, two_dimensional
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from impls import IMPL_NAMES

KEY = bytes([0x37, 0xFA, 0x21, 0x3D])
KERNEL_NAMES = {"avx512", "avx2", "sse2", "neon", "portable"}


def examples(n: int) -> settings:
    """No deadline (the machine is shared); the ``impl`` fixture is a module, safe to reuse across examples."""
    return settings(max_examples=n, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


keys = st.binary(min_size=4, max_size=4)
small_payloads = st.binary(max_size=300)
phases = st.integers(0, 3)
# Sizes around the compiled code's internal boundaries: vector widths and
# unrolled blocks, the aligned-store threshold, the GIL-release threshold.
LARGE_SIZES = (1023, 4099, 65536 + 7, 256 * 1024 + 5, 1024 * 1024 - 1, 1024 * 1024 + 3)


def oracle(data: bytes, key: bytes, offset: int = 0) -> bytes:
    """The definition: byte i is XORed with key[(offset + i) % 4]."""
    stream = itertools.islice(itertools.cycle(key), offset % 4, None)
    return bytes(map(operator.xor, data, stream))


def random_bytes(n: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(n)


if "cython" in IMPL_NAMES:
    from wscodec import _mask_c

    KERNELS: tuple[str, ...] = _mask_c.available_kernels()
else:  # a pure-Python run has no kernels to test
    KERNELS = ()


@pytest.fixture(params=[name for name in IMPL_NAMES if name == "cython"])
def mask_c() -> ModuleType:
    """The compiled masking module (absent from a pure-Python run)."""
    return _mask_c


# ---------------------------------------------------------------- buffer kinds


READABLE_KINDS: dict[str, Callable[[bytes], Any]] = {
    "bytes": bytes,
    "bytearray": bytearray,
    "memoryview": memoryview,
    "memoryview-of-bytearray": lambda d: memoryview(bytearray(d)),
    "array-B": lambda d: array.array("B", d),
    "array-I": array_of("I"),
    "mmap": mmap_of,
    "misaligned-1": misaligned(1),
    "misaligned-3": misaligned(3),
    "misaligned-45": misaligned(45),
    "2-d": two_dimensional,
    "non-contiguous": strided,
}

WRITABLE_KINDS: dict[str, Callable[[bytes], Any]] = {
    "bytearray": bytearray,
    "memoryview-of-bytearray": lambda d: memoryview(bytearray(d)),
    "array-B": lambda d: array.array("B", d),
    "array-I": array_of("I"),
    "mmap": lambda d: mmap_of(d) if d else bytearray(),
    "misaligned-1": misaligned(1),
    "misaligned-7": misaligned(7),
    "misaligned-62": misaligned(62),
    "2-d": two_dimensional,
}

MASK_KINDS: dict[str, Callable[[bytes], Any]] = {
    "bytes": bytes,
    "bytearray": bytearray,
    "memoryview": memoryview,
    "array-I": lambda k: array.array("I", k),
    "non-contiguous": strided,
}


def contents(buffer: Any) -> bytes:
    return memoryview(buffer).tobytes()


# ---------------------------------------------------------------- apply_mask


@examples(300)
@given(data=small_payloads, key=keys, kind=st.sampled_from(sorted(READABLE_KINDS)))
def test_apply_mask_matches_oracle(impl: ModuleType, data: bytes, key: bytes, kind: str) -> None:
    result = impl.apply_mask(READABLE_KINDS[kind](data), key)
    assert type(result) is bytes
    assert result == oracle(data, key)


@pytest.mark.parametrize("size", LARGE_SIZES)
@pytest.mark.parametrize("kind", ["bytes", "bytearray", "misaligned-3", "non-contiguous", "array-I"])
def test_apply_mask_large(impl: ModuleType, size: int, kind: str) -> None:
    data = random_bytes(size, size)
    assert impl.apply_mask(READABLE_KINDS[kind](data), KEY) == oracle(data, KEY)


@pytest.mark.parametrize("kind", sorted(MASK_KINDS))
def test_mask_may_be_any_4_byte_buffer(impl: ModuleType, kind: str) -> None:
    data = random_bytes(100)
    assert impl.apply_mask(data, MASK_KINDS[kind](KEY)) == oracle(data, KEY)
    buffer = bytearray(data)
    impl.apply_mask_inplace(buffer, MASK_KINDS[kind](KEY), 1)
    assert buffer == oracle(data, KEY, 1)
    assert impl.Masker(MASK_KINDS[kind](KEY)).process(data) == oracle(data, KEY)


def test_masking_twice_restores_the_data(impl: ModuleType) -> None:
    data = random_bytes(1000)
    assert impl.apply_mask(impl.apply_mask(data, KEY), KEY) == data


def test_keywords(impl: ModuleType) -> None:
    assert impl.apply_mask(data=b"abc", mask=KEY) == oracle(b"abc", KEY)
    buffer = bytearray(b"abc")
    impl.apply_mask_inplace(buffer=buffer, mask=KEY, offset=2)
    assert buffer == oracle(b"abc", KEY, 2)
    assert impl.Masker(mask=KEY).process(data=b"abc") == oracle(b"abc", KEY)


# ---------------------------------------------------------------- apply_mask_inplace


@examples(300)
@given(
    data=small_payloads,
    key=keys,
    offset=st.one_of(phases, st.integers(0, 2**70)),
    kind=st.sampled_from(sorted(WRITABLE_KINDS)),
)
def test_apply_mask_inplace_matches_oracle(impl: ModuleType, data: bytes, key: bytes, offset: int, kind: str) -> None:
    buffer = WRITABLE_KINDS[kind](data)
    assert impl.apply_mask_inplace(buffer, key, offset) is None
    assert contents(buffer) == oracle(data, key, offset)


@pytest.mark.parametrize("size", LARGE_SIZES)
@pytest.mark.parametrize("kind", ["bytearray", "misaligned-62", "mmap"])
@pytest.mark.parametrize("offset", [0, 3])
def test_apply_mask_inplace_large(impl: ModuleType, size: int, kind: str, offset: int) -> None:
    data = random_bytes(size, size)
    buffer = WRITABLE_KINDS[kind](data)
    impl.apply_mask_inplace(buffer, KEY, offset)
    assert contents(buffer) == oracle(data, KEY, offset)


@examples(100)
@given(data=st.binary(min_size=1, max_size=300), key=keys, cut=st.integers(0, 300), offset=phases)
def test_inplace_chunks_continue_the_phase(impl: ModuleType, data: bytes, key: bytes, cut: int, offset: int) -> None:
    """A payload unmasked chunk by chunk, each with offset = bytes before it, equals one pass."""
    cut = min(cut, len(data))
    buffer = bytearray(data)
    with memoryview(buffer) as view:
        impl.apply_mask_inplace(view[:cut], key, offset)
        impl.apply_mask_inplace(view[cut:], key, offset + cut)
    assert buffer == oracle(data, key, offset)


def test_inplace_from_several_threads(impl: ModuleType) -> None:
    """Large buffers (masked without the GIL in the compiled module) from concurrent threads."""
    datas = [random_bytes(1024 * 1024 + i, i) for i in range(4)]
    buffers = [bytearray(d) for d in datas]

    def work(buffer: bytearray) -> None:
        for _ in range(10):
            impl.apply_mask_inplace(buffer, KEY)

    threads = [threading.Thread(target=work, args=(b,)) for b in buffers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert buffers == datas  # ten XORs with the same key cancel out


# ---------------------------------------------------------------- Masker


@examples(200)
@given(
    data=st.binary(max_size=600),
    key=keys,
    cuts=st.lists(st.integers(0, 600), max_size=6),
    kind=st.sampled_from(["bytes", "bytearray", "misaligned-3", "non-contiguous"]),
)
def test_masker_split_equals_one_shot(impl: ModuleType, data: bytes, key: bytes, cuts: list[int], kind: str) -> None:
    masker = impl.Masker(key)
    bounds = [0, *sorted(min(c, len(data)) for c in cuts), len(data)]
    pieces = [masker.process(READABLE_KINDS[kind](data[a:b])) for a, b in itertools.pairwise(bounds)]
    assert all(type(p) is bytes for p in pieces)
    assert b"".join(pieces) == oracle(data, key) == impl.apply_mask(data, key)
    assert masker.offset == len(data) % 4


def test_masker_offset_and_reset(impl: ModuleType) -> None:
    masker = impl.Masker(KEY)
    assert masker.offset == 0
    masker.process(b"abcde")
    assert masker.offset == 1
    masker.process(b"")
    assert masker.offset == 1
    masker.process(b"xyz")
    assert masker.offset == 0
    masker.process(b"xy")
    masker.reset()
    assert masker.offset == 0
    assert masker.process(b"hello") == oracle(b"hello", KEY)
    with pytest.raises(AttributeError):
        masker.offset = 2


def test_masker_large_chunks(impl: ModuleType) -> None:
    data = random_bytes(2 * 1024 * 1024 + 1)
    masker = impl.Masker(KEY)
    cut = 1024 * 1024 + 3
    assert masker.process(data[:cut]) + masker.process(bytearray(data[cut:])) == oracle(data, KEY)


# ---------------------------------------------------------------- bad input

BAD_CALLS: dict[str, tuple[Callable[[ModuleType], object], type[Exception], str | None]] = {
    # data is converted first, then the mask, then the offset.
    "str data": (lambda m: m.apply_mask("text", KEY), TypeError, None),
    "int data": (lambda m: m.apply_mask(5, KEY), TypeError, None),
    "None data": (lambda m: m.apply_mask(None, KEY), TypeError, None),
    "str data, bad mask": (lambda m: m.apply_mask("text", b"abc"), TypeError, None),
    "short mask": (lambda m: m.apply_mask(b"data", b"abc"), ValueError, "mask must contain 4 bytes"),
    "long mask": (lambda m: m.apply_mask(b"data", b"abcde"), ValueError, "mask must contain 4 bytes"),
    "empty mask": (lambda m: m.apply_mask(b"", b""), ValueError, "mask must contain 4 bytes"),
    "short bytearray mask": (
        lambda m: m.apply_mask(bytearray(b"data"), bytearray(3)),
        ValueError,
        "mask must contain 4 bytes",
    ),
    "8-byte array mask": (
        lambda m: m.apply_mask(b"data", array.array("I", [1, 2])),
        ValueError,
        "mask must contain 4 bytes",
    ),
    "str mask": (lambda m: m.apply_mask(b"data", "abcd"), TypeError, None),
    "int mask": (lambda m: m.apply_mask(b"data", 1234), TypeError, None),
    "None mask": (lambda m: m.apply_mask(bytearray(b"data"), None), TypeError, None),
    "inplace str": (lambda m: m.apply_mask_inplace("text", KEY), TypeError, None),
    "inplace int": (lambda m: m.apply_mask_inplace(7, KEY), TypeError, None),
    "inplace bytes": (lambda m: m.apply_mask_inplace(b"data", KEY), BufferError, None),
    "inplace bytes, bad mask": (lambda m: m.apply_mask_inplace(b"data", b"abc"), BufferError, None),
    "inplace read-only view": (
        lambda m: m.apply_mask_inplace(memoryview(bytearray(8)).toreadonly(), KEY),
        BufferError,
        "buffer is read-only",
    ),
    "inplace non-contiguous": (
        lambda m: m.apply_mask_inplace(memoryview(bytearray(8))[::2], KEY),
        BufferError,
        "buffer is not C-contiguous",
    ),
    "inplace short mask": (
        lambda m: m.apply_mask_inplace(bytearray(8), b"abc"),
        ValueError,
        "mask must contain 4 bytes",
    ),
    "inplace str mask": (lambda m: m.apply_mask_inplace(bytearray(8), "abcd"), TypeError, None),
    "inplace bad mask, negative offset": (
        lambda m: m.apply_mask_inplace(bytearray(8), b"abc", -1),
        ValueError,
        "mask must contain 4 bytes",
    ),
    "negative offset": (
        lambda m: m.apply_mask_inplace(bytearray(8), KEY, -1),
        ValueError,
        "offset must be >= 0",
    ),
    "huge negative offset": (
        lambda m: m.apply_mask_inplace(bytearray(8), KEY, -(2**70)),
        ValueError,
        "offset must be >= 0",
    ),
    "negative offset, empty buffer": (
        lambda m: m.apply_mask_inplace(bytearray(), KEY, -1),
        ValueError,
        "offset must be >= 0",
    ),
    "float offset": (lambda m: m.apply_mask_inplace(bytearray(8), KEY, 1.5), TypeError, None),
    "float offset, empty buffer": (lambda m: m.apply_mask_inplace(bytearray(), KEY, 1.0), TypeError, None),
    "str offset": (lambda m: m.apply_mask_inplace(bytearray(8), KEY, "1"), TypeError, None),
    "Masker short mask": (lambda m: m.Masker(b"abc"), ValueError, "mask must contain 4 bytes"),
    "Masker str mask": (lambda m: m.Masker("abcd"), TypeError, None),
    "Masker str data": (lambda m: m.Masker(KEY).process("text"), TypeError, None),
    "Masker no mask": (lambda m: m.Masker(), TypeError, None),
}


@pytest.mark.parametrize("case", sorted(BAD_CALLS))
def test_bad_input_raises(impl: ModuleType, case: str) -> None:
    call, exc_type, message = BAD_CALLS[case]
    with pytest.raises(exc_type) as info:
        call(impl)
    assert type(info.value) is exc_type
    if message is not None:
        assert str(info.value) == message


def test_read_only_mmap_cannot_be_masked_in_place(impl: ModuleType, tmp_path: Any) -> None:
    path = tmp_path / "payload"
    path.write_bytes(b"payload!")
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        with pytest.raises(BufferError):
            impl.apply_mask_inplace(m, KEY)
        assert impl.apply_mask(m, KEY) == oracle(b"payload!", KEY)


def test_bool_offset_is_an_int(impl: ModuleType) -> None:
    buffer = bytearray(b"abcd")
    impl.apply_mask_inplace(buffer, KEY, True)
    assert buffer == oracle(b"abcd", KEY, 1)


def test_failed_call_leaves_buffer_unchanged_and_resizable(impl: ModuleType) -> None:
    """No buffer export is leaked on an error path: the bytearray can still be resized."""
    buffer = bytearray(b"payload")
    for mask, offset in ((b"abc", 0), ("abcd", 0), (KEY, -1), (KEY, 1.5)):
        with pytest.raises((ValueError, TypeError)):
            impl.apply_mask_inplace(buffer, mask, offset)
        with pytest.raises((ValueError, TypeError)):
            impl.apply_mask(buffer, mask if offset == 0 else "abcd")
    assert buffer == b"payload"
    buffer.extend(b"!")  # BufferError if an export were still held


def test_empty_buffer_with_zero_in_shape(impl: ModuleType) -> None:
    """A C-contiguous but empty 2-D buffer (shape (4, 0)) is just an empty payload."""
    empty_2d = ((ctypes.c_uint8 * 0) * 4)()
    assert impl.apply_mask(empty_2d, KEY) == b""
    assert impl.apply_mask_inplace(empty_2d, KEY) is None
    assert impl.Masker(KEY).process(empty_2d) == b""


def test_implementations_agree_on_every_bad_call(impls: list[ModuleType]) -> None:
    def outcome(m: ModuleType, case: str) -> tuple[type[BaseException], str]:
        try:
            BAD_CALLS[case][0](m)
        except (TypeError, ValueError, BufferError) as exc:
            return type(exc), str(exc) if BAD_CALLS[case][2] else ""
        return type(None), ""  # type: ignore[return-value]

    for case in BAD_CALLS:
        assert len({outcome(m, case) for m in impls}) == 1, case


# ---------------------------------------------------------------- key-first entries
# mask_keyfirst / mask_inplace_keyfirst: apply_mask / apply_mask_inplace with the
# key first (for hosts such as aiohttp and tornado); HostMaskFallback puts a host's
# own function behind their fast path.

MASK_MODULES = {"python": "wscodec.mask_py", "cython": "wscodec._mask_c"}


@pytest.fixture
def fallback_type(impl: ModuleType) -> Any:
    """The implementation's HostMaskFallback (not in the namespace: it serves the integration shims)."""
    return importlib.import_module(MASK_MODULES[impl.NAME]).HostMaskFallback


def outcome_of(call: Callable[[], object]) -> tuple[object, str]:
    """The result of ``call()``, or the type and message of what it raised."""
    try:
        return call(), ""
    except (TypeError, ValueError, BufferError) as exc:
        return type(exc), str(exc)


@examples(200)
@given(data=small_payloads, key=keys, kind=st.sampled_from(sorted(READABLE_KINDS)))
def test_mask_keyfirst_equals_apply_mask(impl: ModuleType, data: bytes, key: bytes, kind: str) -> None:
    result = impl.mask_keyfirst(key, READABLE_KINDS[kind](data))
    assert type(result) is bytes
    assert result == impl.apply_mask(READABLE_KINDS[kind](data), key) == oracle(data, key)


@examples(200)
@given(data=small_payloads, key=keys, kind=st.sampled_from(sorted(WRITABLE_KINDS)))
def test_mask_inplace_keyfirst_equals_apply_mask_inplace(impl: ModuleType, data: bytes, key: bytes, kind: str) -> None:
    buffer, expected = WRITABLE_KINDS[kind](data), WRITABLE_KINDS[kind](data)
    assert impl.mask_inplace_keyfirst(key, buffer) is None
    impl.apply_mask_inplace(expected, key)
    assert contents(buffer) == contents(expected) == oracle(data, key)


@pytest.mark.parametrize("size", LARGE_SIZES)
def test_keyfirst_large(impl: ModuleType, size: int) -> None:
    data = random_bytes(size, size)
    assert impl.mask_keyfirst(KEY, data) == impl.mask_keyfirst(KEY, bytearray(data)) == oracle(data, KEY)
    buffer = bytearray(data)
    impl.mask_inplace_keyfirst(KEY, buffer)
    assert buffer == oracle(data, KEY)


# (data, mask) pairs each entry must reject exactly as its apply_* counterpart does
KEYFIRST_BAD_READABLE = [
    ("text", KEY),
    (5, KEY),
    (None, KEY),
    ("text", b"abc"),
    (b"data", b"abc"),
    (b"data", b"abcde"),
    (b"", b""),
    (bytearray(b"data"), bytearray(3)),
    (bytearray(b"data"), b"abc"),
    (b"data", "abcd"),
    (b"data", 1234),
    (bytearray(b"data"), None),
]
KEYFIRST_BAD_WRITABLE = [
    ("text", KEY),
    (7, KEY),
    (None, KEY),
    (b"data", KEY),
    (b"data", b"abc"),
    (memoryview(bytearray(8)).toreadonly(), KEY),
    (memoryview(bytearray(8))[::2], KEY),
    (bytearray(8), b"abc"),
    (bytearray(), b"abcde"),
    (bytearray(8), "abcd"),
    (bytearray(8), None),
]


@pytest.mark.parametrize("data, mask", KEYFIRST_BAD_READABLE, ids=repr)
def test_mask_keyfirst_raises_like_apply_mask(impl: ModuleType, data: object, mask: object) -> None:
    expected = outcome_of(lambda: impl.apply_mask(data, mask))
    assert expected[0] in (TypeError, ValueError)
    assert outcome_of(lambda: impl.mask_keyfirst(mask, data)) == expected


@pytest.mark.parametrize("data, mask", KEYFIRST_BAD_WRITABLE, ids=repr)
def test_mask_inplace_keyfirst_raises_like_apply_mask_inplace(impl: ModuleType, data: object, mask: object) -> None:
    expected = outcome_of(lambda: impl.apply_mask_inplace(data, mask))
    assert expected[0] in (TypeError, ValueError, BufferError)
    assert outcome_of(lambda: impl.mask_inplace_keyfirst(mask, data)) == expected


def test_keyfirst_arguments_are_positional(impl: ModuleType) -> None:
    for entry in (impl.mask_keyfirst, impl.mask_inplace_keyfirst):
        with pytest.raises(TypeError):
            entry(mask=KEY, data=bytearray(4))
        with pytest.raises(TypeError):
            entry(KEY)
        with pytest.raises(TypeError):
            entry(KEY, bytearray(4), 0)


class RecordingHost:
    """A stand-in for a host's masking function: records each call, returns a marker."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, object]] = []
        self.result = object()

    def __call__(self, mask: object, data: object) -> object:
        self.calls.append((mask, data))
        return self.result


class BytesSubclass(bytes):
    pass


class BytearraySubclass(bytearray):
    pass


@pytest.mark.parametrize("size", [0, 1, 3, 125, 4099, 1024 * 1024 + 3])
def test_fallback_masks_the_fast_path_itself(fallback_type: Any, size: int) -> None:
    host = RecordingHost()
    entries = fallback_type(host)
    data = random_bytes(size, size)
    result = entries.mask_keyfirst(KEY, data)
    assert type(result) is bytes and result == oracle(data, KEY)
    buffer = bytearray(data)
    assert entries.mask_inplace_keyfirst(KEY, buffer) is None
    assert buffer == oracle(data, KEY)
    for payload in (data, bytearray(data)):
        result = entries.apply_mask(payload, KEY)
        assert type(result) is bytes and result == oracle(data, KEY)
    assert entries.apply_mask(data=data, mask=KEY) == oracle(data, KEY)  # websockets' takes keywords
    assert host.calls == []


# (mask, data) calls outside the fast path: each goes to the host untouched
OUTSIDE_COPY = [
    (KEY, bytearray(b"data")),
    (KEY, memoryview(b"data")),
    (KEY, "text"),
    (KEY, BytesSubclass(b"data")),
    (KEY, None),
    (bytearray(KEY), b"data"),
    (BytesSubclass(KEY), b"data"),
    ("abcd", b"data"),
    (b"abc", b"data"),
    (b"abcde", b"data"),
    (None, b"data"),
]
OUTSIDE_INPLACE = [
    (KEY, b"data"),
    (KEY, memoryview(bytearray(b"data"))),
    (KEY, array.array("B", b"data")),
    (KEY, BytearraySubclass(b"data")),
    (KEY, None),
    (bytearray(KEY), bytearray(b"data")),
    (BytesSubclass(KEY), bytearray(b"data")),
    (b"abc", bytearray(b"data")),
    (b"abcde", bytearray(b"data")),
    (None, bytearray(b"data")),
]


# (data, mask) calls of apply_mask outside the fast path
OUTSIDE_APPLY = [
    (memoryview(b"data"), KEY),
    (array.array("B", b"data"), KEY),
    ("text", KEY),
    (BytesSubclass(b"data"), KEY),
    (BytearraySubclass(b"data"), KEY),
    (None, KEY),
    (b"data", bytearray(KEY)),
    (b"data", BytesSubclass(KEY)),
    (bytearray(b"data"), "abcd"),
    (b"data", b"abc"),
    (b"data", b"abcde"),
    (b"data", None),
]


@pytest.mark.parametrize("data, mask", OUTSIDE_APPLY, ids=repr)
def test_fallback_hands_other_apply_mask_calls_to_the_host(fallback_type: Any, data: object, mask: object) -> None:
    host = RecordingHost()
    assert fallback_type(host).apply_mask(data, mask) is host.result
    assert len(host.calls) == 1 and host.calls[0][0] is data and host.calls[0][1] is mask


@pytest.mark.parametrize("mask, data", OUTSIDE_COPY, ids=repr)
def test_fallback_hands_other_copy_calls_to_the_host(fallback_type: Any, mask: object, data: object) -> None:
    host = RecordingHost()
    assert fallback_type(host).mask_keyfirst(mask, data) is host.result
    assert len(host.calls) == 1 and host.calls[0][0] is mask and host.calls[0][1] is data


@pytest.mark.parametrize("mask, data", OUTSIDE_INPLACE, ids=repr)
def test_fallback_hands_other_inplace_calls_to_the_host(fallback_type: Any, mask: object, data: object) -> None:
    host = RecordingHost()
    before = None if data is None else contents(data)
    assert fallback_type(host).mask_inplace_keyfirst(mask, data) is host.result
    assert len(host.calls) == 1 and host.calls[0][0] is mask and host.calls[0][1] is data
    assert before is None or contents(data) == before


def test_fallback_propagates_the_hosts_errors(fallback_type: Any) -> None:
    error = AssertionError("the host's own")

    def host(mask: object, data: object) -> None:
        raise error

    entries = fallback_type(host)
    with pytest.raises(AssertionError) as info:
        entries.mask_inplace_keyfirst(b"abc", bytearray(1))
    assert info.value is error
    with pytest.raises(AssertionError) as info:
        entries.mask_keyfirst(KEY, "text")
    assert info.value is error


def test_fallback_construction(fallback_type: Any) -> None:
    host = RecordingHost()
    entries = fallback_type(host)
    assert entries.host is host
    with pytest.raises(AttributeError):
        entries.host = RecordingHost()
    with pytest.raises(TypeError, match="host must be callable"):
        fallback_type(None)
    with pytest.raises(TypeError):
        fallback_type()
    with pytest.raises(TypeError):
        entries.mask_keyfirst(mask=KEY, data=b"")


# ---------------------------------------------------------------- compiled kernels


def test_selected_kernel_is_available(mask_c: ModuleType) -> None:
    available = mask_c.available_kernels()
    assert mask_c.kernel() in available
    assert mask_c.kernel() == available[0]  # the widest one this CPU supports
    assert available[-1] == "portable"
    assert set(available) <= KERNEL_NAMES


@pytest.mark.parametrize("kernel", KERNELS)
@examples(300)
@given(
    data=small_payloads,
    key=keys,
    phase=st.integers(0, 9),
    src_pad=st.integers(0, 63),
    dst_pad=st.integers(0, 63),
    in_place=st.booleans(),
)
def test_kernel_matches_oracle(
    kernel: str, data: bytes, key: bytes, phase: int, src_pad: int, dst_pad: int, in_place: bool
) -> None:
    """Every alignment of source and destination, every phase, in place or not."""
    src = memoryview(bytearray(src_pad) + data)[src_pad:]
    dst = src if in_place else memoryview(bytearray(dst_pad + len(data)))[dst_pad:]
    _mask_c._mask_with(kernel, dst, src, key, phase)
    assert dst.tobytes() == oracle(data, key, phase)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("size", LARGE_SIZES)
def test_kernel_large(kernel: str, size: int) -> None:
    data = random_bytes(size, size)
    for pad, phase in ((0, 0), (13, 1), (37, 3)):
        src = memoryview(bytearray(pad) + data)[pad:]
        dst = memoryview(bytearray(size + 64))[64 - pad : 64 - pad + size]
        _mask_c._mask_with(kernel, dst, src, KEY, phase)
        assert dst == oracle(data, KEY, phase), pad
        _mask_c._mask_with(kernel, src, src, KEY, phase)
        assert src == oracle(data, KEY, phase), pad


def test_mask_with_rejects_bad_arguments(mask_c: ModuleType) -> None:
    buf = bytearray(16)
    with pytest.raises(ValueError, match="unknown kernel"):
        mask_c._mask_with("mmx", buf, bytes(16), KEY, 0)
    with pytest.raises(ValueError, match="differ in length"):
        mask_c._mask_with("portable", buf, bytes(15), KEY, 0)
    with memoryview(buf) as view, pytest.raises(ValueError, match="overlap"):
        mask_c._mask_with("portable", view[1:9], view[:8], KEY, 0)
    with pytest.raises(ValueError, match="phase"):
        mask_c._mask_with("portable", buf, bytes(16), KEY, -1)
    with pytest.raises(BufferError):
        mask_c._mask_with("portable", bytes(16), bytes(16), KEY, 0)
    with pytest.raises(BufferError):
        mask_c._mask_with("portable", bytearray(8), memoryview(bytes(16))[::2], KEY, 0)
    with pytest.raises(ValueError, match="4 bytes"):
        mask_c._mask_with("portable", buf, bytes(16), b"abc", 0)
    assert buf == bytes(16)
