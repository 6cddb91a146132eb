"""What the automations (policies/) read of the read side: a team's reps, a rep's agenda,
the contacts with a tag, a period's figures per rep… Each a typed function over a DuckDB
cursor, so a policy names what it wants and never holds SQL; the policy runtime hands
the cursor over caught up with the log at least to the event reacted to."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from decimal import Decimal
from typing import NamedTuple
from uuid import UUID

import duckdb

Cursor = duckdb.DuckDBPyConnection


# --- reps and teams ----------------------------------------------------------------------

class ManagedTeam(NamedTuple):
    id: UUID
    name: str
    manager_email: str


class Member(NamedTuple):
    id: UUID
    name: str


def managed_teams(cur: Cursor) -> list[ManagedTeam]:
    """The teams whose manager is active and has an e-mail (a manager who left gets none), by name."""
    rows = cur.execute("SELECT t.id, t.name, m.email FROM teams t JOIN reps m ON m.id = t.manager_id "
                       "WHERE m.email IS NOT NULL AND m.active ORDER BY t.name, t.id").fetchall()
    return [ManagedTeam(*row) for row in rows]


def members(cur: Cursor, team_id: UUID) -> list[Member]:
    """Every rep of the team, active or not, by name."""
    rows = cur.execute("SELECT id, name FROM reps WHERE team_id = ? ORDER BY name, id", [str(team_id)]).fetchall()
    return [Member(*row) for row in rows]


def active_reps(cur: Cursor, team_id: UUID | None) -> list[UUID]:
    """The active reps of the team (None: of every team, and none), oldest first: a round-robin's order."""
    if team_id is None:
        rows = cur.execute("SELECT id FROM reps WHERE active ORDER BY created_at, id").fetchall()
    else:
        rows = cur.execute("SELECT id FROM reps WHERE team_id = ? AND active ORDER BY created_at, id",
                           [str(team_id)]).fetchall()
    return [rep_id for (rep_id,) in rows]


def company_owner(cur: Cursor, company_id: UUID, besides: UUID) -> UUID | None:
    """The active rep owning most of the company's contacts other than ``besides`` (a tie:
    the one whose contact came first), None if no active rep owns any."""
    row = cur.execute("SELECT c.owner_id FROM contacts c JOIN reps r ON r.id = c.owner_id "
                      "WHERE c.company_id = ? AND c.id <> ? AND r.active "
                      "GROUP BY c.owner_id ORDER BY count(*) DESC, min(c.created_at), c.owner_id LIMIT 1",
                      [str(company_id), str(besides)]).fetchone()
    return None if row is None else row[0]


# --- contacts, agendas and visits ----------------------------------------------------------

class OpenVisit(NamedTuple):
    task_id: UUID
    due_at: datetime


def tagged_contacts(cur: Cursor, tag: str) -> list[UUID]:
    """The contacts with the tag and an owner, not forgotten, by id."""
    rows = cur.execute("SELECT id FROM contacts WHERE list_contains(tags, ?) AND owner_id IS NOT NULL "
                       "AND forgotten_at IS NULL ORDER BY id", [tag]).fetchall()
    return [contact_id for (contact_id,) in rows]


def open_visit(cur: Cursor, contact_id: UUID, activity_type: str) -> OpenVisit | None:
    """The contact's first open task of that type (the soonest due), if any."""
    row = cur.execute("SELECT id, due_at FROM tasks WHERE contact_id = ? AND type = ? AND status = 'open' "
                      "ORDER BY due_at, id LIMIT 1", [str(contact_id), activity_type]).fetchone()
    return None if row is None else OpenVisit(*row)


