"""permessage-deflate negotiation (RFC 7692 §5, §7.1): DeflateParams, negotiate_deflate, deflate_offer,
accept_deflate_response.

Negotiation is header parsing with one pure-Python implementation, so these tests run once rather than per
implementation. Besides the RFC's cases they cross-check websockets' own negotiation (its server and client
factories and its header parser) where the two agree by design.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
import zlib
from types import ModuleType
from typing import Any

import needs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import wscodec
from wscodec import DeflateParams, accept_deflate_response, deflate_offer, negotiate_deflate
from wscodec.deflate_params import _parse_header

PMD = "permessage-deflate"
SNCT = "server_no_context_takeover"
CNCT = "client_no_context_takeover"
SMWB = "server_max_window_bits"
CMWB = "client_max_window_bits"

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def websockets_module(name: str) -> ModuleType:
    """A websockets submodule, or a skip saying why (the test extra installs websockets on Python 3.11+)."""
    return needs.module(name, python=(3, 11))


# ---------------------------------------------------------------- DeflateParams


def test_params_defaults_and_header() -> None:
    params = DeflateParams()
    assert (params.server_no_context_takeover, params.client_no_context_takeover) == (False, False)
    assert (params.server_max_window_bits, params.client_max_window_bits) == (15, 15)
    assert params.header() == PMD


@pytest.mark.parametrize(
    ("kwargs", "header"),
    [
        ({"server_no_context_takeover": True}, f"{PMD}; {SNCT}"),
        ({"client_no_context_takeover": True}, f"{PMD}; {CNCT}"),
        ({"server_max_window_bits": 9}, f"{PMD}; {SMWB}=9"),
        ({"client_max_window_bits": 12}, f"{PMD}; {CMWB}=12"),
        ({"server_no_context_takeover": True, "client_max_window_bits": 12}, f"{PMD}; {SNCT}; {CMWB}=12"),
        (
            {
                "server_no_context_takeover": True,
                "client_no_context_takeover": True,
                "server_max_window_bits": 8,
                "client_max_window_bits": 14,
            },
            f"{PMD}; {SNCT}; {CNCT}; {SMWB}=8; {CMWB}=14",
        ),
        # the defaults are not named
        ({"server_max_window_bits": 15, "client_max_window_bits": 15}, PMD),
    ],
)
def test_params_header_names_non_defaults(kwargs: dict[str, Any], header: str) -> None:
    assert DeflateParams(**kwargs).header() == header


@pytest.mark.parametrize("bits", range(8, 16))
def test_params_hold_every_window(bits: int) -> None:
    params = DeflateParams(server_max_window_bits=bits, client_max_window_bits=bits)
    assert params.server_max_window_bits == params.client_max_window_bits == bits


@pytest.mark.parametrize("field", [SMWB, CMWB])
@pytest.mark.parametrize("bits", [-1, 0, 7, 16, 255])
def test_params_reject_windows_outside_8_to_15(field: str, bits: int) -> None:
    kwargs: dict[str, Any] = {field: bits}
    with pytest.raises(ValueError, match=field):
        DeflateParams(**kwargs)


@pytest.mark.parametrize(
    ("field", "value"),
    [(SMWB, True), (SMWB, 12.0), (CMWB, "12"), (CMWB, None), (SNCT, 1), (CNCT, None), (SNCT, "yes")],
)
def test_params_reject_wrong_types(field: str, value: object) -> None:
    kwargs: dict[str, Any] = {field: value}
    with pytest.raises(TypeError, match=field):
        DeflateParams(**kwargs)


def test_params_are_frozen_and_hashable() -> None:
    params = DeflateParams(server_max_window_bits=10)
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.server_max_window_bits = 12  # type: ignore[misc]
    assert params == DeflateParams(server_max_window_bits=10)
    assert params != DeflateParams()
    assert len({params, DeflateParams(server_max_window_bits=10), DeflateParams()}) == 2
    assert "_name" not in repr(params)


def test_params_from_an_offer_naming_server_window_15_equal_plain_params() -> None:
    # The answer must name server_max_window_bits=15 (§7.1.2.1), yet the agreement is the default one.
    agreed = negotiate_deflate(f"{PMD}; {SMWB}=15")
    assert agreed == DeflateParams()
    assert hash(agreed) == hash(DeflateParams())
    assert agreed is not None and agreed.header() == f"{PMD}; {SMWB}=15"
    assert DeflateParams().header() == PMD


def test_params_survive_pickle_and_copy_with_their_answer() -> None:
    agreed = negotiate_deflate(f"{PMD}; {SMWB}=15; {CMWB}=10")
    assert agreed is not None
    for clone in (pickle.loads(pickle.dumps(agreed)), copy.copy(agreed), copy.deepcopy(agreed)):
        assert clone == agreed
        assert clone.header() == agreed.header() == f"{PMD}; {SMWB}=15; {CMWB}=10"


def test_exported_from_the_package() -> None:
    for name in ("DeflateParams", "negotiate_deflate", "deflate_offer", "accept_deflate_response"):
        assert name in wscodec.__all__  # type: ignore[attr-defined]  # set at run time
        assert getattr(wscodec, name) is getattr(wscodec.deflate_params, name)


# ---------------------------------------------------------------- Sec-WebSocket-Extensions grammar


@pytest.mark.parametrize(
    ("header", "elements"),
    [
        (PMD, [(PMD, [])]),
        (f"{PMD}; {SNCT}", [(PMD, [(SNCT, None)])]),
        (f"{PMD};{SMWB}=10;{CMWB}", [(PMD, [(SMWB, "10"), (CMWB, None)])]),
        # OWS around every delimiter, and around the whole value
        (f" \t{PMD} ;\t{SMWB} = 10 ; {CMWB} \t, foo ", [(PMD, [(SMWB, "10"), (CMWB, None)]), ("foo", [])]),
        # empty list elements are ignored (RFC 7230 §7)
        (f", ,{PMD},, foo ,", [(PMD, []), ("foo", [])]),
        # quoted-string values are unquoted, escapes included
        (f'{PMD}; {SMWB}="12"', [(PMD, [(SMWB, "12")])]),
        (f'{PMD}; {SMWB}="1\\2"', [(PMD, [(SMWB, "12")])]),
        ('x; a="b"; c=d', [("x", [("a", "b"), ("c", "d")])]),
        # token characters beyond letters and digits
        ("x-y.z_~!#$%&'*+^`|; p=1.2", [("x-y.z_~!#$%&'*+^`|", [("p", "1.2")])]),
    ],
)
def test_header_grammar(header: str, elements: list[Any]) -> None:
    assert _parse_header(header) == elements


MALFORMED = [
    "",  # 1#extension: at least one
    " ",
    ",",
    " , ,",
    f"{PMD};",  # ";" must introduce a parameter
    f"{PMD}; ",
    f"{PMD};;{SNCT}",
    f"{PMD}; ={SNCT}",
    f"{PMD}; {SMWB}=",  # "=" must introduce a value
    f"{PMD}; {SMWB}= ,",
    f"{PMD} {SNCT}",  # parameters need ";"
    f"{PMD}; {SMWB}=1 0",
    f"{PMD}; {SMWB}=10 10",
    f"{PMD}; {SMWB}==10",
    f'{PMD}; {SMWB}="1 0"',  # the unquoted value must be a token (RFC 6455 §9.1)
    f'{PMD}; {SMWB}=""',
    f'{PMD}; {SMWB}="a,b"',
    f'{PMD}; {SMWB}="a;b"',
    f'{PMD}; {SMWB}="10',  # unterminated quoted-string
    f'{PMD}; {SMWB}="10\\"',
    f'{PMD}; {SMWB}="\x7f"',
    f'"{PMD}"',  # names are tokens, never quoted
    f'{PMD}; "{SMWB}"=10',
    f"{PMD}; {SMWB}=10/",
    f"{PMD}; {SMWB}=(10)",
    f"{PMD}; {SMWB}=1é",  # non-ASCII is not a token
    "pérmessage-deflate",
    f"{PMD}\r\n",
    f"{PMD}\x00",
    f"{PMD}; a=b=c",
    f"{PMD}: {SNCT}",
    "@",
]


@pytest.mark.parametrize("header", MALFORMED)
def test_malformed_headers_raise(header: str) -> None:
    with pytest.raises(ValueError, match="malformed"):
        _parse_header(header)
    with pytest.raises(ValueError, match="malformed"):
        negotiate_deflate(header)
    with pytest.raises(ValueError, match="malformed"):
        negotiate_deflate([PMD, header])  # an acceptable offer before it does not save it
    with pytest.raises(ValueError, match="malformed"):
        accept_deflate_response(header, deflate_offer())


def test_malformed_offer_after_an_acceptable_one_raises() -> None:
    with pytest.raises(ValueError, match="malformed"):
        negotiate_deflate(f"{PMD}, foo; bar=")


def test_header_types() -> None:
    with pytest.raises(TypeError):
        negotiate_deflate(PMD.encode())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        negotiate_deflate([PMD, None])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        accept_deflate_response(PMD, PMD.encode())  # type: ignore[arg-type]


def test_long_hostile_header_message_is_cut() -> None:
    with pytest.raises(ValueError) as info:
        negotiate_deflate("a" * 10_000 + " b")
    assert len(str(info.value)) < 200


# ---------------------------------------------------------------- server: which offers are acceptable


def test_no_offer_declines() -> None:
    assert negotiate_deflate([]) is None
    assert negotiate_deflate("x-webkit-deflate-frame") is None
    assert negotiate_deflate("foo, bar; baz=1, permessage-deflatex") is None
    assert negotiate_deflate("Permessage-Deflate") is None  # the name is compared exactly


def test_bare_offer() -> None:
    assert negotiate_deflate(PMD) == DeflateParams()
    assert negotiate_deflate([PMD]) == DeflateParams()
    agreed = negotiate_deflate(PMD)
    assert agreed is not None and agreed.header() == PMD


@pytest.mark.parametrize("bits", range(8, 16))
def test_every_offered_client_window(bits: int) -> None:
    agreed = negotiate_deflate(f"{PMD}; {CMWB}={bits}")
    assert agreed == DeflateParams(client_max_window_bits=bits)  # repeated (a client volunteering 8 gets 8)


@pytest.mark.parametrize("bits", range(9, 16))
def test_every_offered_server_window(bits: int) -> None:
    agreed = negotiate_deflate(f"{PMD}; {SMWB}={bits}")
    assert agreed == DeflateParams(server_max_window_bits=bits)
    assert agreed is not None and agreed.header() == f"{PMD}; {SMWB}={bits}"


BAD_WINDOW_VALUES = ["0", "7", "16", "99", "08", "09", "010", "015", "+9", "-9", "9.0", "0x9", "nine", "1_2"]

UNACCEPTABLE_OFFERS = [
    *(f"{PMD}; {param}={value}" for param in (SMWB, CMWB) for value in BAD_WINDOW_VALUES),
    *(f'{PMD}; {param}="{value}"' for param in (SMWB, CMWB) for value in ("09", "7", "16")),
    f"{PMD}; {SMWB}",  # a value is required
    f"{PMD}; {SNCT}=1",  # no_context_takeover takes no value
    f"{PMD}; {CNCT}=1",
    f'{PMD}; {SNCT}="x"',
    f"{PMD}; {SNCT}; {SNCT}",  # duplicates
    f"{PMD}; {CNCT}; {CNCT}",
    f"{PMD}; {SMWB}=10; {SMWB}=10",
    f"{PMD}; {CMWB}; {CMWB}",
    f"{PMD}; {CMWB}=10; {CMWB}",
    f"{PMD}; {CMWB}=10; {CMWB}=11",
    f"{PMD}; unknown",  # parameters not defined by RFC 7692
    f"{PMD}; unknown=1",
    f"{PMD}; Server_No_Context_Takeover",  # parameter names are exact too
    f"{PMD}; {SNCT}; x-{SNCT}",
    f"{PMD}; {SMWB}=8",  # zlib cannot compress with 8 and 9 would exceed the client's limit
]


@pytest.mark.parametrize("offer", UNACCEPTABLE_OFFERS)
def test_unacceptable_offer_is_declined_and_a_later_one_used(offer: str) -> None:
    assert negotiate_deflate(offer) is None
    later = f"{PMD}; {SNCT}"
    assert negotiate_deflate(f"{offer}, {later}") == DeflateParams(server_no_context_takeover=True)
    assert negotiate_deflate([offer, "foo", later]) == DeflateParams(server_no_context_takeover=True)
    assert negotiate_deflate([offer, f"{later}, {PMD}"]) == DeflateParams(server_no_context_takeover=True)


def test_quoted_values_count_as_their_token() -> None:
    assert negotiate_deflate(f'{PMD}; {SMWB}="12"') == DeflateParams(server_max_window_bits=12)
    assert negotiate_deflate(f'{PMD}; {CMWB}="12"') == DeflateParams(client_max_window_bits=12)
    assert negotiate_deflate(f'{PMD}; {SMWB}="1\\0"') == DeflateParams(server_max_window_bits=10)


def test_first_acceptable_offer_wins() -> None:
    offers = f"{PMD}; {SMWB}=10, {PMD}; {SMWB}=11"
    assert negotiate_deflate(offers) == DeflateParams(server_max_window_bits=10)
    assert negotiate_deflate([f"foo, {PMD}; {CNCT}", f"{PMD}; {SMWB}=11"]) == DeflateParams(
        client_no_context_takeover=True
    )


def test_other_extensions_are_skipped_whatever_their_parameters() -> None:
    offers = f'x-webkit-deflate-frame; no_context_takeover, foo; a="b"; c, {PMD}; {CMWB}, bar'
    assert negotiate_deflate(offers) == DeflateParams()


# ---------------------------------------------------------------- server: what it answers


# (offer parameters, negotiate_deflate keywords, the expected answer or None)
SERVER_CASES: list[tuple[str, dict[str, Any], str | None]] = [
    # server_no_context_takeover: honoured when offered, added when configured
    (f"; {SNCT}", {}, f"{PMD}; {SNCT}"),
    ("", {"server_no_context_takeover": True}, f"{PMD}; {SNCT}"),
    (f"; {SNCT}", {"server_no_context_takeover": True}, f"{PMD}; {SNCT}"),
    # client_no_context_takeover: repeated when offered, added when configured
    (f"; {CNCT}", {}, f"{PMD}; {CNCT}"),
    ("", {"client_no_context_takeover": True}, f"{PMD}; {CNCT}"),
    # server_max_window_bits: the smaller of the offer and the configuration, always named when offered
    (f"; {SMWB}=10", {}, f"{PMD}; {SMWB}=10"),
    (f"; {SMWB}=15", {}, f"{PMD}; {SMWB}=15"),
    ("", {"server_max_window_bits": 12}, f"{PMD}; {SMWB}=12"),
    (f"; {SMWB}=10", {"server_max_window_bits": 12}, f"{PMD}; {SMWB}=10"),
    (f"; {SMWB}=14", {"server_max_window_bits": 12}, f"{PMD}; {SMWB}=12"),
    (f"; {SMWB}=15", {"server_max_window_bits": 15}, f"{PMD}; {SMWB}=15"),
    ("", {"server_max_window_bits": 15}, PMD),
    (f"; {SMWB}=8", {"server_max_window_bits": 9}, None),  # the client forbids 9 and we cannot do 8
    # client_max_window_bits
    ("", {"client_max_window_bits": 12}, PMD),  # never named when not offered (§7.1.2.2)
    ("", {"client_max_window_bits": 9}, PMD),
    ("", {"client_max_window_bits": 12, "require_client_max_window_bits": True}, None),
    (f"; {CMWB}", {}, PMD),  # bare, nothing configured: the client keeps 15
    (f"; {CMWB}", {"client_max_window_bits": 12}, f"{PMD}; {CMWB}=12"),
    (f"; {CMWB}", {"client_max_window_bits": 12, "require_client_max_window_bits": True}, f"{PMD}; {CMWB}=12"),
    (f"; {CMWB}", {"client_max_window_bits": 15}, PMD),
    (f"; {CMWB}=10", {}, f"{PMD}; {CMWB}=10"),
    (f"; {CMWB}=10", {"client_max_window_bits": 12}, f"{PMD}; {CMWB}=10"),
    (f"; {CMWB}=14", {"client_max_window_bits": 12}, f"{PMD}; {CMWB}=12"),
    (f"; {CMWB}=15", {}, PMD),  # 15 needs no answer: the client keeps the 15 it offered
    (f"; {CMWB}=8", {}, f"{PMD}; {CMWB}=8"),  # the client volunteers 8; we only inflate with it
    (f"; {CMWB}=8", {"client_max_window_bits": 12}, f"{PMD}; {CMWB}=8"),
    # everything at once
    (
        f"; {CMWB}; {SMWB}=14; {CNCT}; {SNCT}",
        {"server_max_window_bits": 12, "client_max_window_bits": 11},
        f"{PMD}; {SNCT}; {CNCT}; {SMWB}=12; {CMWB}=11",
    ),
    (
        "",
        {
            "server_no_context_takeover": True,
            "client_no_context_takeover": True,
            "server_max_window_bits": 9,
            "client_max_window_bits": 9,
        },
        f"{PMD}; {SNCT}; {CNCT}; {SMWB}=9",
    ),
]


@pytest.mark.parametrize(("params", "config", "answer"), SERVER_CASES)
def test_server_answers(params: str, config: dict[str, Any], answer: str | None) -> None:
    agreed = negotiate_deflate(PMD + params, **config)
    if answer is None:
        assert agreed is None
        return
    assert agreed is not None
    assert agreed.header() == answer
    # the client reading that answer agrees on the same thing (our client never offers to compress with 8)
    if f"{CMWB}=8" not in params:
        assert accept_deflate_response(answer, PMD + params) == agreed


def test_server_never_compresses_with_8_bits() -> None:
    assert negotiate_deflate(f"{PMD}; {SMWB}=8") is None
    assert negotiate_deflate(f"{PMD}; {SMWB}=8", server_max_window_bits=12) is None
    assert negotiate_deflate(f"{PMD}; {SMWB}=8, {PMD}; {SMWB}=9") == DeflateParams(server_max_window_bits=9)


@pytest.mark.parametrize(
    ("config", "error"),
    [
        ({"server_max_window_bits": 8}, ValueError),
        ({"server_max_window_bits": 7}, ValueError),
        ({"server_max_window_bits": 16}, ValueError),
        ({"client_max_window_bits": 8}, ValueError),
        ({"client_max_window_bits": 16}, ValueError),
        ({"client_max_window_bits": 0}, ValueError),
        ({"require_client_max_window_bits": True}, ValueError),  # requiring it without a value is pointless
        ({"server_max_window_bits": True}, TypeError),
        ({"client_max_window_bits": "12"}, TypeError),
        ({"server_no_context_takeover": 1}, TypeError),
        ({"client_no_context_takeover": None}, TypeError),
        ({"require_client_max_window_bits": "yes"}, TypeError),
    ],
)
def test_server_configuration_is_checked(config: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        negotiate_deflate(PMD, **config)
    with pytest.raises(error):
        negotiate_deflate([], **config)  # checked even when nothing is offered


# ---------------------------------------------------------------- client: the offer


@pytest.mark.parametrize(
    ("kwargs", "offer"),
    [
        ({}, f"{PMD}; {CMWB}"),
        ({"client_max_window_bits": True}, f"{PMD}; {CMWB}"),
        ({"client_max_window_bits": False}, PMD),
        ({"client_max_window_bits": 10}, f"{PMD}; {CMWB}=10"),
        ({"server_no_context_takeover": True}, f"{PMD}; {SNCT}; {CMWB}"),
        ({"client_no_context_takeover": True}, f"{PMD}; {CNCT}; {CMWB}"),
        ({"server_max_window_bits": 9}, f"{PMD}; {SMWB}=9; {CMWB}"),
        ({"server_max_window_bits": 15, "client_max_window_bits": 15}, f"{PMD}; {SMWB}=15; {CMWB}=15"),
        (
            {
                "server_no_context_takeover": True,
                "client_no_context_takeover": True,
                "server_max_window_bits": 12,
                "client_max_window_bits": 11,
            },
            f"{PMD}; {SNCT}; {CNCT}; {SMWB}=12; {CMWB}=11",
        ),
    ],
)
def test_offer(kwargs: dict[str, Any], offer: str) -> None:
    assert deflate_offer(**kwargs) == offer
    assert _parse_header(offer)  # well formed


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"server_max_window_bits": 8}, ValueError),  # a zlib server cannot honour it
        ({"client_max_window_bits": 8}, ValueError),  # we cannot compress with it
        ({"server_max_window_bits": 16}, ValueError),
        ({"client_max_window_bits": 7}, ValueError),
        ({"server_max_window_bits": True}, TypeError),
        ({"client_max_window_bits": "10"}, TypeError),
        ({"server_no_context_takeover": 1}, TypeError),
    ],
)
def test_offer_keywords_are_checked(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        deflate_offer(**kwargs)


# ---------------------------------------------------------------- client: the answer


# (deflate_offer keywords, the server's answer, the expected agreement)
CLIENT_CASES: list[tuple[dict[str, Any], str | list[str], DeflateParams | None]] = [
    ({}, PMD, DeflateParams()),
    ({}, [], None),  # no header: declined
    ({}, "foo", None),  # another extension only: declined
    ({}, ["foo", f"bar, {PMD}"], DeflateParams()),
    ({}, f"{PMD}; {CMWB}=10", DeflateParams(client_max_window_bits=10)),
    ({}, f"{PMD}; {CMWB}=9", DeflateParams(client_max_window_bits=9)),
    ({}, f'{PMD}; {CMWB}="9"', DeflateParams(client_max_window_bits=9)),
    ({"client_max_window_bits": 10}, PMD, DeflateParams(client_max_window_bits=10)),  # we keep our limit
    ({"client_max_window_bits": 10}, f"{PMD}; {CMWB}=9", DeflateParams(client_max_window_bits=9)),
    ({"client_max_window_bits": 10}, f"{PMD}; {CMWB}=10", DeflateParams(client_max_window_bits=10)),
    ({"client_max_window_bits": False}, PMD, DeflateParams()),  # its absence means 15
    # the server may use a smaller window than offered, or limit itself unasked (§7.1.2.1)
    ({"server_max_window_bits": 12}, f"{PMD}; {SMWB}=12", DeflateParams(server_max_window_bits=12)),
    ({"server_max_window_bits": 12}, f"{PMD}; {SMWB}=9", DeflateParams(server_max_window_bits=9)),
    ({"server_max_window_bits": 12}, f"{PMD}; {SMWB}=8", DeflateParams(server_max_window_bits=8)),
    ({}, f"{PMD}; {SMWB}=10", DeflateParams(server_max_window_bits=10)),
    ({}, f"{PMD}; {SMWB}=8", DeflateParams(server_max_window_bits=8)),  # we only inflate with it
    # no context takeover: the server may add either; the client keeps the one it offered
    ({}, f"{PMD}; {SNCT}", DeflateParams(server_no_context_takeover=True)),
    ({}, f"{PMD}; {CNCT}", DeflateParams(client_no_context_takeover=True)),
    ({"client_no_context_takeover": True}, PMD, DeflateParams(client_no_context_takeover=True)),
    ({"server_no_context_takeover": True}, f"{PMD}; {SNCT}", DeflateParams(server_no_context_takeover=True)),
    (
        {"server_no_context_takeover": True, "server_max_window_bits": 10, "client_max_window_bits": 12},
        f" {PMD} ;{SNCT} ; {CMWB} = 11;{SMWB}=9 ",
        DeflateParams(server_no_context_takeover=True, server_max_window_bits=9, client_max_window_bits=11),
    ),
]


@pytest.mark.parametrize(("kwargs", "answer", "agreed"), CLIENT_CASES)
def test_client_accepts(kwargs: dict[str, Any], answer: str | list[str], agreed: DeflateParams | None) -> None:
    assert accept_deflate_response(answer, deflate_offer(**kwargs)) == agreed


# (deflate_offer keywords, the server's answer): the client must fail the connection
CLIENT_FAILURES: list[tuple[dict[str, Any], str | list[str]]] = [
    ({}, f"{PMD}, {PMD}"),  # more than one permessage-deflate
    ({}, [PMD, PMD]),
    ({}, f"{PMD}; unknown"),
    ({}, f"{PMD}; {SNCT}; {SNCT}"),
    ({}, f"{PMD}; {SMWB}=10; {SMWB}=10"),
    ({}, f"{PMD}; {SNCT}=1"),
    ({}, f"{PMD}; {CNCT}=x"),
    ({}, f"{PMD}; {SMWB}"),
    ({}, f"{PMD}; {CMWB}"),  # only an offer may name it without a value
    ({}, f"{PMD}; {SMWB}=09"),
    ({}, f"{PMD}; {CMWB}=010"),
    ({}, f"{PMD}; {SMWB}=16"),
    ({}, f"{PMD}; {CMWB}=7"),
    ({}, f"{PMD}; {CMWB}=8"),  # we would have to compress with 8
    ({"client_max_window_bits": 9}, f"{PMD}; {CMWB}=8"),
    ({"client_max_window_bits": 10}, f"{PMD}; {CMWB}=11"),  # larger than offered
    ({"client_max_window_bits": False}, f"{PMD}; {CMWB}=15"),  # not offered
    ({"client_max_window_bits": False}, f"{PMD}; {CMWB}=10"),
    ({"server_max_window_bits": 10}, PMD),  # offered, but not answered
    ({"server_max_window_bits": 10}, f"{PMD}; {SMWB}=11"),  # larger than offered
    ({"server_max_window_bits": 15}, f"{PMD}; {SNCT}"),
    ({"server_no_context_takeover": True}, PMD),  # offered, but not answered
    ({"server_no_context_takeover": True}, f"{PMD}; {CNCT}"),
]


@pytest.mark.parametrize(("kwargs", "answer"), CLIENT_FAILURES)
def test_client_fails_on_bad_answers(kwargs: dict[str, Any], answer: str | list[str]) -> None:
    with pytest.raises(ValueError, match=PMD):
        accept_deflate_response(answer, deflate_offer(**kwargs))


@pytest.mark.parametrize(
    "offer",
    ["", "foo", f"{PMD}, {PMD}", f"{PMD}; {CMWB}=8", f"{PMD}; unknown", f"{PMD}; {SMWB}", f"{PMD};"],
)
def test_client_rejects_an_offer_it_cannot_have_made(offer: str) -> None:
    with pytest.raises(ValueError):
        accept_deflate_response(PMD, offer)


def test_client_takes_a_hand_written_offer_with_other_extensions() -> None:
    offer = f"foo; bar, {PMD}; {SMWB}=8; {CMWB}"
    assert accept_deflate_response(f"{PMD}; {SMWB}=8", offer) == DeflateParams(server_max_window_bits=8)


# ---------------------------------------------------------------- window bits 8 and zlib


def test_zlib_cannot_compress_with_an_8_bit_window() -> None:
    """Why negotiation never has our side compress with 8: raw deflate refuses it outright."""
    with pytest.raises(ValueError):
        zlib.compressobj(wbits=-8)
    zlib.decompressobj(wbits=-8)  # inflating with 8 bits is possible


@pytest.mark.parametrize("peer_bits", range(9, 16))
def test_inflating_with_a_larger_window_than_the_peer_is_safe(peer_bits: int) -> None:
    """Why agreeing to a peer's small window is harmless: any larger inflate window decodes its stream."""
    data = bytes(range(256)) * 300 + b"tail" * 1000
    compressor = zlib.compressobj(wbits=-peer_bits)
    stream = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    for bits in range(peer_bits, 16):
        assert zlib.decompressobj(wbits=-bits).decompress(stream) == data


