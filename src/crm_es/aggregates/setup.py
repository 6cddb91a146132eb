"""The CRM's record configuration (F04, F08, F10–F12, F16): custom properties per record
type, and the lists records choose from — statuses, sources, lifecycle stages, tag
categories, the roles a contact may hold at a company.

One record for the whole CRM (a singleton with a fixed id). Until someone changes it
the built-in defaults below hold; the first change records them as a fact (``Seeded``)
before itself, so the log alone says what was allowed from then on, even if the
defaults in this file change later. Nothing here is about a person: no event holds
personal data. What a record's values must be is decided in ``record_values``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from uuid import NAMESPACE_URL, uuid5

from crm_es.aggregates.base import Aggregate, Decision, Event, InvalidInput, Meta, NotFound
from crm_es.aggregates.money import CURRENCIES

SETUP_ID = uuid5(NAMESPACE_URL, "urn:crm-es:settings:records")

RECORD_TYPES = ("contact", "company", "deal")
PROPERTY_TYPES = ("text", "number", "money", "date", "boolean", "choice", "multi_choice")
CHOICE_TYPES = ("choice", "multi_choice")

DEFAULT_STATUSES = ("lead", "prospect", "hot prospect", "cold prospect", "customer", "former customer", "competitor")
DEFAULT_SOURCES = ("trade show", "referral", "web form", "website", "e-shop", "social network", "ads")
DEFAULT_LIFECYCLE_STAGES = ("potential", "active", "loyal", "lost")
DEFAULT_CONTACT_ROLES = ("decision maker", "billing contact", "technical contact", "influencer", "user")


@dataclass(frozen=True)
class TagCategory:
    name: str
    tags: tuple[str, ...]


DEFAULT_TAG_CATEGORIES = (TagCategory("potential", ("Gold", "Silver", "Bronze")),)


@dataclass(frozen=True)
class PropertyDefinition:
    record_type: str  # contact, company or deal
    name: str  # the key in the record's `properties`
    type: str  # one of PROPERTY_TYPES
    required: bool = False  # a record cannot be created without it
    choices: tuple[str, ...] = ()  # choice and multi_choice only
    default_currency: str | None = None  # money only: the currency of an amount given alone


@dataclass(frozen=True)
class Setup(Aggregate):
    properties: tuple[PropertyDefinition, ...]  # the live ones; a retired property is gone
    statuses: tuple[str, ...]
    sources: tuple[str, ...]
    lifecycle_stages: tuple[str, ...]
    contact_roles: tuple[str, ...]
    tag_categories: tuple[TagCategory, ...]

    class Seeded(Event):
        """The defaults as they were when the configuration was first changed."""

        statuses: tuple[str, ...]
        sources: tuple[str, ...]
        lifecycle_stages: tuple[str, ...]
        contact_roles: tuple[str, ...]
        tag_categories: tuple[TagCategory, ...]

    class PropertyDefined(Event):
        record_type: str
        name: str
        type: str
        required: bool
        choices: tuple[str, ...]
        default_currency: str | None

    class PropertyChanged(Event):
        """The property's whole definition after the change."""

        record_type: str
        name: str
        type: str
        required: bool
        choices: tuple[str, ...]
        default_currency: str | None

    class PropertyRetired(Event):
        """No longer offered nor checked; values already on records stay as they were."""

        record_type: str
        name: str

    # A list replaced as a whole: the new list in order, and what it added and removed.
    class StatusesChanged(Event):
        values: tuple[str, ...]
        added: tuple[str, ...]
        removed: tuple[str, ...]

    class SourcesChanged(Event):
        values: tuple[str, ...]
        added: tuple[str, ...]
        removed: tuple[str, ...]

    class LifecycleStagesChanged(Event):
        values: tuple[str, ...]
        added: tuple[str, ...]
        removed: tuple[str, ...]

    class ContactRolesChanged(Event):
        values: tuple[str, ...]
        added: tuple[str, ...]
        removed: tuple[str, ...]

    class TagCategoryChanged(Event):
        """A category's tags after the change (a new category: all of them added)."""

        category: str
        tags: tuple[str, ...]
        added: tuple[str, ...]
        removed: tuple[str, ...]

    class TagCategoryRemoved(Event):
        category: str
        tags: tuple[str, ...]

    def property_named(self, record_type: str, name: str) -> PropertyDefinition | None:
        return next((p for p in self.properties if (p.record_type, p.name) == (record_type, name)), None)

    def properties_of(self, record_type: str) -> tuple[PropertyDefinition, ...]:
        return tuple(p for p in self.properties if p.record_type == record_type)

    def category_of(self, tag: str) -> str | None:
        return next((c.name for c in self.tag_categories if tag in c.tags), None)

    @classmethod
    def evolve(cls, state: Setup | None, event: Event) -> Setup:
        state = replace(state or current(None), version=event.originator_version)
        match event:
            case Setup.Seeded():
                lists = {name: tuple(getattr(event, name)) for name in LISTS}
                return replace(state, **lists, tag_categories=tuple(event.tag_categories))
            case Setup.PropertyDefined() | Setup.PropertyChanged():
                definition = PropertyDefinition(
                    event.record_type, event.name, event.type, event.required, tuple(event.choices), event.default_currency
                )
                others = tuple(p for p in state.properties if (p.record_type, p.name) != (event.record_type, event.name))
                return replace(state, properties=(*others, definition))
            case Setup.PropertyRetired():
                kept = tuple(p for p in state.properties if (p.record_type, p.name) != (event.record_type, event.name))
                return replace(state, properties=kept)
            case Setup.TagCategoryChanged():
                category = TagCategory(event.category, tuple(event.tags))
                if any(c.name == event.category for c in state.tag_categories):
                    categories = tuple(category if c.name == event.category else c for c in state.tag_categories)
                else:
                    categories = (*state.tag_categories, category)
                return replace(state, tag_categories=categories)
            case Setup.TagCategoryRemoved():
                return replace(state, tag_categories=tuple(c for c in state.tag_categories if c.name != event.category))
        for name, event_class in LISTS.items():
            if isinstance(event, event_class):
                return replace(state, **{name: tuple(event.values)})
        raise TypeError(f"Setup cannot apply {type(event).__qualname__}")


