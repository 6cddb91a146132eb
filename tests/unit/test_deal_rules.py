"""The deal's rules, given events / when a decision / then events or an error. Pure: no I/O."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from crm_es.aggregates import deal as deals
from crm_es.aggregates import pipeline as pipelines
from crm_es.aggregates.base import Event, InvalidInput, Meta, RuleViolated
from crm_es.aggregates.deal import Deal, DealDetails
from crm_es.aggregates.pipeline import Pipeline, StageSpec
from crm_es.store.codec import upcast

META = Meta(
    occurred_at=datetime(2026, 2, 20, 15, 30, tzinfo=timezone(timedelta(hours=2))),
    recorded_at=datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc),
    actor="rep:alice",
    correlation_id="req-42",
    causation_id="evt-7",
)
DEAL_ID = UUID("00000000-0000-0000-0000-0000000000d1")
OWNER = UUID("00000000-0000-0000-0000-0000000000a1")
OTHER_OWNER = UUID("00000000-0000-0000-0000-0000000000a2")


def sales_pipeline() -> Pipeline:
    ids = iter(UUID(int=n) for n in range(100, 200))
    specs = [StageSpec("Lead", Decimal("0.1")), StageSpec("Qualified", Decimal("0.3")), StageSpec("Proposal", Decimal("0.6"))]
    events = pipelines.create(UUID(int=1), "Sales", specs, lambda: next(ids), META)
    pipeline = Pipeline.fold(events)
    assert pipeline is not None
    return pipeline


PIPELINE = sales_pipeline()
LEAD, QUALIFIED, PROPOSAL = PIPELINE.stages


def opened(stage: str = "Lead", amount: str = "1000.00") -> list[Event]:
    details = DealDetails("Acme renewal", (UUID(int=7),), UUID(int=8), "web", date(2026, 6, 30))
    return deals.open_deal(DEAL_ID, details, PIPELINE, stage, Decimal(amount), "EUR", OWNER, META)


def given(*history: list[Event]) -> Deal:
    state = Deal.fold(e for events in history for e in events)
    assert state is not None
    return state


def won(history: list[Event] | None = None) -> list[Event]:
    """The deal (just opened, unless a history is given) is won."""
    return deals.win(given(history or opened()), META)


def lost(history: list[Event] | None = None) -> list[Event]:
    return deals.lose(given(history or opened()), "no budget", META)


def pipeline_without(removed: str) -> Pipeline:
    """The sales pipeline after a revision that dropped one stage (none occupied)."""
    kept = [StageSpec(s.name, s.probability, s.id) for s in PIPELINE.stages if s.name != removed]
    pipeline = PIPELINE
    for event in pipelines.revise(PIPELINE, None, kept, lambda stage_id: 0, uuid4, META):
        pipeline = Pipeline.evolve(pipeline, event)
    assert pipeline.stage_named(removed) is None
    return pipeline


# --- opening -------------------------------------------------------------------------


def test_opening_a_deal_in_an_unknown_stage_is_refused() -> None:
    with pytest.raises(RuleViolated) as error:
        opened(stage="Negotiation")
    assert error.value.rule == "unknown-stage"
    assert error.value.extra["field"] == "stage"
    assert "Negotiation" in error.value.detail


def test_opening_a_deal_records_its_stage_by_id_and_name() -> None:
    [event] = opened(stage="qualified")  # stage names are matched without regard to case

    assert isinstance(event, Deal.Opened)
    assert (event.originator_id, event.originator_version) == (DEAL_ID, 1)
    assert (event.pipeline_id, event.stage_id, event.stage) == (PIPELINE.id, QUALIFIED.id, "Qualified")
    assert (event.amount, event.currency, event.owner_id) == (Decimal("1000.00"), "EUR", OWNER)


def test_an_opened_deal_is_open_in_its_stage() -> None:
    deal = given(opened(stage="Qualified"))

    assert (deal.status, deal.stage_id, deal.version) == (deals.OPEN, QUALIFIED.id, 1)
    assert deal.details.title == "Acme renewal"
    assert deal.details.contact_ids == (UUID(int=7),)


# --- moving --------------------------------------------------------------------------


def test_moving_a_deal_records_where_it_came_from_and_went_to() -> None:
    [event] = deals.move(given(opened()), PIPELINE, "Proposal", META)

    assert isinstance(event, Deal.StageChanged)
    assert event.originator_version == 2
    assert (event.from_stage_id, event.from_stage) == (LEAD.id, "Lead")
    assert (event.to_stage_id, event.to_stage) == (PROPOSAL.id, "Proposal")
    assert event.pipeline_id == PIPELINE.id


def test_a_moved_deal_is_in_its_new_stage() -> None:
    history = opened()
    moved = deals.move(given(history), PIPELINE, "Qualified", META)

    assert given(history, moved).stage_id == QUALIFIED.id


def test_moving_a_deal_to_the_stage_it_is_in_writes_nothing() -> None:
    assert deals.move(given(opened(stage="Qualified")), PIPELINE, "QUALIFIED", META) == []


def test_moving_a_deal_to_an_unknown_stage_is_refused() -> None:
    with pytest.raises(RuleViolated) as error:
        deals.move(given(opened()), PIPELINE, "Nowhere", META)
    assert error.value.rule == "unknown-stage"


def test_moving_a_deal_out_of_a_removed_stage_says_so() -> None:
    [event] = deals.move(given(opened(stage="Lead")), pipeline_without("Lead"), "Proposal", META)

    assert (event.from_stage_id, event.from_stage) == (LEAD.id, "(removed stage)")


# --- closing -------------------------------------------------------------------------


def test_winning_an_open_deal_records_the_stage_it_was_won_in() -> None:
    [event] = deals.win(given(opened(stage="Proposal")), META)

    assert isinstance(event, Deal.Won)
    assert event.stage_id == PROPOSAL.id
    assert given(opened(stage="Proposal"), [event]).status == deals.WON


def test_losing_an_open_deal_records_the_reason() -> None:
    [event] = deals.lose(given(opened()), "went with a competitor", META)

    assert isinstance(event, Deal.Lost)
    assert (event.reason, event.stage_id) == ("went with a competitor", LEAD.id)
    assert given(opened(), [event]).status == deals.LOST


CLOSED = {"won": won, "lost": lost}
ACTIONS = {
    "moved": lambda deal: deals.move(deal, PIPELINE, "Proposal", META),
    "won": lambda deal: deals.win(deal, META),
    "lost": lambda deal: deals.lose(deal, "again", META),
}


@pytest.mark.parametrize("closed", CLOSED)
@pytest.mark.parametrize("action", ACTIONS)
def test_a_closed_deal_cannot_be_moved_won_or_lost_again(closed: str, action: str) -> None:
    deal = given(opened(), CLOSED[closed]())

    with pytest.raises(RuleViolated) as error:
        ACTIONS[action](deal)

    assert error.value.rule == "deal-closed"
    assert error.value.extra["deal_status"] == closed


def test_a_closed_deal_can_still_be_corrected() -> None:
    deal = given(opened(), won())

    [event] = deals.change(deal, {"title": "Acme renewal 2026"}, None, None, None, False, META)

    assert isinstance(event, Deal.DetailsChanged)
    assert given(opened(), won(), [event]).status == deals.WON


# --- reopening -----------------------------------------------------------------------


def test_an_open_deal_cannot_be_reopened() -> None:
    with pytest.raises(RuleViolated) as error:
        deals.reopen(given(opened()), PIPELINE, None, META)
    assert error.value.rule == "deal-open"


@pytest.mark.parametrize("closed", CLOSED)
def test_a_closed_deal_reopens_in_the_stage_it_was_closed_in(closed: str) -> None:
    history = opened(stage="Qualified")
    history += CLOSED[closed](history)

    [event] = deals.reopen(given(history), PIPELINE, None, META)

    assert isinstance(event, Deal.Reopened)
    assert (event.stage_id, event.stage, event.pipeline_id) == (QUALIFIED.id, "Qualified", PIPELINE.id)
    deal = given(history, [event])
    assert (deal.status, deal.stage_id, deal.version) == (deals.OPEN, QUALIFIED.id, 3)


def test_a_closed_deal_reopens_in_a_named_stage() -> None:
    history = opened(stage="Proposal")
    history += lost(history)

    [event] = deals.reopen(given(history), PIPELINE, "lead", META)

    assert (event.stage_id, event.stage) == (LEAD.id, "Lead")
    assert given(history, [event]).stage_id == LEAD.id


def test_reopening_in_an_unknown_stage_is_refused() -> None:
    with pytest.raises(RuleViolated) as error:
        deals.reopen(given(opened(), won()), PIPELINE, "Nowhere", META)
    assert error.value.rule == "unknown-stage"


def test_a_deal_whose_stage_was_removed_reopens_only_in_a_named_stage() -> None:
    history = opened(stage="Lead") + won()
    pipeline = pipeline_without("Lead")

    with pytest.raises(RuleViolated) as error:
        deals.reopen(given(history), pipeline, None, META)
    assert (error.value.rule, error.value.extra["field"]) == ("unknown-stage", "stage")

    [event] = deals.reopen(given(history), pipeline, "Qualified", META)
    assert event.stage_id == QUALIFIED.id


def test_a_reopened_deal_can_be_moved_again() -> None:
    history = opened() + won()
    history += deals.reopen(given(history), PIPELINE, None, META)

    [event] = deals.move(given(history), PIPELINE, "Proposal", META)

    assert (event.originator_version, event.to_stage_id) == (4, PROPOSAL.id)


# --- changing ------------------------------------------------------------------------


def test_changing_nothing_records_nothing() -> None:
    deal = given(opened())

    assert deals.change(deal, {}, None, None, None, False, META) == []
    assert deals.change(deal, {"title": "Acme renewal"}, Decimal("1000.00"), "EUR", OWNER, True, META) == []


def test_a_new_amount_records_amount_changed_with_the_previous_one() -> None:
    [event] = deals.change(given(opened()), {}, Decimal("1500.50"), None, None, False, META)

    assert isinstance(event, Deal.AmountChanged)
    assert (event.amount, event.currency) == (Decimal("1500.50"), "EUR")
    assert (event.previous_amount, event.previous_currency) == (Decimal("1000.00"), "EUR")


def test_a_new_currency_alone_is_an_amount_change() -> None:
    [event] = deals.change(given(opened()), {}, None, "USD", None, False, META)

    assert isinstance(event, Deal.AmountChanged)
    assert (event.amount, event.currency, event.previous_currency) == (Decimal("1000.00"), "USD", "EUR")


def test_a_new_owner_records_owner_changed_only_when_an_owner_is_given() -> None:
    deal = given(opened())

    assert deals.change(deal, {}, None, None, OTHER_OWNER, False, META) == []
    [event] = deals.change(deal, {}, None, None, OTHER_OWNER, True, META)
    assert isinstance(event, Deal.OwnerChanged)
    assert (event.owner_id, event.previous_owner_id) == (OTHER_OWNER, OWNER)


def test_giving_no_owner_unassigns_the_deal() -> None:
    [event] = deals.change(given(opened()), {}, None, None, None, True, META)

    assert isinstance(event, Deal.OwnerChanged)
    assert (event.owner_id, event.previous_owner_id) == (None, OWNER)


def test_new_details_record_a_snapshot_of_all_details() -> None:
    [event] = deals.change(given(opened()), {"source": "referral"}, None, None, None, False, META)

    assert isinstance(event, Deal.DetailsChanged)
    assert event.source == "referral"
    assert (event.title, event.contact_ids, event.company_id, event.expected_close) == (
        "Acme renewal", (UUID(int=7),), UUID(int=8), date(2026, 6, 30),
    )


def test_several_changes_are_separate_facts_with_consecutive_versions() -> None:
    events = deals.change(given(opened()), {"title": "Bigger"}, Decimal("9"), None, OTHER_OWNER, True, META)

    assert [type(e) for e in events] == [Deal.AmountChanged, Deal.OwnerChanged, Deal.DetailsChanged]
    assert [e.originator_version for e in events] == [2, 3, 4]
    deal = given(opened(), events)
    assert (deal.amount, deal.owner_id, deal.details.title, deal.version) == (Decimal("9"), OTHER_OWNER, "Bigger", 4)


# --- the envelope and the fold ----------------------------------------------------------


def test_every_event_carries_who_when_and_why_from_the_meta() -> None:
    history = opened()
    history += deals.move(given(history), PIPELINE, "Qualified", META)
    history += deals.change(given(history), {"title": "T"}, Decimal("1"), None, None, True, META)
    history += deals.lose(given(history), "r", META)
    history += deals.reopen(given(history), PIPELINE, None, META)
    history += deals.win(given(history), META)

    assert len({type(e) for e in history}) == 8
    for event in history:
        assert event.occurred_at == META.occurred_at
        assert event.occurred_at.utcoffset() == timedelta(hours=2)
        assert event.timestamp == META.recorded_at
        assert (event.actor, event.correlation_id, event.causation_id) == ("rep:alice", "req-42", "evt-7")
    assert [e.originator_version for e in history] == list(range(1, len(history) + 1))


def test_folding_the_events_gives_the_state_built_step_by_step() -> None:
    decisions = [
        lambda d: opened(stage="Lead", amount="10"),
        lambda d: deals.move(d, PIPELINE, "Qualified", META),
        lambda d: deals.change(d, {"source": "fair"}, Decimal("20.5"), "USD", OTHER_OWNER, True, META),
        lambda d: deals.move(d, PIPELINE, "Proposal", META),
        lambda d: deals.lose(d, "price", META),
        lambda d: deals.reopen(d, PIPELINE, "Qualified", META),
        lambda d: deals.win(d, META),
    ]
    state: Deal | None = None
    history: list[Event] = []
    for decide in decisions:
        for event in decide(state):
            state = Deal.evolve(state, event)
            history.append(event)

    assert Deal.fold(history) == state
    assert state is not None
    assert (state.status, state.stage_id, state.amount, state.currency, state.owner_id, state.version) == (
        deals.WON, QUALIFIED.id, Decimal("20.5"), "USD", OTHER_OWNER, len(history),
    )
    assert state.details.source == "fair"


# --- a deal cannot be dated before its pipeline or its stage existed --------------------


def at(occurred_at: datetime) -> Meta:
    return META._replace(occurred_at=occurred_at)


def test_a_deal_dated_before_its_pipeline_existed_is_refused_naming_the_rule():
    before = META.occurred_at - timedelta(seconds=1)
    with pytest.raises(RuleViolated) as refused:
        deals.open_deal(DEAL_ID, DealDetails("Old deal"), PIPELINE, "Lead", Decimal(1), "EUR", OWNER, at(before))
    assert refused.value.rule == "before-pipeline"
    assert refused.value.extra["field"] == "occurred_at"
    assert refused.value.extra["pipeline_created_at"] == META.occurred_at.isoformat()


def test_a_deal_dated_at_the_very_instant_its_pipeline_was_created_is_accepted():
    [event] = deals.open_deal(DEAL_ID, DealDetails("Day one"), PIPELINE, "Lead", Decimal(1), "EUR", OWNER, META)
    assert event.occurred_at == PIPELINE.created_at


def test_a_deal_cannot_enter_a_stage_before_the_stage_was_added():
    later = META.occurred_at + timedelta(days=30)
    ids = iter(UUID(int=n) for n in range(300, 310))
    created = pipelines.create(UUID(int=2), "Sales", [StageSpec("Lead", Decimal("0.1"))], lambda: next(ids), META)
    before = Pipeline.fold(created)
    assert before is not None
    added = pipelines.revise(before, None, [StageSpec("Lead", Decimal("0.1")), StageSpec("Signature", Decimal("0.9"))],
                             lambda _: 0, lambda: next(ids), at(later))
    pipeline = Pipeline.fold([*created, *added])
    assert pipeline is not None
    deal = given(deals.open_deal(DEAL_ID, DealDetails("Acme"), pipeline, "Lead", Decimal(1), "EUR", OWNER, at(later - timedelta(days=1))))
    with pytest.raises(RuleViolated) as refused:
        deals.move(deal, pipeline, "Signature", at(later - timedelta(hours=1)))
    assert refused.value.rule == "stage-not-yet-added"
    [moved] = deals.move(deal, pipeline, "Signature", at(later))
    assert moved.to_stage == "Signature"


@pytest.mark.parametrize("amount, currency", [("1000.5", "JPY"), ("12.345", "EUR"), ("1.2345", "KWD")])
def test_an_amount_finer_than_its_currency_allows_is_refused_naming_the_field(amount, currency):
    with pytest.raises(InvalidInput) as refused:
        deals.open_deal(DEAL_ID, DealDetails("Yen"), PIPELINE, "Lead", Decimal(amount), currency, OWNER, META)
    assert refused.value.field == "amount" and currency in refused.value.detail
    with pytest.raises(InvalidInput):
        deals.change(given(opened()), {}, Decimal(amount), currency, None, False, META)


@pytest.mark.parametrize("amount, currency", [("1000", "JPY"), ("1000.00", "JPY"), ("12.34", "EUR"), ("1.234", "KWD")])
def test_an_amount_at_its_currency_scale_is_accepted(amount, currency):
    [event] = deals.open_deal(DEAL_ID, DealDetails("Fine"), PIPELINE, "Lead", Decimal(amount), currency, OWNER, META)
    assert event.amount == Decimal(amount)


# --- its free text, sealed under a key the forgetting of a named contact erases ----------

NEW_KEY = UUID(int=900)
FORGOTTEN = UUID(int=7)  # the contact opened() names


def test_the_title_and_the_lost_reason_are_sealed_under_the_deals_text_key() -> None:
    assert (Deal.Opened.personal_fields, Deal.Opened.subject_field) == (("title",), "originator_id")
    assert (Deal.DetailsChanged.personal_fields, Deal.DetailsChanged.subject_field) == (("title",), "text_key")
    assert (Deal.Lost.personal_fields, Deal.Lost.subject_field) == (("reason",), "text_key")
    deal = given(opened())
    assert deals.key_of_text(deal) == DEAL_ID  # a new deal's: its own id
    [changed] = deals.change(deal, {"title": "Acme renewal 2026"}, None, None, None, False, META)
    [lost_] = deals.lose(deal, "no budget", META, competitor="Globex")
    assert changed.text_key == lost_.text_key == DEAL_ID
    assert lost_.competitor == "Globex"  # a company: in clear for the analysts


def test_forgetting_a_named_contact_erases_the_title_and_names_the_next_key() -> None:
    history = opened()
    history += lost(history)
    [erased] = deals.contact_forgotten(given(history), FORGOTTEN, NEW_KEY, later_meta())
    assert isinstance(erased, Deal.ContactForgotten)
    assert (erased.contact_id, erased.text_key, erased.originator_version) == (FORGOTTEN, NEW_KEY, 3)

    deal = given(history, [erased])
    assert deal.details.title is None and deal.text_key == NEW_KEY and deals.key_of_text(deal) == NEW_KEY
    assert (deal.status, deal.amount, deal.details.contact_ids) == (deals.LOST, Decimal("1000.00"), (FORGOTTEN,))
    assert deal.changed_at == given(history).changed_at, "an erasure is no business change"
    # what is written next is sealed under the new key: the deal can still be renamed, reopened, lost
    [renamed] = deals.change(deal, {"title": "Renewal"}, None, None, None, False, META)
    assert (renamed.title, renamed.text_key) == ("Renewal", NEW_KEY)
    reopened = deals.reopen(deal, PIPELINE, None, META)
    [lost_again] = deals.lose(given(history, [erased], reopened), "price", META)
    assert lost_again.text_key == NEW_KEY


def later_meta() -> Meta:
    """Recorded after the deal's last change, dated before it: an erasure may come at any time."""
    return META._replace(occurred_at=META.occurred_at - timedelta(days=400))


def test_details_and_lost_stored_before_v3_are_upcast_with_no_text_key() -> None:
    """Their text was stored in clear: no key opens it, and none is needed."""
    lost_v1 = {"stage_id": str(LEAD.id), "reason": "no budget"}
    assert upcast(Deal.Lost, dict(lost_v1)) == {**lost_v1, "competitor": None, "text_key": None}
    lost_v2 = {**lost_v1, "competitor": "Globex", "class_version": 2}
    assert upcast(Deal.Lost, dict(lost_v2)) == {**lost_v1, "competitor": "Globex", "text_key": None}
    details_v1 = {"title": "Acme", "contact_ids": [], "company_id": None, "source": None, "expected_close": None}
    assert upcast(Deal.DetailsChanged, dict(details_v1)) == {**details_v1, "properties": {}, "text_key": None}
    details_v2 = {**details_v1, "properties": {"seats": 3}, "class_version": 2}
    assert upcast(Deal.DetailsChanged, dict(details_v2)) == {**details_v1, "properties": {"seats": 3}, "text_key": None}
