"""Current state of records: lists with filters, and one record by id."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import duckdb

from crm_es.aggregates.money import money_text
from crm_es.queries.names import REPS, with_names
from crm_es.queries.sql import Filters, Page, fetch, one, page
from crm_es.queries.tasks import with_next_step
from crm_es.queries.visibility import EVERYONE, Visibility


def list_contacts(
    cur: duckdb.DuckDBPyConnection, *, status: str | None = None, owner: UUID | None = None, tag: str | None = None,
    source: str | None = None, company: UUID | None = None, q: str | None = None, limit: int = 50, cursor: str | None = None,
    visible: Visibility = EVERYONE,
) -> Page:
    f = Filters()
    visible.restrict(f)
    f.equal("status", status)
    f.equal("owner_id", owner)
    f.contains("tags", tag)
    f.equal("source", source)
    f.equal("company_id", company)
    f.text(("first_name", "last_name", "email", "job_title", "city"), q)
    return page(cur, "contacts", f, limit, cursor, ("properties",))


def get_contact(cur: duckdb.DuckDBPyConnection, contact_id: UUID) -> dict[str, Any] | None:
    """The customer card: the contact, its counters, its open deals and its next step."""
    contact = with_next_step(cur, one(cur, "contacts", "id", contact_id, ("properties",)), "contact_id")
    if contact is not None:
        row = cur.execute(
            "SELECT count(*) FROM deals WHERE status = 'open' AND list_contains(contact_ids, CAST(? AS UUID))",
            [str(contact_id)],
        ).fetchone()
        contact["open_deals"] = row[0] if row else 0
    return contact


def list_companies(
    cur: duckdb.DuckDBPyConnection, *, sector: str | None = None, q: str | None = None, limit: int = 50, cursor: str | None = None,
) -> Page:
    f = Filters()
    f.equal("sector", sector)
    f.text(("name",), q)
    return page(cur, "companies", f, limit, cursor, ("properties",))


def get_company(cur: duckdb.DuckDBPyConnection, company_id: UUID) -> dict[str, Any] | None:
    return one(cur, "companies", "id", company_id, ("properties",))


def list_deals(
    cur: duckdb.DuckDBPyConnection, *, status: str | None = None, owner: UUID | None = None, stage: str | None = None,
    pipeline: UUID | None = None, source: str | None = None, company: UUID | None = None, q: str | None = None,
    limit: int = 50, cursor: str | None = None, visible: Visibility = EVERYONE,
) -> Page:
    f = Filters()
    visible.restrict(f)
    f.equal("status", status)
    f.equal("owner_id", owner)
    if stage is not None:
        f.clauses.append("lower(stage) = lower(?)")
        f.params.append(stage)
    f.equal("pipeline_id", pipeline)
    f.equal("source", source)
    f.equal("company_id", company)
    f.text(("title",), q)
    found = page(cur, "deals", f, limit, cursor, ("properties",))
    return Page(_shown_deals(cur, found.items), found.next_cursor)


def get_deal(cur: duckdb.DuckDBPyConnection, deal_id: UUID) -> dict[str, Any] | None:
    deal = with_next_step(cur, one(cur, "deals", "id", deal_id, ("properties",)), "deal_id")
    return None if deal is None else _shown_deals(cur, [deal])[0]


def _shown_deals(cur: duckdb.DuckDBPyConnection, deals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Deals as answered: the amount at its currency's scale, the owner's name beside the id."""
    for deal in deals:
        deal["amount"] = money_text(deal["amount"], deal["currency"])
    return with_names(cur, deals, "owner_id", "owner_name", REPS)


def list_reps(cur: duckdb.DuckDBPyConnection, *, team: UUID | None = None, q: str | None = None, limit: int = 50, cursor: str | None = None,
              active: bool | None = None) -> Page:
    f = Filters()
    f.equal("team_id", team)
    f.equal("active", active)
    f.text(("name", "email"), q)
    return page(cur, "reps", f, limit, cursor)


def get_rep(cur: duckdb.DuckDBPyConnection, rep_id: UUID) -> dict[str, Any] | None:
    return one(cur, "reps", "id", rep_id)


def list_teams(cur: duckdb.DuckDBPyConnection, *, limit: int = 50, cursor: str | None = None) -> Page:
    return page(cur, "teams", Filters(), limit, cursor)


def get_team(cur: duckdb.DuckDBPyConnection, team_id: UUID) -> dict[str, Any] | None:
    team = one(cur, "teams", "id", team_id)
    if team is not None:
        team["member_ids"] = [r["id"] for r in fetch(cur, "SELECT id FROM reps WHERE team_id = ? ORDER BY name, id", [str(team_id)])]
    return team


def _stages(cur: duckdb.DuckDBPyConnection, pipeline_id: str) -> list[dict[str, Any]]:
    return fetch(
        cur,
        "SELECT stage_id AS id, name, probability FROM pipeline_stages WHERE pipeline_id = ? ORDER BY sort_order",
        [pipeline_id],
    )


def list_pipelines(cur: duckdb.DuckDBPyConnection, *, limit: int = 50, cursor: str | None = None) -> Page:
    result = page(cur, "pipelines", Filters(), limit, cursor)
    for pipeline in result.items:
        pipeline["stages"] = _stages(cur, pipeline["id"])
    return result


def get_pipeline(cur: duckdb.DuckDBPyConnection, pipeline_id: UUID) -> dict[str, Any] | None:
    pipeline = one(cur, "pipelines", "id", pipeline_id)
    if pipeline is not None:
        pipeline["stages"] = _stages(cur, pipeline["id"])
    return pipeline
