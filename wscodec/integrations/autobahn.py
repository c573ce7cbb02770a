"""Shim for autobahn: wscodec's UTF-8 validator and masker behind autobahn's incremental APIs.

autobahn picks its validator and maskers when ``autobahn.websocket`` is
imported: the NVX ones (C through CFFI: a table DFA at about 0.1–0.4 GB/s and
a masker that copies twice, ~1 µs a call) when its wheel has them, which is
the default, or pure-Python ones (a DFA and a byte loop at about 0.01 GB/s)
with ``AUTOBAHN_USE_NVX=0`` or without the build. ``autobahn.websocket.protocol``
copies them with ``from … import``; the shim replaces those copies and the
names in ``autobahn.websocket.utf8validator`` and ``autobahn.websocket.xormasker``:

* ``Utf8Validator`` with wscodec's, which keeps autobahn's
  ``validate(data) -> (valid, ends_on_codepoint, current_index, total_index)``
  and ``reset()`` (and, like autobahn's pure one, ``decode(octet)``);
* ``create_xor_masker`` (and, where autobahn defines them, ``XorMaskerSimple``
  and ``XorMaskerShifted1``) with a masker on wscodec's whose ``process()``,
  ``pointer()`` and ``reset()`` behave as autobahn's: the frame parser ends a
  frame when ``pointer()`` reaches its length.

``XorMaskerNull`` is left alone: it masks nothing. With the pure-Python
wscodec implementation, NVX is left in place (it is faster on small
messages); autobahn's own pure-Python classes are always replaced.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from types import ModuleType
from typing import Any

from ._patch import InstallReport, Leave, Plan, Replace, Shim, UnsupportedHostError, expect_function

__all__ = [
    "HOST",
    "TESTED_VERSIONS",
    "BENCH_KINDS",
    "describe",
    "echo_roundtrip",
    "install",
    "is_installed",
    "text_validation_rate",
    "uninstall",
]

#: distribution name of the host library
HOST = "autobahn"
#: host versions whose internals this shim was written against
TESTED_VERSIONS = ("26.10.2",)
#: what the integration benchmark measures: the echo of binary and of text messages (UTF-8
#: handling is replaced too), and the validation of each text message alone (text_validation_rate)
BENCH_KINDS = ("binary", "text", "text validation")

_PROTOCOL = "autobahn.websocket.protocol"
_VALIDATOR = "autobahn.websocket.utf8validator"
_MASKER = "autobahn.websocket.xormasker"

# The replacement classes of each wscodec implementation, built once so that
# installing twice installs the very same objects.
_BUILT: dict[str, tuple[type, type, Any]] = {}


def _build(impl: ModuleType) -> tuple[type, type, Any]:
    """Create the validator class, masker class and ``create_xor_masker`` on ``impl``."""
    Masker = impl.Masker

    class Utf8Validator(impl.Utf8Validator):  # type: ignore[misc,name-defined]
        """autobahn's incremental UTF-8 validator API on wscodec's validator.

        ``validate(data)`` returns ``(valid, ends_on_codepoint, current_index,
        total_index)`` as autobahn's does; once invalid it stays invalid until
        :meth:`reset`.
        """

        def decode(self, octet: int) -> int:
            """Validate one more octet: 0 (a code point ended), 1 (invalid), or 2 (more octets needed)."""
            valid, complete, _, _ = self.validate(bytes((octet,)))
            return 0 if complete else 2 if valid else 1

    class XorMasker:
        """autobahn's masker API on wscodec's: ``process`` keeps the phase, ``pointer`` counts bytes."""

        __slots__ = ("_masker", "_ptr")

        def __init__(self, mask: bytes) -> None:
            if len(mask) != 4:
                raise AssertionError("Mask must be exactly 4 bytes")  # autobahn asserts this
            self._masker = Masker(mask)
            self._ptr = 0

        def pointer(self) -> int:
            """How many payload bytes were processed since creation or :meth:`reset`."""
            return self._ptr

        def reset(self) -> None:
            """Start again at the beginning of a payload."""
            self._ptr = 0
            self._masker.reset()

        def process(self, data: bytes) -> bytes:
            """Return the next chunk of the payload, masked (or unmasked), as bytes."""
            out: bytes = self._masker.process(data)
            self._ptr += len(data)
            return out

    def create_xor_masker(mask: bytes, length: int | None = None) -> XorMasker:
        """A masker for a payload of ``length`` bytes (any length: wscodec picks its kernel itself)."""
        return XorMasker(mask)

    return Utf8Validator, XorMasker, create_xor_masker


def _plan(impl: ModuleType) -> Plan:
    websocket: Any = importlib.import_module("autobahn.websocket")
    protocol: Any = importlib.import_module(_PROTOCOL)
    validator: Any = importlib.import_module(_VALIDATOR)
    masker: Any = importlib.import_module(_MASKER)
    expect_function(protocol, "create_xor_masker", ("mask", "length"))
    expect_function(masker, "create_xor_masker", ("mask", "length"))
    expect_function(protocol.XorMaskerNull, "pointer", ("self",))
    if not any(protocol.Utf8Validator is built[0] for built in _BUILT.values()):  # (installed: ours)
        expect_function(protocol.Utf8Validator, "validate", ("self", "ba"))
        expect_function(protocol.Utf8Validator, "reset", ("self",))
    if protocol.Utf8Validator is not validator.Utf8Validator or protocol.create_xor_masker is not (
        masker.create_xor_masker
    ):
        raise UnsupportedHostError(
            f"{_PROTOCOL} does not use {_VALIDATOR}.Utf8Validator and {_MASKER}.create_xor_masker; "
            "this autobahn version is not supported"
        )
    nvx = bool(websocket.USES_NVX)
    if nvx and impl.NAME == "python":
        why = "autobahn uses its compiled NVX code, faster than pure-Python wscodec on small messages"
        return [
            Leave(f"{module}.{name}", why)
            for module, name in (
                (_PROTOCOL, "Utf8Validator"),
                (_VALIDATOR, "Utf8Validator"),
                (_PROTOCOL, "create_xor_masker"),
                (_MASKER, "create_xor_masker"),
            )
        ]
    built = _BUILT.get(impl.NAME)
    if built is None:
        built = _BUILT[impl.NAME] = _build(impl)
    validator_class, masker_class, factory = built
    was = "NVX" if nvx else "pure-Python"
    plan: Plan = [
        Replace(protocol, "Utf8Validator", validator_class, f"wscodec's Utf8Validator ({impl.NAME}; was {was})"),
        Replace(validator, "Utf8Validator", validator_class, f"wscodec's Utf8Validator ({impl.NAME}; was {was})"),
        Replace(protocol, "create_xor_masker", factory, f"a maker of wscodec maskers ({impl.NAME}; was {was})"),
        Replace(masker, "create_xor_masker", factory, f"a maker of wscodec maskers ({impl.NAME}; was {was})"),
    ]
    for name in ("XorMaskerSimple", "XorMaskerShifted1"):  # defined only when autobahn runs without NVX
        if hasattr(masker, name):
            plan.append(Replace(masker, name, masker_class, f"a masker on wscodec ({impl.NAME}; was {was})"))
    plan.append(Leave(f"{_PROTOCOL}.XorMaskerNull", "it masks nothing (it returns its input, counting bytes)"))
    return plan


_SHIM = Shim(HOST, TESTED_VERSIONS, _plan)


def install(impl: ModuleType | str | None = None) -> InstallReport:
    """Put wscodec's validator and masker under autobahn (``impl``: default the active implementation).

    Idempotent; returns what was replaced and what was left alone and why.
    Connections opened before the call keep the validator they made. Raises
    :class:`~wscodec.integrations.UnsupportedHostError` on an untested
    autobahn version or unexpected internals.
    """
    return _SHIM.install(impl)


def uninstall() -> None:
    """Restore autobahn's own validator and maskers everywhere the shim replaced them."""
    _SHIM.uninstall()


