"""Type stub for the compiled checks: wscodec/_rules.py itself, compiled (see its docstring)."""

from ._rules import *  # noqa: F403  # the same names: the same file, compiled
from ._rules import __all__ as __all__
