"""The record configuration: properties, lists and tag categories (admins change them),
and how the other commands read it with their own records in one round trip."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from crm_es.aggregates import setup as setups
from crm_es.aggregates.base import Aggregate, NotFound
from crm_es.aggregates.setup import SETUP_ID, PropertyDefinition, Setup
from crm_es.commands.context import CommandContext, CommandResult
from crm_es.store import EventStore


def read_setup(ctx: CommandContext, *records: tuple[type[Aggregate], UUID | None, str | None]) -> tuple[Setup, list[Any]]:
    """The configuration in force, and these records (class, id, the body field naming
    it; None for the record the command changes), in one read: 404 naming the field for a
    record that does not exist, or 403 for one a field names out of the actor's reach
    (``CommandContext.check_reference``). An id of None reads as None."""
    wanted = [(cls, record_id) for cls, record_id, _ in records if record_id is not None]
    state, *found = current_setup(ctx.store, wanted)
    loaded = iter(found)
    result = []
    for cls, record_id, field in records:
        record = next(loaded) if record_id is not None else None
        if record_id is not None and field is not None:
            record = ctx.check_reference(cls, record_id, record, field)
        elif record_id is not None and record is None:
            raise NotFound(cls.__name__.lower(), record_id, field)
        result.append(record)
    return state, result


def current_setup(store: EventStore, also: Sequence[tuple[type[Aggregate], UUID]] = ()) -> list[Any]:
    """[the configuration in force, *the records asked for]: one query, which reads only
    the events after the states the store remembers (never behind another process)."""
    setup, *found = store.load_many([(Setup, SETUP_ID), *also])
    return [setups.current(setup), *found]


@dataclass(frozen=True)
class DefineProperty:
    definition: PropertyDefinition
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class RetireProperty:
    record_type: str
    name: str
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class ChangeList:
    name: str  # statuses, sources, lifecycle_stages or contact_roles (Setup's attribute)
    values: tuple[str, ...]
    field: str  # the body field holding the values
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class SetTagCategory:
    category: str
    tags: tuple[str, ...]
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class RemoveTagCategory:
    category: str
    occurred_at: datetime | None = None


def _save(ctx: CommandContext, setup: Setup, events: list[Any]) -> CommandResult:
    return ctx.save(SETUP_ID, events, current_version=setup.version)


def _stored(ctx: CommandContext) -> tuple[Setup, Setup | None]:
    """The configuration in force and, for the decision, what is stored (None: never changed)."""
    [setup] = current_setup(ctx.store)
    ctx.check_version(setup)
    return setup, setup if setup.version else None


def define_property(cmd: DefineProperty, ctx: CommandContext) -> CommandResult:
    setup, stored = _stored(ctx)
    return _save(ctx, setup, setups.define_property(stored, cmd.definition, ctx.meta(cmd.occurred_at)))


def retire_property(cmd: RetireProperty, ctx: CommandContext) -> CommandResult:
    setup, stored = _stored(ctx)
    return _save(ctx, setup, setups.retire_property(stored, cmd.record_type, cmd.name, ctx.meta(cmd.occurred_at)))


def change_list(cmd: ChangeList, ctx: CommandContext) -> CommandResult:
    setup, stored = _stored(ctx)
    return _save(ctx, setup, setups.change_list(stored, cmd.name, cmd.values, ctx.meta(cmd.occurred_at), cmd.field))


def set_tag_category(cmd: SetTagCategory, ctx: CommandContext) -> CommandResult:
    setup, stored = _stored(ctx)
    return _save(ctx, setup, setups.set_tag_category(stored, cmd.category, cmd.tags, ctx.meta(cmd.occurred_at)))


def remove_tag_category(cmd: RemoveTagCategory, ctx: CommandContext) -> CommandResult:
    setup, stored = _stored(ctx)
    return _save(ctx, setup, setups.remove_tag_category(stored, cmd.category, ctx.meta(cmd.occurred_at)))
