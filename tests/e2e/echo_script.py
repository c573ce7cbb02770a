"""The messages the Python clients of these tests echo (echo_client.js and the test page send the same kinds).

Text mixes 1- to 4-byte characters and compresses well; binary is random (it does not compress) or
repeats a short pattern. Sizes run from 0 B through the frame length encodings (125/126, 65535/65536)
to 1 MiB. The fragmented messages are cut inside characters where they are text: only the whole message
need be valid UTF-8.
"""

from __future__ import annotations

import random

MiB = 1 << 20


def random_bytes(size: int, seed: int) -> bytes:
    """``size`` bytes that do not compress (the same for the same seed, so that a failure can be reproduced)."""
    return random.Random(seed).randbytes(size)


def repetitive(size: int) -> bytes:
    """``size`` bytes that compress at every window: a period under 250 bytes, the farthest zlib reaches back
    with a 9-bit window (the window less its 262-byte lookahead)."""
    return (bytes(range(200)) * (size // 200 + 1))[:size]


def multibyte_text(size: int) -> str:
    """``size`` bytes of UTF-8 mixing 1-, 2-, 3- and 4-byte characters."""
    unit = "aé€𝄞"  # 10 bytes
    text = unit * (size // 10)
    return text + "x" * (size - len(text.encode()))


#: (name, message): a str goes as TEXT, bytes as BINARY, each in one frame.
WHOLE: list[tuple[str, str | bytes]] = [
    ("text", "hello, wscodec"),
    ("text-multibyte", "héllo wörld — 你好 🌍"),
    ("binary", bytes(range(256))),
    ("empty-text", ""),
    ("empty-binary", b""),
    *(
        (f"{kind}-{size}", multibyte_text(size) if kind == "text" else random_bytes(size, size))
        for size in (1, 125, 126, 65535, 65536)
        for kind in ("text", "binary")
    ),
    ("text-1MiB", multibyte_text(MiB)),
    ("binary-1MiB", random_bytes(MiB, 7)),
]

_EURO = "€".encode()
_BIG_TEXT = multibyte_text(MiB).encode()

#: (name, fragments, text): a message sent in these fragments (bytes; TEXT when ``text``).
FRAGMENTED: list[tuple[str, list[bytes], bool]] = [
    ("fragmented-text", [b"price: ", _EURO[:1], _EURO[1:2], _EURO[2:], b" 5"], True),
    ("fragmented-binary", [random_bytes(1000, 3), b"", repetitive(70000), random_bytes(1, 4)], False),
    ("fragmented-text-1MiB", [_BIG_TEXT[:1], _BIG_TEXT[1:65537], _BIG_TEXT[65537:365537], _BIG_TEXT[365537:]], True),
    ("fragmented-empty", [b"", b""], False),
]


def whole(fragments: list[bytes], text: bool) -> str | bytes:
    """The message ``fragments`` make, as a client library delivers it."""
    data = b"".join(fragments)
    return data.decode() if text else data


def size(message: str | bytes) -> int:
    """Bytes on the wire before compression."""
    return len(message.encode() if isinstance(message, str) else message)


#: Everything a client echoes, in bytes: compressed echoes come to well under half of it.
TOTAL = sum(size(m) for _, m in WHOLE) + sum(len(b"".join(f)) for _, f, _ in FRAGMENTED)