def offers_strategy() -> st.SearchStrategy[str]:
    """A header of one to three extensions, mostly permessage-deflate with good and bad parameters."""
    value = st.sampled_from([None, *map(str, range(7, 17)), "09", "010", "x", '"12"', '"9"'])
    name = st.sampled_from([SNCT, CNCT, SMWB, CMWB, SMWB, CMWB, "foo"])
    param = st.tuples(name, value).map(lambda p: p[0] if p[1] is None else f"{p[0]}={p[1]}")
    element = st.tuples(st.sampled_from([PMD, PMD, PMD, "foo"]), st.lists(param, max_size=4)).map(
        lambda e: "; ".join([e[0], *e[1]])
    )
    return st.lists(element, min_size=1, max_size=3).map(", ".join)


server_configs = st.fixed_dictionaries(
    {
        "server_no_context_takeover": st.booleans(),
        "client_no_context_takeover": st.booleans(),
        "server_max_window_bits": st.none() | st.integers(9, 15),
        "client_max_window_bits": st.none() | st.integers(9, 15),
        "require_client_max_window_bits": st.booleans(),
    }
).filter(lambda c: c["client_max_window_bits"] is not None or not c["require_client_max_window_bits"])

client_configs = st.fixed_dictionaries(
    {
        "server_no_context_takeover": st.booleans(),
        "client_no_context_takeover": st.booleans(),
        "server_max_window_bits": st.none() | st.integers(9, 15),
        "client_max_window_bits": st.none() | st.booleans() | st.integers(9, 15),
    }
)


