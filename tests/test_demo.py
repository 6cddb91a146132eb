"""The demo company: loaded through the handlers, it fills every corner of the read side."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest

from crm_es.aggregates.interactions import KINDS, TOUCHES
from crm_es.bootstrap import Services
from crm_es.clock import FrozenClock
from crm_es.queries.timeline import timeline
from crm_es_samples.demo import DemoAlreadyLoaded, DemoSummary, demo_size, load_demo, plan_demo
from crm_es.projections.interactions import COUNTER
from crm_es.queries.tasks import agenda, with_next_step


TYPES_OF_INTERACTIONS = sorted(KINDS)


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
    interactions_of_every_type_fill_the_counters(services, clock)
    interactions_are_logged_by_the_owners_about_their_deals(services)
    pages_are_visited_in_sessions_and_a_bounce_invalidates_an_address(services)
    contacts_and_deals_have_their_timelines(services)
    the_agendas_hold_open_done_and_overdue_tasks(services, clock)
    the_configuration_is_used(services)
    past_boards_show_the_deals_of_their_dates(services, clock)


def past_boards_show_the_deals_of_their_dates(services: Services, clock: FrozenClock) -> None:
    """The demo's set-up is dated a year back like its history: the board of any past date
    holds the deals open then — the ones a replay of the store finds — never an empty board."""
    from uuid import UUID

    from crm_es.audit.board import board_then
    from crm_es.queries.board import board_currency, get_board
    from crm_es.queries.past import Past

    with services.read_side.cursor() as c:
        pipelines = [UUID(str(row[0])) for row in c.execute("SELECT id FROM pipelines").fetchall()]
        for months_back in (11, 8, 5, 2):
            past = Past(clock.now() - timedelta(days=30 * months_back))
            for pipeline in pipelines:
                stages = get_board(c, pipeline, currency=board_currency(c, pipeline, past), past=past)
                replayed = board_then(services.store, pipeline, past)
                shown = [[d["id"] for d in s["deals"]] for s in stages]
                assert shown == [[d["id"] for d in s["deals"]] for s in replayed["stages"]], (months_back, pipeline)
                assert stages, (months_back, pipeline)
            assert any(
                s["deals"] for p in pipelines for s in get_board(c, p, past=past)), months_back


def counts_match_the_summary(services: Services, loaded: DemoSummary) -> None:
    for table, expected in [
        ("reps", loaded.reps), ("teams", loaded.teams), ("pipelines", loaded.pipelines),
        ("companies", loaded.companies), ("contacts", loaded.contacts), ("deals", loaded.deals),
        ("interactions", loaded.interactions), ("tasks", loaded.tasks), ("properties", loaded.properties),
    ]:
        assert scalar(services, f"SELECT count(*) FROM {table}") == expected, table
    assert (loaded.reps, loaded.teams, loaded.pipelines) == (6, 2, 2)
    assert loaded.companies >= 12 and loaded.contacts >= 50 and loaded.deals >= 45
    assert loaded.interactions >= 10 * loaded.contacts and loaded.tasks >= 20 and loaded.properties >= 2
    assert loaded.commands == demo_size()
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


def interactions_of_every_type_fill_the_counters(services: Services, clock: FrozenClock) -> None:
    with services.read_side.cursor() as c:
        per_type = dict(c.execute("SELECT type, count(*) FROM interactions GROUP BY type").fetchall())
    assert {kind: per_type.get(kind, 0) for kind in KINDS if per_type.get(kind, 0) == 0} == {}
    assert per_type["page_visited"] > per_type["call"] > per_type["email_bounced"] > 0
    # Each contact's counters are what its rows in `interactions` say.
    counters = ", ".join(f"count(*) FILTER (type = '{kind}') AS {column}" for kind, column in COUNTER.items())
    compared = " OR ".join(f"c.{column} <> coalesce(i.{column}, 0)" for column in COUNTER.values())
    touches = ", ".join(f"'{kind}'" for kind in TOUCHES)
    wrong = scalar(services, f"""
        SELECT count(*) FROM contacts c LEFT JOIN (
            SELECT contact_id, count(*) AS interactions, {counters},
                   count(*) FILTER (new_session) AS sessions, max(occurred_at) AS last_activity_at,
                   max(occurred_at) FILTER (type IN ({touches})) AS last_contacted_at
            FROM interactions GROUP BY contact_id) i ON i.contact_id = c.id
        WHERE {compared} OR c.interactions <> coalesce(i.interactions, 0) OR c.sessions <> coalesce(i.sessions, 0)
           OR c.last_activity_at IS DISTINCT FROM i.last_activity_at
           OR c.last_contacted_at IS DISTINCT FROM i.last_contacted_at""")
    assert wrong == 0
    assert scalar(services, "SELECT count(*) FROM contacts WHERE interactions = 0") < 5
    # In the past year, after the contact came in.
    outside = scalar(
        services,
        "SELECT count(*) FROM interactions i JOIN contacts c ON c.id = i.contact_id "
        "WHERE i.occurred_at <= c.created_at OR i.occurred_at >= ? OR i.occurred_at < ?",
        [clock.now(), clock.now() - timedelta(days=366)],
    )
    assert outside == 0


def interactions_are_logged_by_the_owners_about_their_deals(services: Services) -> None:
    # Only page visits name no rep; the rep is the contact's owner, or for a deal its owner then.
    assert scalar(services, "SELECT count(*) FROM interactions WHERE (rep_id IS NULL) <> (type = 'page_visited')") == 0
    assert scalar(services, "SELECT count(*) FROM interactions i JOIN contacts c ON c.id = i.contact_id "
                            "WHERE i.deal_id IS NULL AND i.rep_id <> c.owner_id") == 0
    # Those naming a deal are about one of its contacts, after it opened; nearly every deal has some.
    about_deals = scalar(services, "SELECT count(*) FROM interactions WHERE deal_id IS NOT NULL")
    assert about_deals > 100
    assert scalar(services, """SELECT count(*) FROM interactions i JOIN deals d ON d.id = i.deal_id
                               WHERE list_contains(d.contact_ids, i.contact_id) AND i.occurred_at > d.created_at""") \
        == about_deals
    deals = scalar(services, "SELECT count(*) FROM deals")
    assert scalar(services, "SELECT count(DISTINCT deal_id) FROM interactions") > 0.9 * deals
    # Some were logged late: recorded (in the log's order) after ones that happened later.
    late = scalar(services, """
        SELECT count(*) FROM (
            SELECT occurred_at,
                   max(occurred_at) OVER (ORDER BY position ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS seen
            FROM interactions WHERE type IN ('call', 'meeting_held', 'demo', 'visit', 'note', 'voicemail', 'meeting_missed'))
        WHERE occurred_at < seen - INTERVAL 1 HOUR""")
    assert late > 10


def pages_are_visited_in_sessions_and_a_bounce_invalidates_an_address(services: Services) -> None:
    with services.read_side.cursor() as c:
        sessions, visits, returning = c.execute(
            "SELECT sum(sessions), sum(page_visits), count(*) FILTER (sessions >= 2) FROM contacts"
        ).fetchone()
        # a session: the pages of one session_id, the first one starting it, minutes apart
        split = c.execute("""SELECT count(*) FROM (
                SELECT session_id, count(*) FILTER (new_session) AS starts, max(occurred_at) - min(occurred_at) AS span
                FROM interactions WHERE type = 'page_visited' GROUP BY session_id)
            WHERE starts <> 1 OR span > INTERVAL 30 MINUTE""").fetchone()[0]
        invalid = c.execute("SELECT count(*) FROM contacts WHERE email_invalid").fetchone()[0]
        hard = c.execute(
            "SELECT count(DISTINCT contact_id) FROM interactions WHERE type = 'email_bounced' AND bounce = 'hard'"
        ).fetchone()[0]
    assert 0 < sessions < visits and returning > 0
    assert split == 0
    assert 1 <= invalid <= hard
    revalidated = [
        contact_id for (contact_id,) in rows(services, "SELECT id FROM contacts")
        if timeline(services.store, contact_id, types=["contact_email_revalidated"]).items
    ]
    assert len(revalidated) >= 1


def rows(services: Services, sql: str) -> list[tuple]:
    with services.read_side.cursor() as c:
        return c.execute(sql).fetchall()


def contacts_and_deals_have_their_timelines(services: Services) -> None:
    for table in ("contacts", "deals"):
        ids = [record_id for (record_id,) in rows(services, f"SELECT id FROM {table}")]
        assert all(timeline(services.store, record_id, limit=1).items for record_id in ids), table
    # a deal's timeline shows the interactions about it, as many as name it, with their fields
    named = rows(services, "SELECT deal_id, count(*) FROM interactions WHERE deal_id IS NOT NULL GROUP BY deal_id")
    assert named
    for deal_id, count in named:
        shown = [i for i in timeline(services.store, deal_id, types=TYPES_OF_INTERACTIONS, limit=1000).items]
        assert len(shown) == count and all("contact_id" in i["data"] for i in shown), deal_id


def the_agendas_hold_open_done_and_overdue_tasks(services: Services, clock: FrozenClock) -> None:
    now = clock.now()
    with services.read_side.cursor() as c:
        by_status = dict(c.execute("SELECT status, count(*) FROM tasks GROUP BY status").fetchall())
        overdue = c.execute("SELECT count(*) FROM tasks WHERE status = 'open' AND due_at < ?", [now]).fetchone()[0]
        rescheduled = c.execute("SELECT count(*) FROM tasks WHERE status = 'open' AND version = 2").fetchone()[0]
        # every open deal has a next step
        no_next_step = c.execute(
            "SELECT count(*) FROM deals d WHERE d.status = 'open' AND NOT EXISTS "
            "(SELECT 1 FROM tasks t WHERE t.deal_id = d.id AND t.status = 'open')"
        ).fetchone()[0]
        deal_id = c.execute("SELECT id FROM deals WHERE status = 'open' ORDER BY id LIMIT 1").fetchone()[0]
        shown = with_next_step(c, {"id": str(deal_id)}, "deal_id")
        start = datetime.combine(now.date(), time.min, tzinfo=now.tzinfo)
        reps = [r for (r,) in c.execute("SELECT id FROM reps ORDER BY id").fetchall()]
        days = [agenda(c, rep, start, start + timedelta(days=1), now) for rep in reps]
    assert by_status["open"] > by_status["done"] > 0 and by_status["cancelled"] == 1
    assert overdue > 0 and rescheduled == 1 and no_next_step == 0
    assert shown is not None and shown["next_step"] is not None
    today = [item for day in days for item in day if not item["overdue"]]
    assert sum(len(day) > 0 for day in days) >= len(reps) // 2
    assert today and any(item["overdue"] for day in days for item in day)
    assert scalar(services, "SELECT count(*) FROM tasks WHERE due_at >= ? AND due_at < ?",
                  [start + timedelta(days=1), start + timedelta(days=2)]) > 0  # tomorrow


def the_configuration_is_used(services: Services) -> None:
    assert scalar(services, "SELECT count(*) FROM contacts WHERE json_extract_string(properties, '$.language') IS NULL") == 0
    assert scalar(services, "SELECT count(*) FROM contacts WHERE json_extract(properties, '$.interests') IS NOT NULL") > 0
    licences = "CAST(json_extract_string(properties, '$.licences') AS INTEGER)"
    assert scalar(services, f"SELECT count(*) FROM deals WHERE {licences} > 0") > 0
    assert scalar(services, "SELECT count(*) FROM contact_roles") == scalar(services, "SELECT count(*) FROM contacts")
    assert scalar(services, "SELECT count(DISTINCT lifecycle) FROM contacts") >= 3
    assert scalar(services, "SELECT count(*) FROM deals WHERE lost_to IS NOT NULL") > 0
