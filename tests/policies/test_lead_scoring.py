"""Lead scoring and the hand-over to a rep (F18), through HTTP and the policy runner, on
SQLite and PostgreSQL: points per page, behaviour and profile field, each change saying
why; the threshold crossed once hands the lead over (its company's owner, or the next rep
of a team in turn) with a task to call it, exactly once; the score as of any past date."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient

from crm_es.aggregates.contact import Contact
from crm_es.aggregates.lead_score import (
    LeadHandedToRep,
    LeadScoreChanged,
    lead_score_id,
)
from crm_es.bootstrap import Services
from crm_es.clock import FrozenClock
from crm_es.policies.lead_scoring import LeadScoring
from crm_es.policies.runtime import PolicyRunner
from crm_es.projections.read_side import ReadSide
from crm_es.projections.runner import Projector
from tests.http.helpers import assert_problem, ok, read

POLICY = "lead-scoring"
T0 = datetime(2026, 2, 1, 10, 0, tzinfo=timezone.utc)  # before the test clock's now (2026-03-01 09:00)
unique = itertools.count()

# Small, explicit settings: each test says what it scores.
RULES: dict[str, Any] = {
    "pages": [{"pattern": "*/pricing*", "points": 10}, {"match": "regex", "pattern": r"/blog/[a-z-]+$", "points": 2}],
    "behaviours": {"email_opened": 1, "email_clicked": 5, "quote_opened": 15, "return_visit": 3},
}


def switch(client: TestClient, enabled: bool = True, **settings: Any) -> dict[str, Any]:
    return ok(client.put(f"/policies/{POLICY}", json={"enabled": enabled, "settings": {**RULES, **settings}}), 200)


def rep(client: TestClient, name: str, team_id: str | None = None) -> str:
    body = {"name": name, "email": f"{name.lower()}{next(unique)}@crm.example", "team_id": team_id}
    return ok(client.post("/reps", json=body))["id"]


def contact(client: TestClient, **fields: Any) -> str:
    body = {"first_name": "Jean", "last_name": "Dupont", "email": f"jean{next(unique)}@acme.example", **fields}
    return ok(client.post("/contacts", json=body))["id"]


def interaction(client: TestClient, contact_id: str, kind: str, at: datetime | None = None, **fields: Any) -> dict[str, Any]:
    body = {"type": kind, **fields}
    if at is not None:
        body["occurred_at"] = at.isoformat()
    return ok(client.post(f"/contacts/{contact_id}/interactions", json=body))


def visit(client: TestClient, contact_id: str, url: str, at: datetime | None = None) -> dict[str, Any]:
    return interaction(client, contact_id, "page_visited", at, url=url)


def score(client: TestClient, services: Services, contact_id: str, as_of: datetime | None = None) -> dict[str, Any]:
    path = f"/contacts/{contact_id}/score"
    if as_of is not None:
        path += f"?as_of={as_of.isoformat().replace('+', '%2B')}"
    return read(client, path, services.store.max_position())


def lead_events(services: Services, contact_id: str) -> list[Any]:
    return services.store.events(lead_score_id(UUID(contact_id)))


def tasks_of(client: TestClient, services: Services, rep_id: str) -> list[dict[str, Any]]:
    return read(client, f"/tasks?rep={rep_id}", services.store.max_position())["items"]


def owner_of(client: TestClient, services: Services, contact_id: str) -> str | None:
    return read(client, f"/contacts/{contact_id}", services.store.max_position())["owner_id"]


def hand_overs(services: Services, contact_id: str) -> list[LeadHandedToRep]:
    return [e for e in lead_events(services, contact_id) if isinstance(e, LeadHandedToRep)]


# --- points, each explained -------------------------------------------------------------


def test_pages_behaviours_and_profile_give_points_each_change_saying_why(
        client: TestClient, services: Services) -> None:
    company = ok(client.post("/companies", json={"name": "Acme", "sector": "Retail"}))["id"]
    jean = contact(client, job_title="CEO", company_id=company, city="Lyon")
    switch(client, threshold=1000, profile=[
        {"field": "job_title", "equals": "ceo", "points": 20},  # strings compare ignoring case
        {"field": "company.sector", "in": ["Retail", "Energy"], "points": 7},
        {"field": "city", "equals": "Paris", "points": 50},  # not this contact's
    ])
    # A URL may name the person: no event of the score may copy it.
    pricing = visit(client, jean, "https://acme.example/pricing?email=jean.dupont@acme.example", T0)
    clicked = interaction(client, jean, "email_clicked", T0 + timedelta(minutes=5), link="https://acme.example/offer")
    quote = interaction(client, jean, "quote_opened", T0 + timedelta(minutes=6), quote_id="Q-1")
    opened = interaction(client, jean, "email_opened", T0 + timedelta(minutes=7))
    blog = visit(client, jean, "https://acme.example/blog/fleet-care", T0 + timedelta(hours=2))  # a new session
    visit(client, jean, "https://acme.example/about", T0 + timedelta(hours=2, minutes=1))  # no rule: no points
    services.policies.run_once()
    services.policies.run_once()  # a second round finds nothing new

    answer = score(client, services, jean)
    assert answer["score"] == 10 + 20 + 7 + 5 + 15 + 1 + 2 + 3
    explained = [(c["reason"], c["rule"], c["points"], c["score"], c["cause"]) for c in reversed(answer["changes"])]
    cause = f"{jean}:{{}}".format
    assert explained == [
        ("page", "*/pricing*", 10, 10, cause(pricing["version"])),
        ("profile", "job_title=ceo", 20, 30, cause(pricing["version"])),  # applied at the first scoring event
        ("profile", "company.sector in [Retail, Energy]", 7, 37, cause(pricing["version"])),
        ("behaviour", "email_clicked", 5, 42, cause(clicked["version"])),
        ("behaviour", "quote_opened", 15, 57, cause(quote["version"])),
        ("behaviour", "email_opened", 1, 58, cause(opened["version"])),
        ("page", r"/blog/[a-z-]+$", 2, 60, cause(blog["version"])),
        ("behaviour", "return_visit", 3, 63, cause(blog["version"])),
    ]
    changes = [e for e in lead_events(services, jean) if isinstance(e, LeadScoreChanged)]
    assert len(changes) == 8 and all(e.actor == f"policy:{POLICY}" for e in changes)
    assert all(e.causation_id == e.cause for e in changes)
    assert "jean.dupont" not in str([vars(e) for e in changes])
    assert LeadScoreChanged.personal_fields == () and LeadHandedToRep.personal_fields == ()
    assert hand_overs(services, jean) == []  # below the threshold: nothing more


def test_a_profile_rule_applies_once_when_the_field_takes_the_value(client: TestClient, services: Services) -> None:
    jean = contact(client, job_title="Buyer")
    switch(client, threshold=1000, profile=[{"field": "job_title", "equals": "CEO", "points": 20},
                                            {"field": "tags", "equals": "VIP", "points": 4}])
    visit(client, jean, "https://acme.example/pricing", T0)
    ok(client.patch(f"/contacts/{jean}", json={"job_title": "CEO", "tags": ["VIP"]}), 200)  # now it matches
    ok(client.patch(f"/contacts/{jean}", json={"city": "Nantes"}), 200)  # still CEO: not again
    visit(client, jean, "https://acme.example/pricing", T0 + timedelta(minutes=1))
    services.policies.run_once()
    changes = [(c["reason"], c["rule"]) for c in reversed(score(client, services, jean)["changes"])]
    assert changes == [("page", "*/pricing*"), ("profile", "job_title=CEO"), ("profile", "tags=VIP"),
                       ("page", "*/pricing*")]
    assert score(client, services, jean)["score"] == 10 + 20 + 4 + 10


# --- the hand-over ----------------------------------------------------------------------


def test_crossing_the_threshold_hands_the_lead_to_its_companys_owner_once(client: TestClient, services: Services) -> None:
    bob = rep(client, "Bob")
    company = ok(client.post("/companies", json={"name": "Acme"}))["id"]
    contact(client, company_id=company, owner_id=bob)  # Bob owns the account
    jean = contact(client, company_id=company)
    switch(client, threshold=15)
    visit(client, jean, "https://acme.example/pricing", T0)  # 10: below
    services.policies.run_once()
    assert owner_of(client, services, jean) is None and tasks_of(client, services, bob) == []

    crossing = interaction(client, jean, "email_clicked", T0 + timedelta(minutes=1), link="https://acme.example/x")
    other = PolicyRunner(services.store, services.clock, [LeadScoring()], projector=services.projector)
    for _ in range(2):  # a second runner, and rounds again: one hand-over, one task
        other.run_once()
        services.policies.run_once()
    interaction(client, jean, "quote_opened", T0 + timedelta(minutes=2), quote_id="Q-9")  # still above: no second one
    services.policies.run_once()
    other.run_once()

    [handed] = hand_overs(services, jean)
    assert (handed.rep_id, handed.how, handed.score) == (UUID(bob), "company-owner", 15)
    assert handed.causation_id == f"{jean}:{crossing['version']}" and handed.actor == f"policy:{POLICY}"
    assert owner_of(client, services, jean) == bob
    [task] = tasks_of(client, services, bob)
    assert (task["title"], task["type"], task["contact_id"], task["status"]) == ("Call this lead", "call", jean, "open")
    owner_changes = [e for e in services.store.events(UUID(jean)) if isinstance(e, Contact.OwnerChanged)]
    assert [(e.owner_id, e.actor) for e in owner_changes] == [(UUID(bob), f"policy:{POLICY}")]
    assert score(client, services, jean)["score"] == 30


def test_leads_without_an_owner_go_round_robin_through_the_team_in_order(
        client: TestClient, services: Services, clock: FrozenClock) -> None:
    team = ok(client.post("/teams", json={"name": "Inside sales"}))["id"]
    reps = []
    for name in ("Ann", "Ben", "Cat"):  # the turn follows the order they joined in
        reps.append(rep(client, name, team))
        clock.advance(seconds=1)
    rep(client, "Outsider")  # in no team: never given one of the team's leads
    switch(client, threshold=10, hand_over={"team_id": team, "task_title": "Call this hot lead", "due_after_hours": 2})
    leads = [contact(client) for _ in range(4)]
    other = PolicyRunner(services.store, services.clock, [LeadScoring()], projector=services.projector)
    for i, lead in enumerate(leads):
        visit(client, lead, "https://acme.example/pricing", T0 + timedelta(minutes=i))
        other.run_once()  # two runners take turns: the pointer lives in the log, not in either
        services.policies.run_once()

    assert [owner_of(client, services, lead) for lead in leads] == [*reps, reps[0]]  # in order, then round again
    assert [h.how for lead in leads for h in hand_overs(services, lead)] == ["round-robin"] * 4
    for rep_id, mine in zip(reps, [[leads[0], leads[3]], [leads[1]], [leads[2]]], strict=True):
        tasks = tasks_of(client, services, rep_id)
        assert sorted(t["contact_id"] for t in tasks) == sorted(mine)
        assert {t["title"] for t in tasks} == {"Call this hot lead"}
        assert {t["due_at"] for t in tasks} == {(services.clock.now() + timedelta(hours=2)).isoformat()}


def test_a_lead_already_owned_gets_a_task_for_its_owner_and_is_not_reassigned(
        client: TestClient, services: Services) -> None:
    team = ok(client.post("/teams", json={"name": "Inside sales"}))["id"]
    rep(client, "Ann", team)
    dana = rep(client, "Dana")
    jean = contact(client, owner_id=dana)
    switch(client, threshold=10, hand_over={"team_id": team})
    visit(client, jean, "https://acme.example/pricing", T0)
    services.policies.run_once()
    [handed] = hand_overs(services, jean)
    assert (handed.rep_id, handed.how) == (UUID(dana), "owner")
    assert owner_of(client, services, jean) == dana
    assert not [e for e in services.store.events(UUID(jean)) if isinstance(e, Contact.OwnerChanged)]
    assert [t["title"] for t in tasks_of(client, services, dana)] == ["Call this lead"]


def test_a_deactivated_rep_is_handed_no_lead(client: TestClient, services: Services) -> None:
    """The owner gone, the lead goes on to the team's round-robin, which passes over them too."""
    team = ok(client.post("/teams", json={"name": "Inside sales"}))["id"]
    ann, ben = rep(client, "Ann", team), rep(client, "Ben", team)
    dana = rep(client, "Dana", team)
    jean = contact(client, owner_id=dana)
    ok(client.post(f"/reps/{dana}/deactivate", json={"reason": "left"}), 200)
    ok(client.post(f"/reps/{ann}/deactivate", json={}), 200)
    switch(client, threshold=10, hand_over={"team_id": team})
    visit(client, jean, "https://acme.example/pricing", T0)
    services.policies.run_once()
    [handed] = hand_overs(services, jean)
    assert (handed.rep_id, handed.how) == (UUID(ben), "round-robin")
    assert owner_of(client, services, jean) == ben
    assert tasks_of(client, services, dana) == [] and tasks_of(client, services, ann) == []