@SETTINGS
@given(offers=offers_strategy(), config=server_configs)
def test_server_agreements_never_compress_with_8_and_meet_the_offer(offers: str, config: dict[str, Any]) -> None:
    agreed = negotiate_deflate(offers, **config)
    if agreed is None:
        return
    assert agreed.server_max_window_bits >= 9
    answer = agreed.header()
    if agreed.client_max_window_bits == 8:
        # Only a client that offered 8 gets 8 (it compresses with it; we only inflate). Our own client
        # never offers that, and its check refuses such an answer, so it cannot judge this one.
        assert f"{CMWB}=8" in answer
        assert any(f"{CMWB}=8" in offer for offer in offers.split(", ") if offer.startswith(PMD))
        return
    # The answer is valid for some offer in the header: the first one the client's own check accepts.
    pmd_offers = [p for p in offers.split(", ") if p.split("; ")[0] == PMD]
    accepted = []
    for offer in pmd_offers:
        try:
            accepted.append(accept_deflate_response(answer, offer))
        except ValueError:
            continue
    assert agreed in accepted
    if config["server_max_window_bits"] is not None:
        assert agreed.server_max_window_bits <= config["server_max_window_bits"]
    if config["client_max_window_bits"] is not None and f"{CMWB}=" in answer:
        assert agreed.client_max_window_bits <= config["client_max_window_bits"]
    assert agreed.server_no_context_takeover >= config["server_no_context_takeover"]
    assert agreed.client_no_context_takeover >= config["client_no_context_takeover"]


