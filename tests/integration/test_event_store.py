"""The event store on SQLite AND PostgreSQL: exact round-trips, optimistic concurrency,
claims and idempotency records in the events' transaction, the auditors' view."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError

from crm_es.aggregates import company as companies
from crm_es.aggregates import deal as deals
from crm_es.aggregates import pipeline as pipelines
from crm_es.aggregates.base import Event, Meta
from crm_es.aggregates.company import Company, CompanyDetails
from crm_es.aggregates.deal import Deal, DealDetails
from crm_es.aggregates.pipeline import Pipeline, StageSpec
from crm_es.bootstrap import Services
from crm_es.settings import Settings
from crm_es.store import Claim, EventStore, IdempotencyRecord

BERLIN_WINTER = timezone(timedelta(hours=1))
META = Meta(
    occurred_at=datetime(2026, 2, 20, 15, 30, 12, 345678, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    recorded_at=datetime(2026, 3, 1, 9, 0, 0, 1, tzinfo=BERLIN_WINTER),
    actor="rep:alice",
    correlation_id="req-1",
    causation_id="evt-0",
)


def a_pipeline() -> Pipeline:
    events = pipelines.create(uuid4(), "Sales", [StageSpec("Lead", Decimal("0.1")), StageSpec("Won", Decimal("1.0000"))], uuid4, META)
    pipeline = Pipeline.fold(events)
    assert pipeline is not None
    return pipeline


def deal_opened(pipeline: Pipeline, amount: str = "1234.5600") -> list[Event]:
    details = DealDetails("Acme", (uuid4(), uuid4()), uuid4(), "web", date(2026, 12, 31))
    return deals.open_deal(uuid4(), details, pipeline, "Lead", Decimal(amount), "EUR", uuid4(), META)


def company_registered(name: str = "Acme") -> list[Event]:
    return companies.register(uuid4(), CompanyDetails(name, None, Decimal("0.0100"), {"tier": "gold", "seats": 12}), META)


def exact(value: Any) -> Any:
    """What must survive a round-trip beyond equality: a decimal's exponent, a time's offset, the types."""
    if isinstance(value, Decimal):
        return ("Decimal", value.as_tuple())
    if isinstance(value, datetime):
        return ("datetime", value.isoformat())
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, [exact(v) for v in value])
    if isinstance(value, dict):
        return {k: exact(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value):
        return (type(value).__name__, exact(vars(value)))
    return (type(value).__name__, value)


def assert_same_event(loaded: Event, original: Event) -> None:
    assert type(loaded) is type(original)
    assert loaded == original
    assert exact(vars(loaded)) == exact(vars(original))


@pytest.fixture
def store(services: Services) -> EventStore:
    return services.store


def test_decimals_uuids_dates_and_offset_times_round_trip_exactly(store: EventStore) -> None:
    pipeline_events = pipelines.create(uuid4(), "Sales", [StageSpec("Lead", Decimal("0.1000"))], uuid4, META)
    opened = deal_opened(Pipeline.fold(pipeline_events))  # type: ignore[arg-type]
    store.save([*pipeline_events, *opened])

    [loaded] = store.events(opened[0].originator_id)
    assert_same_event(loaded, opened[0])
    assert str(loaded.amount) == "1234.5600"
    assert loaded.occurred_at.utcoffset() == timedelta(hours=5, minutes=30)
    assert isinstance(loaded.expected_close, date) and not isinstance(loaded.expected_close, datetime)
    assert all(isinstance(i, UUID) for i in loaded.contact_ids)

    [created] = store.events(pipeline_events[0].originator_id)
    assert_same_event(created, pipeline_events[0])
    assert str(created.stages[0].probability) == "0.1000"


def test_a_loaded_aggregate_equals_the_fold_of_the_saved_events(store: EventStore) -> None:
    pipeline = a_pipeline()
    history = deal_opened(pipeline)
    history += deals.change(Deal.fold(history), {"expected_close": date(2027, 1, 2)}, Decimal("99.9900"), "USD", None, True,  # type: ignore[arg-type]
                            META)
    history += deals.win(Deal.fold(history), META)  # type: ignore[arg-type]
    store.save(history)

    deal_id = history[0].originator_id
    assert store.load(Deal, deal_id) == Deal.fold(history)
    assert store.load(Deal, deal_id, version=2) == Deal.fold(history[:2])
    assert str(store.load(Deal, deal_id).amount) == "99.9900"  # type: ignore[union-attr]


def test_saving_a_stale_version_raises_and_writes_nothing(store: EventStore) -> None:
    pipeline = a_pipeline()
    opened = deal_opened(pipeline)
    store.save(opened)
    deal = store.load(Deal, opened[0].originator_id)
    assert deal is not None
    won = deals.win(deal, META)
    lost = deals.lose(deal, "too late", META)  # decided on the same version: stale once `won` is saved
    store.save(won)
    before = store.max_position()
    unrelated = company_registered()

    with pytest.raises(IntegrityError):
        store.save([*unrelated, *lost])

    assert store.max_position() == before
    assert store.load(Deal, deal.id).status == deals.WON  # type: ignore[union-attr]
    assert store.events(unrelated[0].originator_id) == []  # the whole save was rolled back


def test_save_returns_the_position_of_its_last_event(store: EventStore) -> None:
    first = store.save(company_registered("A"))
    events = company_registered("B") + company_registered("C")
    last = store.save(events)

    assert first is not None and last is not None
    assert last == first + 2 == store.max_position()
    assert [e.position for e in store.read(first, 10)] == [first + 1, first + 2]
    assert store.save([]) is None


def test_a_claim_cannot_be_taken_twice(store: EventStore) -> None:
    ada, eve = company_registered("Ada"), company_registered("Eve")
    ada_id, eve_id = ada[0].originator_id, eve[0].originator_id
    store.save(ada, claims=[Claim("contact-email", "ada@example.com", ada_id)])
    before = store.max_position()

    with pytest.raises(IntegrityError):
        store.save(eve, claims=[Claim("contact-email", "ada@example.com", eve_id)])

    assert store.claim_owner("contact-email", "ada@example.com") == str(ada_id)
    assert store.max_position() == before
    assert store.events(eve_id) == []  # the failed claim rolled back its events


def test_the_same_value_may_be_claimed_in_another_scope(store: EventStore) -> None:
    ada, eve = company_registered("Ada"), company_registered("Eve")
    store.save(ada, claims=[Claim("contact-email", "x@example.com", ada[0].originator_id)])
    store.save(eve, claims=[Claim("rep-email", "x@example.com", eve[0].originator_id)])

    assert store.claim_owner("contact-email", "x@example.com") == str(ada[0].originator_id)
    assert store.claim_owner("rep-email", "x@example.com") == str(eve[0].originator_id)


def test_releasing_a_claim_frees_it(store: EventStore) -> None:
    ada = company_registered("Ada")
    ada_company = Company.fold(ada)
    assert ada_company is not None
    claim = Claim("contact-email", "ada@example.com", ada_company.id)
    store.save(ada, claims=[claim])

    renamed = companies.change(ada_company, {"name": "Ada Ltd"}, META)
    store.save(renamed, releases=[claim], claims=[Claim("contact-email", "ada@ada.ltd", ada_company.id)])

    assert store.claim_owner("contact-email", "ada@example.com") is None
    assert store.claim_owner("contact-email", "ada@ada.ltd") == str(ada_company.id)
    eve = company_registered("Eve")
    store.save(eve, claims=[Claim("contact-email", "ada@example.com", eve[0].originator_id)])
    assert store.claim_owner("contact-email", "ada@example.com") == str(eve[0].originator_id)


def test_a_claim_is_released_only_by_its_owner(store: EventStore) -> None:
    ada, eve = company_registered("Ada"), company_registered("Eve")
    store.save(ada, claims=[Claim("contact-email", "ada@example.com", ada[0].originator_id)])

    store.save(eve, releases=[Claim("contact-email", "ada@example.com", eve[0].originator_id)])

    assert store.claim_owner("contact-email", "ada@example.com") == str(ada[0].originator_id)


def test_a_failed_save_keeps_the_claims_it_would_have_released(store: EventStore) -> None:
    pipeline = a_pipeline()
    opened = deal_opened(pipeline)
    claim = Claim("deal-code", "D-1", opened[0].originator_id)
    store.save(opened, claims=[claim])
    deal = store.load(Deal, opened[0].originator_id)
    assert deal is not None
    store.save(deals.win(deal, META))

    with pytest.raises(IntegrityError):
        store.save(deals.lose(deal, "stale", META), releases=[claim])

    assert store.claim_owner("deal-code", "D-1") == str(deal.id)


def test_an_idempotency_record_is_stored_with_the_position_of_the_last_event(store: EventStore) -> None:
    store.save(company_registered("before"))
    events = company_registered("A") + company_registered("B") + company_registered("C")
    record = IdempotencyRecord("rep:alice", "key-1", "POST /companies {...}", 201, '{"id": "x", "version": 1}')

    position = store.save(events, idempotency=record)

    assert position == store.max_position()
    assert store.find_idempotency("rep:alice", "key-1") == ("POST /companies {...}", 201, '{"id": "x", "version": 1}', position)
    assert store.find_idempotency("rep:bob", "key-1") is None


def test_an_idempotency_key_cannot_be_recorded_twice(store: EventStore) -> None:
    record = IdempotencyRecord("rep:alice", "key-1", "fp", 201, "{}")
    first = store.save(company_registered("A"), idempotency=record)
    again = company_registered("B")

    with pytest.raises(IntegrityError):
        store.save(again, idempotency=record)

    assert store.max_position() == first
    assert store.events(again[0].originator_id) == []
    assert store.find_idempotency("rep:alice", "key-1") == ("fp", 201, "{}", first)


def read_audit_view(store: EventStore, settings: Settings) -> list[dict[str, Any]]:
    """The auditors' view, read with plain SQL and no code of ours."""
    if store.is_postgres:
        import psycopg
        from psycopg.rows import dict_row

        assert settings.database_url and settings.postgres_schema
        with psycopg.connect(settings.database_url, row_factory=dict_row) as conn:
            return conn.execute(
                f"SELECT position, originator_id::text AS originator_id, version, topic, data, "
                f"jsonb_typeof(data->'amount') AS amount_type, data->>'amount' AS amount_text "
                f"FROM {settings.postgres_schema}.crm_events_json ORDER BY position"
            ).fetchall()
    with sqlite3.connect(settings.store_path) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute(
            "SELECT position, originator_id, version, topic, data, json_type(data, '$.amount') AS amount_type, "
            "json_extract(data, '$.amount') AS amount_text FROM events_json ORDER BY position"
        ).fetchall()
        return [{**dict(r), "originator_id": str(UUID(r["originator_id"])), "data": json.loads(r["data"]),
                 "amount_type": {"text": "string"}.get(r["amount_type"], r["amount_type"])} for r in rows]


