"""Saved views: saved, changed and removed by their owner only (the filters arrive
checked by the edge). Another person's view is not found, whatever the role."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from crm_es.aggregates import saved_view as views
from crm_es.aggregates.saved_view import SavedView
from crm_es.commands.context import CommandContext, CommandResult


@dataclass(frozen=True)
class SaveView:
    list: str
    name: str
    filters: dict[str, str]


@dataclass(frozen=True)
class ChangeView:
    view_id: UUID
    list: str
    name: str
    filters: dict[str, str]


@dataclass(frozen=True)
class RemoveView:
    view_id: UUID


def save_view(cmd: SaveView, ctx: CommandContext) -> CommandResult:
    view_id = ctx.new_id()
    return ctx.save(view_id, views.save(view_id, cmd.list, cmd.name, cmd.filters, ctx.meta()), created=True)


def _own(ctx: CommandContext, view_id: UUID) -> SavedView:
    return ctx.check_version(views.theirs(ctx.store.load(SavedView, view_id), view_id, ctx.actor))


def change_view(cmd: ChangeView, ctx: CommandContext) -> CommandResult:
    view = _own(ctx, cmd.view_id)
    return ctx.save(view.id, views.change(view, cmd.list, cmd.name, cmd.filters, ctx.meta()), current_version=view.version)


def remove_view(cmd: RemoveView, ctx: CommandContext) -> CommandResult:
    view = _own(ctx, cmd.view_id)
    return ctx.save(view.id, views.remove(view, ctx.meta()), current_version=view.version)
