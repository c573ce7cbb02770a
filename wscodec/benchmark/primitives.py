"""The ``mask`` and ``utf8`` sections: wscodec's primitives against the installed peers.

Stateful peers (wsaccel's and wsproto's maskers, wsaccel's and autobahn's
validators) are created once per cell and reused across calls, their steady
state: construction is not timed. Each cell is checked first -- masks against
a big-integer XOR, validators against ``bytes.decode`` on the valid input and
on a copy whose last byte is made invalid.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any

from . import oracle
from .harness import Call, Cell, Column, Progress, Section, Settings, cpu_contention, measure, table
from .inputs import MASK_KEY, UTF8_KINDS, KiB, MiB, random_bytes, size_label, utf8_text
from .registry import Impl, load, ours

__all__ = [
    "MASK_SIZES",
    "UTF8_SIZES",
    "mask_copy_impls",
    "mask_inplace_impls",
    "run_mask",
    "run_utf8",
    "text_impls",
    "utf8_impls",
]

MASK_SIZES = (2, 125, KiB, 16 * KiB, 64 * KiB, MiB, 16 * MiB)
UTF8_SIZES = (2, 125, KiB, 16 * KiB, MiB)
TEXT_SIZES = (125, KiB, 64 * KiB)
TEXT_KINDS = ("ascii", "mixed")
_SMALL = KiB  # up to this size a column shows ns per call, above it GB/s

MaskBinder = Callable[[bytes, bytes], Call]
Utf8Binder = Callable[[bytes], Call]


def _attr(module: str, name: str) -> Any:
    return getattr(importlib.import_module(module), name)


# ---------------------------------------------------------------- masking binders


def _copying(fn: Callable[..., Any], key_first: bool = False) -> MaskBinder:
    """``fn(data, key) -> bytes`` (or ``fn(key, data)``)."""
    if key_first:
        return lambda data, key: Call(fn, (key, data))
    return lambda data, key: Call(fn, (data, key))


def _masker(cls: Callable[[bytes], Any]) -> MaskBinder:
    """A stateful masker ``cls(key).process(data)``, reused across calls."""
    return lambda data, key: Call(cls(key).process, (data,), result=bytes)


def _contents(buf: bytearray) -> Callable[[Any], Any]:
    return lambda value: value if isinstance(value, Exception) else bytes(buf)


def _in_place(fn: Callable[..., Any], key_first: bool = False) -> MaskBinder:
    """``fn(buffer, key)`` (or ``fn(key, buffer)``) masking a fresh bytearray copy in place.

    The timed calls mask the same buffer over and over (unmasking it every
    second call), which costs the same as masking fresh data.
    """

    def bind(data: bytes, key: bytes) -> Call:
        buf = bytearray(data)
        return Call(fn, (key, buf) if key_first else (buf, key), result=_contents(buf))

    return bind


def mask_copy_impls() -> list[Impl]:
    """Masking that returns new bytes."""
    return [
        Impl(
            "websockets speedups.apply_mask",
            "websockets",
            "C",
            lambda: _copying(_attr("websockets.speedups", "apply_mask")),
        ),
        Impl(
            "tornado speedups.websocket_mask",
            "tornado",
            "C",
            lambda: _copying(_attr("tornado.speedups", "websocket_mask"), key_first=True),
        ),
        Impl(
            "wsaccel XorMaskerSimple.process",
            "wsaccel",
            "Cython (masker reused)",
            lambda: _masker(_attr("wsaccel.xormask", "XorMaskerSimple")),
        ),
        Impl(
            "wsproto XorMaskerSimple.process",
            "wsproto",
            "pure Python (masker reused)",
            lambda: _masker(_attr("wsproto.frame_protocol", "XorMaskerSimple")),
        ),
        *ours("apply_mask", "wscodec apply_mask", ("Cython + C", "pure Python"), _copying),
    ]


def mask_inplace_impls() -> list[Impl]:
    """Masking a writable buffer in place."""
    return [
        Impl(
            "aiohttp _websocket_mask_cython",
            "aiohttp",
            "Cython",
            lambda: _in_place(_attr("aiohttp._websocket.mask", "_websocket_mask_cython"), key_first=True),
        ),
        *ours("apply_mask_inplace", "wscodec apply_mask_inplace", ("Cython + C", "pure Python"), _in_place),
    ]


# ---------------------------------------------------------------- UTF-8 binders


def _is_str(value: Any) -> bool:
    if isinstance(value, UnicodeDecodeError):
        return False
    if isinstance(value, str):
        return True
    raise TypeError(f"unexpected result {value!r}")


def _decode(data: bytes) -> Call:
    """CPython's strict decoder: valid when it returns a str."""
    return Call(data.decode, ("utf-8",), result=_is_str)


def _complete_and_valid(value: tuple[bool, bool, int, int]) -> bool:
    return value[0] and value[1]


def _validator(cls: Callable[[], Any]) -> Utf8Binder:
    """An autobahn-style ``cls().validate(data) -> (valid, ends_on_codepoint, ...)``, reused across calls."""
    return lambda data: Call(cls().validate, (data,), result=_complete_and_valid)


def _function(fn: Callable[[bytes], bool]) -> Utf8Binder:
    return lambda data: Call(fn, (data,))


def _autobahn_kind() -> str:
    if _attr("autobahn.websocket.utf8validator", "USES_NVX"):
        return "C via CFFI (NVX)"
    return "pure Python (DFA)"


