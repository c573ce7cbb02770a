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
import zlib
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


def _deflated(data: bytes, bits: int = 15, zdict: bytes = b"", final: bool = False) -> bytes:
    """``data`` as one compressed message payload (RFC 7692 §7.2.1), or ending with a BFINAL block."""
    compressor = (
        zlib.compressobj(6, zlib.DEFLATED, -bits, 8, zdict=zdict)
        if zdict
        else zlib.compressobj(6, zlib.DEFLATED, -bits, 8)
    )
    out = compressor.compress(data) + compressor.flush(zlib.Z_FINISH if final else zlib.Z_SYNC_FLUSH)
    return out if final else out[:-4] or b"\x00"


def _record(opcode: int, payload: bytes, compressed: bool, pieces: int = 1, pings: int = 0, fragment: int = 0) -> bytes:
    """One record as fuzz_targets._Record reads it, after its "one more" byte."""
    flags = (opcode - 1) | (2 if compressed else 0) | pings << 2 | (pieces - 1) << 4 | (0x40 if fragment else 0)
    head = bytes((1, flags)) + (bytes((fragment,)) if fragment else b"")
    return head + len(payload).to_bytes(2, "little") + payload


def deflate_seeds() -> dict[str, bytes]:
    """flags (side | mode << 1 | limit index << 3 | resets << 6), windows, settings, backend, kind, sizes, rest."""
    hello = bytes.fromhex("f2 48 cd c9 c9 07 00")
    seeds = {}
    rfc = {
        "hello": bytes.fromhex("c1 07") + hello,
        "fragmented": bytes.fromhex("41 03 f2 48 cd 80 04 c9 c9 07 00"),
        "sharing": bytes.fromhex("c1 07") + hello + bytes.fromhex("c1 05 f2 00 11 00 00"),
        "stored": bytes.fromhex("c1 0b 00 05 00 fa ff 48 65 6c 6c 6f 00"),
        "bfinal": bytes.fromhex("c1 08 f3 48 cd c9 c9 07 00 00 c1 05 f2 00 11 00 00"),
        "two-blocks": bytes.fromhex("c1 0d f2 48 05 00 00 00 ff ff ca c9 c9 07 00"),
        "empty": bytes.fromhex("c1 01 00 c2 01 00"),
        "rsv1-continuation": bytes.fromhex("41 03 f2 48 cd c0 04 c9 c9 07 00"),
        "rsv1-ping": bytes.fromhex("c9 00"),
        "corrupt": bytes.fromhex("c1 03 ff ff ff"),
        "ping-between-fragments": bytes.fromhex("41 03 f2 48 cd 89 01 78 80 04 c9 c9 07 00"),
    }
    windows = 7 | 6 << 4  # 15 bits each way
    for name, stream in rfc.items():
        # a client's decoder reads these unmasked frames as they are, whole and byte by byte
        seeds[f"wire-{name}"] = bytes((CLIENT, windows, 0x56, 0, BYTES)) + _sizes([]) + stream
        seeds[f"wire-{name}-dribbled"] = bytes((CLIENT | 4 << 3, windows, 0x56, 0, MEMORYVIEW)) + _sizes([1]) + stream
    masked = wire([FrameSpec(1, hello, rsv=4, mask=KEY), FrameSpec(2, _deflated(bytes(70_000)), rsv=4, mask=KEY)])
    seeds["wire-server-masked-bomb"] = bytes((SERVER | 7 << 3, windows, 0x56, 0, BYTEARRAY)) + _sizes([100]) + masked
    text = "permessage-deflate ☃ κόσμε 😀 ".encode() * 8
    first = _deflated(text, zdict=b"", final=True)
    records = {
        "text-binary": _record(1, _deflated(text), True, 3, 2) + _record(2, _deflated(bytes(3000)), True, 2, 1),
        "plain-between": _record(1, _deflated(text), True)
        + _record(2, b"plain", False, 2, 1)
        + _record(1, _deflated(text), True),
        "bfinal-then-reference": _record(1, first, True) + _record(1, _deflated(text[:40], zdict=text), True, 2),
        "empty": _record(2, b"\x00", True) + _record(1, b"\x00", True, 1) + _record(2, b"", False),
        "corrupt": _record(1, hello, True) + _record(2, b"\xff\xff\xff", True),
        "bad-utf8": _record(1, _deflated(b"ok \xed\xa0\x80 no"), True, 2),
        "bomb": _record(2, _deflated(bytes(70_000)), True, 3),
        "small-window": _record(2, _deflated(text * 4, bits=9), True, 2),
    }
    for name, body in records.items():
        for side in (SERVER, CLIENT):
            label = "server" if side == SERVER else "client"
            bits = 1 if name == "small-window" else 7  # the receiving window: 9 or 15 bits
            seeds[f"records-{name}-{label}"] = bytes((side | 1 << 1, bits | 6 << 4, 0x56, 0, BYTES)) + _sizes([]) + body
            limit = 6 if name == "bomb" else 1  # 1000 bytes, or 1 MiB
            seeds[f"records-{name}-{label}-limited"] = (
                bytes((side | 1 << 1 | limit << 3 | 0x40, bits | 6 << 4, 0x56, 0, STRIDED)) + _sizes([7, 1]) + body
            )
    messages = (
        _record(1, text, True, fragment=7)
        + _record(2, bytes(range(256)) * 4, True)
        + _record(2, b"", True)
        + _record(1, b"plain text", False, fragment=3)
        + _record(2, text[::-1], True)
    )
    for side in (SERVER, CLIENT):
        label = "server" if side == SERVER else "client"
        for backend in range(3):
            for bits in (1, 4, 7):  # 9, 12 and 15 bits toward the decoder
                resets = 0xC0 if bits == 4 else 0
                settings = (1, 0x56, 0x89)[backend]  # level and memory level
                head = bytes((side | 2 << 1 | resets, bits | 2 << 4, settings, backend, BYTES)) + _sizes([5, 100])
                seeds[f"roundtrip-{label}-backend{backend}-bits{bits + 8}"] = head + messages
    return seeds


SEEDS = {
    "frame_decoder": frame_decoder_seeds,
    "message_decoder": message_decoder_seeds,
    "utf8": utf8_seeds,
    "close": close_seeds,
    "mask": mask_seeds,
    "deflate": deflate_seeds,
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
