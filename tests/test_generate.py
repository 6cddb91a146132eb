"""`crm-es generate`: a realistic history written straight into the event store.

Small sizes (a second or so each), on SQLite and PostgreSQL: what is written is what was
asked and what the summary says, event by event; the same seed gives the same events;
business time never goes backwards along a record's changes while a few facts are
recorded late; and the projector builds the read side's rows from it.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from crm_es.aggregates.interactions import KINDS
from crm_es.bootstrap import Services
from crm_es.commands.records import EMAIL_SCOPE, email_claim
from crm_es_samples.generate import Plan, Sizes, StoreNotEmpty, Summary, plan, write
from crm_es.store import EventStore, RawEvent
from tests.conftest import make_settings, pg_schema

SMALL = Sizes(contacts=240, deals=90, interactions=2_500, years=2, seed=5)
INTERACTION_CLASSES = {cls.__qualname__ for cls in KINDS.values()}
DEAL_CHANGES = {"Deal.Opened", "Deal.StageChanged", "Deal.Won", "Deal.Lost", "Deal.Reopened", "Deal.OwnerChanged",
                "Deal.AmountChanged", "Deal.DetailsChanged"}


def generated(services: Services, sizes: Sizes = SMALL) -> tuple[Plan, Summary]:
    planned = plan(sizes, services.clock.now())
    return planned, write(services.store, planned, session_gap=services.settings.session_gap)


def stored(store: EventStore) -> Iterator[tuple[RawEvent, dict]]:
    """Every event in log order, with its state opened (personal fields readable)."""
    after = 0
    while rows := store.read(after, 5_000):
        yield from zip(rows, store.open_states(rows))
        after = rows[-1].position


def class_of(row: RawEvent) -> str:
    return row.topic.partition(":")[2]


def when(state: dict, name: str) -> datetime:
    return datetime.fromisoformat(state[name])


def scalar(services: Services, sql: str):
    with services.read_side.cursor() as c:
        return c.execute(sql).fetchone()[0]


def test_it_writes_what_was_asked_and_what_the_summary_says(services: Services) -> None:
    planned, summary = generated(services)
    events = list(stored(services.store))
    by_class = Counter(class_of(row) for row, _ in events)
    assert by_class == summary.events_by_class and summary.events == len(events)
    assert (summary.contacts, summary.deals, summary.interactions) == (240, 90, 2_500)
    assert sum(by_class[name] for name in INTERACTION_CLASSES) == 2_500
    assert INTERACTION_CLASSES <= set(by_class)  # every kind of interaction
    assert summary.companies == len(planned.companies) and summary.reps == len(planned.organisation.reps)
    assert summary.won > 0 and summary.lost > 0 and summary.reopened > 0 and summary.moves > summary.deals
    assert by_class["Deal.AmountChanged"] > 0 and by_class["Deal.OwnerChanged"] > 0
    assert summary.facts == planned.facts
    bounced = [c for c in planned.contacts if c.bounces]
    corrected = [c for c in bounced if c.corrected_email]
    assert by_class["Contact.EmailInvalidated"] == len(bounced) >= 1
    assert by_class["Contact.EmailRevalidated"] == len(corrected) >= 1
    lost = [state for row, state in events if class_of(row) == "Deal.Lost"]
    assert all(state["reason"] for state in lost) and any(state["competitor"] for state in lost)


def test_every_contact_holds_the_claim_of_its_e_mail(services: Services) -> None:
    planned, _ = generated(services)
    claims = {email_claim(c.corrected_email or c.email, c.id) for c in planned.contacts}
    owners = services.store.claim_owners(EMAIL_SCOPE, {claim.value for claim in claims})
    assert owners == {claim.value: str(claim.owner_id) for claim in claims}
    replaced = [email_claim(c.email, c.id).value for c in planned.contacts if c.corrected_email]
    assert replaced and services.store.claim_owners(EMAIL_SCOPE, replaced) == {}


@pytest.fixture
def second_store(backend: str, tmp_path: Path) -> Iterator[EventStore]:
    """An empty store beside the test's own (another file, another schema)."""
    schemas = pg_schema() if backend == "postgres" else iter([None])
    for schema in schemas:
        store = EventStore(make_settings(backend, tmp_path / "second", schema).store_env())
        try:
            yield store
        finally:
            store.close()


def test_the_same_seed_and_day_give_the_same_events(services: Services, second_store: EventStore) -> None:
    small = Sizes(contacts=60, deals=25, interactions=500, seed=11)
    generated(services, small)
    write(second_store, plan(small, services.clock.now()), session_gap=services.settings.session_gap)
    first = [(row.originator_id, row.version, row.topic, state) for row, state in stored(services.store)]
    again = [(row.originator_id, row.version, row.topic, state) for row, state in stored(second_store)]
    assert first == again and len(first) > 500

    other = plan(Sizes(contacts=60, deals=25, interactions=500, seed=12), services.clock.now())
    assert {c.id for c in other.contacts}.isdisjoint(row[0] for row in first)


