"""Events as plain JSON: readable by an auditor with SQL, exact for Decimal, UUID and times.

The library's JSON transcoder wraps custom types (``{"_type_": "decimal_str", ...}``);
we store plain values instead and restore the types from each event class's field
annotations when an event is read back.
"""

from __future__ import annotations

import typing
from decimal import Decimal
from functools import cache
from typing import Any

import orjson
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder
from pydantic import TypeAdapter


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot store {type(value).__name__} in an event")


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default)


class OrjsonTranscoder(Transcoder):
    def encode(self, obj: Any) -> bytes:
        return dumps(obj)

    def decode(self, data: bytes) -> Any:
        return orjson.loads(data)


# Fields the mapper fills from the stored event's columns, not from its JSON.
_ENVELOPE = frozenset({"originator_id", "originator_version"})


@cache
def _adapters(cls: type) -> dict[str, TypeAdapter[Any]]:
    hints = typing.get_type_hints(cls)
    return {name: TypeAdapter(hint) for name, hint in hints.items() if name not in _ENVELOPE and not name.startswith("_")}


class TypedMapper(Mapper):
    """The library's mapper (topics, upcasting) plus types restored from annotations."""

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        event = super().to_domain_event(stored_event)
        state = vars(event)
        for name, adapter in _adapters(type(event)).items():
            if name in state:
                state[name] = adapter.validate_python(state[name])
        return event
