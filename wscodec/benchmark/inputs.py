"""Seeded benchmark inputs: random bytes, UTF-8 texts of five kinds, JSON-like messages, and size labels.

Every input is a pure function of its arguments (fixed seeds), so two runs --
and the CLI and the pytest-benchmark suites -- measure the same bytes.
"""

from __future__ import annotations

import functools
import random

__all__ = [
    "MASK_KEY",
    "UTF8_KINDS",
    "KiB",
    "MiB",
    "json_messages",
    "json_text",
    "random_bytes",
    "size_label",
    "utf8_text",
]

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


# ---------------------------------------------------------------- JSON-like messages

_SYMBOLS = ("BTC-USD", "ETH-USD", "SOL-USD", "ADA-EUR", "DOT-GBP", "XRP-USD", "LTC-EUR", "AVAX-USD")
_WORDS = tuple(
    "order filled partial market limit cancel update price volume account "
    "session latency retry window stream buffer client server status ready".split()
)
_EVENTS_FROM = 256  # smaller messages are one flat ticker update, larger ones a list of events
_NAMES = ("ada", "grace", "linus", "guido", "barbara", "ken", "dennis", "margaret", "edsger", "frances")


class _Feed:
    """A seeded event feed, as a trading or chat service streams it: ids count up, time moves forward,
    prices walk; the keys repeat from event to event and the values vary."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.id = 10_000_000 + rng.randrange(10**6)
        self.ts = 1_733_150_000_000 + rng.randrange(10**7)
        self.prices = {sym: rng.randrange(100, 10**6) / 100 for sym in _SYMBOLS}

    def _next(self) -> tuple[int, int]:
        self.id += self.rng.randrange(1, 4)
        self.ts += self.rng.randrange(0, 250)
        return self.id, self.ts

    def _price(self, sym: str) -> float:
        price = max(0.01, self.prices[sym] * (1 + self.rng.randrange(-50, 51) / 10_000))
        self.prices[sym] = price
        return price

    def event(self) -> str:
        """One event as compact JSON: a trade, a quote, a chat line or a presence change."""
        rng = self.rng
        id_, ts = self._next()
        kind = rng.choice(("trade", "trade", "quote", "quote", "chat", "presence"))
        if kind == "trade":
            sym = rng.choice(_SYMBOLS)
            return (
                f'{{"id":{id_},"type":"trade","sym":"{sym}","px":{self._price(sym):.2f},'
                f'"qty":{rng.randrange(1, 10**5) / 10**4:.4f},"side":"{rng.choice(("buy", "sell"))}","ts":{ts}}}'
            )
        if kind == "quote":
            sym = rng.choice(_SYMBOLS)
            bid = self._price(sym)
            return (
                f'{{"id":{id_},"type":"quote","sym":"{sym}","bid":{bid:.2f},'
                f'"ask":{bid + rng.randrange(1, 50) / 100:.2f},"ts":{ts}}}'
            )
        if kind == "chat":
            words = " ".join(rng.choice(_WORDS) for _ in range(rng.randrange(3, 12)))
            return f'{{"id":{id_},"type":"chat","user":"{rng.choice(_NAMES)}","text":"{words}","ts":{ts}}}'
        online = "true" if rng.random() < 0.5 else "false"
        return f'{{"id":{id_},"type":"presence","user":"{rng.choice(_NAMES)}","online":{online},"ts":{ts}}}'

    def tick(self, seq: int) -> list[str]:
        """The fields of a small message (a ticker update), in order, as compact JSON members."""
        rng = self.rng
        _, ts = self._next()
        sym = rng.choice(_SYMBOLS)
        return [
            f'"seq":{seq}',
            '"type":"tick"',
            f'"sym":"{sym}"',
            f'"px":{self._price(sym):.2f}',
            f'"ts":{ts}',
            f'"vol":{rng.randrange(10**6)}',
            f'"chg":{rng.randrange(-999, 1000) / 100:.2f}',
        ]


def _words(rng: random.Random, n: int) -> str:
    """Exactly ``n`` characters of space-separated words."""
    words: list[str] = []
    filled = -1
    while filled < n:
        word = rng.choice(_WORDS)
        words.append(word)
        filled += len(word) + 1
    return " ".join(words)[:n]


def _json_message(size: int, feed: _Feed, seq: int) -> bytes:
    """A JSON object of exactly ``size`` bytes: fields or events while they fit, then a ``pad`` string of words."""
    if size < _EVENTS_FROM:
        fields = feed.tick(seq)
        head, close = "{", '"pad":"'  # {<field>,<field>,"pad":"..."}
    else:
        fields = []
        head, close = f'{{"seq":{seq},"events":[', '],"pad":"'  # {"seq":N,"events":[<event>,...],"pad":"..."}
    kept: list[str] = []
    length = len(head) + len(close) + 2  # and the closing '"}'
    while not fields or len(kept) < len(fields):
        part = fields[len(kept)] if fields else feed.event()
        extra = len(part) + (1 if kept or fields else 0)  # a comma before each event but the first, after each field
        if length + extra > size:
            break
        kept.append(part)
        length += extra
    body = "".join(f"{f}," for f in kept) if fields else ",".join(kept)
    text = head + body + close + _words(feed.rng, size - length) + '"}'
    if len(text) != size:
        raise ValueError(f"a JSON-like message needs at least {length} bytes, not {size}")
    return text.encode("ascii")


@functools.lru_cache(maxsize=16)
def json_messages(size: int, count: int) -> tuple[bytes, ...]:
    """``count`` distinct JSON-like messages of exactly ``size`` bytes each (ASCII, valid JSON), seeded.

    Like a feed of trades, quotes, chat lines and presence events (ids that
    count up, time that moves forward, prices that walk): the keys repeat
    from message to message and the values vary, so a compressor with
    context takeover finds what a real JSON stream offers it. Each message
    holds as many whole events as fit and a ``pad`` string of words that
    makes the size exact. Below 256 bytes a message is one flat ticker update
    instead (``seq``, ``type``, ``sym``, ``px``, ...: as many fields as
    fit); the smallest size is 32 bytes.
    """
    if size < 32:
        raise ValueError(f"JSON-like messages have at least 32 bytes, not {size}")
    feed = _Feed(random.Random(f"{_SEED}-json-{size}"))
    return tuple(_json_message(size, feed, seq) for seq in range(count))


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
