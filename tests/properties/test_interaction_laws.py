"""Laws of interactions, under random sequences of them (SQLite and PostgreSQL).

Hypothesis draws interactions of every type, logged late or on time, one by one or in
batches holding bad items and re-sent event ids, some naming a deal, and now and then a
contact forgotten. Then:

(a) each contact's counters on the read side equal the counts computed from its events
    in the store;
(b) each record's timeline, page after page, equals the store's events for that record,
    in order (type, business time, recorded time, actor) — filtered by random types and
    periods too;
(c) the read side rebuilt from the events equals the one kept live.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from crm_es.aggregates import Contact, Deal
from crm_es.aggregates.base import DomainError
from crm_es.aggregates.contact import ContactDetails
from crm_es.aggregates.deal import DealDetails
from crm_es.aggregates.interactions import KINDS, TOUCHES, Interaction, InteractionSpec, PageVisited
from crm_es.aggregates.pipeline import StageSpec
from crm_es.bootstrap import Services
from crm_es.clock import FrozenClock
from crm_es.commands import execute
from crm_es.commands import deals as deal_commands
from crm_es.commands import interactions as interaction_commands
from crm_es.commands import pipelines as pipeline_commands
from crm_es.commands import records as record_commands
from crm_es.projections.read_side import ReadSide
from crm_es.projections.runner import Projector
from crm_es.queries.timeline import TYPES, Period, timeline, type_name

FIELDS: dict[str, dict[str, Any]] = {
    "call": {"direction": "outbound", "duration_seconds": 60, "outcome": "connected", "notes": "about the renewal"},
    "email_sent": {"subject": "Hello", "message_id": "<m@x>"},
    "email_received": {"subject": "Re: Hello", "message_id": "<r@x>"},
    "email_opened": {"message_id": "<m@x>"},
    "email_clicked": {"message_id": "<m@x>", "link": "https://example.com/"},
    "email_bounced": {"message_id": None, "bounce": "hard", "reason": None},
    "voicemail": {"duration_seconds": 20, "notes": None},
    "meeting_held": {"mode": "phone", "duration_minutes": 30, "notes": "went well"},
    "meeting_missed": {"mode": None, "notes": None},
    "demo": {"duration_minutes": 45, "notes": None},
    "visit": {"duration_minutes": 60, "notes": "factory tour"},
    "page_visited": {"url": "https://example.com/p", "title": "P", "seconds_on_page": 5, "referrer": None,
                     "visitor_id": "v", "session_id": "s"},
    "quote_opened": {"quote_id": "Q1"},
    "note": {"text": "likes golf"},
    "sms_sent": {"text": "on my way"},
}

COUNTERS = {"call": "calls", "email_sent": "emails_sent", "email_received": "emails_received",
            "email_opened": "emails_opened", "email_clicked": "emails_clicked", "page_visited": "page_visits",
            "meeting_held": "meetings_held", "meeting_missed": "meetings_missed"}

# One interaction: (contact, type, minutes before now, on the deal?, event id or None)
interaction = st.tuples(st.integers(0, 3), st.sampled_from(sorted(KINDS)), st.integers(0, 600), st.booleans(),
                        st.none() | st.integers(0, 8))
steps = st.lists(
    st.one_of(
        st.tuples(st.just("one"), interaction),
        st.tuples(st.just("batch"), st.lists(st.one_of(interaction, st.just("bad")), min_size=1, max_size=8)),
        st.tuples(st.just("forget"), st.integers(0, 3)),
        st.tuples(st.just("wait"), st.integers(1, 90)),
    ),
    max_size=12,
)


class World:
    def __init__(self, services: Services, clock: FrozenClock) -> None:
        self.services, self.clock = services, clock
        self.names = itertools.count()
        self.contacts: list[UUID] = []
        ctx = self.ctx()
        stages = [StageSpec("Open", Decimal("0.5"))]
        pipeline = execute(pipeline_commands.create_pipeline, pipeline_commands.CreatePipeline("P", stages), ctx)
        self.deal = execute(deal_commands.open_deal, deal_commands.OpenDeal(
            DealDetails("D"), pipeline.id, "Open", Decimal("10"), "EUR"), self.ctx()).id

    def ctx(self) -> Any:
        return self.services.context(actor=f"rep:{uuid4()}")

    def contact(self, index: int) -> UUID:
        while len(self.contacts) <= index:
            details = ContactDetails("Ann", "Lee", f"ann{next(self.names)}@example.com", phone="+33 1 23")
            self.contacts.append(execute(record_commands.register_contact, record_commands.RegisterContact(details),
                                         self.ctx()).id)
        return self.contacts[index]

    def spec(self, kind: str, on_deal: bool) -> InteractionSpec:
        return InteractionSpec(kind, dict(FIELDS[kind]), deal_id=self.deal if on_deal else None)

    def occurred(self, minutes: int) -> datetime:
        return self.clock.now() - timedelta(minutes=minutes)

    def event_id(self, n: int | None) -> str | None:
        return None if n is None else f"evt-{n}"

    def run(self, step: tuple[Any, ...]) -> None:
        kind, arg = step
        if kind == "wait":
            self.clock.advance(minutes=arg)
        elif kind == "forget":
            try:
                execute(record_commands.forget_contact, record_commands.ForgetContact(self.contact(arg)), self.ctx())
            except DomainError:
                pass
        elif kind == "one":
            who, type_, minutes, on_deal, n = arg
            command = interaction_commands.RecordInteraction(
                self.contact(who), self.spec(type_, on_deal), self.occurred(minutes), self.event_id(n))
            try:
                execute(interaction_commands.record_interaction, command, self.ctx())
            except DomainError as refused:
                assert refused.rule == "contact-forgotten", refused
        else:
            items = []
            for index, item in enumerate(arg):
                if item == "bad":  # names no contact that exists
                    items.append(interaction_commands.BatchItem(index, self.spec("call", False), contact_id=uuid4()))
                    continue
                who, type_, minutes, on_deal, n = item
                items.append(interaction_commands.BatchItem(
                    index, self.spec(type_, on_deal), self.contact(who), None, self.occurred(minutes), self.event_id(n)))
            results = interaction_commands.record_batch(interaction_commands.RecordBatch(items), self.ctx())
            for item, result in zip(arg, results, strict=True):
                assert result.status in (("error",) if item == "bad" else ("accepted", "duplicate", "error"))


def counts_from_events(events: list[Any]) -> dict[str, Any]:
    interactions = [e for e in events if isinstance(e, Interaction)]
    counts: dict[str, Any] = {column: 0 for column in COUNTERS.values()}
    for e in interactions:
        if e.kind in COUNTERS:
            counts[COUNTERS[e.kind]] += 1
    counts["interactions"] = len(interactions)
    counts["sessions"] = sum(1 for e in interactions if isinstance(e, PageVisited) and e.new_session)
    touches = [e.occurred_at for e in interactions if e.kind in TOUCHES]
    counts["last_contacted_at"] = max(touches, default=None)
    counts["last_activity_at"] = max((e.occurred_at for e in interactions), default=None)
    counts["email_invalid"] = Contact.fold(events).email_invalid
    return counts


def whole_timeline(store: Any, record_id: UUID, types: set[str] | None = None, period: Period = Period()) -> list[tuple[Any, ...]]:
    rows, cursor = [], None
    while True:
        page = timeline(store, record_id, types=types, period=period, limit=4, cursor=cursor)
        rows += [(i["type"], i["occurred_at"], i["recorded_at"], i["actor"]) for i in page.items]
        if not (cursor := page.next_cursor):
            return rows


def as_stored(events: list[Any], types: set[str] | None = None, period: Period = Period()) -> list[tuple[Any, ...]]:
    shown = [
        (e.kind if isinstance(e, Deal.InteractionRecorded) else type_name(type(e)), e.occurred_at.isoformat(),
         e.timestamp.isoformat(), e.actor)
        for e in events
    ]
    return [s for s in shown if (not types or s[0] in types) and period.holds(datetime.fromisoformat(s[1]))]


# A filter of the timeline: some types, and a period in minutes before the clock's time.
filters = st.tuples(st.sets(st.sampled_from(TYPES), max_size=4), st.none() | st.integers(0, 900),
                    st.none() | st.integers(0, 900))


def test_interaction_laws_hold(services: Services, clock: FrozenClock, tmp_path: Path) -> None:
    world = World(services, clock)
    rebuilds = itertools.count()

    @hypothesis_settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(steps, filters)
    def laws_hold(plan: list[tuple[Any, ...]], timeline_filter: tuple[set[str], int | None, int | None]) -> None:
        for step in plan:
            world.run(step)
        types, since, until = timeline_filter
        now = clock.now()
        period = Period(None if since is None else now - timedelta(minutes=since),
                        None if until is None else now - timedelta(minutes=until))
        services.projector.catch_up()
        store = services.store
        with services.read_side.cursor() as cur:
            for contact_id in world.contacts:
                events = store.events(contact_id)
                columns = ", ".join(counts_from_events(events))
                row = cur.execute(f"SELECT {columns} FROM contacts WHERE id = ?", [str(contact_id)]).fetchone()
                shown = dict(zip(counts_from_events(events), row, strict=True))
                assert shown == counts_from_events(events), contact_id  # (a)
                assert whole_timeline(store, contact_id) == as_stored(events)  # (b)
                assert whole_timeline(store, contact_id, types, period) == as_stored(events, types, period)
            deal_events = store.events(world.deal)
            assert whole_timeline(store, world.deal) == as_stored(deal_events)
            assert whole_timeline(store, world.deal, types, period) == as_stored(deal_events, types, period)
        rebuilt = ReadSide(tmp_path / f"rebuilt-{next(rebuilds)}.duckdb")
        try:
            Projector(store, rebuilt, batch_size=7).catch_up()
            assert rebuilt.dump() == services.read_side.dump()  # (c)
        finally:
            rebuilt.close()

    laws_hold()
