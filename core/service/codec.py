"""Engine events to JSON-ready dicts and back, generically from the dataclasses' type hints.

`encode_event` gives ``{"kind": "<class name>", <field>: <value>, ...}``; `decode_event` turns
it back into the very same frozen dataclass. Nothing here names an event or a field: a new
event type (added to `core.events.Event`) or a new field travels without new code, as long
as its hints are made of the shapes `_encode`/`_decode` know (str, int, float, bool, None,
str/int Enums, dataclasses, tuples, lists, dicts with str keys, unions). A hint of another
shape fails loudly at import, not at the first event.

Forward compatibility: fields the receiver does not know are ignored, fields it expects but
the sender did not send take their defaults, and an unknown kind raises `UnknownEventKind`
(so a newer service can talk to an older face, which skips what it cannot show).

Floats must be finite: JSON has no NaN or infinity, and the wire is strict JSON.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import types
import typing
from typing import Any, Union

from .. import events as _events

NoneType = type(None)


class EventDecodeError(ValueError):
    """A dict that does not describe a valid event of a known kind."""


class UnknownEventKind(EventDecodeError):
    """An event kind this side does not know (a newer peer): skip it."""

    def __init__(self, kind: object) -> None:
        super().__init__(f"unknown event kind {kind!r}")
        self.kind = kind


def _event_types() -> dict[str, type]:
    found = {}
    for cls in typing.get_args(_events.Event):
        assert dataclasses.is_dataclass(cls), cls
        names = {f.name for f in dataclasses.fields(cls)}
        assert "kind" not in names, f"{cls.__name__}.kind would clash with the wire's tag"
        found[cls.__name__] = cls
    return found


EVENT_TYPES: dict[str, type] = _event_types()
"""Every event class of `core.events.Event`, by the name that travels as ``kind``."""

_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        resolved = typing.get_type_hints(cls)
        hints = _HINTS[cls] = {f.name: resolved[f.name] for f in dataclasses.fields(cls)}
    return hints


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (Union, types.UnionType)


def _encode(value: Any, hint: Any) -> Any:
    if value is None:
        return None
    if _is_union(hint):
        for arm in typing.get_args(hint):
            if arm is not NoneType and _matches(value, arm):
                return _encode(value, arm)
        raise TypeError(f"{value!r} matches no arm of {hint}")
    origin = typing.get_origin(hint)
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value):
        return {name: _encode(getattr(value, name), h) for name, h in _hints(type(value)).items()}
    if origin in (tuple, list):
        args = typing.get_args(hint)
        if origin is tuple and args and args[-1] is not Ellipsis:
            return [_encode(v, h) for v, h in zip(value, args, strict=True)]
        item = args[0] if args else Any
        return [_encode(v, item) for v in value]
    if origin is dict:
        _, item = typing.get_args(hint) or (str, Any)
        return {str(k): _encode(v, item) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value!r} cannot travel as JSON")
    return value


def _matches(value: Any, hint: Any) -> bool:
    cls = typing.get_origin(hint) or hint
    if hint is Any:
        return True
    if cls is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if cls is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, cls)


def _decode(data: Any, hint: Any, where: str) -> Any:
    if hint is Any:
        return data
    if hint is NoneType:
        if data is not None:
            raise EventDecodeError(f"{where}: expected null, got {data!r}")
        return None
    if _is_union(hint):
        arms = typing.get_args(hint)
        if data is None and NoneType in arms:
            return None
        errors = []
        for arm in arms:
            if arm is NoneType:
                continue
            try:
                return _decode(data, arm, where)
            except EventDecodeError as exc:
                errors.append(str(exc))
        raise EventDecodeError("; ".join(errors) or f"{where}: no arm of {hint} fits")
    origin = typing.get_origin(hint)
    if origin in (tuple, list):
        if not isinstance(data, list):
            raise EventDecodeError(f"{where}: expected a list, got {type(data).__name__}")
        args = typing.get_args(hint)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(data) != len(args):
                raise EventDecodeError(f"{where}: expected {len(args)} items, got {len(data)}")
            return tuple(_decode(v, h, f"{where}[{i}]") for i, (v, h) in enumerate(zip(data, args)))
        item = args[0] if args else Any
        items = [_decode(v, item, f"{where}[{i}]") for i, v in enumerate(data)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(data, dict):
            raise EventDecodeError(f"{where}: expected an object, got {type(data).__name__}")
        _, item = typing.get_args(hint) or (str, Any)
        return {k: _decode(v, item, f"{where}.{k}") for k, v in data.items()}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(data)
        except ValueError:
            raise EventDecodeError(f"{where}: {data!r} is not a {hint.__name__}") from None
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _decode_dataclass(hint, data, where)
    if hint is float and _matches(data, float):
        return float(data)
    if hint in (int, str, bool) and _matches(data, hint):
        return data
    raise EventDecodeError(f"{where}: expected {getattr(hint, '__name__', hint)}, got {data!r}")


def _decode_dataclass(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise EventDecodeError(f"{where}: expected an object, got {type(data).__name__}")
    values = {}
    for name, hint in _hints(cls).items():
        if name in data:   # absent: the dataclass's default, or a TypeError below
            values[name] = _decode(data[name], hint, f"{where}.{name}")
    try:
        return cls(**values)
    except TypeError as exc:
        raise EventDecodeError(f"{where}: {exc}") from None


def encode_event(event: _events.Event) -> dict[str, Any]:
    """The event as a JSON-ready dict tagged with its ``kind`` (the class name)."""
    kind = type(event).__name__
    if EVENT_TYPES.get(kind) is not type(event):
        raise TypeError(f"{event!r} is not one of core.events.Event")
    return {"kind": kind, **_encode(event, type(event))}


def decode_event(data: dict[str, Any]) -> _events.Event:
    """The event `encode_event` made. EventDecodeError if malformed; UnknownEventKind if new."""
    if not isinstance(data, dict):
        raise EventDecodeError(f"an event is an object, got {type(data).__name__}")
    kind = data.get("kind")
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise UnknownEventKind(kind)
    return _decode_dataclass(cls, data, kind)


def _check_shapes() -> None:
    """Every hint of every event is one the codec knows: fail at import, not at run time."""

    def check(hint: Any, where: str) -> None:
        if _is_union(hint) or typing.get_origin(hint) in (tuple, list, dict):
            for arm in typing.get_args(hint):
                if arm is not Ellipsis:
                    check(arm, where)
        elif isinstance(hint, type) and dataclasses.is_dataclass(hint):
            for name, h in _hints(hint).items():
                check(h, f"{where}.{name}")
        elif isinstance(hint, type) and issubclass(hint, enum.Enum):
            assert all(isinstance(m.value, (str, int)) for m in hint), where
        elif hint not in (str, int, float, bool, NoneType, Any):
            raise TypeError(f"{where}: the service codec cannot carry {hint!r}")

    for name, cls in EVENT_TYPES.items():
        check(cls, name)


_check_shapes()
