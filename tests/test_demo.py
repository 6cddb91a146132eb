"""The demo company: loaded through the handlers, it fills every corner of the read side."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm_es.bootstrap import Services
from crm_es.clock import FrozenClock
from crm_es.demo import DemoAlreadyLoaded, DemoSummary, demo_size, load_demo, plan_demo


def scalar(services: Services, sql: str, params: list | None = None):
    with services.read_side.cursor() as c:
        return c.execute(sql, params or []).fetchone()[0]


def test_the_demo_fills_the_read_side(services: Services, clock: FrozenClock) -> None:
    """One load (it takes a few seconds), every check on what it left in the read side."""
    summary = load_demo(services)
    services.projector.catch_up()
    counts_match_the_summary(services, summary)
    every_stage_of_every_pipeline_holds_an_open_deal(services)
    deals_are_won_lost_reopened_in_several_currencies(services, summary)
    contacts_are_varied_and_unique(services, summary)
    business_times_span_the_past_year(services, clock)


def counts_match_the_summary(services: Services, loaded: DemoSummary) -> None:
    for table, expected in [
        ("reps", loaded.reps), ("teams", loaded.teams), ("pipelines", loaded.pipelines),
        ("companies", loaded.companies), ("contacts", loaded.contacts), ("deals", loaded.deals),
    ]:
        assert scalar(services, f"SELECT count(*) FROM {table}") == expected, table
    assert (loaded.reps, loaded.teams, loaded.pipelines) == (6, 2, 2)
    assert loaded.companies >= 12 and loaded.contacts >= 50 and loaded.deals >= 45
    assert scalar(services, "SELECT count(*) FROM reps WHERE team_id IS NULL") == 0
    assert scalar(services, "SELECT count(*) FROM teams t JOIN reps r ON r.id = t.manager_id AND r.team_id = t.id") == 2


def every_stage_of_every_pipeline_holds_an_open_deal(services: Services) -> None:
    with services.read_side.cursor() as c:
        rows = c.execute(
            """SELECT p.name, s.name, count(d.id)
               FROM pipeline_stages s JOIN pipelines p ON p.id = s.pipeline_id
               LEFT JOIN deals d ON d.stage_id = s.stage_id AND d.status = 'open'
               GROUP BY ALL ORDER BY ALL"""
        ).fetchall()
    assert len(rows) == 10
    assert [(p, s) for p, s, open_deals in rows if open_deals == 0] == []


def deals_are_won_lost_reopened_in_several_currencies(services: Services, loaded: DemoSummary) -> None:
    assert scalar(services, "SELECT count(*) FROM deals WHERE status = 'won'") > 0
    assert scalar(services, "SELECT count(*) FROM deals WHERE status = 'lost' AND lost_reason IS NOT NULL") > 0
    assert scalar(services, "SELECT count(*) FROM deal_stage_changes WHERE kind = 'reopened'") == loaded.reopened >= 2
    assert scalar(services, "SELECT count(*) FROM deal_stage_changes WHERE kind = 'moved'") == loaded.moves
    assert scalar(services, "SELECT max(n) FROM (SELECT count(*) n FROM deal_stage_changes GROUP BY deal_id)") >= 4
    currencies = scalar(services, "SELECT list(DISTINCT currency ORDER BY currency) FROM deals")
    assert currencies == ["EUR", "GBP", "USD"]
    assert scalar(services, "SELECT count(*) FILTER (currency = 'EUR') / count(*) FROM deals") > 0.6


def contacts_are_varied_and_unique(services: Services, loaded: DemoSummary) -> None:
    assert scalar(services, "SELECT count(DISTINCT lower(email)) FROM contacts") == loaded.contacts
    assert scalar(services, "SELECT count(DISTINCT source) FROM contacts") >= 5
    assert scalar(services, "SELECT count(DISTINCT status) FROM contacts") >= 4
    assert scalar(services, "SELECT count(*) FROM contacts WHERE owner_id IS NULL OR company_id IS NULL") == 0
    assert scalar(services, "SELECT count(*) FROM contacts WHERE list_has_any(tags, ['Gold', 'Silver', 'Bronze'])") \
        == loaded.contacts
    assert scalar(services, "SELECT count(*) FROM companies WHERE sector IS NULL OR annual_revenue IS NULL") == 0


def business_times_span_the_past_year(services: Services, clock: FrozenClock) -> None:
    now = clock.now()
    with services.read_side.cursor() as c:
        first, last = c.execute(
            "SELECT min(t), max(t) FROM (SELECT occurred_at t FROM deal_stage_changes "
            "UNION ALL SELECT closed_at FROM deals UNION ALL SELECT updated_at FROM deals)"
        ).fetchone()
        latest_record = c.execute(
            "SELECT max(t) FROM (SELECT updated_at t FROM contacts UNION ALL SELECT updated_at FROM companies)"
        ).fetchone()[0]
        # a deal never moves before it opens, nor closes before its last move
        disordered = c.execute(
            """SELECT count(*) FROM deals d JOIN deal_stage_changes m ON m.deal_id = d.id
               WHERE m.occurred_at < d.created_at OR (d.closed_at IS NOT NULL AND m.kind = 'moved'
                     AND m.occurred_at > d.closed_at AND d.status <> 'open')"""
        ).fetchone()[0]
        opened_before_contacts = c.execute(
            """SELECT count(*) FROM deals d JOIN contacts p ON list_contains(d.contact_ids, p.id)
               JOIN companies co ON co.id = d.company_id
               WHERE d.created_at <= p.created_at OR p.created_at <= co.created_at"""
        ).fetchone()[0]
    assert last - first > timedelta(days=300)
    assert last < now and latest_record < now
    assert first > now - timedelta(days=366)
    assert disordered == 0
    assert opened_before_contacts == 0


def test_loading_twice_raises_and_writes_nothing(services: Services) -> None:
    steps = []
    load_demo(services, progress=steps.append)
    position = services.store.max_position()
    assert sum(steps) == len(steps) == demo_size() > 0
    with pytest.raises(DemoAlreadyLoaded):
        load_demo(services)
    assert services.store.max_position() == position


def test_the_plan_is_deterministic_for_a_seed(clock: FrozenClock) -> None:
    def described(seed: int) -> list[str]:
        return [f"{s.at} {s.command!r}" for s in plan_demo(seed, clock.now()).steps]

    assert described(7) == described(7)
    assert described(7) != described(8)
