"""Current state of records: lists with filters, and one record by id."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import duckdb

from crm_es.aggregates.money import money_text
from crm_es.projections.read_side import READ_SIDE
from crm_es.queries.names import REPS, with_names
from crm_es.queries.sql import Filters, Page, fetch, jsonable, one, page
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


# The card, whether its owner is in the reader's reach (as Visibility.sees asks it) and
# the read side's position, in ONE statement: one moment of the read side (no transaction to
# open and close), and one call into DuckDB instead of three — each costs a fixed ~0.3 ms.
# Subqueries on the parameter ($1), not on c.id: DuckDB runs a correlated one far slower.
_CARD = """
SELECT c.*,
  (SELECT count(*) FROM deals WHERE status = 'open' AND list_contains(contact_ids, CAST($1 AS UUID))) AS open_deals,
  (SELECT {{'id': id, 'type': type, 'title': title, 'due_at': due_at, 'owner_id': owner_id}} FROM tasks
   WHERE contact_id = $1 AND status = 'open' ORDER BY due_at, id LIMIT 1) AS _next_step,
  {reach} AS _in_reach,
  (SELECT position FROM projection_positions WHERE name = '{read_side}') AS _position
FROM contacts c WHERE c.id = $1
"""


def get_contact_card(cur: duckdb.DuckDBPyConnection, contact_id: UUID,
                     visible: Visibility = EVERYONE) -> tuple[dict[str, Any] | None, bool, int]:
    """The customer card as `get_contact` gives it, whether ``visible`` reaches its owner,
    and the read-side position both are at (0 when there is no such contact)."""
    reach = visible.clause("id")
    # $1 is the contact; the reach's own parameters follow it.
    in_reach = "TRUE" if reach is None else f"EXISTS (SELECT 1 FROM reps WHERE id = c.owner_id AND {_numbered(reach[0], 2)})"
    sql = _CARD.format(reach=in_reach, read_side=READ_SIDE)
    rows = fetch(cur, sql, [str(contact_id), *(reach[1] if reach else [])], ("properties",))
    if not rows:
        return None, False, 0
    card = rows[0]
    step = card.pop("_next_step")
    card["next_step"] = None if step is None else {k: jsonable(v) for k, v in step.items()}
    in_reach, position = card.pop("_in_reach"), card.pop("_position")
    return card, bool(in_reach), position


def _numbered(sql: str, first: int) -> str:
    """``?`` placeholders as $first, $first+1 … (a statement cannot mix the two styles)."""
    parts = sql.split("?")
    return "".join(part + (f"${first + i}" if i < len(parts) - 1 else "") for i, part in enumerate(parts))


def get_contact_owner(cur: duckdb.DuckDBPyConnection, contact_id: UUID) -> dict[str, Any] | None:
    """Only whose the contact is (``owner_id``), or None if there is none: what a read of
    something else of the contact checks its reach with, without the card's three queries."""
    row = cur.execute("SELECT CAST(owner_id AS VARCHAR) FROM contacts WHERE id = ?", [str(contact_id)]).fetchone()
    return None if row is None else {"owner_id": row[0]}


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
    limit: int = 50, cursor: str | None = None, visible: Visibility = EVERYONE, contact: UUID | None = None,
) -> Page:
    f = Filters()
    visible.restrict(f)
    if contact is not None:  # a contact's deals (its page)
        f.clauses.append("list_contains(contact_ids, CAST(? AS UUID))")
        f.params.append(str(contact))
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


def pipeline_exists(cur: duckdb.DuckDBPyConnection, pipeline_id: UUID) -> bool:
    """Whether there is such a pipeline: what its board checks first (404), without its stages."""
    return cur.execute("SELECT count(*) FROM pipelines WHERE id = ?", [str(pipeline_id)]).fetchone() == (1,)


def get_pipeline(cur: duckdb.DuckDBPyConnection, pipeline_id: UUID) -> dict[str, Any] | None:
    pipeline = one(cur, "pipelines", "id", pipeline_id)
    if pipeline is not None:
        pipeline["stages"] = _stages(cur, pipeline["id"])
    return pipeline