def test_below_the_threshold_nothing_is_handed_over(client: TestClient, services: Services) -> None:
    team = ok(client.post("/teams", json={"name": "Inside sales"}))["id"]
    ann = rep(client, "Ann", team)
    jean = contact(client)
    switch(client, threshold=50, hand_over={"team_id": team})
    for i in range(3):
        visit(client, jean, "https://acme.example/pricing", T0 + timedelta(minutes=i))
    services.policies.run_once()
    assert score(client, services, jean)["score"] == 30
    assert hand_overs(services, jean) == [] and owner_of(client, services, jean) is None
    assert tasks_of(client, services, ann) == []


def test_engagement_moves_a_customer_up_a_tier(client: TestClient, services: Services) -> None:
    jean = contact(client, tags=["Bronze", "newsletter"], owner_id=rep(client, "Ann"))
    switch(client, threshold=1000, tiers=[{"from_tag": "Bronze", "to_tag": "Silver", "min_score": 20}])
    visit(client, jean, "https://acme.example/pricing", T0)  # 10: still Bronze
    services.policies.run_once()
    assert read(client, f"/contacts/{jean}", services.store.max_position())["tags"] == ["Bronze", "newsletter"]
    visit(client, jean, "https://acme.example/pricing", T0 + timedelta(minutes=1))  # 20: Silver
    services.policies.run_once()
    assert read(client, f"/contacts/{jean}", services.store.max_position())["tags"] == ["Silver", "newsletter"]