@SETTINGS
@given(client=client_configs, server=server_configs)
def test_round_trip(client: dict[str, Any], server: dict[str, Any]) -> None:
    offer = deflate_offer(**client)
    agreed = negotiate_deflate(offer, **server)
    if agreed is None:
        # the only reason to decline our own offer: the server requires a window limit we did not offer
        assert server["require_client_max_window_bits"] and client["client_max_window_bits"] is False
        return
    assert accept_deflate_response(agreed.header(), offer) == agreed
    assert accept_deflate_response([f"foo; a={agreed.server_max_window_bits}", agreed.header()], offer) == agreed
    # the agreement meets both sides' wishes
    assert agreed.server_no_context_takeover == (
        client["server_no_context_takeover"] or server["server_no_context_takeover"]
    )
    assert agreed.client_no_context_takeover == (
        client["client_no_context_takeover"] or server["client_no_context_takeover"]
    )
    limits = [b for b in (client["server_max_window_bits"], server["server_max_window_bits"]) if b is not None]
    assert agreed.server_max_window_bits == min(limits, default=15)
    client_bits = client["client_max_window_bits"]
    limits = [b for b in (client_bits, server["client_max_window_bits"]) if type(b) is int]
    if client_bits is False:
        limits = []  # not offered: the server cannot limit it
    assert agreed.client_max_window_bits == min(limits, default=15)
    assert 8 not in (agreed.server_max_window_bits, agreed.client_max_window_bits)


