"""The pipeline's rules, given events / when a decision / then events or an error. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from decimal import Decimal
from uuid import UUID

import pytest

from crm_es.aggregates import pipeline as pipelines
from crm_es.aggregates.base import Event, InvalidInput, Meta, RuleViolated
from crm_es.aggregates.pipeline import Pipeline, Stage, StageSpec
from crm_es.entrypoints.http.statuses import status_of

META = Meta(
    occurred_at=datetime(2026, 2, 27, 17, 0, tzinfo=timezone.utc),
    recorded_at=datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc),
    actor="admin:bob",
    correlation_id="req-9",
)
PIPELINE_ID = UUID(int=1)
LEAD_ID, QUALIFIED_ID, PROPOSAL_ID = UUID(int=101), UUID(int=102), UUID(int=103)
NEW_ID = UUID(int=900)


def ids(*values: UUID) -> Callable[[], UUID]:
    """A new-id source handing out these ids in turn (and failing loudly when asked for more)."""
    it = iter(values)
    return lambda: next(it)


def nobody(stage_id: UUID) -> int:
    return 0


def created() -> list[Event]:
    specs = [StageSpec("Lead", Decimal("0.1")), StageSpec("Qualified", Decimal("0.3")), StageSpec("Proposal", Decimal("0.6"))]
    return pipelines.create(PIPELINE_ID, "Sales", specs, ids(LEAD_ID, QUALIFIED_ID, PROPOSAL_ID), META)


def given(*history: Sequence[Event]) -> Pipeline:
    state = Pipeline.fold(e for events in history for e in events)
    assert state is not None
    return state


def spec(stage: Stage, name: str | None = None, probability: str | None = None) -> StageSpec:
    """An existing stage as a revision names it (by id), with some of its fields changed."""
    return StageSpec(name or stage.name, Decimal(probability) if probability else stage.probability, stage.id)


def revise(pipeline: Pipeline, specs: Sequence[StageSpec] | None, *, name: str | None = None,
           occupied: Callable[[UUID], int] = nobody, new_id: Callable[[], UUID] | None = None) -> list[Event]:
    return pipelines.revise(pipeline, name, specs, occupied, new_id or ids(NEW_ID), META)


def stage_names(pipeline: Pipeline) -> list[str]:
    return [s.name for s in pipeline.stages]


# --- creating ------------------------------------------------------------------------


def test_a_created_pipeline_has_its_stages_in_order_with_new_ids() -> None:
    [event] = created()

    assert isinstance(event, Pipeline.Created)
    pipeline = given([event])
    assert (pipeline.id, pipeline.name, pipeline.version) == (PIPELINE_ID, "Sales", 1)
    assert pipeline.stages == (
        Stage(LEAD_ID, "Lead", Decimal("0.1")),
        Stage(QUALIFIED_ID, "Qualified", Decimal("0.3")),
        Stage(PROPOSAL_ID, "Proposal", Decimal("0.6")),
    )


def test_a_pipeline_needs_at_least_one_stage() -> None:
    with pytest.raises(InvalidInput) as error:
        pipelines.create(PIPELINE_ID, "Empty", [], ids(), META)
    assert error.value.field == "stages"


def test_a_pipeline_cannot_be_created_with_a_stage_name_used_twice() -> None:
    specs = [StageSpec("Lead", Decimal("0.1")), StageSpec("Won", Decimal("1")), StageSpec("lead ", Decimal("0.2")),
             StageSpec("LEAD", Decimal("0.2"))]

    with pytest.raises(InvalidInput) as error:
        pipelines.create(PIPELINE_ID, "Sales", specs, ids(*(UUID(int=n) for n in range(4))), META)

    assert error.value.field == "stages[3].name"
    assert status_of(error.value) == 422


def test_stages_are_found_by_name_without_regard_to_case() -> None:
    pipeline = given(created())

    assert pipeline.stage_named("qUALIFIED") == pipeline.stage(QUALIFIED_ID)
    assert pipeline.stage_named("Negotiation") is None


# --- revising ------------------------------------------------------------------------


def test_a_revision_that_changes_nothing_records_nothing() -> None:
    pipeline = given(created())

    assert revise(pipeline, None) == []
    assert revise(pipeline, [spec(s) for s in pipeline.stages], name="Sales") == []
    # Named without ids, the same stages are found by name: still nothing to record.
    assert revise(pipeline, [StageSpec(s.name, s.probability) for s in pipeline.stages]) == []


def test_renaming_the_pipeline_records_renamed() -> None:
    [event] = revise(given(created()), None, name="Enterprise sales")

    assert isinstance(event, Pipeline.Renamed)
    assert given(created(), [event]).name == "Enterprise sales"


def test_renaming_a_stage_keeps_its_id() -> None:
    pipeline = given(created())
    lead, qualified, proposal = pipeline.stages

    [event] = revise(pipeline, [spec(lead), spec(qualified, name="Discovery"), spec(proposal)])

    assert isinstance(event, Pipeline.StageRenamed)
    assert (event.stage_id, event.name) == (QUALIFIED_ID, "Discovery")
    revised = given(created(), [event])
    assert revised.stage(QUALIFIED_ID) == Stage(QUALIFIED_ID, "Discovery", Decimal("0.3"))
    assert stage_names(revised) == ["Lead", "Discovery", "Proposal"]


def test_a_stage_named_again_in_another_case_is_renamed_not_replaced() -> None:
    pipeline = given(created())

    [event] = revise(pipeline, [StageSpec("LEAD", Decimal("0.1")), *(spec(s) for s in pipeline.stages[1:])])

    assert isinstance(event, Pipeline.StageRenamed)
    assert (event.stage_id, event.name) == (LEAD_ID, "LEAD")


def test_changing_a_stage_probability_records_it() -> None:
    pipeline = given(created())
    lead, qualified, proposal = pipeline.stages

    [event] = revise(pipeline, [spec(lead), spec(qualified), spec(proposal, probability="0.75")])

    assert isinstance(event, Pipeline.StageProbabilityChanged)
    assert (event.stage_id, event.probability) == (PROPOSAL_ID, Decimal("0.75"))
    assert given(created(), [event]).stage(PROPOSAL_ID).probability == Decimal("0.75")  # type: ignore[union-attr]


def test_adding_a_stage_at_the_end_records_stage_added_with_a_new_id() -> None:
    pipeline = given(created())

    [event] = revise(pipeline, [*(spec(s) for s in pipeline.stages), StageSpec("Negotiation", Decimal("0.8"))])

    assert isinstance(event, Pipeline.StageAdded)
    assert event.stage == Stage(NEW_ID, "Negotiation", Decimal("0.8"))
    assert event.order == (LEAD_ID, QUALIFIED_ID, PROPOSAL_ID, NEW_ID)
    assert stage_names(given(created(), [event])) == ["Lead", "Qualified", "Proposal", "Negotiation"]


def test_adding_a_stage_in_the_middle_records_the_new_order_too() -> None:
    pipeline = given(created())
    lead, qualified, proposal = pipeline.stages

    events = revise(pipeline, [spec(lead), StageSpec("Demo", Decimal("0.2")), spec(qualified), spec(proposal)])

    assert [type(e) for e in events] == [Pipeline.StageAdded, Pipeline.StagesReordered]
    assert events[1].order == (LEAD_ID, NEW_ID, QUALIFIED_ID, PROPOSAL_ID)
    assert stage_names(given(created(), events)) == ["Lead", "Demo", "Qualified", "Proposal"]


def test_removing_an_empty_stage_records_stage_removed() -> None:
    pipeline = given(created())
    lead, qualified, proposal = pipeline.stages
    asked: list[UUID] = []

    def occupied(stage_id: UUID) -> int:
        asked.append(stage_id)
        return 0

    [event] = revise(pipeline, [spec(lead), spec(proposal)], occupied=occupied)

    assert isinstance(event, Pipeline.StageRemoved)
    assert (event.stage_id, event.order) == (QUALIFIED_ID, (LEAD_ID, PROPOSAL_ID))
    assert asked == [QUALIFIED_ID]  # only the stage being removed is looked up
    assert stage_names(given(created(), [event])) == ["Lead", "Proposal"]


def test_a_stage_holding_open_deals_cannot_be_removed() -> None:
    pipeline = given(created())
    lead, qualified, proposal = pipeline.stages
    deals_in = {QUALIFIED_ID: 3}

    with pytest.raises(RuleViolated) as error:
        revise(pipeline, [spec(lead), spec(proposal)], occupied=lambda stage_id: deals_in.get(stage_id, 0))

    assert error.value.rule == "stage-has-deals"
    assert error.value.extra == {"stage_id": str(QUALIFIED_ID), "deals": 3}
    assert status_of(error.value) == 409


def test_reordering_stages_records_the_new_order_and_keeps_the_ids() -> None:
    pipeline = given(created())
    lead, qualified, proposal = pipeline.stages

    [event] = revise(pipeline, [spec(proposal), spec(lead), spec(qualified)])

    assert isinstance(event, Pipeline.StagesReordered)
    assert event.order == (PROPOSAL_ID, LEAD_ID, QUALIFIED_ID)
    revised = given(created(), [event])
    assert revised.stages == (proposal, lead, qualified)


def test_a_revision_with_a_stage_name_used_twice_names_the_field() -> None:
    pipeline = given(created())
    lead, qualified, proposal = pipeline.stages

    with pytest.raises(InvalidInput) as error:
        revise(pipeline, [spec(lead), spec(qualified), spec(proposal, name="qualified")])

    assert error.value.field == "stages[2].name"


def test_a_revision_naming_a_stage_id_of_another_pipeline_names_the_field() -> None:
    pipeline = given(created())

    with pytest.raises(InvalidInput) as error:
        revise(pipeline, [spec(pipeline.stages[0]), StageSpec("Elsewhere", Decimal("0.5"), UUID(int=555))])

    assert error.value.field == "stages[1].id"


def test_a_revision_listing_one_stage_twice_names_the_field() -> None:
    pipeline = given(created())
    lead = pipeline.stages[0]

    with pytest.raises(InvalidInput) as error:
        revise(pipeline, [spec(lead, name="First"), StageSpec("Lead", Decimal("0.1"))])  # by id, then by name

    assert error.value.field == "stages[1]"


def test_a_revision_that_does_everything_at_once_reaches_the_wanted_pipeline() -> None:
    pipeline = given(created())
    lead, qualified, proposal = pipeline.stages
    wanted = [
        spec(proposal, name="Offer", probability="0.7"),
        StageSpec("Negotiation", Decimal("0.9")),
        spec(lead),
    ]

    events = revise(pipeline, wanted, name="New sales")

    assert [type(e) for e in events] == [
        Pipeline.Renamed, Pipeline.StageRemoved, Pipeline.StageRenamed, Pipeline.StageProbabilityChanged,
        Pipeline.StageAdded, Pipeline.StagesReordered,
    ]
    assert [e.originator_version for e in events] == [2, 3, 4, 5, 6, 7]
    revised = given(created(), events)
    assert revised.name == "New sales"
    assert revised.stages == (
        Stage(PROPOSAL_ID, "Offer", Decimal("0.7")),
        Stage(NEW_ID, "Negotiation", Decimal("0.9")),
        Stage(LEAD_ID, "Lead", Decimal("0.1")),
    )


def test_two_stages_can_swap_names() -> None:
    pipeline = given(created())
    lead, qualified, proposal = pipeline.stages

    events = revise(pipeline, [spec(lead, name="Qualified"), spec(qualified, name="Lead"), spec(proposal)])

    revised = given(created(), events)
    assert revised.stages[0] == Stage(LEAD_ID, "Qualified", Decimal("0.1"))
    assert revised.stages[1] == Stage(QUALIFIED_ID, "Lead", Decimal("0.3"))


# --- the envelope and the fold ----------------------------------------------------------


def test_every_event_carries_who_when_and_why_from_the_meta() -> None:
    history = created()
    lead, qualified, proposal = given(history).stages
    history += revise(given(history), [spec(proposal, name="Offer", probability="0.7"), StageSpec("X", Decimal("0")), spec(lead)],
                      name="N")

    assert len(history) == 7
    for event in history:
        assert (event.occurred_at, event.timestamp) == (META.occurred_at, META.recorded_at)
        assert (event.actor, event.correlation_id, event.causation_id) == ("admin:bob", "req-9", None)
        assert event.originator_id == PIPELINE_ID


def test_folding_the_events_gives_the_state_built_step_by_step() -> None:
    def step(state: Pipeline | None, events: list[Event]) -> Pipeline:
        for event in events:
            state = Pipeline.evolve(state, event)
        assert state is not None
        return state

    new_ids = ids(UUID(int=901), UUID(int=902))
    history = created()
    state = step(None, history)
    for wanted in (
        lambda p: [spec(p.stages[2]), spec(p.stages[0]), spec(p.stages[1], name="Discovery")],
        lambda p: [*(spec(s) for s in p.stages), StageSpec("Closing", Decimal("0.95"))],
        lambda p: [spec(s) for s in p.stages if s.id != LEAD_ID],
        lambda p: [StageSpec("Intro", Decimal("0.05")), *(spec(s, probability="0.5") for s in p.stages)],
    ):
        events = revise(state, wanted(state), new_id=new_ids)
        assert events
        state = step(state, events)
        history += events

    assert Pipeline.fold(history) == state
    assert stage_names(state) == ["Intro", "Proposal", "Discovery", "Closing"]
    assert state.version == len(history)