# --- bad settings -----------------------------------------------------------------------


def test_bad_settings_are_refused_naming_the_setting_and_write_nothing(client: TestClient, services: Services) -> None:
    before = services.store.max_position()

    def refused(settings: dict[str, Any], field: str) -> None:
        problem = assert_problem(client.put(f"/policies/{POLICY}", json={"enabled": True, "settings": settings}), 422)
        assert [e["field"] for e in problem["errors"]] == [field], problem

    refused({"threshold": -1}, "settings.threshold")
    refused({"pages": [{"match": "regex", "pattern": "(unclosed", "points": 5}]}, "settings.pages[0].pattern")
    refused({"treshold": 10}, "settings.treshold")  # a typo is not silently ignored
    refused({"behaviours": {"form_filled": 5}}, "settings.behaviours.form_filled")
    refused({"profile": [{"field": "shoe_size", "equals": "44", "points": 1}]}, "settings.profile[0].field")
    refused({"profile": [{"field": "city", "points": 1}]}, "settings.profile[0]")
    refused({"decay": {"points_per_day": 1, "half_life_days": 7}}, "settings.decay")
    refused({"hand_over": {"team_id": str(UUID(int=7))}}, "settings.hand_over.team_id")
    refused({"hand_over": {"task_type": "fax"}}, "settings.hand_over.task_type")
    assert services.store.max_position() == before
    status = next(p for p in ok(client.get("/policies"), 200)["items"] if p["name"] == POLICY)
    assert status["enabled"] is False and status["settings"]["threshold"] == 50  # the defaults still