# ---------------------------------------------------------------- cross-checks against websockets


def _ws_server(offers: str, config: dict[str, Any]) -> tuple[str, DeflateParams] | str | None:
    """websockets' server negotiation: its answer and agreement, None to decline, "malformed"."""
    headers = websockets_module("websockets.headers")
    exceptions = websockets_module("websockets.exceptions")
    deflate = websockets_module("websockets.extensions.permessage_deflate")
    factory = deflate.ServerPerMessageDeflateFactory(**config)
    try:
        elements = headers.parse_extension(offers.strip(" \t"))
    except exceptions.InvalidHeaderFormat:
        return "malformed"
    for name, params in elements:
        if name != PMD:
            continue
        try:
            response, extension = factory.process_request_params(params, [])
        except exceptions.NegotiationError:
            continue
        # We name neither window at 15 unless we must (an offered server_max_window_bits); websockets names
        # what it configured or was offered. The client reads their absence as 15 all the same.
        offered = {param for param, _ in params}
        response = [p for p in response if p != (CMWB, "15") and (p != (SMWB, "15") or SMWB in offered)]
        agreed = DeflateParams(
            server_no_context_takeover=extension.local_no_context_takeover,
            client_no_context_takeover=extension.remote_no_context_takeover,
            server_max_window_bits=extension.local_max_window_bits,
            client_max_window_bits=extension.remote_max_window_bits,
        )
        return headers.build_extension([(PMD, response)]), agreed
    return None


