"""Type stub for the compiled permessage-deflate state (behaviour: deflate_py.py)."""

from typing import Any

from typing_extensions import disjoint_base

def zlib_version() -> str: ...

@disjoint_base
class PerMessageDeflate:
    def __init__(
        self,
        params: Any,
        *,
        client: bool = False,
        level: int | None = None,
        mem_level: int | None = None,
        backend: str | None = None,
    ) -> None: ...
    @property
    def params(self) -> Any: ...
    @property
    def client(self) -> bool: ...
    @property
    def backend(self) -> str: ...
    def compress(self, payload: object) -> bytes: ...
    def _inflate(self, data: object, budget: int, end: bool = False) -> bytes: ...
