# distutils: define_macros=CYTHON_VECTORCALL_TPNEW=0
# (compiled: the plain tp_new slot, so that the decoders' Frame.__new__ reaches the freelist without a
# vectorcall adapter, about 25 instructions per frame)
"""The value types — :class:`FrameHeader`, :class:`Frame`, :class:`Message` — written once for both implementations.

The pure implementation imports this module as it is. The compiled one is the
same file compiled by Cython as ``_values_c``, whose ``.pxd`` makes each class a
C type with typed fields (the compiled decoders cimport it and fill the fields
directly); the decorators below only matter there.

Fields are read-only: ``__setattr__`` refuses every name, so each class's own
``__init__`` writes through the fields' descriptors, which the decoders of the
pure implementation bypass too (see ``frames_py``).
"""

from __future__ import annotations

from typing import Any

try:
    import cython
except ImportError:  # a pure installation may lack Cython; in Python its decorators change nothing
    from types import SimpleNamespace

    cython = SimpleNamespace(cclass=lambda cls: cls, freelist=lambda size: lambda cls: cls)

__all__ = ["Frame", "FrameHeader", "Message"]


def _refuse(value: object, name: str) -> None:
    """``__setattr__``/``__delattr__`` of the value types: their fields are read-only."""
    kind = f"{type(value).__module__}.{type(value).__qualname__}"
    raise AttributeError(f"attribute {name!r} of {kind!r} objects is not writable")


def _equal(value: Any, other: object) -> bool:
    """``__eq__`` of the value types: same type, same fields."""
    if not isinstance(other, type(value)):
        return NotImplemented  # type: ignore[no-any-return]  # typeshed types it as a subclass of Any
    return bool(value._values() == other._values())


def _payload_repr(payload: bytes) -> str:
    """A payload as the reprs show it: its first 32 bytes and its length."""
    return f"{payload[:32]!r}{'...' if len(payload) > 32 else ''} ({len(payload)} bytes)"


# Each class spells out __setattr__, __delattr__, __eq__ and __reduce__ rather than inheriting them:
# a compiled class with a base cannot keep a freelist, which saves an allocation per decoded frame.


@cython.cclass
class FrameHeader:
    """A parsed frame header: flags, opcode, payload ``length``, ``mask`` key and ``header_size``."""

    __slots__ = ("fin", "rsv1", "rsv2", "rsv3", "opcode", "masked", "length", "mask", "header_size")
    fin: bool
    rsv1: bool
    rsv2: bool
    rsv3: bool
    opcode: Any
    masked: bool
    length: int
    mask: bytes | None
    header_size: int

    def __init__(
        self,
        fin: bool,
        rsv1: bool,
        rsv2: bool,
        rsv3: bool,
        opcode: Any,
        masked: bool,
        length: int,
        mask: bytes | None,
        header_size: int,
    ) -> None:
        _H_FIN(self, fin)
        _H_RSV1(self, rsv1)
        _H_RSV2(self, rsv2)
        _H_RSV3(self, rsv3)
        _H_OPCODE(self, opcode)
        _H_MASKED(self, masked)
        _H_LENGTH(self, length)
        _H_MASK(self, mask)
        _H_SIZE(self, header_size)

    def _values(self) -> tuple[Any, ...]:
        return (
            self.fin,
            self.rsv1,
            self.rsv2,
            self.rsv3,
            self.opcode,
            self.masked,
            self.length,
            self.mask,
            self.header_size,
        )

    def __setattr__(self, name: str, value: object) -> None:
        _refuse(self, name)

    def __delattr__(self, name: str) -> None:
        _refuse(self, name)

    def __eq__(self, other: object) -> bool:
        return _equal(self, other)

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[type[Any], tuple[Any, ...]]:
        return type(self), self._values()

    def __repr__(self) -> str:
        args = ", ".join([f"{name}={value!r}" for name, value in zip(_HEADER_FIELDS, self._values())])
        return f"FrameHeader({args})"


@cython.freelist(64)
@cython.cclass
class Frame:
    """One WebSocket frame: ``fin``, ``opcode``, ``payload`` (unmasked bytes) and the RSV bits."""

    __slots__ = ("fin", "opcode", "payload", "rsv1", "rsv2", "rsv3")
    fin: bool
    opcode: Any
    payload: bytes
    rsv1: bool
    rsv2: bool
    rsv3: bool

    def __init__(
        self, fin: bool, opcode: Any, payload: bytes, rsv1: bool = False, rsv2: bool = False, rsv3: bool = False
    ) -> None:
        _F_FIN(self, fin)
        _F_OPCODE(self, opcode)
        _F_PAYLOAD(self, payload)
        _F_RSV1(self, rsv1)
        _F_RSV2(self, rsv2)
        _F_RSV3(self, rsv3)

    def _values(self) -> tuple[Any, ...]:
        return (self.fin, self.opcode, self.payload, self.rsv1, self.rsv2, self.rsv3)

    def __setattr__(self, name: str, value: object) -> None:
        _refuse(self, name)

    def __delattr__(self, name: str) -> None:
        _refuse(self, name)

    def __eq__(self, other: object) -> bool:
        return _equal(self, other)

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[type[Any], tuple[Any, ...]]:
        return type(self), self._values()

    def __repr__(self) -> str:
        bits = (("rsv1", self.rsv1), ("rsv2", self.rsv2), ("rsv3", self.rsv3))
        flags = "".join([f", {name}=True" for name, value in bits if value])
        return f"Frame(fin={self.fin!r}, opcode={self.opcode!r}, payload={_payload_repr(self.payload)}{flags})"


@cython.freelist(64)
@cython.cclass
class Message:
    """A whole data message: ``opcode`` (TEXT or BINARY) and ``payload`` bytes.

    A TEXT payload has already been validated as UTF-8; it stays bytes (for
    orjson, msgspec and the like) until :attr:`text` decodes it.
    """

    __slots__ = ("opcode", "payload")
    opcode: Any
    payload: bytes

    def __init__(self, opcode: Any, payload: bytes) -> None:
        _M_OPCODE(self, opcode)
        _M_PAYLOAD(self, payload)

    @property
    def text(self) -> str:
        """The payload decoded as UTF-8."""
        return self.payload.decode("utf-8")

    def _values(self) -> tuple[Any, ...]:
        return (self.opcode, self.payload)

    def __setattr__(self, name: str, value: object) -> None:
        _refuse(self, name)

    def __delattr__(self, name: str) -> None:
        _refuse(self, name)

    def __eq__(self, other: object) -> bool:
        return _equal(self, other)

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[type[Any], tuple[Any, ...]]:
        return type(self), self._values()

    def __repr__(self) -> str:
        return f"Message(opcode={self.opcode!r}, payload={_payload_repr(self.payload)})"


_HEADER_FIELDS = FrameHeader.__slots__
# The fields' own setters (slot descriptors here, C-level attributes compiled): the one way to write a field.
_H_FIN, _H_RSV1, _H_RSV2, _H_RSV3, _H_OPCODE, _H_MASKED, _H_LENGTH, _H_MASK, _H_SIZE = (
    getattr(FrameHeader, name).__set__ for name in _HEADER_FIELDS
)
_F_FIN, _F_OPCODE, _F_PAYLOAD, _F_RSV1, _F_RSV2, _F_RSV3 = (getattr(Frame, name).__set__ for name in Frame.__slots__)
_M_OPCODE, _M_PAYLOAD = (getattr(Message, name).__set__ for name in Message.__slots__)
