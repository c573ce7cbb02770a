"""Type stub for the compiled value types: wscodec/_values.py itself, compiled (see its docstring)."""

from ._values import Frame as Frame
from ._values import FrameHeader as FrameHeader
from ._values import Message as Message

__all__ = ["Frame", "FrameHeader", "Message"]
