"""The kinds of activity a rep plans (F05): each with a label and a colour for the agenda.

One configuration record for the whole CRM (a singleton with a fixed id). Until someone
changes it, the built-in types below hold; the first change records them as a fact
(``Seeded``) before itself, so the log alone says which types exist from then on, even
if the built-in list in this file changes later.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from uuid import NAMESPACE_URL, uuid5

from crm_es.aggregates.base import Aggregate, Event, Meta, new_event

ACTIVITY_TYPES_ID = uuid5(NAMESPACE_URL, "urn:crm-es:settings:activity-types")


@dataclass(frozen=True)
class ActivityType:
    name: str  # what tasks name (`type`); never changes
    label: str
    colour: str  # "#rrggbb", lower case


BUILT_IN = (
    ActivityType("task", "Task", "#607d8b"),
    ActivityType("call", "Call", "#43a047"),
    ActivityType("email", "E-mail", "#1e88e5"),
    ActivityType("meeting_on_site", "Meeting on site", "#8e24aa"),
    ActivityType("meeting_phone", "Phone meeting", "#fb8c00"),
    ActivityType("meeting_video", "Video meeting", "#00acc1"),
    ActivityType("demo", "Demo", "#d81b60"),
    ActivityType("customer_visit", "Customer visit", "#6d4c41"),
)


@dataclass(frozen=True)
class ActivityTypes(Aggregate):
    types: tuple[ActivityType, ...]

    class Seeded(Event):
        """The built-in types as they were when the configuration was first changed."""

        types: tuple[ActivityType, ...]

    class TypeAdded(Event):
        name: str
        label: str
        colour: str

    class TypeChanged(Event):
        name: str
        label: str
        colour: str
        previous_label: str
        previous_colour: str

    def named(self, name: str) -> ActivityType | None:
        return next((t for t in self.types if t.name == name), None)

    @classmethod
    def evolve(cls, state: ActivityTypes | None, event: Event) -> ActivityTypes:
        if isinstance(event, ActivityTypes.Seeded):
            return ActivityTypes(event.originator_id, event.originator_version, tuple(event.types))
        assert state is not None
        state = replace(state, version=event.originator_version)
        match event:
            case ActivityTypes.TypeAdded():
                return replace(state, types=(*state.types, ActivityType(event.name, event.label, event.colour)))
            case ActivityTypes.TypeChanged():
                changed = ActivityType(event.name, event.label, event.colour)
                return replace(state, types=tuple(changed if t.name == event.name else t for t in state.types))
        raise TypeError(f"ActivityTypes cannot apply {type(event).__qualname__}")


def current(state: ActivityTypes | None) -> ActivityTypes:
    """The configuration in force: the built-in one until it was first changed."""
    return state or ActivityTypes(ACTIVITY_TYPES_ID, 0, BUILT_IN)


def default_label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def set_type(state: ActivityTypes | None, name: str, label: str | None, colour: str, meta: Meta) -> list[Event]:
    """Add a type, or change an existing one's label (when given) and colour. Setting what
    is already there records nothing."""
    config = current(state)
    colour = colour.lower()
    seeded = [] if state is not None else [new_event(ActivityTypes.Seeded, config.id, 1, meta, types=config.types)]
    if seeded:
        config = ActivityTypes.evolve(None, seeded[0])
    existing = config.named(name)
    if existing is None:
        return [*seeded, config.then(ActivityTypes.TypeAdded, meta, name=name, label=label or default_label(name), colour=colour)]
    wanted = replace(existing, label=label or existing.label, colour=colour)
    if wanted == existing:
        return []
    return [*seeded, config.then(
        ActivityTypes.TypeChanged, meta, name=name, label=wanted.label, colour=wanted.colour,
        previous_label=existing.label, previous_colour=existing.colour,
    )]