def utf8_impls() -> list[Impl]:
    """UTF-8 validation."""
    return [
        Impl("bytes.decode('utf-8')", None, "C (CPython)", lambda: _decode),
        Impl(
            "wsaccel Utf8Validator.validate",
            "wsaccel",
            "Cython (DFA, reused)",
            lambda: _validator(_attr("wsaccel.utf8validator", "Utf8Validator")),
        ),
        Impl(
            "autobahn Utf8Validator.validate",
            "autobahn",
            _autobahn_kind,
            lambda: _validator(_attr("autobahn.websocket.utf8validator", "Utf8Validator")),
        ),
        *ours("validate_utf8", "wscodec validate_utf8", ("Cython + C", "pure Python"), _function),
    ]


def _unmask_then_decode(apply_mask: Callable[[bytes, bytes], bytes]) -> MaskBinder:
    """The usual route from a masked text payload to its str: unmask into new bytes, then decode them."""
    return lambda data, key: Call(lambda: apply_mask(data, key).decode("utf-8"))


def _decode_text(decode_text: Callable[[bytes, bytes], str]) -> MaskBinder:
    return lambda data, key: Call(decode_text, (data, key))


def text_impls() -> list[Impl]:
    """A masked text payload to its ``str``."""
    return [
        Impl(
            "websockets apply_mask + bytes.decode",
            "websockets",
            "C + C (CPython)",
            lambda: _unmask_then_decode(_attr("websockets.speedups", "apply_mask")),
        ),
        *ours("decode_text", "wscodec decode_text", ("Cython + C", "pure Python"), _decode_text),
    ]


def invalid_copy(data: bytes) -> bytes:
    """``data`` with its last byte replaced by 0xFF, which never occurs in UTF-8."""
    return data[:-1] + b"\xff"


# ---------------------------------------------------------------- sections


def _size_column(size: int, key: str = "", title: str = "") -> Column:
    return Column(key or size_label(size), "ns" if size <= _SMALL else "GB/s", nbytes=size, title=title)


def run_mask(settings: Settings, progress: Progress) -> list[Section]:
    """Time masking, copying and in place, at every size in :data:`MASK_SIZES`."""
    copying = load(mask_copy_impls())
    in_place = load(mask_inplace_impls())
    cells = []
    for size in MASK_SIZES:
        data = random_bytes(size)
        expected = oracle.xor_mask(data, MASK_KEY)
        for row, binder in copying + in_place:
            if binder is not None:
                cells.append(Cell(row.label, size_label(size), functools.partial(binder, data, MASK_KEY), expected))
    with cpu_contention() as busy:
        results = measure("mask", cells, settings, progress)
    columns = [_size_column(size) for size in MASK_SIZES]
    notes = [
        (
            f"XOR with a 4-byte key; ns per call up to {size_label(_SMALL)}, GB/s (1e9 B/s) above; "
            "'vs best peer' = best peer's time / wscodec's time (above 1: wscodec is faster)"
        ),
        settings.describe(),
        *filter(None, [busy.note()]),
    ]
    return [
        table("mask: apply_mask, new bytes", [r for r, _ in copying], columns, results, notes),
        table("mask: in place on a bytearray", [r for r, _ in in_place], columns, results),
    ]


def run_utf8(settings: Settings, progress: Progress) -> list[Section]:
    """Time UTF-8 validation of every kind of text at every size in :data:`UTF8_SIZES`."""
    impls = load(utf8_impls())
    cells = []
    for size in UTF8_SIZES:
        for kind in UTF8_KINDS:
            data = utf8_text(kind, size)
            bad = invalid_copy(data)
            for row, binder in impls:
                if binder is not None:
                    cells.append(
                        Cell(
                            row.label,
                            f"{kind} {size_label(size)}",
                            functools.partial(binder, data),
                            True,
                            also=((functools.partial(binder, bad), False),),
                        )
                    )
    texts = load(text_impls())
    for size in TEXT_SIZES:
        for kind in TEXT_KINDS:
            data = utf8_text(kind, size)
            masked = oracle.xor_mask(data, MASK_KEY)
            for row, binder in texts:
                if binder is not None:
                    cells.append(
                        Cell(
                            row.label,
                            f"text {kind} {size_label(size)}",
                            functools.partial(binder, masked, MASK_KEY),
                            data.decode("utf-8"),
                        )
                    )
    with cpu_contention() as busy:
        results = measure("utf8", cells, settings, progress)
    notes = [
        (
            "strict validation of valid texts (each cell is also checked to reject an invalid copy); "
            "ascii, latin (~10% 2-byte), cjk (3-byte), emoji (85% 4-byte), mixed (1-4 bytes), seeded, cut at a "
            "code point and space-padded"
        ),
        settings.describe(),
        *filter(None, [busy.note()]),
    ]
    rows = [r for r, _ in impls]
    validation = [
        table(
            f"utf8: validate {size_label(size)} texts",
            rows,
            [_size_column(size, f"{kind} {size_label(size)}", kind) for kind in UTF8_KINDS],
            results,
            notes if size == UTF8_SIZES[0] else [],
        )
        for size in UTF8_SIZES
    ]
    text_columns = [
        _size_column(size, f"text {kind} {size_label(size)}", f"{kind} {size_label(size)}")
        for size in TEXT_SIZES
        for kind in TEXT_KINDS
    ]
    text_notes = ["a masked text payload (ascii and mixed texts as above) unmasked and decoded to its str"]
    text_table = table("utf8: masked text payload to str", [r for r, _ in texts], text_columns, results, text_notes)
    return [*validation, text_table]
