"""A dashboard (F34): a named list of reports with their parameters, kept by a manager or
an analyst and filled in when read. Each report is plain data: ``{"report", "params"}``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from crm_es.aggregates.base import Aggregate, Event, Meta, new_event


@dataclass(frozen=True)
class Dashboard(Aggregate):
    name: str
    reports: tuple[dict[str, Any], ...]

    class Saved(Event):
        """No personal fields: report names and their parameters (dates, ids)."""

        name: str
        reports: tuple[dict[str, Any], ...]

    class Changed(Event):
        """The dashboard as it is after the change (a whole snapshot)."""

        name: str
        reports: tuple[dict[str, Any], ...]

    @classmethod
    def evolve(cls, state: Dashboard | None, event: Event) -> Dashboard:
        match event:
            case Dashboard.Saved() | Dashboard.Changed():
                return Dashboard(event.originator_id, event.originator_version, event.name, tuple(event.reports))
        raise TypeError(f"Dashboard cannot apply {type(event).__qualname__}")


def save(dashboard_id: UUID, name: str, reports: list[dict[str, Any]], meta: Meta) -> list[Event]:
    return [new_event(Dashboard.Saved, dashboard_id, 1, meta, name=name, reports=tuple(reports))]


def change(dashboard: Dashboard, name: str, reports: list[dict[str, Any]], meta: Meta) -> list[Event]:
    if (name, tuple(reports)) == (dashboard.name, dashboard.reports):
        return []
    return [dashboard.then(Dashboard.Changed, meta, name=name, reports=tuple(reports))]
