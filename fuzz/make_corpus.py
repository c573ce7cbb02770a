"""Write the seed corpus: fuzz/corpus/<target>/<seed name>, one small file per seed.

Run from anywhere: ``python fuzz/make_corpus.py``. Seeds are laid out as
:mod:`fuzz_input` reads them (option bytes, chunk sizes, then the bytes under
test); the frames are written by the test suite's naive encoder
(tests/strategies.py), which is independent of wscodec. The output is
deterministic, so re-running it changes nothing unless this file changed.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from strategies import FrameSpec, wire  # noqa: E402

KEY = b"\x37\xfa\x21\x3d"
SERVER, CLIENT = 0, 1  # flag bit 0: the decoder's side (a server's decoder reads masked frames)
BYTES, BYTEARRAY, MEMORYVIEW, STRIDED = range(4)


def _sizes(sizes: list[int]) -> bytes:
    return bytes((len(sizes), *sizes))


def _frames(side: int, *frames: tuple[int, bytes] | FrameSpec) -> bytes:
    """A stream in the direction ``side`` reads: (opcode, payload) pairs are whole frames."""
    key = KEY if side == SERVER else None
    specs = [f if isinstance(f, FrameSpec) else FrameSpec(f[0], f[1], mask=key) for f in frames]
    return wire(specs)


def _frag(side: int, opcode: int, payload: bytes, at: list[int]) -> list[FrameSpec]:
    """``payload`` as one message cut at the offsets ``at``."""
    key = KEY if side == SERVER else None
    bounds = [0, *at, len(payload)]
    return [
        FrameSpec(0 if i else opcode, payload[a:b], fin=i == len(bounds) - 2, mask=key)
        for i, (a, b) in enumerate(itertools.pairwise(bounds))
    ]


TEXT = "héllo wörld – ☃ 𝄞 end".encode()
CLOSE_NORMAL = (1000).to_bytes(2, "big") + "bye ☃".encode()


def _streams(side: int) -> dict[str, bytes]:
    """Streams a decoder on ``side`` should read, valid and not; names say what each holds."""
    key = KEY if side == SERVER else None
    other = None if side == SERVER else KEY
    ping = [FrameSpec(9, b"x", mask=key)]
    streams = {
        "text": _frames(side, (1, TEXT)),
        "binary": _frames(side, (2, bytes(range(40)))),
        "ping-pong-close": _frames(side, (9, b"ping"), (10, b""), (8, CLOSE_NORMAL)),
        "close-empty": _frames(side, (8, b"")),
        "fragmented-text-split-code-points": wire(_frag(side, 1, TEXT, [1, 2, 9, 20])),
        "fragmented-binary-ping-between": wire(
            _frag(side, 2, bytes(300), [100])[:1] + ping + _frag(side, 2, bytes(300), [100])[1:]
        ),
        "empty-fragments": wire(_frag(side, 1, b"", []) + _frag(side, 2, b"ab", [0, 0, 2])),
        "data-after-close": _frames(side, (8, CLOSE_NORMAL), (1, b"late")),
        "bad-utf8-fragment": wire(_frag(side, 1, b"ok\xed\xa0\x80", [3])),
        "bad-close-code": _frames(side, (8, (1005).to_bytes(2, "big"))),
        "bad-close-reason": _frames(side, (8, b"\x03\xe8\xff")),
        "continuation-without-start": wire([FrameSpec(0, b"x", mask=key)]),
        "start-inside-message": wire([FrameSpec(1, b"a", fin=False, mask=key), FrameSpec(2, b"b", mask=key)]),
        "reserved-opcode": wire([FrameSpec(3, b"", mask=key)]),
        "rsv1": wire([FrameSpec(1, b"x", rsv=4, mask=key)]),
        "fragmented-ping": wire([FrameSpec(9, b"", fin=False, mask=key)]),
        "ping-126": wire([FrameSpec(9, bytes(126), mask=key)]),
        "wrong-mask-direction": wire([FrameSpec(2, b"abc", mask=other)]),
        "non-minimal-16": wire([FrameSpec(2, bytes(10), length_form="16", mask=key)]),
        "non-minimal-64": wire([FrameSpec(2, bytes(200), length_form="64", mask=key)]),
        "declared-2-62": wire([FrameSpec(2, declared=1 << 62, length_form="64", mask=key)]),
        "declared-2-63": wire([FrameSpec(2, declared=1 << 63, length_form="64", mask=key)]),
    }
    for n in (0, 1, 125, 126, 127, 200):
        streams[f"binary-{n}"] = wire([FrameSpec(2, bytes((i * 7) & 0xFF for i in range(n)), mask=key)])
    # The 16/64-bit boundary: one side each keeps the committed corpus small.
    big = 65535 if side == CLIENT else 65536
    streams[f"binary-{big}"] = wire([FrameSpec(2, bytes(big), mask=key)])
    return streams


def frame_decoder_seeds() -> dict[str, bytes]:
    """flags (side | rsv_allowed << 1 | limit index << 4), buffer kind, chunk sizes, key, stream."""
    seeds = {}
    for side in (SERVER, CLIENT):
        for name, stream in _streams(side).items():
            name = f"{'server' if side == SERVER else 'client'}-{name}"
            seeds[name] = bytes((side, BYTES)) + _sizes([]) + KEY + stream
            if len(stream) < 1000:  # the large frames once: the corpus stays small
                seeds[f"{name}-dribbled"] = bytes((side | 6 << 4, MEMORYVIEW)) + _sizes([1, 0, 3]) + KEY + stream
    seeds["server-rsv-allowed"] = (
        bytes((SERVER | 7 << 1, BYTEARRAY))
        + _sizes([5])
        + KEY
        + wire([FrameSpec(1, b"x", rsv=r, mask=KEY) for r in range(8)])
    )
    return seeds


def message_decoder_seeds() -> dict[str, bytes]:
    """flags (side | message limit index << 1 | frame limit index << 4 | 0x80 to use it), kind, sizes, stream."""
    seeds = {}
    for side in (SERVER, CLIENT):
        for name, stream in _streams(side).items():
            name = f"{'server' if side == SERVER else 'client'}-{name}"
            seeds[name] = bytes((side, BYTES)) + _sizes([]) + stream
            if len(stream) < 1000:
                seeds[f"{name}-limited"] = bytes((side | 6 << 1 | 0x80 | 4 << 4, STRIDED)) + _sizes([2, 7]) + stream
    return seeds


def utf8_seeds() -> dict[str, bytes]:
    """kind, chunk sizes, text."""
    texts = {
        "ascii": b"plain ascii text",
        "mixed": TEXT,
        "boundaries": "\x7f\x80\u07ff\u0800\ud7ff\ue000\uffff\U00010000\U0010ffff".encode(),
        "long": ("κόσμε 😀 " * 40).encode(),
        "surrogate": b"a\xed\xa0\x80b",
        "overlong-2": b"\xc0\xaf",
        "overlong-3": b"\xe0\x80\xaf",
        "overlong-4": b"\xf0\x80\x80\xaf",
        "above-10ffff": b"\xf4\x90\x80\x80",
        "f5": b"\xf5\x80\x80\x80",
        "truncated": "€".encode()[:2],
        "lone-continuation": b"ab\x80cd",
        "dead-end-prefix": b"xyz\xf4\x90",
    }
    seeds = {}
    for name, text in texts.items():
        seeds[name] = bytes((BYTES,)) + _sizes([]) + text
        seeds[f"{name}-split"] = bytes((MEMORYVIEW,)) + _sizes([1, 2, 0, 3]) + text
    return seeds


def close_seeds() -> dict[str, bytes]:
    """kind, side, key, payload."""
    payloads = {
        "empty": b"",
        "one-byte": b"\x03",
        "normal": CLOSE_NORMAL,
        "code-only-1001": (1001).to_bytes(2, "big"),
        "1004": (1004).to_bytes(2, "big"),
        "1005": (1005).to_bytes(2, "big"),
        "1015": (1015).to_bytes(2, "big"),
        "2999": (2999).to_bytes(2, "big"),
        "3000": (3000).to_bytes(2, "big"),
        "4999": (4999).to_bytes(2, "big") + b"app",
        "5000": (5000).to_bytes(2, "big"),
        "reason-123": (1000).to_bytes(2, "big") + b"r" * 123,
        "reason-124": (1000).to_bytes(2, "big") + b"r" * 124,
        "bad-reason": (1000).to_bytes(2, "big") + b"\xc3\x28",
    }
    return {f"{name}-{side}": bytes((BYTES, side)) + KEY + p for name, p in payloads.items() for side in (0, 1)}


def mask_seeds() -> dict[str, bytes]:
    """kind, offset (2 bytes), misalignment, key length choice, key, chunk sizes, payload."""
    seeds = {}
    for n in (0, 1, 3, 4, 15, 16, 31, 33, 63, 64, 65, 127, 128, 255, 257, 1024, 4096):
        payload = bytes((i * 13 + 5) & 0xFF for i in range(n))
        seeds[f"len-{n}"] = bytes((BYTES, 0, 0, 0, 0)) + KEY + _sizes([]) + payload
        seeds[f"len-{n}-phase-3-misaligned"] = bytes((BYTEARRAY, 3, 0, 0x47, 0)) + KEY + _sizes([5, 1]) + payload
    for choice, name in ((6, "key-0"), (7, "key-3"), (8, "key-5")):
        seeds[name] = bytes((BYTES, 0, 0, 0, choice)) + KEY + _sizes([]) + b"payload"
    return seeds


SEEDS = {
    "frame_decoder": frame_decoder_seeds,
    "message_decoder": message_decoder_seeds,
    "utf8": utf8_seeds,
    "close": close_seeds,
    "mask": mask_seeds,
}


def main() -> None:
    """Write every seed (replacing the corpus directories' contents)."""
    for target, make in SEEDS.items():
        folder = HERE / "corpus" / target
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.iterdir():
            old.unlink()
        seeds = make()
        for name, data in seeds.items():
            (folder / name).write_bytes(data)
        print(f"{target}: {len(seeds)} seeds, {sum(map(len, seeds.values()))} bytes")


if __name__ == "__main__":
    main()