def test_business_time_goes_forward_along_each_record_and_some_facts_are_recorded_late(
    services: Services,
) -> None:
    planned, summary = generated(services)
    changes: dict[str, list[datetime]] = defaultdict(list)
    recorded_before, late, late_moves = datetime.min.replace(tzinfo=planned.end.tzinfo), 0, 0
    events = list(stored(services.store))
    for row, state in events:
        occurred, recorded = when(state, "occurred_at"), when(state, "timestamp")
        assert recorded >= recorded_before, "recorded times follow the log"
        assert occurred <= recorded <= planned.end, "recorded once it happened, never after now"
        recorded_before = recorded
        name = class_of(row)
        if recorded - occurred > timedelta(hours=1):
            late += 1
            late_moves += name == "Deal.StageChanged"
        if name in DEAL_CHANGES or name.startswith("Contact."):  # a change of state of a deal or a contact
            changes[row.originator_id].append(occurred)
    for times in changes.values():
        assert times == sorted(times), "a record's changes happen one after the other"
    assert 0.01 < late / len(events) < 0.15 and late_moves > 0 and summary.late > 0
    assert min(when(s, "occurred_at") for _, s in events) < planned.start + timedelta(days=30)


def test_the_projector_builds_the_read_side_from_it(services: Services) -> None:
    planned, summary = generated(services)
    assert services.projector.position == 0  # generate leaves the read side alone
    services.projector.catch_up()
    counts = summary.events_by_class
    expected = {
        "SELECT count(*) FROM reps WHERE team_id IS NOT NULL": summary.reps,
        "SELECT count(*) FROM teams": summary.teams,
        "SELECT count(*) FROM pipelines": summary.pipelines,
        "SELECT count(*) FROM pipeline_stages": 10,
        "SELECT count(*) FROM properties": counts["Setup.PropertyDefined"],
        "SELECT count(*) FROM companies": summary.companies,
        "SELECT count(*) FROM contacts": summary.contacts,
        "SELECT sum(interactions) FROM contacts": summary.interactions,
        "SELECT count(*) FROM contacts WHERE email_invalid": sum(c.bounces and not c.corrected_email
                                                                 for c in planned.contacts),
        "SELECT count(*) FROM contact_roles": counts["Contact.RoleAssigned"],
        "SELECT count(*) FROM contact_lifecycle_changes": counts["Contact.LifecycleChanged"],
        "SELECT count(*) FROM deals": summary.deals,
        "SELECT count(*) FROM deal_stage_changes WHERE kind = 'opened'": summary.deals,
        "SELECT count(*) FROM deal_stage_changes WHERE kind = 'moved'": summary.moves,
        "SELECT count(*) FROM deal_stage_changes WHERE kind = 'reopened'": summary.reopened,
        "SELECT count(*) FROM interactions": summary.interactions,
        "SELECT count(*) FROM interactions WHERE deal_id IS NOT NULL": counts["Deal.InteractionRecorded"],
        "SELECT count(*) FROM news WHERE type = 'deal_won'": summary.won,
        "SELECT count(*) FROM news WHERE type = 'deal_lost'": summary.lost,
        "SELECT count(*) FROM news WHERE type = 'meeting_missed'": counts["MeetingMissed"],
    }
    assert {sql: scalar(services, sql) for sql in expected} == expected
    assert scalar(services, "SELECT count(DISTINCT status) FROM deals") == 3  # open, won and lost ones
    assert scalar(services, "SELECT count(*) FROM interactions WHERE new_session") > 0


def test_it_only_writes_into_an_empty_store(services: Services) -> None:
    generated(services, Sizes(contacts=20, deals=5, interactions=100))
    position = services.store.max_position()
    with pytest.raises(StoreNotEmpty):
        generated(services, Sizes(contacts=20, deals=5, interactions=100, seed=9))
    assert services.store.max_position() == position


def test_the_command(run) -> None:
    done = run("generate", "--contacts", "80", "--deals", "30", "--interactions", "600", "--years", "1", "--json")
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert (summary["contacts"], summary["deals"], summary["interactions"]) == (80, 30, 600)
    assert summary["events_per_second"] > 0 and summary["events"] == sum(summary["events_by_class"].values())
    status = json.loads(run("status", "--json").stdout)
    assert status["store_position"] >= summary["events"] and status["read_side_position"] == 0  # not projected

    again = run("generate", "--contacts", "10", "--deals", "0", "--interactions", "0")
    assert again.exit_code == 1 and "empty store" in again.stderr
    assert json.loads(run("status", "--json").stdout)["store_position"] == status["store_position"]


@pytest.mark.parametrize("args", [["--contacts", "0"], ["--deals", "-1"], ["--years", "0"], ["--seed", "x"]])
def test_bad_usage_is_exit_2(args: list[str]) -> None:
    from click.testing import CliRunner

    from crm_es.entrypoints.cli.main import main

    result = CliRunner().invoke(main, ["generate", *args])
    assert result.exit_code == 2


def test_its_help_says_the_read_side_is_not_built() -> None:
    from click.testing import CliRunner

    from crm_es.entrypoints.cli.main import main

    result = CliRunner().invoke(main, ["generate", "--help"])
    assert result.exit_code == 0 and "crm-es project" in result.output and "--interactions" in result.output