def busy_slots(cur: Cursor, rep_id: UUID, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The rep's agenda: (start, end) of each open task due in [start, end) — 30 minutes when it has no duration."""
    rows = cur.execute("SELECT due_at, coalesce(duration_minutes, 30) FROM tasks WHERE owner_id = ? "
                       "AND status = 'open' AND due_at >= ? AND due_at < ?", [str(rep_id), start, end]).fetchall()
    return [(due_at, due_at + timedelta(minutes=minutes)) for due_at, minutes in rows]


def first_page_visits(cur: Cursor, contact_ids: Collection[UUID]) -> dict[UUID, int]:
    """The version of each contact's first page visit, for those who visited one: one query
    for a batch of reactions (``visited_before`` for many)."""
    if not contact_ids:
        return {}
    rows = cur.execute("SELECT contact_id, min(version) FROM interactions WHERE type = 'page_visited' "
                       "AND contact_id IN (SELECT unnest(?::UUID[])) GROUP BY contact_id",
                       [[str(c) for c in contact_ids]]).fetchall()
    return {UUID(str(contact_id)): version for contact_id, version in rows}


def visited_before(cur: Cursor, contact_id: UUID, version: int) -> bool:
    """Whether the contact visited a page in an earlier version of their interactions than ``version``."""
    return cur.execute("SELECT 1 FROM interactions WHERE contact_id = ? AND type = 'page_visited' AND version < ? "
                       "LIMIT 1", [str(contact_id), version]).fetchone() is not None


# --- a period's figures per rep (business time, [start, end)) --------------------------------

class Activity(NamedTuple):
    rep_id: UUID
    type: str  # call (outbound only), email_sent, email_received or meeting_held
    count: int


class Closed(NamedTuple):
    owner_id: UUID
    status: str  # won or lost
    currency: str
    count: int
    amount: Decimal


class Done(NamedTuple):
    owner_id: UUID
    count: int


class Retention(NamedTuple):
    owner_id: UUID
    customers: int  # at the start
    kept: int  # of those, still customers at the end


def activity_by_rep(cur: Cursor, start: datetime, end: datetime) -> list[Activity]:
    """Calls made (outbound), e-mails sent and received, meetings held: how many of each per rep."""
    rows = cur.execute(
        "SELECT rep_id, type, count(*) FROM interactions WHERE occurred_at >= ? AND occurred_at < ? "
        "AND rep_id IS NOT NULL AND (type IN ('email_sent', 'email_received', 'meeting_held') "
        "OR (type = 'call' AND coalesce(direction, 'outbound') = 'outbound')) GROUP BY rep_id, type",
        [start, end]).fetchall()
    return [Activity(*row) for row in rows]


def closed_by_owner(cur: Cursor, start: datetime, end: datetime) -> list[Closed]:
    """Deals closed (won or lost) per owner, status and currency: how many, and their amounts."""
    rows = cur.execute(
        "SELECT owner_id, status, currency, count(*), sum(amount) FROM deals WHERE status IN ('won', 'lost') "
        "AND closed_at >= ? AND closed_at < ? GROUP BY owner_id, status, currency", [start, end]).fetchall()
    return [Closed(*row) for row in rows]


def tasks_done_by_owner(cur: Cursor, start: datetime, end: datetime) -> list[Done]:
    """How many tasks each owner marked done."""
    rows = cur.execute("SELECT owner_id, count(*) FROM tasks WHERE status = 'done' AND done_at >= ? AND done_at < ? "
                       "GROUP BY owner_id", [start, end]).fetchall()
    return [Done(*row) for row in rows]


CUSTOMER = "lifecycle IN ('active', 'loyal')"  # a customer, in the contacts' history


def retention_by_owner(cur: Cursor, start: datetime, end: datetime) -> list[Retention]:
    """Each rep's customers (lifecycle active or loyal) at ``start``, and how many of them
    still are at ``end`` — from the contacts' history, as of each moment."""
    rows = cur.execute(
        f"SELECT s.owner_id, count(*), count(e.contact_id) FROM contact_history s "
        f"LEFT JOIN contact_history e ON e.contact_id = s.contact_id AND e.valid_from <= ? "
        f"AND (e.valid_to IS NULL OR e.valid_to > ?) AND e.{CUSTOMER} "
        f"WHERE s.valid_from <= ? AND (s.valid_to IS NULL OR s.valid_to > ?) AND s.{CUSTOMER} "
        f"AND s.owner_id IS NOT NULL GROUP BY s.owner_id", [end, end, start, start]).fetchall()
    return [Retention(*row) for row in rows]
