"""permessage-deflate negotiation (RFC 7692 §5, §7.1): header parsing, so one pure-Python version serves both.

The server calls :func:`negotiate_deflate` on the request's ``Sec-WebSocket-Extensions`` and answers with
:meth:`DeflateParams.header`; the client sends :func:`deflate_offer` and checks the answer with
:func:`accept_deflate_response`. Both ends then hold equal :class:`DeflateParams`.

Window bits 8, per direction. zlib cannot compress with an 8-bit window: raw deflate refuses ``wbits=-8``, and
the zlib-wrapped form silently uses 9, whose back-references reach further than the peer's 256-byte window.
Inflating with a window at least as large as the compressor's is always correct. So:

- our own compressor is never asked for 8: :func:`negotiate_deflate` skips an offer whose
  ``server_max_window_bits`` would come out as 8 (it must not be answered with 9), and
  :func:`accept_deflate_response` raises when the server asks our client to compress with
  ``client_max_window_bits=8``;
- we never ask a peer for 8 either (``server_max_window_bits=8`` in :func:`deflate_offer`,
  ``client_max_window_bits=8`` in :func:`negotiate_deflate`'s configuration raise ``ValueError``): most peers
  compress with zlib and would fail the handshake or silently use 9;
- a peer that volunteers 8 for its own compressor (a client offering ``client_max_window_bits=8``, a server
  answering ``server_max_window_bits=8``) is agreed with: we only inflate that direction.

:class:`DeflateParams` itself may hold 8 in either field, since it describes an agreement, but the functions
here never produce one where our own side compresses with 8.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["DeflateParams", "negotiate_deflate", "deflate_offer", "accept_deflate_response", "EXTENSION_NAME"]

#: The extension's registered name (RFC 7692 §7), compared exactly as websockets and the browsers do.
EXTENSION_NAME = "permessage-deflate"

_SERVER_NO_CONTEXT_TAKEOVER = "server_no_context_takeover"
_CLIENT_NO_CONTEXT_TAKEOVER = "client_no_context_takeover"
_SERVER_MAX_WINDOW_BITS = "server_max_window_bits"
_CLIENT_MAX_WINDOW_BITS = "client_max_window_bits"

# RFC 7692 §7.1.2.1/§7.1.2.2: "a decimal integer value without leading zeroes between 8 to 15, inclusive";
# an exact lookup rejects "09", "010", "+9", " 9" and the like without any int() leniency.
_WINDOW_BITS = {str(bits): bits for bits in range(8, 16)}

# RFC 7230 §3.2.3, §3.2.6 and appendix B (the grammar RFC 6455 §9.1 builds on); ASCII ranges spelled out
# so that no Unicode letter or digit slips into a token.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_QUOTED_STRING = re.compile(r'"((?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t\x20-\x7e\x80-\xff])*)"')
_QUOTED_PAIR = re.compile(r"\\(.)", re.DOTALL)

_Param = tuple[str, str | None]
_Element = tuple[str, list[_Param]]


@dataclass(frozen=True, slots=True)
class DeflateParams:
    """One permessage-deflate agreement (RFC 7692 §7.1), equal on both ends of a connection.

    ``server_no_context_takeover`` / ``client_no_context_takeover``: that side resets its compressor after
    every message (the other side may then reset its decompressor too). ``server_max_window_bits`` /
    ``client_max_window_bits`` (8–15, default 15): the largest LZ77 window that side compresses with, so the
    smallest window the other side must inflate with. The constructor raises ``ValueError`` for window bits
    outside 8–15 and ``TypeError`` for a non-bool flag or a non-int window.

    An agreement may hold 8, but :func:`negotiate_deflate` and :func:`accept_deflate_response` never produce
    one where our own side would compress with 8 (zlib cannot); a decompressor may always use a larger window
    than the peer's compressor did.
    """

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int = 15
    client_max_window_bits: int = 15
    # RFC 7692 §7.1.2.1: an offer naming server_max_window_bits is accepted only by a response naming it,
    # even at 15 (the default, otherwise left out). Set by negotiate_deflate; not part of the agreement, so
    # not compared, hashed, shown or passed to the constructor.
    _name_server_max_window_bits: bool = field(default=False, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in (_SERVER_NO_CONTEXT_TAKEOVER, _CLIENT_NO_CONTEXT_TAKEOVER):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, not {type(getattr(self, name)).__name__}")
        for name in (_SERVER_MAX_WINDOW_BITS, _CLIENT_MAX_WINDOW_BITS):
            bits = getattr(self, name)
            if isinstance(bits, bool) or not isinstance(bits, int):
                raise TypeError(f"{name} must be an int, not {type(bits).__name__}")
            if not 8 <= bits <= 15:
                raise ValueError(f"{name} must be between 8 and 15, not {bits}")

    def header(self) -> str:
        """The ``Sec-WebSocket-Extensions`` value a server answers with, e.g.
        ``permessage-deflate; server_no_context_takeover; client_max_window_bits=12``.

        Only parameters that differ from the defaults are named, so ``client_max_window_bits`` is never named
        at 15 (RFC 7692 §7.1.2.2 forbids naming it when the client did not offer it, and a client that did
        offer it treats its absence as at most 15, or as the value it offered). The one exception:
        ``server_max_window_bits`` is named even at 15 when the offer that :func:`negotiate_deflate` accepted
        named it, as §7.1.2.1 requires.
        """
        parts = [EXTENSION_NAME]
        if self.server_no_context_takeover:
            parts.append(_SERVER_NO_CONTEXT_TAKEOVER)
        if self.client_no_context_takeover:
            parts.append(_CLIENT_NO_CONTEXT_TAKEOVER)
        if self.server_max_window_bits != 15 or self._name_server_max_window_bits:
            parts.append(f"{_SERVER_MAX_WINDOW_BITS}={self.server_max_window_bits}")
        if self.client_max_window_bits != 15:
            parts.append(f"{_CLIENT_MAX_WINDOW_BITS}={self.client_max_window_bits}")
        return "; ".join(parts)


# ---------------------------------------------------------------- Sec-WebSocket-Extensions (RFC 6455 §9.1)


def _short(value: str) -> str:
    """The header in an error message, cut so that a hostile header does not fill the log."""
    return repr(value) if len(value) <= 80 else repr(value[:77]) + "..."


def _ows(value: str, pos: int) -> int:
    """The position after the optional whitespace (spaces and tabs) at ``pos``."""
    while pos < len(value) and value[pos] in " \t":
        pos += 1
    return pos


def _malformed(value: str, pos: int, what: str) -> ValueError:
    return ValueError(f"malformed Sec-WebSocket-Extensions: {what} at {pos} in {_short(value)}")


def _token(value: str, pos: int, what: str) -> tuple[str, int]:
    match = _TOKEN.match(value, pos)
    if match is None:
        raise _malformed(value, pos, f"expected {what}")
    return match.group(), match.end()


def _parse_header(value: str) -> list[_Element]:
    """Parse one ``Sec-WebSocket-Extensions`` field value into ``[(name, [(param, value or None), ...]), ...]``.

    Grammar (RFC 6455 §9.1 with RFC 7230 §7's list rule): ``1#extension``; ``extension = token *( ";" param )``;
    ``param = token [ "=" ( token / quoted-string ) ]``, OWS around every delimiter, empty list elements
    ignored. A quoted value is unescaped and must then be a token. ``ValueError`` if the value does not match.
    """
    if not isinstance(value, str):
        raise TypeError(f"Sec-WebSocket-Extensions must be str, not {type(value).__name__}")
    end = len(value)
    pos = _ows(value, 0)
    elements: list[_Element] = []
    while True:
        while pos < end and value[pos] == ",":  # RFC 7230 §7: empty elements are parsed and ignored
            pos = _ows(value, pos + 1)
        if pos == end:
            break
        name, pos = _token(value, pos, "an extension name")
        pos = _ows(value, pos)
        params: list[_Param] = []
        while pos < end and value[pos] == ";":
            param, pos = _token(value, _ows(value, pos + 1), "a parameter name")
            pos = _ows(value, pos)
            param_value: str | None = None
            if pos < end and value[pos] == "=":
                pos = _ows(value, pos + 1)
                if pos < end and value[pos] == '"':
                    match = _QUOTED_STRING.match(value, pos)
                    if match is None:
                        raise _malformed(value, pos, "bad quoted-string")
                    param_value = _QUOTED_PAIR.sub(r"\1", match.group(1))
                    # RFC 6455 §9.1: "the value after quoted-string unescaping MUST conform to the 'token' ABNF"
                    if _TOKEN.fullmatch(param_value) is None:
                        raise _malformed(value, pos, "quoted value is not a token")
                    pos = match.end()
                else:
                    param_value, pos = _token(value, pos, "a parameter value")
                pos = _ows(value, pos)
            params.append((param, param_value))
        elements.append((name, params))
        if pos == end:
            break
        if value[pos] != ",":
            raise _malformed(value, pos, "expected ',' or ';'")
    if not elements:  # 1#extension: at least one
        raise _malformed(value, pos, "no extension")
    return elements


def _parse_headers(values: str | Iterable[str]) -> list[_Element]:
    """Every element of one header value or of several (one per field line, in order)."""
    if isinstance(values, str):
        return _parse_header(values)
    elements: list[_Element] = []
    for value in values:
        elements.extend(_parse_header(value))
    return elements


# ---------------------------------------------------------------- the four parameters (RFC 7692 §7.1)


class _Unacceptable(ValueError):
    """An offer the server must decline, or a response the client must fail (RFC 7692 §7.1)."""


@dataclass(frozen=True, slots=True)
class _Params:
    """The parameters of one permessage-deflate element.

    Window bits: None when absent; ``client_max_window_bits`` is True when named without a value (offers only).
    """

    server_no_context_takeover: bool
    client_no_context_takeover: bool
    server_max_window_bits: int | None
    client_max_window_bits: int | bool | None


def _read_params(params: list[_Param], *, response: bool) -> _Params:
    """Check one element's parameters against RFC 7692 §7.1; ``_Unacceptable`` names the first fault.

    §7: an unknown parameter, a duplicate or an invalid value makes an offer unacceptable (and a response a
    reason to fail the connection). Only an offer may name ``client_max_window_bits`` without a value.
    """
    seen: dict[str, str | None] = {}
    for name, value in params:
        if name in seen:
            raise _Unacceptable(f"{EXTENSION_NAME}: duplicate parameter {name}")
        seen[name] = value
        if name in (_SERVER_NO_CONTEXT_TAKEOVER, _CLIENT_NO_CONTEXT_TAKEOVER):
            if value is not None:
                raise _Unacceptable(f"{EXTENSION_NAME}: {name} takes no value, got {value!r}")
        elif name == _SERVER_MAX_WINDOW_BITS or (name == _CLIENT_MAX_WINDOW_BITS and (response or value is not None)):
            if value is None:
                raise _Unacceptable(f"{EXTENSION_NAME}: {name} needs a value")
            if value not in _WINDOW_BITS:
                raise _Unacceptable(f"{EXTENSION_NAME}: {name} must be 8 to 15 without leading zeros, got {value!r}")
        elif name != _CLIENT_MAX_WINDOW_BITS:
            raise _Unacceptable(f"{EXTENSION_NAME}: unknown parameter {name}")
    server_bits = seen.get(_SERVER_MAX_WINDOW_BITS)
    client_bits: int | bool | None = None
    if _CLIENT_MAX_WINDOW_BITS in seen:
        client_value = seen[_CLIENT_MAX_WINDOW_BITS]
        client_bits = True if client_value is None else _WINDOW_BITS[client_value]
    return _Params(
        server_no_context_takeover=_SERVER_NO_CONTEXT_TAKEOVER in seen,
        client_no_context_takeover=_CLIENT_NO_CONTEXT_TAKEOVER in seen,
        server_max_window_bits=None if server_bits is None else _WINDOW_BITS[server_bits],
        client_max_window_bits=client_bits,
    )


def _check_flag(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, not {type(value).__name__}")


def _check_bits(name: str, value: object, why_not_8: str) -> None:
    """A configured window: None or an int 9–15 (8 would have a zlib compressor use 8 bits, which it cannot)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int or None, not {type(value).__name__}")
    if value == 8:
        raise ValueError(f"{name}=8 is not supported: {why_not_8}; use 9")
    if not 9 <= value <= 15:
        raise ValueError(f"{name} must be between 9 and 15, not {value}")


# ---------------------------------------------------------------- server side


def negotiate_deflate(
    offers: str | Iterable[str],
    *,
    server_no_context_takeover: bool = False,
    client_no_context_takeover: bool = False,
    server_max_window_bits: int | None = None,
    client_max_window_bits: int | None = None,
    require_client_max_window_bits: bool = False,
) -> DeflateParams | None:
    """Pick the first acceptable permessage-deflate offer of a handshake request (RFC 7692 §5, §7.1).

    ``offers``: the request's ``Sec-WebSocket-Extensions`` value, or a list of them (one per header line), as
    received. The whole of it is parsed first: a malformed value raises ``ValueError`` (answer 400), even when
    an earlier offer was acceptable. Other extensions are skipped. An unacceptable offer (unknown or duplicate
    parameter, a window outside 8–15 or with leading zeros, a value on a no_context_takeover parameter,
    ``server_max_window_bits`` without a value, a configuration it cannot meet) is skipped and the next one is
    tried. Returns the agreement (answer with its :meth:`~DeflateParams.header`), or None to decline.

    The keywords say what this server wants:

    - ``server_no_context_takeover``: answer with it; an offer naming it is always honoured.
    - ``client_no_context_takeover``: answer with it; when the offer names it, the answer repeats it.
    - ``server_max_window_bits`` (9–15): compress with at most this window; an offer naming a smaller one gets
      that one. An offer whose limit comes out as 8 is skipped: zlib cannot compress with an 8-bit window
      and answering with 9 would break the client's inflater.
    - ``client_max_window_bits`` (9–15): ask the client to compress with at most this window, which is only
      possible when its offer names the parameter (bare: answered with this value; with a value: answered
      with the smaller one). An offer that does not name it is accepted with a 15-bit client window, and the
      answer never names it (§7.1.2.2), unless ``require_client_max_window_bits`` is set: such offers are
      then skipped. Without this keyword a value the client offers is repeated (a client volunteering 8 gets
      8: we only inflate that direction), and a bare one is not answered (15).

    Raises ``ValueError`` for a configured window of 8 or outside 9–15, and for
    ``require_client_max_window_bits`` without ``client_max_window_bits``.
    """
    _check_flag("server_no_context_takeover", server_no_context_takeover)
    _check_flag("client_no_context_takeover", client_no_context_takeover)
    _check_flag("require_client_max_window_bits", require_client_max_window_bits)
    _check_bits("server_max_window_bits", server_max_window_bits, "zlib cannot compress with an 8-bit window")
    _check_bits(
        "client_max_window_bits",
        client_max_window_bits,
        "clients that compress with zlib cannot honour it and fail or use 9",
    )
    if require_client_max_window_bits and client_max_window_bits is None:
        raise ValueError("require_client_max_window_bits needs client_max_window_bits")

    for name, params in _parse_headers(offers):
        if name != EXTENSION_NAME:
            continue
        try:
            offer = _read_params(params, response=False)
        except _Unacceptable:
            continue  # RFC 7692 §7: decline this offer; a later one may do

        server_bits = offer.server_max_window_bits
        if server_max_window_bits is not None:
            server_bits = server_max_window_bits if server_bits is None else min(server_bits, server_max_window_bits)
        if server_bits == 8:
            # The client forbids any window above 8 (§7.1.2.1) and zlib cannot compress with 8: decline.
            continue

        offered = offer.client_max_window_bits
        if offered is None:
            if require_client_max_window_bits:
                continue
            client_bits = 15  # §7.1.2.2: the answer must not name it, so the client may use 15
        elif offered is True:
            client_bits = 15 if client_max_window_bits is None else client_max_window_bits
        else:
            client_bits = offered if client_max_window_bits is None else min(offered, client_max_window_bits)

        agreed = DeflateParams(
            server_no_context_takeover=server_no_context_takeover or offer.server_no_context_takeover,
            client_no_context_takeover=client_no_context_takeover or offer.client_no_context_takeover,
            server_max_window_bits=15 if server_bits is None else server_bits,
            client_max_window_bits=client_bits,
        )
        if offer.server_max_window_bits is not None:
            object.__setattr__(agreed, "_name_server_max_window_bits", True)
        return agreed
    return None


# ---------------------------------------------------------------- client side


def deflate_offer(
    *,
    server_no_context_takeover: bool = False,
    client_no_context_takeover: bool = False,
    server_max_window_bits: int | None = None,
    client_max_window_bits: int | bool | None = None,
) -> str:
    """The ``Sec-WebSocket-Extensions`` value of a client's permessage-deflate offer (RFC 7692 §7.1).

    - ``server_no_context_takeover``: the server must not take over its context (or decline).
    - ``client_no_context_takeover``: this client will not take over its own context.
    - ``server_max_window_bits`` (9–15): the server must compress with at most this window (or decline).
    - ``client_max_window_bits``: None (default) or True offers it without a value, as websockets does: the
      server may then limit this client's window (that costs the client nothing and lets servers that
      require the parameter accept); an int (9–15) also promises that this client compresses with at most
      that window; False leaves it out (this client then compresses with 15 bits).

    8 is refused for both windows (``ValueError``): this client cannot compress with it, and asking a server
    for it gets a decline or a server silently compressing with 9. Pass the returned string, unchanged, to
    :func:`accept_deflate_response` with the server's answer.
    """
    _check_flag("server_no_context_takeover", server_no_context_takeover)
    _check_flag("client_no_context_takeover", client_no_context_takeover)
    _check_bits(
        "server_max_window_bits",
        server_max_window_bits,
        "servers that compress with zlib cannot honour it and decline, fail or use 9",
    )
    if not isinstance(client_max_window_bits, bool):
        _check_bits("client_max_window_bits", client_max_window_bits, "zlib cannot compress with an 8-bit window")
    parts = [EXTENSION_NAME]
    if server_no_context_takeover:
        parts.append(_SERVER_NO_CONTEXT_TAKEOVER)
    if client_no_context_takeover:
        parts.append(_CLIENT_NO_CONTEXT_TAKEOVER)
    if server_max_window_bits is not None:
        parts.append(f"{_SERVER_MAX_WINDOW_BITS}={server_max_window_bits}")
    if client_max_window_bits is None or client_max_window_bits is True:
        parts.append(_CLIENT_MAX_WINDOW_BITS)
    elif client_max_window_bits is not False:
        parts.append(f"{_CLIENT_MAX_WINDOW_BITS}={client_max_window_bits}")
    return "; ".join(parts)


def accept_deflate_response(value: str | Iterable[str], offer: str) -> DeflateParams | None:
    """Check the server's answer to :func:`deflate_offer` and return the agreement (RFC 7692 §7.1).

    ``value``: the response's ``Sec-WebSocket-Extensions`` value, or a list of them (one per header line);
    ``offer``: the string :func:`deflate_offer` returned (parsed back; it must hold one permessage-deflate
    offer). Returns None when the answer names no permessage-deflate (the server declined; an empty list
    means no header at all). Other extensions in the answer are left to the caller.

    ``ValueError`` (the client must then fail the connection) for a malformed value, more than one
    permessage-deflate, an unknown or duplicate parameter, a bad value, and for an answer that breaks the
    offer: ``server_no_context_takeover`` or ``server_max_window_bits`` missing though offered, a
    ``server_max_window_bits`` larger than offered, ``client_max_window_bits`` though not offered or larger
    than offered, or ``client_max_window_bits=8`` (this client would have to compress with an 8-bit window,
    which zlib cannot; 9 would break the server's inflater).

    Absent parameters: ``client_max_window_bits`` is the value offered, else 15; ``server_max_window_bits``
    is 15; ``client_no_context_takeover`` holds when offered or answered.
    """
    if not isinstance(offer, str):
        raise TypeError(f"offer must be str, not {type(offer).__name__}")
    offered_elements = [params for name, params in _parse_header(offer) if name == EXTENSION_NAME]
    if len(offered_elements) != 1:
        raise ValueError(f"the offer must hold one {EXTENSION_NAME}, it holds {len(offered_elements)}")
    ours = _read_params(offered_elements[0], response=False)
    if ours.client_max_window_bits == 8:
        raise ValueError("the offer's client_max_window_bits=8 cannot be honoured: zlib cannot compress with it")

    answers = [params for name, params in _parse_headers(value) if name == EXTENSION_NAME]
    if not answers:
        return None
    if len(answers) > 1:
        raise ValueError(f"the response accepts {EXTENSION_NAME} {len(answers)} times")
    theirs = _read_params(answers[0], response=True)

    if ours.server_no_context_takeover and not theirs.server_no_context_takeover:
        raise ValueError(f"{EXTENSION_NAME}: server_no_context_takeover was offered, the response lacks it")

    server_bits = theirs.server_max_window_bits
    if ours.server_max_window_bits is not None:
        if server_bits is None:
            raise ValueError(f"{EXTENSION_NAME}: server_max_window_bits was offered, the response lacks it")
        if server_bits > ours.server_max_window_bits:
            raise ValueError(
                f"{EXTENSION_NAME}: server_max_window_bits={server_bits} exceeds the "
                f"{ours.server_max_window_bits} offered"
            )

    # _read_params(response=True) refused a bare client_max_window_bits: this is a number or None
    client_bits = None if theirs.client_max_window_bits is None else int(theirs.client_max_window_bits)
    if ours.client_max_window_bits is None:
        if client_bits is not None:
            raise ValueError(f"{EXTENSION_NAME}: client_max_window_bits in the response, though not offered")
    elif ours.client_max_window_bits is not True:
        if client_bits is None:
            client_bits = ours.client_max_window_bits  # §7.1.2.2: the client keeps the limit it offered
        elif client_bits > ours.client_max_window_bits:
            raise ValueError(
                f"{EXTENSION_NAME}: client_max_window_bits={client_bits} exceeds the "
                f"{ours.client_max_window_bits} offered"
            )
    if client_bits == 8:
        raise ValueError(
            f"{EXTENSION_NAME}: client_max_window_bits=8 cannot be honoured: zlib cannot compress with an "
            "8-bit window, and using 9 would break the server's inflater"
        )

    return DeflateParams(
        server_no_context_takeover=theirs.server_no_context_takeover,
        client_no_context_takeover=ours.client_no_context_takeover or theirs.client_no_context_takeover,
        server_max_window_bits=15 if server_bits is None else server_bits,
        client_max_window_bits=15 if client_bits is None else client_bits,
    )