def _ws_client(config: dict[str, Any]) -> Any:
    deflate = websockets_module("websockets.extensions.permessage_deflate")
    bits = config["client_max_window_bits"]
    return deflate.ClientPerMessageDeflateFactory(
        server_no_context_takeover=config["server_no_context_takeover"],
        client_no_context_takeover=config["client_no_context_takeover"],
        server_max_window_bits=config["server_max_window_bits"],
        # ours: None or True offer it bare, False leaves it out; websockets: True bare, None out
        client_max_window_bits=True if bits is None else (None if bits is False else bits),
    )


def _ws_client_accept(factory: Any, answer: str) -> DeflateParams | str:
    headers = websockets_module("websockets.headers")
    exceptions = websockets_module("websockets.exceptions")
    try:
        [(name, params)] = headers.parse_extension(answer)
        assert name == PMD
        extension = factory.process_response_params(params, [])
    except exceptions.NegotiationError:
        return "refused"
    return DeflateParams(
        server_no_context_takeover=extension.remote_no_context_takeover,
        client_no_context_takeover=extension.local_no_context_takeover,
        server_max_window_bits=extension.remote_max_window_bits,
        client_max_window_bits=extension.local_max_window_bits,
    )


def _ours_server(offers: str, config: dict[str, Any]) -> tuple[str, DeflateParams] | str | None:
    try:
        agreed = negotiate_deflate(offers, **config)
    except ValueError:
        return "malformed"
    return None if agreed is None else (agreed.header(), agreed)


