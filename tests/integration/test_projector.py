"""The projector on SQLite AND PostgreSQL: commands in, DuckDB rows out, rows and position
committed together, the same tables whatever the batch size."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.utils import get_topic

from crm_es.aggregates import Deal, Pipeline
from crm_es.aggregates.company import CompanyDetails
from crm_es.aggregates.contact import Contact, ContactDetails
from crm_es.aggregates.deal import DealDetails
from crm_es.aggregates.interactions import DocumentSent, InteractionSpec
from crm_es.aggregates.pipeline import StageSpec
from crm_es.bootstrap import Services
from crm_es.commands import CommandResult, execute
from crm_es.commands.deals import (
    ChangeDeal,
    LoseDeal,
    MoveDeal,
    OpenDeal,
    ReopenDeal,
    WinDeal,
    change_deal,
    lose_deal,
    move_deal,
    open_deal,
    reopen_deal,
    win_deal,
)
from crm_es.commands.interactions import RecordInteraction, record_interaction
from crm_es.aggregates import lead_score as leads
from crm_es.aggregates.base import Meta, new_event
from crm_es.commands.dashboards import ChangeDashboard, SaveDashboard, change_dashboard, save_dashboard
from crm_es.commands.saved_views import ChangeView, RemoveView, SaveView, change_view, remove_view, save_view
from crm_es.commands.people import (
    AddRep, AddTeamMember, ChangeRep, DeactivateRep, FormTeam, ReactivateRep, SetQuota, add_rep, add_team_member,
    change_rep, deactivate_rep, form_team, reactivate_rep, set_quota,
)
from crm_es.commands.pipelines import CreatePipeline, RevisePipeline, create_pipeline, revise_pipeline
from crm_es.commands.records import (
    ChangeCompany,
    ChangeContact,
    ForgetContact,
    LeaveCompany,
    RegisterCompany,
    RegisterContact,
    change_company,
    change_contact,
    forget_contact,
    leave_company,
    register_company,
    register_contact,
)
from crm_es.aggregates.setup import PropertyDefinition
from crm_es.commands.setup import (
    ChangeList,
    DefineProperty,
    RemoveTagCategory,
    RetireProperty,
    SetTagCategory,
    change_list,
    define_property,
    remove_tag_category,
    retire_property,
    set_tag_category,
)
from crm_es.aggregates.task import TaskPlan
from crm_es.commands.tasks import (
    CancelTask,
    CompleteTask,
    PlanTask,
    RescheduleTask,
    SetActivityType,
    cancel_task,
    complete_task,
    plan_task,
    reschedule_task,
    set_activity_type,
)
from crm_es.projections.read_side import ReadSide
from crm_es.projections.deals import deal_moved
from crm_es.projections.catalogue import HANDLERS
from crm_es.projections.rows import EventRow, Op
from crm_es.projections.runner import Projector
from crm_es.store import EventStore

# One interaction of each kind, with its own fields (a hard bounce: the address is invalid).
INTERACTIONS: dict[str, dict[str, Any]] = {
    "call": {"direction": "inbound", "duration_seconds": 60, "outcome": "connected", "notes": "asked for a demo"},
    "email_sent": {"subject": "Demo", "message_id": "<1@crm>"}, "email_received": {"subject": "Re: Demo", "message_id": None},
    "email_opened": {"message_id": "<1@crm>"}, "email_clicked": {"message_id": "<1@crm>", "link": "https://x.test/"},
    "email_bounced": {"message_id": None, "bounce": "hard", "reason": "550"},
    "voicemail": {"duration_seconds": 20, "notes": None}, "meeting_held": {"mode": "video", "duration_minutes": 30, "notes": "ok"},
    "meeting_missed": {"mode": None, "notes": None}, "demo": {"duration_minutes": 45, "notes": None},
    "visit": {"duration_minutes": 60, "notes": "plant tour"},
    "page_visited": {"url": "https://x.test/pricing", "title": "Pricing", "seconds_on_page": 30, "referrer": None,
                     "visitor_id": "v1", "session_id": "s1"},
    "quote_opened": {"quote_id": "Q-1"}, "note": {"text": "prefers e-mail"}, "sms_sent": {"text": "see you"},
}

CALL_LOGGED_AT = datetime(2026, 2, 27, 22, 15, tzinfo=timezone(timedelta(hours=5, minutes=30)))
A_OPENED_AT = datetime(2026, 2, 20, 10, 0, tzinfo=timezone.utc)  # deal A's story is recorded late, in order
A_QUALIFIED_AT = datetime(2026, 2, 25, 16, 30, tzinfo=timezone.utc)


def run(services: Services, handler: Callable[[Any, Any], CommandResult], command: Any) -> CommandResult:
    return execute(handler, command, services.context(actor="rep:alice"))


@dataclass
class Crm:
    """The ids of a small CRM built through the command handlers."""

    services: Services
    rep: UUID
    pipeline: UUID
    company: UUID
    contact: UUID

    def pipeline_version(self) -> int:
        pipeline = self.services.store.load(Pipeline, self.pipeline)
        assert pipeline is not None
        return pipeline.version

    def stage_ids(self) -> dict[str, UUID]:
        pipeline = self.services.store.load(Pipeline, self.pipeline)
        assert pipeline is not None
        return {s.name: s.id for s in pipeline.stages}

    def open(self, title: str, stage: str, amount: str, occurred_at: datetime | None = None) -> UUID:
        details = DealDetails(title, (self.contact,), self.company, "website")
        cmd = OpenDeal(details, self.pipeline, stage, Decimal(amount), "EUR", self.rep, occurred_at=occurred_at)
        return run(self.services, open_deal, cmd).id

    def stages(self, *specs: tuple[str, str] | tuple[str, str, str], name: str | None = None) -> None:
        """Revise the pipeline to these stages: (name, probability) or (name, probability, existing name)."""
        ids = self.stage_ids()
        wanted = [StageSpec(s[0], Decimal(s[1]), ids[s[2]] if len(s) == 3 else ids.get(s[0])) for s in specs]
        run(self.services, revise_pipeline, RevisePipeline(self.pipeline, name=name, stages=wanted))


def a_crm(services: Services) -> Crm:
    rep = run(services, add_rep, AddRep("Alice", "alice@crm.test")).id
    stages = [StageSpec("Lead", Decimal("0.1")), StageSpec("Qualified", Decimal("0.3")),
              StageSpec("Proposal", Decimal("0.6")), StageSpec("Negotiation", Decimal("0.8"))]
    since = services.clock.now() - timedelta(days=365)  # the story's deals are dated up to weeks back
    pipeline = run(services, create_pipeline, CreatePipeline("Sales", stages, since)).id
    company = run(services, register_company, RegisterCompany(CompanyDetails("Acme", "retail", Decimal("1000000"), {"tier": "gold"}))).id
    contact = run(services, register_contact, RegisterContact(ContactDetails("Ada", "Lovelace", "ada@example.com", company_id=company,
                                                                             tags=("vip",)))).id
    return Crm(services, rep, pipeline, company, contact)


@dataclass
class Story:
    crm: Crm
    a: UUID  # opened in Lead, moved to Qualified then Proposal
    b: UUID  # opened in Qualified, lost, reopened (Qualified is then renamed Discovery)
    c: UUID  # opened in Lead, won
    d: UUID  # opened in Lead, its amount, owner and details changed
    e: UUID  # opened in Lead about Bea, its title erased when she is forgotten


def a_story(services: Services) -> Story:
    """Commands that between them record every kind of event the read side shows."""
    crm = a_crm(services)
    a = crm.open("A", "Lead", "1234.5600", occurred_at=A_OPENED_AT)
    b = crm.open("B", "Qualified", "500")
    c = crm.open("C", "Lead", "75.25")
    d = crm.open("D", "Lead", "1")
    run(services, move_deal, MoveDeal(a, "Qualified", occurred_at=A_QUALIFIED_AT))
    run(services, move_deal, MoveDeal(a, "Proposal", occurred_at=CALL_LOGGED_AT))
    run(services, lose_deal, LoseDeal(b, "no budget"))
    run(services, reopen_deal, ReopenDeal(b))
    run(services, win_deal, WinDeal(c))
    run(services, change_deal, ChangeDeal(d, {"title": "D+", "contact_ids": (), "expected_close": date(2026, 9, 30)},
                                          amount=Decimal("2000.10"), owner_id=None, owner_given=True))
    team = run(services, form_team, FormTeam("EMEA", crm.rep)).id
    run(services, add_team_member, AddTeamMember(team, crm.rep))
    # Bob joins, is renamed, changes address and leaves the team; leaves, comes back, leaves for good.
    bob = run(services, add_rep, AddRep("Bob", "bob@crm.test")).id
    run(services, add_team_member, AddTeamMember(team, bob))
    run(services, change_rep, ChangeRep(bob, name="Robert", email="robert@crm.test", team_id=None, team_given=True))
    run(services, deactivate_rep, DeactivateRep(bob, "left"))
    run(services, reactivate_rep, ReactivateRep(bob))
    run(services, deactivate_rep, DeactivateRep(bob, "left again"))
    run(services, set_quota, SetQuota(crm.rep, date(2026, 1, 1), date(2026, 4, 1), Decimal("50000"), "EUR"))
    week = [{"report": "funnel", "params": {"from": "2026-01-01T00:00:00Z", "to": "2026-04-01T00:00:00Z",
                                            "pipeline": str(crm.pipeline)}}]
    board = run(services, save_dashboard, SaveDashboard("Week", week)).id
    run(services, change_dashboard, ChangeDashboard(board, "My week", week))
    # Saved views (issue 19): one saved, changed, removed; another kept.
    view = run(services, save_view, SaveView("deals", "Open", {"status": "open"})).id
    run(services, change_view, ChangeView(view, "deals", "Mine, open", {"status": "open", "owner": str(crm.rep)}))
    run(services, save_view, SaveView("contacts", "Leads", {"status": "lead"}))
    run(services, remove_view, RemoveView(view))
    run(services, change_company, ChangeCompany(crm.company, {"sector": "wholesale", "properties": {"tier": "silver"}}))
    run(services, change_contact, ChangeContact(crm.contact, {"city": "London", "tags": ("vip", "uk")}, status="customer",
                                                owner_id=crm.rep, owner_given=True))
    bea = run(services, register_contact, RegisterContact(ContactDetails("Bea", "Forgotten", "bea@example.com"))).id
    # Tasks: planned (one about Bea, with notes, before she is forgotten), rescheduled, done, cancelled; activity types changed.
    due = datetime(2026, 3, 2, 10, tzinfo=timezone.utc)
    call = run(services, plan_task, PlanTask(TaskPlan("call", "Call Ada", due, 15, crm.contact, a, "mornings"), crm.rep)).id
    visit = run(services, plan_task, PlanTask(TaskPlan("customer_visit", "Visit Bea", due, None, bea, None, "gate code"), crm.rep)).id
    run(services, reschedule_task, RescheduleTask(call, due + timedelta(days=1)))
    run(services, complete_task, CompleteTask(visit, "Bea will think"))
    run(services, cancel_task, CancelTask(call))
    run(services, set_activity_type, SetActivityType("webinar", "#abcdef"))
    run(services, set_activity_type, SetActivityType("call", "#ff0000", "Phone call"))
    bea_deal = DealDetails("Bea's shop", (bea,))
    e = run(services, open_deal, OpenDeal(bea_deal, crm.pipeline, "Lead", Decimal("10"), "EUR", crm.rep)).id
    run(services, forget_contact, ForgetContact(bea, "ticket 1"))
    # The record configuration changed every way, and what it governs on a contact (Cy's).
    budget = PropertyDefinition("contact", "budget", "money", default_currency="EUR")
    run(services, define_property, DefineProperty(budget))
    run(services, define_property, DefineProperty(replace(budget, type="number", default_currency=None)))
    run(services, retire_property, RetireProperty("contact", "budget"))
    for name, values in (("statuses", ("lead", "prospect", "customer")), ("sources", ("referral", "website")),
                         ("lifecycle_stages", ("potential", "active", "lost")), ("contact_roles", ("decision maker", "buyer"))):
        run(services, change_list, ChangeList(name, values, name))
    run(services, set_tag_category, SetTagCategory("sector", ("Retail", "Industry")))
    run(services, remove_tag_category, RemoveTagCategory("potential"))
    cy = ContactDetails("Cy", "Roles", "cy@example.com", company_id=crm.company)
    cy_id = run(services, register_contact, RegisterContact(cy, lifecycle="potential", roles=("decision maker", "buyer"))).id
    run(services, change_contact, ChangeContact(cy_id, lifecycle="active", roles=("buyer",)))
    run(services, leave_company, LeaveCompany(cy_id, "moved to a competitor"))
    # A quote sent to Cy: what the outbox records on her timeline once the e-mail carrying it has gone.
    sent_at, version = services.clock.now(), services.store.load(Contact, cy_id).version
    services.store.save([new_event(DocumentSent, cy_id, version + 1, Meta(sent_at, sent_at, "rep:alice", "story"),
                                   rep_id=None, deal_id=None, document_id=UUID(int=1), document_kind="quote",
                                   number="Q-2026-0001", message_id="<1@crm-es>")])
    # Every kind of interaction on Ada (one concerning deal A, so the deal records it too); a
    # hard bounce marks her address invalid, a new one makes it valid again.
    for kind, fields in INTERACTIONS.items():
        spec = InteractionSpec(kind, fields, crm.rep, a if kind == "meeting_held" else None)
        run(services, record_interaction, RecordInteraction(crm.contact, spec, CALL_LOGGED_AT - timedelta(hours=1)))
    run(services, change_contact, ChangeContact(crm.contact, {"email": "ada.lovelace@example.com"}))
    # Ada's lead score moves (what the lead-scoring policy records, saved here as it saves it).
    now = services.clock.now()
    score = leads.score(leads.new_lead(crm.contact), 10, "page", "*/pricing*", f"{crm.contact}:1",
                        Meta(now, now, "policy:lead-scoring", "story"))
    services.store.save(score)
    # Rename the pipeline and Qualified (keeping its id), put Proposal first, drop the empty
    # Negotiation, add Closing.
    crm.stages(("Proposal", "0.6"), ("Lead", "0.1"), ("Discovery", "0.35", "Qualified"), ("Closing", "0.9"), name="Sales EMEA")
    return Story(crm, a, b, c, d, e)


def rows(read_side: ReadSide, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
    with read_side.cursor() as c:
        return c.execute(sql, list(params)).fetchall()


def a_read_side(store: EventStore, path: Path, batch_size: int) -> tuple[ReadSide, Projector]:
    read_side = ReadSide(path)
    return read_side, Projector(store, read_side, batch_size=batch_size)


@pytest.fixture
def story(services: Services) -> Story:
    story = a_story(services)
    services.projector.catch_up()
    return story


def test_deals_show_their_stage_status_and_amount(services: Services, story: Story) -> None:
    found = {
        r[0]: r[1:]
        for r in rows(services.read_side, "SELECT id, stage, status, amount, currency, closed_at, lost_reason, version FROM deals")
    }
    now = services.clock.now()

    assert found == {
        story.a: ("Proposal", "open", Decimal("1234.5600"), "EUR", None, None, 4),  # moved twice, a meeting about it
        story.b: ("Discovery", "open", Decimal("500"), "EUR", None, None, 3),  # reopened: no longer closed, no reason
        story.c: ("Lead", "won", Decimal("75.25"), "EUR", now, None, 2),
        story.d: ("Lead", "open", Decimal("2000.10"), "EUR", None, None, 4),
        story.e: ("Lead", "open", Decimal("10"), "EUR", None, None, 2),  # its text erased with Bea
    }
    assert str(found[story.a][2]) == "1234.5600"


def test_changed_deals_show_their_new_details(services: Services, story: Story) -> None:
    [(title, owner, contacts, expected_close)] = rows(
        services.read_side, "SELECT title, owner_id, contact_ids, expected_close FROM deals WHERE id = ?", [str(story.d)]
    )
    [(stage_entered_at,)] = rows(services.read_side, "SELECT stage_entered_at FROM deals WHERE id = ?", [str(story.a)])

    assert (title, owner, contacts, expected_close) == ("D+", None, [], date(2026, 9, 30))
    assert stage_entered_at == CALL_LOGGED_AT


def test_each_move_of_a_deal_is_one_row_of_its_stage_history(services: Services, story: Story) -> None:
    history = rows(
        services.read_side,
        "SELECT deal_id, kind, from_stage, to_stage, occurred_at, recorded_at, actor FROM deal_stage_changes ORDER BY position",
    )
    by_deal: dict[UUID, list[tuple[Any, ...]]] = {}
    for deal_id, *rest in history:
        by_deal.setdefault(deal_id, []).append(tuple(rest))

    assert [r[:3] for r in by_deal[story.a]] == [("opened", None, "Lead"), ("moved", "Lead", "Qualified"), ("moved", "Qualified", "Proposal")]
    # History keeps the stage's name at the time; the deals table shows the current one.
    assert [r[:3] for r in by_deal[story.b]] == [("opened", None, "Qualified"), ("reopened", None, "Qualified")]
    assert [r[:3] for r in by_deal[story.c]] == [("opened", None, "Lead")]
    # Business time as the command said; recorded time from the service's clock.
    assert by_deal[story.a][2][3] == CALL_LOGGED_AT
    assert by_deal[story.a][1][3] == A_QUALIFIED_AT
    assert by_deal[story.c][0][3] == services.clock.now()  # no business time given: it happened when recorded
    assert {r[5] for r in history} == {services.clock.now()}
    assert {r[6] for r in history} == {"rep:alice"}


def test_people_and_records_show_their_latest_changes(services: Services, story: Story) -> None:
    crm = story.crm
    contact, forgotten = rows(services.read_side, "SELECT email, city, status, owner_id, tags, company_id, version FROM contacts "
                                                  "WHERE email IS DISTINCT FROM 'cy@example.com' ORDER BY forgotten_at NULLS FIRST")
    [company] = rows(services.read_side, "SELECT id, name, sector, annual_revenue, properties::VARCHAR FROM companies")
    [(team_id, team_name, manager)] = rows(services.read_side, "SELECT id, name, manager_id FROM teams")
    [rep] = rows(services.read_side, "SELECT id, name, team_id FROM reps WHERE active")
    # Bob, renamed, moved out of the team, gone: his row stays, inactive since his last departure.
    assert rows(services.read_side, "SELECT name, email, team_id, active, deactivated_at IS NOT NULL FROM reps "
                                     "WHERE NOT active") == [("Robert", "robert@crm.test", None, False, True)]

    # 4 changes, 15 interactions and the invalid address, then the new address (valid again)
    assert contact == ("ada.lovelace@example.com", "London", "customer", crm.rep, ["vip", "uk"], crm.company, 22)
    assert forgotten == (None, None, "prospect", None, [], None, 2)
    assert company == (crm.company, "Acme", "wholesale", Decimal("1000000"), '{"tier":"silver"}')
    assert (team_name, manager) == ("EMEA", crm.rep)
    assert rep == (crm.rep, "Alice", team_id)


def test_stages_show_the_pipeline_order_after_reorder_and_removal(services: Services, story: Story) -> None:
    stages = rows(
        services.read_side,
        "SELECT stage_id, name, probability, sort_order FROM pipeline_stages WHERE pipeline_id = ? ORDER BY sort_order",
        [str(story.crm.pipeline)],
    )
    ids = story.crm.stage_ids()

    assert stages == [
        (ids["Proposal"], "Proposal", Decimal("0.6"), 0),
        (ids["Lead"], "Lead", Decimal("0.1"), 1),
        (ids["Discovery"], "Discovery", Decimal("0.35"), 2),
        (ids["Closing"], "Closing", Decimal("0.9"), 3),
    ]
    assert rows(services.read_side, "SELECT name, version FROM pipelines") == [("Sales EMEA", story.crm.pipeline_version())]


def test_a_renamed_stage_renames_the_stage_of_its_deals(services: Services, story: Story) -> None:
    discovery = story.crm.stage_ids()["Discovery"]
    story.crm.open("D", "discovery", "1")
    story.crm.stages(("Proposal", "0.6"), ("Lead", "0.1"), ("Discovery call", "0.35", "Discovery"), ("Closing", "0.9"))
    services.projector.catch_up()

    in_stage = rows(services.read_side, "SELECT title, stage FROM deals WHERE stage_id = ? ORDER BY title", [str(discovery)])

    assert in_stage == [("B", "Discovery call"), ("D", "Discovery call")]
    assert rows(services.read_side, "SELECT name FROM pipeline_stages WHERE stage_id = ?", [str(discovery)]) == [("Discovery call",)]
    assert rows(services.read_side, "SELECT stage FROM deals WHERE id = ?", [str(story.a)]) == [("Proposal",)]


def test_the_position_reached_is_the_stores_last_position(services: Services, story: Story) -> None:
    assert services.store.max_position() > 0
    assert rows(services.read_side, "SELECT name, position FROM projection_positions") == [("read_side", services.store.max_position())]
    assert services.read_side.position() == services.projector.position == services.store.max_position()
    assert services.projector.catch_up() == 0  # nothing left to do


@pytest.mark.parametrize("batch_size", [1, 3])
def test_small_batches_give_exactly_the_same_tables(services: Services, story: Story, tmp_path: Path, batch_size: int) -> None:
    other, projector = a_read_side(services.store, tmp_path / f"batches_of_{batch_size}.duckdb", batch_size)
    try:
        processed = projector.catch_up()

        events = services.store.read(0, 1_000_000)
        assert set(HANDLERS) <= {e.topic for e in events}  # the story reaches every projection
        assert processed == len(events)
        assert other.dump() == services.read_side.dump()
        assert other.position() == services.store.max_position()
        assert sum(len(table) for table in other.dump().values()) > 0
    finally:
        other.close()


def test_a_read_side_rebuilt_from_the_events_is_the_same(services: Services, story: Story) -> None:
    live = services.read_side.dump()
    services.read_side.drop_tables()
    services.read_side.create_tables()
    rebuilt = Projector(services.store, services.read_side, batch_size=4)

    rebuilt.catch_up()

    assert services.read_side.dump() == live


def project_until(store: EventStore, path: Path, position: int) -> ReadSide:
    """A read side holding exactly the events up to ``position``: what a rolled-back batch must leave."""
    read_side = ReadSide(path)
    Projector(store, read_side).process([e for e in store.read(0, 1_000_000) if e.position <= position])
    return read_side


@pytest.mark.parametrize("batch_size", [2, 10_000])
def test_a_batch_that_fails_midway_leaves_neither_rows_nor_position(
    services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch_size: int,
) -> None:
    crm = a_crm(services)
    deal = crm.open("A", "Lead", "10")
    read_side, projector = a_read_side(services.store, tmp_path / "failing.duckdb", batch_size)
    projector.catch_up()
    before = read_side.position()
    assert before == services.store.max_position()

    run(services, move_deal, MoveDeal(deal, "Qualified"))
    crm.stages(("Lead", "0.1"), ("Discovery", "0.3", "Qualified"), ("Proposal", "0.6"), ("Negotiation", "0.8"))
    run(services, move_deal, MoveDeal(deal, "Proposal"))  # the second move: the one that fails
    crm.open("B", "Lead", "20")

    topic = get_topic(Deal.StageChanged)
    handlers = HANDLERS[topic]
    calls: list[int] = []

    def fails_on_the_second_move(e: EventRow) -> Iterable[Op]:
        calls.append(e.position)
        if len(calls) == 2:
            raise RuntimeError("projection broke")
        return deal_moved(e)

    monkeypatch.setitem(HANDLERS, topic, [fails_on_the_second_move if h is deal_moved else h for h in handlers])
    with pytest.raises(RuntimeError, match="projection broke"):
        projector.catch_up()

    # After `before` the log holds: first move, rename, second move, B opened.
    pending = [e.position for e in services.store.read(before, 1_000_000)]
    assert len(pending) == 4 and calls[1] == pending[2]
    # Batches of 2 commit [first move, rename] and fail on the next; one big batch fails whole.
    reached = {2: pending[1], 10_000: before}[batch_size]
    expected = project_until(services.store, tmp_path / "expected.duckdb", reached)
    try:
        assert read_side.position() == projector.position == reached
        assert read_side.dump() == expected.dump()
        if batch_size == 10_000:
            # The failing batch held the first move and the rename (flushed to DuckDB inside it):
            # the rollback undid those rows too.
            assert rows(read_side, "SELECT stage FROM deals WHERE id = ?", [str(deal)]) == [("Lead",)]
            assert rows(read_side, "SELECT count(*) FROM deal_stage_changes") == [(1,)]
    finally:
        expected.close()

    monkeypatch.setitem(HANDLERS, topic, handlers)
    projector.catch_up()
    services.projector.catch_up()

    try:
        assert read_side.position() == services.store.max_position()
        assert read_side.dump() == services.read_side.dump()
        assert rows(read_side, "SELECT stage FROM deals WHERE id = ?", [str(deal)]) == [("Proposal",)]
    finally:
        read_side.close()
