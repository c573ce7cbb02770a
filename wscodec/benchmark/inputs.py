"""Seeded benchmark inputs: random bytes, UTF-8 texts of five kinds, JSON-like messages, and size labels.

Every input is a pure function of its arguments (fixed seeds), so two runs --
and the CLI and the pytest-benchmark suites -- measure the same bytes.
"""

from __future__ import annotations

import functools
import random

__all__ = ["MASK_KEY", "UTF8_KINDS", "KiB", "MiB", "json_text", "random_bytes", "size_label", "utf8_text"]

KiB = 1 << 10
MiB = 1 << 20

#: The masking key of the masking benchmarks (any key costs the same).
MASK_KEY = bytes.fromhex("37fa213d")

#: ascii: printable ASCII; latin: ~10 % two-byte letters (é, ß, ñ, ...); cjk: U+4E00-9FFF (three
#: bytes); emoji: 85 % U+1F300-1F64F (four bytes) and spaces; mixed: 1-, 2-, 3- and 4-byte code
#: points in equal numbers (no surrogates).
UTF8_KINDS = ("ascii", "latin", "cjk", "emoji", "mixed")

_SEED = 6455
_BLOCK = 64 * KiB  # texts are generated a block at a time and tiled beyond that
_LATIN = "àáâãäåæçèéêëìíîïñòóôõöøùúûüýÿßÀÉÑÖÜ"


def size_label(n: int) -> str:
    """``2 B``, ``125 B``, ``1 KiB``, ``64 KiB``, ``16 MiB``."""
    for unit, name in ((MiB, "MiB"), (KiB, "KiB")):
        if n >= unit and n % unit == 0:
            return f"{n // unit} {name}"
    return f"{n} B"


@functools.lru_cache(maxsize=8)
def random_bytes(n: int) -> bytes:
    """``n`` seeded random bytes."""
    return random.Random(_SEED).randbytes(n)


def _code_point(kind: str, rng: random.Random) -> str:
    if kind == "ascii":
        return chr(rng.randrange(0x20, 0x7F))
    if kind == "latin":
        return rng.choice(_LATIN) if rng.random() < 0.1 else chr(rng.randrange(0x20, 0x7F))
    if kind == "cjk":
        return chr(rng.randrange(0x4E00, 0xA000))
    if kind == "emoji":
        return chr(rng.randrange(0x1F300, 0x1F650)) if rng.random() < 0.85 else " "
    if kind == "mixed":
        low, high = ((0x20, 0x80), (0x80, 0x800), (0x800, 0x10000), (0x10000, 0x110000))[rng.randrange(4)]
        while True:
            cp = rng.randrange(low, high)
            if not 0xD800 <= cp <= 0xDFFF:
                return chr(cp)
    raise ValueError(f"unknown UTF-8 kind {kind!r}; expected one of {UTF8_KINDS}")


def _fit(data: bytes, size: int) -> bytes:
    """Cut ``data`` to at most ``size`` bytes at a code-point boundary, then pad with spaces to exactly ``size``."""
    cut = min(size, len(data))
    while cut and cut < len(data) and (data[cut] & 0xC0) == 0x80:  # never split a sequence
        cut -= 1
    return data[:cut] + b" " * (size - cut)


@functools.lru_cache(maxsize=len(UTF8_KINDS))
def _block(kind: str) -> bytes:
    rng = random.Random(f"{_SEED}-{kind}")
    chars: list[str] = []
    length = 0
    while length < _BLOCK:
        c = _code_point(kind, rng)
        chars.append(c)
        length += len(c.encode("utf-8"))
    return _fit("".join(chars).encode("utf-8"), _BLOCK)


@functools.lru_cache(maxsize=64)
def utf8_text(kind: str, size: int) -> bytes:
    """``size`` bytes of valid UTF-8 of the given kind (see :data:`UTF8_KINDS`), seeded.

    Small sizes are a prefix cut at a code-point boundary and padded with
    ASCII spaces (a 2-byte ``cjk`` text is two spaces); large ones tile a
    64 KiB block, which itself ends on a boundary.
    """
    block = _block(kind)
    return _fit(block * (size // _BLOCK + 1), size)


_JSON_STREAM = 1 * MiB


@functools.lru_cache(maxsize=1)
def _json_stream() -> str:
    """A seeded stream of JSON trade records (``{"e":"trade","s":"BTC-USD","p":...}``), about 1 MiB."""
    rng = random.Random(f"{_SEED}-json")
    symbols = ("BTC-USD", "ETH-USD", "SOL-USD", "XRP-EUR", "ADA-GBP", "DOGE-USD")
    parts: list[str] = []
    length = 0
    trade = 1_000_000
    while length < _JSON_STREAM:
        trade += rng.randint(1, 9)
        price, quantity, maker = rng.uniform(0.05, 65000), rng.uniform(0.0001, 25), rng.choice(("true", "false"))
        record = (
            f'{{"e":"trade","s":"{rng.choice(symbols)}","t":{trade},"p":"{price:.2f}",'
            f'"q":"{quantity:.4f}","T":{1_700_000_000_000 + trade * 37},"m":{maker}}}'
        )
        parts.append(record)
        length += len(record) + 1
    return "[" + ",".join(parts) + "]"


def json_text(size: int, index: int = 0) -> str:
    """Message ``index`` of a stream of JSON-like messages of ``size`` ASCII characters (seeded).

    Each message is a slice of one long stream of trade records, the slices of
    consecutive indexes far apart: messages share their keys and shape, not
    their values, as a feed's do (so that a compressor keeping its window from
    message to message is not simply handed the same message again).
    """
    stream = _json_stream()
    if size > len(stream):
        return (stream * (size // len(stream) + 1))[:size]
    start = (index * 7919 * 61) % (len(stream) - size + 1)
    return stream[start : start + size]