def test_auditors_read_the_log_as_plain_json_with_sql(store: EventStore, settings: Settings) -> None:
    opened = deal_opened(a_pipeline())
    position = store.save(opened)

    rows = read_audit_view(store, settings)

    [row] = [r for r in rows if r["position"] == position]
    assert row["originator_id"] == str(opened[0].originator_id)
    assert row["version"] == 1
    assert row["topic"].endswith("Deal.Opened")
    assert row["amount_type"] == "string"
    assert row["amount_text"] == "1234.5600"
    data = row["data"]
    assert data["amount"] == "1234.5600"
    assert data["actor"] == "rep:alice"
    assert data["correlation_id"] == "req-1"
    assert data["expected_close"] == "2026-12-31"
    assert datetime.fromisoformat(data["occurred_at"]) == META.occurred_at


def test_loading_an_id_of_another_aggregate_type_returns_none(store: EventStore) -> None:
    registered = company_registered()
    company_id = registered[0].originator_id
    store.save(registered)

    assert store.load(Deal, company_id) is None
    assert store.load(Pipeline, company_id) is None
    assert store.load(Company, company_id) == Company.fold(registered)
    assert store.load(Company, uuid4()) is None


def test_a_saved_event_wakes_listeners_with_its_position(store: EventStore) -> None:
    heard: list[int] = []
    store.on_saved(heard.append)

    position = store.save(company_registered())

    assert heard == [position]