# The lists replaced as a whole, by the state's attribute: the event that records a change.
LISTS: dict[str, type[Event]] = {
    "statuses": Setup.StatusesChanged,
    "sources": Setup.SourcesChanged,
    "lifecycle_stages": Setup.LifecycleStagesChanged,
    "contact_roles": Setup.ContactRolesChanged,
}


def current(state: Setup | None) -> Setup:
    """The configuration in force: the defaults until it was first changed."""
    return state or Setup(
        SETUP_ID, 0, (), DEFAULT_STATUSES, DEFAULT_SOURCES, DEFAULT_LIFECYCLE_STAGES, DEFAULT_CONTACT_ROLES,
        DEFAULT_TAG_CATEGORIES,
    )


def _decide(state: Setup | None, meta: Meta, changes: Callable[[Decision], None]) -> list[Event]:
    """The events of a change; the first change is preceded by ``Seeded``. A change that
    changes nothing records nothing (not even the seed)."""
    config = current(state)
    trial = Decision(config, meta)
    changes(trial)
    if not trial.events or config.version > 0:
        return trial.events
    decision = Decision(config, meta)
    decision.emit(
        Setup.Seeded, **{name: getattr(config, name) for name in LISTS}, tag_categories=config.tag_categories
    )
    changes(decision)
    return decision.events


def _distinct(values: tuple[str, ...], field: str) -> None:
    seen: set[str] = set()
    for i, value in enumerate(values):
        if value.casefold() in seen:
            raise InvalidInput(f"{field}[{i}]", f"{value!r} is given twice")
        seen.add(value.casefold())


def define_property(state: Setup | None, definition: PropertyDefinition, meta: Meta) -> list[Event]:
    """Define a property, or change its definition; the same definition again records nothing."""
    _check_definition(definition)
    existing = current(state).property_named(definition.record_type, definition.name)
    if existing == definition:
        return []
    event_class = Setup.PropertyDefined if existing is None else Setup.PropertyChanged
    fields = {**definition.__dict__, "choices": tuple(definition.choices)}
    return _decide(state, meta, lambda d: d.emit(event_class, **fields))


def _check_definition(definition: PropertyDefinition) -> None:
    if definition.type in CHOICE_TYPES:
        if not definition.choices:
            raise InvalidInput("choices", f"a {definition.type} property needs its choices")
        _distinct(definition.choices, "choices")
    elif definition.choices:
        raise InvalidInput("choices", f"only choice and multi_choice properties have choices, not {definition.type}")
    if definition.default_currency is not None:
        if definition.type != "money":
            raise InvalidInput("default_currency", f"only money properties have a default currency, not {definition.type}")
        if definition.default_currency not in CURRENCIES:
            raise InvalidInput("default_currency", f"{definition.default_currency!r} is not an ISO 4217 currency code")


def retire_property(state: Setup | None, record_type: str, name: str, meta: Meta) -> list[Event]:
    if current(state).property_named(record_type, name) is None:
        raise NotFound("property", f"{record_type}/{name}")
    return _decide(state, meta, lambda d: d.emit(Setup.PropertyRetired, record_type=record_type, name=name))


def change_list(state: Setup | None, name: str, values: tuple[str, ...], meta: Meta, field: str) -> list[Event]:
    """Replace one of the lists (``name`` as in ``LISTS``). Records keep a value the list
    no longer has; only new values are checked against it."""
    _distinct(values, field)
    before: tuple[str, ...] = getattr(current(state), name)
    if values == before:
        return []
    added = tuple(v for v in values if v not in before)
    removed = tuple(v for v in before if v not in values)
    return _decide(state, meta, lambda d: d.emit(LISTS[name], values=values, added=added, removed=removed))


def set_tag_category(state: Setup | None, category: str, tags: tuple[str, ...], meta: Meta) -> list[Event]:
    """A category's tags, in order. A tag belongs to one category at most, so that a
    contact's tag says which category it is in."""
    _distinct(tags, "tags")
    config = current(state)
    for i, tag in enumerate(tags):
        other = config.category_of(tag)
        if other is not None and other != category:
            raise InvalidInput(f"tags[{i}]", f"tag {tag!r} is already in category {other!r}")
    before = next((c.tags for c in config.tag_categories if c.name == category), None)
    if before == tags:
        return []
    added = tuple(t for t in tags if t not in (before or ()))
    removed = tuple(t for t in before or () if t not in tags)
    return _decide(
        state, meta, lambda d: d.emit(Setup.TagCategoryChanged, category=category, tags=tags, added=added, removed=removed)
    )


def remove_tag_category(state: Setup | None, category: str, meta: Meta) -> list[Event]:
    """The category goes; contacts keep their tags (tags are free: a category groups them)."""
    found = next((c for c in current(state).tag_categories if c.name == category), None)
    if found is None:
        raise NotFound("tag category", category)
    return _decide(state, meta, lambda d: d.emit(Setup.TagCategoryRemoved, category=category, tags=found.tags))
