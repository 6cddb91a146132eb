"""companies and contacts."""

from __future__ import annotations

from typing import Any

import orjson

from crm_es.projections.interactions import NO_ACTIVITY
from crm_es.projections.rows import EventRow, Insert, Op, Patch, created, stamp

CONTACT_DETAILS = ("first_name", "last_name", "email", "phone", "job_title", "company_id", "city", "source", "tags")


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _company(d: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": d["name"],
        "sector": d["sector"],
        "annual_revenue": d["annual_revenue"],
        "properties": _json(d["properties"]),
    }


def _contact_details(d: dict[str, Any]) -> dict[str, Any]:
    return {**{name: d[name] for name in CONTACT_DETAILS}, "properties": _json(d["properties"])}


def company_registered(e: EventRow) -> list[Op]:
    return [Insert("companies", {**created(e), **_company(e.data)})]


def company_changed(e: EventRow) -> list[Op]:
    return [Patch("companies", e.id, {**stamp(e), **_company(e.data)})]


def contact_registered(e: EventRow) -> list[Op]:
    d = e.data
    row = {**created(e), **NO_ACTIVITY, **_contact_details(d), "status": d["status"], "owner_id": d["owner_id"]}
    return [Insert("contacts", row)]


def contact_changed(e: EventRow) -> list[Op]:
    return [Patch("contacts", e.id, {**stamp(e), **_contact_details(e.data)})]


def contact_status_changed(e: EventRow) -> list[Op]:
    return [Patch("contacts", e.id, {**stamp(e), "status": e.data["status"]})]


def contact_owner_changed(e: EventRow) -> list[Op]:
    return [Patch("contacts", e.id, {**stamp(e), "owner_id": e.data["owner_id"]})]
