"""Hypothesis differential tests: random frame streams, cut at random points, decoded by each implementation.

Every implementation is checked twice: against the RFC model in
``outcomes`` (which frames, messages and close code must come out) and, call
by call, against the pure-Python reference (the same items from the same
feed, the same exception with the same code and reason from the same feed).
"""

from __future__ import annotations

from types import ModuleType

from hypothesis import given
from hypothesis import strategies as st
from outcomes import Outcome, drive, expected_frames, expected_messages
from strategies import any_streams, chunked, frame_settings, garbage, valid_streams, wire

import wscodec._impl_py as reference

_FRAME_LIMITS = st.sampled_from([None, 1 << 24, 0, 1, 125, 126, 65535, 65536])


def _same_as_reference(impl: ModuleType, kind: str, chunks: list[bytes], **options: object) -> Outcome:
    """Drive ``impl`` and the reference with the same chunks; they must agree call by call."""
    got = drive(impl, getattr(impl, kind)(**options), chunks)
    want = drive(reference, getattr(reference, kind)(**options), chunks)
    assert got == want
    return got


@frame_settings(60)
@given(data=st.data())
def test_valid_streams_frame_by_frame(impl: ModuleType, data: st.DataObject) -> None:
    masked = data.draw(st.booleans(), "masked")
    rsv_allowed = data.draw(st.integers(0, 7), "rsv_allowed")
    specs = data.draw(valid_streams(masked, rsv_allowed=rsv_allowed), "specs")
    chunks = data.draw(chunked(wire(specs)), "chunks")
    got = _same_as_reference(impl, "FrameDecoder", chunks, client=not masked, rsv_allowed=rsv_allowed)
    assert got.error is None
    assert got.delivered == expected_frames(specs, client=not masked, rsv_allowed=rsv_allowed)[0]


@frame_settings(60)
@given(data=st.data())
def test_valid_streams_message_by_message(impl: ModuleType, data: st.DataObject) -> None:
    masked = data.draw(st.booleans(), "masked")
    specs = data.draw(valid_streams(masked), "specs")
    chunks = data.draw(chunked(wire(specs)), "chunks")
    got = _same_as_reference(impl, "MessageDecoder", chunks, client=not masked)
    assert got.error is None
    assert got.delivered == expected_messages(specs, client=not masked)[0]


@frame_settings(150)
@given(data=st.data())
def test_rule_breaking_streams_frame_by_frame(impl: ModuleType, data: st.DataObject) -> None:
    masked = data.draw(st.booleans(), "masked")
    rsv_allowed = data.draw(st.integers(0, 7), "rsv_allowed")
    limit = data.draw(_FRAME_LIMITS, "max_frame_size")
    specs = data.draw(any_streams(masked), "specs")
    chunks = data.draw(chunked(wire(specs)), "chunks")
    got = _same_as_reference(
        impl, "FrameDecoder", chunks, client=not masked, max_frame_size=limit, rsv_allowed=rsv_allowed
    )
    want = expected_frames(specs, client=not masked, max_frame_size=limit, rsv_allowed=rsv_allowed)
    assert (got.delivered, got.code) == want


@frame_settings(150)
@given(data=st.data())
def test_rule_breaking_streams_message_by_message(impl: ModuleType, data: st.DataObject) -> None:
    masked = data.draw(st.booleans(), "masked")
    message_limit = data.draw(_FRAME_LIMITS, "max_message_size")
    frame_limit = data.draw(_FRAME_LIMITS, "max_frame_size")
    specs = data.draw(any_streams(masked), "specs")
    chunks = data.draw(chunked(wire(specs)), "chunks")
    options = {"client": not masked, "max_message_size": message_limit, "max_frame_size": frame_limit}
    got = _same_as_reference(impl, "MessageDecoder", chunks, **options)
    assert (got.delivered, got.code) == expected_messages(
        specs, client=not masked, max_message_size=message_limit, max_frame_size=frame_limit
    )


@frame_settings(200)
@given(data=st.data())
def test_garbage_is_survived_alike(impl: ModuleType, data: st.DataObject) -> None:
    """Random and corrupted bytes: same result or same error as the reference, whatever the chunking."""
    stream = data.draw(garbage(), "stream")
    chunks = data.draw(chunked(stream), "chunks")
    client = data.draw(st.booleans(), "client")
    for kind in ("FrameDecoder", "MessageDecoder"):
        got = _same_as_reference(impl, kind, chunks, client=client)
        whole = drive(impl, getattr(impl, kind)(client=client), [stream])
        assert (got.delivered, got.error) == (whole.delivered, whole.error)