@SETTINGS
@given(offers=offers_strategy(), config=server_configs)
def test_server_agrees_with_websockets(offers: str, config: dict[str, Any]) -> None:
    assert _ours_server(offers, config) == _ws_server(offers, config)


@pytest.mark.parametrize(("params", "config", "answer"), SERVER_CASES)
def test_server_cases_agree_with_websockets(params: str, config: dict[str, Any], answer: str | None) -> None:
    assert _ours_server(PMD + params, config) == _ws_server(PMD + params, config)


@pytest.mark.parametrize("offer", UNACCEPTABLE_OFFERS)
def test_unacceptable_offers_agree_with_websockets(offer: str) -> None:
    assert _ws_server(offer, {}) is None


def _responses() -> st.SearchStrategy[str]:
    value = st.sampled_from([None, *map(str, range(7, 17)), "09", '"10"'])
    name = st.sampled_from([SNCT, CNCT, SMWB, CMWB, SMWB, CMWB, "foo"])
    param = st.tuples(name, value).map(lambda p: p[0] if p[1] is None else f"{p[0]}={p[1]}")
    return st.lists(param, max_size=4).map(lambda ps: "; ".join([PMD, *ps]))


@SETTINGS
@given(config=client_configs, answer=_responses())
def test_client_agrees_with_websockets(config: dict[str, Any], answer: str) -> None:
    factory = _ws_client(config)
    headers = websockets_module("websockets.headers")
    offer = deflate_offer(**config)
    assert offer == headers.build_extension([(PMD, factory.get_request_params())])
    try:
        ours: DeflateParams | str | None = accept_deflate_response(answer, offer)
    except ValueError:
        ours = "refused"
    assert ours == _ws_client_accept(factory, answer)