# --- decay and the past -----------------------------------------------------------------


def test_decay_is_recorded_when_the_next_event_comes_and_the_score_is_known_for_any_past_date(
        client: TestClient, services: Services) -> None:
    jean = contact(client)
    switch(client, threshold=1000, decay={"points_per_day": 0.5})
    visit(client, jean, "https://acme.example/pricing", T0)  # 10
    interaction(client, jean, "email_clicked", T0 + timedelta(days=4, hours=1), link="https://acme.example/x")  # -2, +5
    services.policies.run_once()

    now = score(client, services, jean)
    assert now["score"] == 13 and now["as_of"] is None
    assert [(c["reason"], c["rule"], c["points"]) for c in reversed(now["changes"])] == [
        ("page", "*/pricing*", 10), ("decay", "points_per_day=0.5", -2), ("behaviour", "email_clicked", 5)]
    assert score(client, services, jean, T0 - timedelta(hours=1))["score"] == 0
    then = score(client, services, jean, T0 + timedelta(days=1))
    assert then["score"] == 10 and [c["rule"] for c in then["changes"]] == ["*/pricing*"]
    assert then["as_of"] == (T0 + timedelta(days=1)).isoformat()
    assert score(client, services, jean, T0 + timedelta(days=5))["score"] == 13


def test_the_score_of_an_unknown_contact_is_404(client: TestClient, services: Services) -> None:
    assert_problem(client.get(f"/contacts/{UUID(int=1)}/score"), 404)


def test_a_rebuilt_read_side_has_the_same_score_changes(client: TestClient, services: Services, tmp_path: Path) -> None:
    jean, marie = contact(client), contact(client)
    switch(client, threshold=1000, decay={"half_life_days": 7})
    for i, who in enumerate([jean, marie, jean, jean, marie]):
        visit(client, who, "https://acme.example/pricing", T0 + timedelta(days=3 * i))
    services.policies.run_once()
    query = "SELECT * FROM lead_score_changes ORDER BY position"
    position = services.store.max_position()
    assert services.projector.wait_for(position, 10)
    with services.read_side.cursor() as cur:
        live = cur.execute(query).fetchall()
    rebuilt = ReadSide(tmp_path / "rebuilt.duckdb")
    try:
        Projector(services.store, rebuilt).catch_up()
        with rebuilt.cursor() as cur:
            assert cur.execute(query).fetchall() == live
    finally:
        rebuilt.close()
    assert len(live) >= 5 and any(row[6] == "decay" for row in live)
