"""reps and teams, and the reps' sales targets."""

from __future__ import annotations

from crm_es.projections.rows import EventRow, Insert, Op, Patch, created, stamp


def rep_added(e: EventRow) -> list[Op]:
    d = e.data
    return [Insert("reps", {**created(e), "name": d["name"], "email": d["email"], "team_id": d["team_id"],
                            "active": True, "deactivated_at": None})]


def rep_joined_team(e: EventRow) -> list[Op]:
    return [Patch("reps", e.id, {**stamp(e), "team_id": e.data["team_id"]})]


def rep_left_team(e: EventRow) -> list[Op]:
    return [Patch("reps", e.id, {**stamp(e), "team_id": None})]


def rep_renamed(e: EventRow) -> list[Op]:
    return [Patch("reps", e.id, {**stamp(e), "name": e.data["name"]})]


def rep_email_changed(e: EventRow) -> list[Op]:
    return [Patch("reps", e.id, {**stamp(e), "email": e.data["email"]})]


def rep_deactivated(e: EventRow) -> list[Op]:
    return [Patch("reps", e.id, {**stamp(e), "active": False, "deactivated_at": e.occurred_at})]


def rep_reactivated(e: EventRow) -> list[Op]:
    return [Patch("reps", e.id, {**stamp(e), "active": True, "deactivated_at": None})]


def team_formed(e: EventRow) -> list[Op]:
    return [Insert("teams", {**created(e), "name": e.data["name"], "manager_id": e.data["manager_id"]})]


def quota_set(e: EventRow) -> list[Op]:
    """Every target stays a row: a report as of a past day (or as known then) finds the one in force."""
    d = e.data
    return [Insert("quotas", {"position": e.position, "rep_id": e.id, "period_start": d["period_start"],
                              "period_end": d["period_end"], "amount": d["amount"], "currency": d["currency"],
                              "set_at": e.occurred_at, "recorded_at": e.recorded_at, "actor": d["actor"]})]