def test_load_many_reads_several_aggregates_in_one_go(services) -> None:
    """load_many equals one load per aggregate, misses and other types included."""
    from datetime import datetime, timezone
    from decimal import Decimal
    from uuid import uuid4

    from crm_es.aggregates import Deal, Pipeline
    from crm_es.aggregates import deal as deals
    from crm_es.aggregates import pipeline as pipelines
    from crm_es.aggregates.base import Meta

    now = datetime(2026, 3, 1, tzinfo=timezone.utc)
    meta = Meta(now, now, "t", "c")
    store = services.store
    pipeline_id, deal_id = uuid4(), uuid4()
    store.save(pipelines.create(pipeline_id, "P", [pipelines.StageSpec("A", Decimal("0.1")), pipelines.StageSpec("B", Decimal("0.5"))], uuid4, meta))
    pipeline = store.load(Pipeline, pipeline_id)
    store.save(deals.open_deal(deal_id, deals.DealDetails("D"), pipeline, "A", Decimal("5"), "EUR", None, meta))
    store.save(deals.move(store.load(Deal, deal_id), pipeline, "B", meta))
    wanted = [(Deal, deal_id), (Pipeline, pipeline_id), (Deal, uuid4()), (Deal, pipeline_id)]
    assert store.load_many(wanted) == [store.load(Deal, deal_id), pipeline, None, None]
    assert store.load_many(wanted)[0].version == 2
