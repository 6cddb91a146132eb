"""dashboards: each saved dashboard and its reports (JSON)."""

from __future__ import annotations

import orjson

from crm_es.projections.rows import EventRow, Insert, Op, Patch, created, stamp


def _reports(e: EventRow) -> str:
    return orjson.dumps(e.data["reports"]).decode()


def dashboard_saved(e: EventRow) -> list[Op]:
    return [Insert("dashboards", {**created(e), "name": e.data["name"], "reports": _reports(e), "saved_by": e.data["actor"]})]


def dashboard_changed(e: EventRow) -> list[Op]:
    return [Patch("dashboards", e.id, {**stamp(e), "name": e.data["name"], "reports": _reports(e)})]
