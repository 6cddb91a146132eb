"""Events as plain JSON: readable by an auditor with SQL, exact for Decimal, UUID and times.

The library's JSON transcoder wraps custom types (``{"_type_": "decimal_str", ...}``);
we store plain values instead and restore the types from each event class's field
annotations when an event is read back.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from decimal import Decimal
from functools import cache
from typing import Any

import orjson
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder
from eventsourcing.utils import get_topic, resolve_topic
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


# A sealed personal value in the stored JSON (see crm_es.store.personal).
TOKEN = "$sealed"


def is_token(value: Any) -> bool:
    return type(value) is dict and len(value) == 1 and TOKEN in value


def upcast(cls: type, state: dict[str, Any]) -> dict[str, Any]:
    """Bring a stored state of an older class version to the current shape (in place),
    through the class's ``upcast_vN_vN+1`` steps: the library's convention, here also
    for the projector, which reads stored JSON without the library's mapper."""
    current = getattr(cls, "class_version", 1)
    version = state.pop("class_version", 1)
    while version < current:
        getattr(cls, f"upcast_v{version}_v{version + 1}")(state)
        version += 1
    return state


@cache
def event_class(topic: str) -> type:
    return resolve_topic(topic)


class TypedMapper(Mapper):
    """The library's mapper (topics, class versions) plus types restored from annotations.

    Reading is split in two so that the store can open sealed personal fields in
    between: ``state_of`` (decode and upcast) and ``build`` (the typed event). A personal
    field that is null (erased) or still sealed is left as it is.
    """

    def state_of(self, stored_event: StoredEvent) -> tuple[type, dict[str, Any]]:
        cls = event_class(stored_event.topic)
        return cls, upcast(cls, self.transcoder.decode(stored_event.state))

    def build(self, cls: type, stored_event: StoredEvent, state: dict[str, Any]) -> Any:
        personal = getattr(cls, "personal_fields", ())
        for name, adapter in _adapters(cls).items():
            if name in state:
                value = state[name]
                if name in personal and (value is None or is_token(value)):
                    continue
                state[name] = adapter.validate_python(value)
        state["originator_id"] = stored_event.originator_id
        state["originator_version"] = stored_event.originator_version
        event = object.__new__(cls)
        object.__setattr__(event, "__dict__", state)
        return event

    def to_stored_event(self, domain_event: Any, seal: Callable[[type, dict[str, Any]], None] | None = None) -> StoredEvent:
        """The library's conversion, in one copy of the event's fields: ``seal`` replaces
        the personal values in that copy (see crm_es.store.personal)."""
        if self.compressor or self.cipher:  # not ours: the library's own path
            return super().to_stored_event(domain_event)
        cls = type(domain_event)
        state = dict(domain_event.__dict__)
        if seal is not None:
            seal(cls, state)
        originator_id, originator_version = state.pop("originator_id"), state.pop("originator_version")
        class_version = getattr(cls, "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        # Built as events are (no dataclass __init__): a tracking batch makes 10,000.
        stored = object.__new__(StoredEvent)
        object.__setattr__(stored, "__dict__", {"originator_id": originator_id, "originator_version": originator_version,
                                                "topic": get_topic(cls), "state": self.transcoder.encode(state)})
        return stored

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        cls, state = self.state_of(stored_event)
        return self.build(cls, stored_event, state)
