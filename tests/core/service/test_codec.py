"""Every engine event survives the trip to JSON and back exactly, without per-event code."""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bulk_transcribe.core import events
from bulk_transcribe.core.model import VideoState
from bulk_transcribe.core.service.codec import (
    EVENT_TYPES,
    EventDecodeError,
    UnknownEventKind,
    decode_event,
    encode_event,
)
from bulk_transcribe.core.service.protocol import decode_line, encode_line


def strategy_for(hint):
    """A strategy from a type hint alone, so a new event or field is covered untouched."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(strategy_for(a) for a in args))
    if origin is tuple:
        if args and args[-1] is Ellipsis:
            return st.lists(strategy_for(args[0]), max_size=4).map(tuple)
        return st.tuples(*(strategy_for(a) for a in args))
    if hint is type(None):
        return st.none()
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return st.sampled_from(list(hint))
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        hints = typing.get_type_hints(hint)
        return st.builds(hint, **{f.name: strategy_for(hints[f.name]) for f in dataclasses.fields(hint)})
    simple = {
        bool: st.booleans(),
        int: st.integers(min_value=-(2**63), max_value=2**63),
        float: st.floats(allow_nan=False, allow_infinity=False),
        str: st.text(st.characters(exclude_categories=())),   # lone surrogates too (surrogateescape names)
    }
    if hint in simple:
        return simple[hint]
    raise AssertionError(f"the test has no strategy for {hint!r}: teach it, the codec knows it")


any_event = st.one_of(*(strategy_for(cls) for cls in EVENT_TYPES.values()))


def test_the_registry_is_exactly_the_event_union():
    assert set(EVENT_TYPES.values()) == set(typing.get_args(events.Event))
    assert {"Progress", "WorkerChanged", "VideoChanged", "BatchFinished"} <= set(EVENT_TYPES)


@pytest.mark.parametrize("kind", sorted(EVENT_TYPES))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_every_event_type_round_trips_through_the_wire(kind, data):
    event = data.draw(strategy_for(EVENT_TYPES[kind]))
    encoded = encode_event(event)
    assert encoded["kind"] == kind
    line = encode_line({"type": "event", "batch": "b", "event": encoded})
    back = decode_event(decode_line(line[:-1])["event"])
    assert back == event and type(back) is type(event)


@settings(max_examples=200, deadline=None)
@given(any_event)
def test_decoded_values_have_the_declared_types(event):
    back = decode_event(json.loads(json.dumps(encode_event(event))))
    for field in dataclasses.fields(back):
        value = getattr(back, field.name)
        assert not isinstance(value, list), f"{field.name} came back as a list, not a tuple"
        if isinstance(getattr(event, field.name), enum.Enum):
            assert type(value) is type(getattr(event, field.name))


def test_enums_travel_by_value_and_nested_dataclasses_as_objects():
    progress = events.Progress(
        total=3, done=1, failed=0, in_flight=1, queued=1, elapsed=2.5, videos_per_min=1.0,
        eta_seconds=None, buckets=(events.BucketUsage("submit", 1, 10, per_day=100),),
        concurrency=2, max_concurrency=4,
    )
    encoded = encode_event(progress)
    assert encoded["buckets"] == [{"name": "submit", "used_60s": 1, "per_minute": 10, "used_today": 0,
                                   "per_day": 100, "paused_for": 0.0, "source": ""}]
    video = encode_event(events.VideoChanged("k", 0, VideoState.DONE, "a", outputs=("a.txt",)))
    assert video["state"] == "done" and video["outputs"] == ["a.txt"]
    finished = events.BatchFinished(1, 1, 0, 0, 0, (("network", 2),), "r", "o", "s", False)
    assert decode_event(json.loads(json.dumps(encode_event(finished)))).failures_by_category == (("network", 2),)


def test_unknown_fields_are_ignored_and_missing_ones_take_their_defaults():
    data = {"kind": "Notice", "wall": 1.0, "level": "info", "message": "hi", "colour": "red"}
    assert decode_event(data) == events.Notice(1.0, "info", "hi")
    data = {"kind": "WorkerChanged", "worker": 2, "activity": "idle", "shiny": True}
    assert decode_event(data) == events.WorkerChanged(2, events.Activity.IDLE)


def test_an_unknown_kind_is_reported_as_such():
    with pytest.raises(UnknownEventKind) as caught:
        decode_event({"kind": "Teleported", "where": "mars"})
    assert caught.value.kind == "Teleported"


@pytest.mark.parametrize("data", [
    {"kind": "Notice", "wall": 1.0, "level": "info"},                          # a required field missing
    {"kind": "Notice", "wall": "soon", "level": "info", "message": "m"},       # a wrong type
    {"kind": "WorkerChanged", "worker": True, "activity": "idle"},             # a bool is not an int
    {"kind": "WorkerChanged", "worker": 1, "activity": "dancing"},             # not an Activity
    {"kind": "VideoChanged", "key": "k", "index": 0, "state": "done", "label": "l", "outputs": "a"},
    {"kind": "Progress", "total": 1, "done": 0, "failed": 0, "in_flight": 0, "queued": 0, "elapsed": 0,
     "videos_per_min": 0, "eta_seconds": None, "buckets": [{"name": "s"}], "concurrency": 1,
     "max_concurrency": 1},                                                    # a nested object incomplete
])
def test_malformed_events_are_refused(data):
    with pytest.raises(EventDecodeError):
        decode_event(data)


def test_non_finite_floats_do_not_travel():
    with pytest.raises(ValueError):
        encode_line({"type": "event", "event": encode_event(events.Notice(float("inf"), "info", "m"))})


def test_only_engine_events_are_encoded():
    with pytest.raises(TypeError):
        encode_event(events.BucketUsage("submit", 1, 2))
