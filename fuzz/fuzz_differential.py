"""The implementations under test and how their decoders' answers are compared.

The pure-Python implementation is the reference and always runs; the
compiled one runs beside it unless ``WSCODEC_NO_EXTENSIONS`` is set (then a
missing build is an error, never a silent pure-only run).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from wscodec.enums import Opcode
from wscodec.errors import ProtocolError

__all__ = ["IMPLS", "Trace", "normalise", "run_decoder", "same_outcome"]


def _load_impls() -> list[ModuleType]:
    names = ["wscodec._impl_py"]
    if not os.environ.get("WSCODEC_NO_EXTENSIONS"):
        names.append("wscodec._impl_c")
    impls = [importlib.import_module(name) for name in names]
    for impl in impls[1:]:
        impl.load_all()  # ImportError now rather than a lazy one inside a fuzz run
    return impls


#: The reference (pure Python) first, then the compiled implementation when it is in use.
IMPLS: list[ModuleType] = _load_impls()

#: One ``feed`` call's result: the items delivered, or ``("error", code, reason, items before it)``.
Trace = list[tuple[Any, ...]]


def normalise(impl: ModuleType, item: object) -> tuple[Any, ...]:
    """A ``Frame`` or ``Message`` as a plain tuple, after checking the field types both must have."""
    if isinstance(item, impl.Frame):
        flags = (item.fin, item.rsv1, item.rsv2, item.rsv3)
        if not all(type(flag) is bool for flag in flags):
            raise AssertionError(f"{impl.NAME}: non-bool flag in {item!r}")
        if type(item.opcode) is not Opcode or type(item.payload) is not bytes:
            raise AssertionError(f"{impl.NAME}: field types of {item!r}")
        return ("frame", item.fin, int(item.opcode), item.payload, *flags[1:])
    if isinstance(item, impl.Message):
        if type(item.opcode) is not Opcode or type(item.payload) is not bytes:
            raise AssertionError(f"{impl.NAME}: field types of {item!r}")
        return ("message", int(item.opcode), item.payload)
    raise AssertionError(f"{impl.NAME}: decoder delivered {item!r}")


def run_decoder(impl: ModuleType, decoder: Any, chunks: Sequence[object], buffered: bool = False) -> Trace:
    """Feed ``chunks`` one call each and record every answer; checks what a failed decoder must do.

    With ``buffered`` each answer also records ``decoder.buffered``. After a
    ProtocolError the decoder must hold no bytes and raise the same error,
    with no frames, on every later call, whatever it is fed.
    """
    trace: Trace = []
    for chunk in chunks:
        try:
            items = decoder.feed(chunk)
        except ProtocolError as exc:
            if type(exc) is not ProtocolError or type(exc.frames) is not list:
                raise AssertionError(f"{impl.NAME}: malformed error {exc!r}") from exc
            trace.append(("error", exc.code, exc.reason, [normalise(impl, f) for f in exc.frames]))
            _check_stays_failed(impl, decoder, exc)
            return trace
        if type(items) is not list:
            raise AssertionError(f"{impl.NAME}: feed returned {type(items).__name__}")
        answer = tuple(normalise(impl, item) for item in items)
        trace.append((*answer, decoder.buffered) if buffered else answer)
    return trace


def _check_stays_failed(impl: ModuleType, decoder: Any, exc: ProtocolError) -> None:
    for more in (b"", b"\x82\x80\x00\x00\x00\x00", bytes(300)):
        try:
            decoder.feed(more)
        except ProtocolError as again:
            if (again.code, again.reason, again.frames) != (exc.code, exc.reason, []):
                raise AssertionError(f"{impl.NAME}: a failed decoder changed its error to {again!r}") from again
        else:
            raise AssertionError(f"{impl.NAME}: a failed decoder accepted more data")
        held = getattr(decoder, "buffered", 0)
        if held:
            raise AssertionError(f"{impl.NAME}: a failed decoder still holds {held} bytes")


def same_outcome(run: Callable[[ModuleType], Any]) -> Any:
    """``run(impl)`` for every implementation; they must all give the reference's answer, which is returned.

    An answer is a value or the exception raised, compared by type, close
    code (for ProtocolError) and message.
    """
    answers = [_answer(run, impl) for impl in IMPLS]
    for impl, answer in zip(IMPLS[1:], answers[1:], strict=True):
        if answer != answers[0]:
            raise AssertionError(f"divergence: {IMPLS[0].NAME} gave {answers[0]!r}, {impl.NAME} gave {answer!r}")
    return answers[0]


def _answer(run: Callable[[ModuleType], Any], impl: ModuleType) -> Any:
    try:
        return ("value", run(impl))
    except ProtocolError as exc:
        return ("raised", ProtocolError, exc.code, exc.reason)
    except (ValueError, TypeError, BufferError) as exc:
        return ("raised", type(exc))