def is_installed() -> bool:
    """True while the shim is installed."""
    return _SHIM.is_installed()


def describe(impl: ModuleType | str | None = None) -> list[str]:
    """What :func:`install` would replace or leave alone, one line per name."""
    return _SHIM.describe(impl)


def text_validation_rate(size: int, count: int) -> float:
    """Text messages of ``size`` bytes (multi-byte UTF-8) validated per second by autobahn's validator.

    Uses the class autobahn's protocol instantiates (``reset()`` then
    ``validate()``, as per message), so it measures whatever is installed.
    """
    protocol: Any = importlib.import_module(_PROTOCOL)
    unit = "aé€😀".encode()
    message = (unit * (size // len(unit) + 1))[:size].decode("utf-8", "ignore").encode()
    validator = protocol.Utf8Validator()
    validate = validator.validate
    reset = validator.reset
    start = time.perf_counter()
    for _ in range(count):
        reset()
        if not validate(message)[1]:
            raise RuntimeError("autobahn's validator rejected valid UTF-8")
    return count / (time.perf_counter() - start)


def echo_roundtrip(size: int, count: int, *, text: bool = False) -> float:
    """Messages per second over a loopback echo (autobahn's asyncio server and client).

    One message of ``size`` bytes (``text``: ASCII text, so validated on both
    ends) at a time, sent and echoed back, ``count`` times after a short
    warm-up; no compression, no size limits.
    """
    return asyncio.run(_echo(size, count, text))


async def _echo(size: int, count: int, text: bool) -> float:
    websocket: Any = importlib.import_module("autobahn.asyncio.websocket")  # (asyncio flavour: txaio)

    loop = asyncio.get_running_loop()
    opened: asyncio.Future[None] = loop.create_future()
    closed: asyncio.Future[None] = loop.create_future()
    replies: asyncio.Queue[bytes] = asyncio.Queue()

    class Echo(websocket.WebSocketServerProtocol):  # type: ignore[misc]
        def onMessage(self, payload: bytes, isBinary: bool) -> None:
            self.sendMessage(payload, isBinary)

    class Client(websocket.WebSocketClientProtocol):  # type: ignore[misc]
        def onOpen(self) -> None:
            opened.set_result(None)

        def onMessage(self, payload: bytes, isBinary: bool) -> None:
            replies.put_nowait(payload)

        def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
            if not closed.done():
                closed.set_result(None)

    server_factory = websocket.WebSocketServerFactory()
    server_factory.protocol = Echo
    server = await loop.create_server(server_factory, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client_factory = websocket.WebSocketClientFactory(f"ws://127.0.0.1:{port}")
    client_factory.protocol = Client
    _, client = await loop.create_connection(client_factory, "127.0.0.1", port)
    try:
        await opened
        payload = b"x" * size

        async def run(rounds: int) -> None:
            for _ in range(rounds):
                client.sendMessage(payload, not text)
                if len(await replies.get()) != size:
                    raise RuntimeError("autobahn echo returned a different message")

        await run(min(count, 10))
        start = time.perf_counter()
        await run(count)
        elapsed = time.perf_counter() - start
    finally:
        client.sendClose(1000)
        await asyncio.wait_for(closed, 10)
        server.close()
        await server.wait_closed()
    return count / elapsed
