"""Saved dashboards (F34): one filled in (each of its reports run for the reader: GET
/dashboards/{id} and the console's page), and the list of them (the read side's
``dashboards`` table, newest change first: there is no ``GET /dashboards`` route)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import duckdb

from crm_es.aggregates.base import DomainError
from crm_es.queries.analytics.reports import REPORTS
from crm_es.queries.sql import fetch, one
from crm_es.queries.visibility import Visibility

LARGEST = 500  # a console list, not an export: the newest saved are the ones looked for

_LIST = ("SELECT CAST(id AS VARCHAR) AS id, name, saved_by, created_at, updated_at, version, "
         "json_array_length(reports) AS reports FROM dashboards ORDER BY updated_at DESC, id LIMIT ?")


def list_dashboards(cur: duckdb.DuckDBPyConnection, limit: int = LARGEST) -> list[dict[str, Any]]:
    """Each dashboard: id, name, who saved it first (``saved_by``, an actor: ``rep:<id>``,
    ``key:<id>`` or ``dev``), when it was saved and last changed, how many reports it holds."""
    return fetch(cur, _LIST, [limit])


def get_dashboard(cur: duckdb.DuckDBPyConnection, dashboard_id: UUID) -> dict[str, Any] | None:
    return one(cur, "dashboards", "id", dashboard_id, ("reports",))


def run_reports(cur: duckdb.DuckDBPyConnection, dashboard: dict[str, Any], visible: Visibility, now: datetime,
                moment: dict[str, str | None] | None = None) -> list[dict[str, Any]]:
    """Each report of the dashboard, run as the reader may see it: ``{report, params,
    result}``, or ``{report, params, error}`` with the DomainError that stopped it (its
    pipeline gone). ``moment`` (``as_of``, ``known_at``) replaces each report's own: the
    dashboard as it stood then (the console's time travel)."""
    filled = []
    for item in dashboard["reports"]:
        report = REPORTS[item["report"]]
        params = {**item["params"], **(moment or {})}
        try:
            filled.append({**item, "params": params,
                           "result": report.run(cur, report.params.model_validate(params), visible, now)})
        except DomainError as error:
            filled.append({**item, "params": params, "error": error})
    return filled