@SETTINGS
@given(client=client_configs, server=server_configs)
def test_round_trips_with_websockets_on_either_side(client: dict[str, Any], server: dict[str, Any]) -> None:
    offer = deflate_offer(**client)
    # our client, websockets' server
    theirs = _ws_server(offer, server)
    ours = negotiate_deflate(offer, **server)
    if theirs is None:
        assert ours is None
    else:
        assert isinstance(theirs, tuple)
        answer, agreed = theirs
        assert accept_deflate_response(answer, offer) == agreed == ours
    # websockets' client, our server
    factory = _ws_client(client)
    headers = websockets_module("websockets.headers")
    agreed_here = negotiate_deflate(headers.build_extension([(PMD, factory.get_request_params())]), **server)
    if agreed_here is not None:
        assert _ws_client_accept(factory, agreed_here.header()) == agreed_here


_HEADER_TEXT = st.text(alphabet='pa=;, \t"\\1é\x00', max_size=20)


@settings(max_examples=1000, deadline=None)
@given(header=st.one_of(_HEADER_TEXT, offers_strategy(), st.tuples(offers_strategy(), _HEADER_TEXT).map("".join)))
def test_header_parser_agrees_with_websockets(header: str) -> None:
    headers = websockets_module("websockets.headers")
    exceptions = websockets_module("websockets.exceptions")
    try:
        theirs: Any = [(name, list(params)) for name, params in headers.parse_extension(header.strip(" \t"))]
    except exceptions.InvalidHeaderFormat:
        theirs = "malformed"
    try:
        ours: Any = _parse_header(header)
    except ValueError:
        ours = "malformed"
    assert ours == theirs
