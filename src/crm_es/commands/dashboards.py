"""Dashboards: saved and changed as a whole (the reports arrive checked by the edge)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from crm_es.aggregates import dashboard as dashboards
from crm_es.aggregates.dashboard import Dashboard
from crm_es.commands.context import CommandContext, CommandResult


@dataclass(frozen=True)
class SaveDashboard:
    name: str
    reports: list[dict[str, Any]]


@dataclass(frozen=True)
class ChangeDashboard:
    dashboard_id: UUID
    name: str
    reports: list[dict[str, Any]]


def save_dashboard(cmd: SaveDashboard, ctx: CommandContext) -> CommandResult:
    dashboard_id = ctx.new_id()
    return ctx.save(dashboard_id, dashboards.save(dashboard_id, cmd.name, cmd.reports, ctx.meta()), created=True)


def change_dashboard(cmd: ChangeDashboard, ctx: CommandContext) -> CommandResult:
    dashboard = ctx.target(Dashboard, cmd.dashboard_id)
    events = dashboards.change(dashboard, cmd.name, cmd.reports, ctx.meta())
    return ctx.save(dashboard.id, events, current_version=dashboard.version)
