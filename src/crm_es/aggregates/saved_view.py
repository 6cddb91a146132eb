"""A saved view (issue 19): a person's named set of filters for one of the console's lists
(contacts, companies or deals), theirs alone. The person is the actor who saved it (a rep,
or an API key): nobody else sees, changes or removes it.

The filters are plain data, ``{name: value}``, checked at the edge against the list's own
query parameters. No personal data about a contact is kept here: names of filters and the
values the person typed (ids, a status, a stage, search text).
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from crm_es.aggregates.base import Aggregate, Event, Meta, NotFound, new_event

LISTS = ("contacts", "companies", "deals")


@dataclass(frozen=True)
class SavedView(Aggregate):
    saved_by: str  # the actor whose view it is
    list: str
    name: str
    filters: dict[str, str]
    removed: bool = False

    class Saved(Event):
        """A new view; ``saved_by`` is its owner (an actor: ``rep:<id>`` or ``key:<id>``)."""

        saved_by: str
        list: str
        name: str
        filters: dict[str, str]

    class Changed(Event):
        """The view as it is after the change (a whole snapshot of its list, name and filters)."""

        list: str
        name: str
        filters: dict[str, str]

    class Removed(Event):
        """The view is gone from its owner's list (its events stay in the log)."""

    @classmethod
    def evolve(cls, state: SavedView | None, event: Event) -> SavedView:
        match event:
            case SavedView.Saved():
                return SavedView(event.originator_id, event.originator_version, event.saved_by, event.list,
                                 event.name, dict(event.filters))
            case SavedView.Changed() if state is not None:
                return state.moved_on(version=event.originator_version, list=event.list, name=event.name,
                                      filters=dict(event.filters))
            case SavedView.Removed() if state is not None:
                return state.moved_on(version=event.originator_version, removed=True)
        raise TypeError(f"SavedView cannot apply {type(event).__qualname__}")


def save(view_id: UUID, list_name: str, name: str, filters: dict[str, str], meta: Meta) -> list[Event]:
    return [new_event(SavedView.Saved, view_id, 1, meta, saved_by=meta.actor, list=list_name, name=name,
                      filters=dict(filters))]


def theirs(view: SavedView | None, view_id: UUID, actor: str) -> SavedView:
    """The view if it is the actor's and not removed. Another person's view is answered as
    one that does not exist: a view's id tells nothing about whose it is."""
    if view is None or view.removed or view.saved_by != actor:
        raise NotFound("view", view_id)
    return view


def change(view: SavedView, list_name: str, name: str, filters: dict[str, str], meta: Meta) -> list[Event]:
    if (list_name, name, filters) == (view.list, view.name, view.filters):
        return []
    return [view.then(SavedView.Changed, meta, list=list_name, name=name, filters=dict(filters))]


def remove(view: SavedView, meta: Meta) -> list[Event]:
    return [view.then(SavedView.Removed, meta)]
