"""A deal (opportunity): a potential sale moving through the stages of one pipeline."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from crm_es.aggregates.base import Aggregate, Decision, Event, InvalidInput, Meta, RuleViolated, later, new_event
from crm_es.aggregates.money import scale_problem
from crm_es.aggregates.pipeline import Pipeline, Stage

OPEN, WON, LOST = "open", "won", "lost"


@dataclass(frozen=True)
class DealDetails:
    title: str
    contact_ids: tuple[UUID, ...] = ()
    company_id: UUID | None = None
    source: str | None = None
    expected_close: date | None = None
    properties: dict[str, Any] | None = None  # custom properties (F08)


@dataclass(frozen=True)
class Deal(Aggregate):
    details: DealDetails
    pipeline_id: UUID
    stage_id: UUID
    amount: Decimal
    currency: str
    owner_id: UUID | None
    status: str
    changed_at: datetime | None = None  # business time of the last change (interactions aside)

    class Opened(Event):
        """v2 added the custom ``properties``."""

        class_version = 2

        title: str
        pipeline_id: UUID
        stage_id: UUID
        stage: str
        amount: Decimal
        currency: str
        owner_id: UUID | None
        contact_ids: tuple[UUID, ...]
        company_id: UUID | None
        source: str | None
        expected_close: date | None
        properties: dict[str, Any]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["properties"] = {}  # deals had none before

    class StageChanged(Event):
        pipeline_id: UUID
        from_stage_id: UUID
        from_stage: str
        to_stage_id: UUID
        to_stage: str

    class Won(Event):
        stage_id: UUID

    class Lost(Event):
        """v2 names the competitor the deal went to (None: not to a competitor, or not known)."""

        class_version = 2

        stage_id: UUID
        reason: str
        competitor: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["competitor"] = None  # v1 did not ask; "not known" is the truth for those

    class Reopened(Event):
        pipeline_id: UUID
        stage_id: UUID
        stage: str

    class OwnerChanged(Event):
        owner_id: UUID | None
        previous_owner_id: UUID | None

    class AmountChanged(Event):
        amount: Decimal
        currency: str
        previous_amount: Decimal
        previous_currency: str

    class DetailsChanged(Event):
        """The deal's descriptive fields after the change (a whole snapshot). v2 added
        the custom ``properties``."""

        class_version = 2

        title: str
        contact_ids: tuple[UUID, ...]
        company_id: UUID | None
        source: str | None
        expected_close: date | None
        properties: dict[str, Any]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["properties"] = {}

    class InteractionRecorded(Event):
        """An interaction on one of the deal's contacts that concerns this deal: the
        contact's event (``contact_id`` at ``contact_version``) holds its fields."""

        changes_state = False  # the deal's stage, amount … stay as they are

        contact_id: UUID
        contact_version: int
        kind: str

    @classmethod
    def evolve(cls, state: Deal | None, event: Event) -> Deal:
        if isinstance(event, Deal.Opened):
            details = _details(event)
            return Deal(
                event.originator_id, event.originator_version, details, event.pipeline_id, event.stage_id,
                event.amount, event.currency, event.owner_id, OPEN, event.occurred_at,
            )
        assert state is not None
        if isinstance(event, Deal.InteractionRecorded):
            return state.moved_on(version=event.originator_version)
        state = replace(state, version=event.originator_version, changed_at=later(state.changed_at, event.occurred_at))
        match event:
            case Deal.StageChanged():
                return replace(state, stage_id=event.to_stage_id)
            case Deal.Won():
                return replace(state, status=WON)
            case Deal.Lost():
                return replace(state, status=LOST)
            case Deal.Reopened():
                return replace(state, status=OPEN, stage_id=event.stage_id)
            case Deal.OwnerChanged():
                return replace(state, owner_id=event.owner_id)
            case Deal.AmountChanged():
                return replace(state, amount=event.amount, currency=event.currency)
            case Deal.DetailsChanged():
                return replace(state, details=_details(event))
        raise TypeError(f"Deal cannot apply {type(event).__qualname__}")


def _details(event: Deal.Opened | Deal.DetailsChanged) -> DealDetails:
    return DealDetails(
        event.title, tuple(event.contact_ids), event.company_id, event.source, event.expected_close, dict(event.properties)
    )


def _stage(pipeline: Pipeline, name: str, meta: Meta) -> Stage:
    """The stage named, which must have existed when the deal is said to be in it."""
    stage = pipeline.stage_named(name)
    if stage is None:
        known = ", ".join(s.name for s in pipeline.stages)
        raise RuleViolated("unknown-stage", f"pipeline {pipeline.name!r} has no stage {name!r} (stages: {known})", field="stage")
    pipeline.check_existed(stage, meta.occurred_at)
    return stage


def _check_scale(amount: Decimal, currency: str) -> None:
    if (problem := scale_problem(amount, currency)) is not None:
        raise InvalidInput("amount", problem)


def _require_open(deal: Deal, action: str) -> None:
    if deal.status != OPEN:
        raise RuleViolated("deal-closed", f"deal is {deal.status}: it cannot be {action}; reopen it first", deal_status=deal.status)


def open_deal(
    deal_id: UUID,
    details: DealDetails,
    pipeline: Pipeline,
    stage_name: str,
    amount: Decimal,
    currency: str,
    owner_id: UUID | None,
    meta: Meta,
) -> list[Event]:
    _check_scale(amount, currency)
    stage = _stage(pipeline, stage_name, meta)
    return [
        new_event(
            Deal.Opened, deal_id, 1, meta,
            title=details.title, pipeline_id=pipeline.id, stage_id=stage.id, stage=stage.name,
            amount=amount, currency=currency, owner_id=owner_id,
            contact_ids=tuple(details.contact_ids), company_id=details.company_id,
            source=details.source, expected_close=details.expected_close, properties=dict(details.properties or {}),
        )
    ]


def move(deal: Deal, pipeline: Pipeline, stage_name: str, meta: Meta) -> list[Event]:
    _require_open(deal, "moved")
    stage = _stage(pipeline, stage_name, meta)
    if stage.id == deal.stage_id:
        return []
    current = pipeline.stage(deal.stage_id)
    from_name = current.name if current else "(removed stage)"
    return [deal.then(Deal.StageChanged, meta, pipeline_id=deal.pipeline_id, from_stage_id=deal.stage_id, from_stage=from_name, to_stage_id=stage.id, to_stage=stage.name)]


def win(deal: Deal, meta: Meta) -> list[Event]:
    _require_open(deal, "won")
    return [deal.then(Deal.Won, meta, stage_id=deal.stage_id)]


def lose(deal: Deal, reason: str, meta: Meta, competitor: str | None = None) -> list[Event]:
    _require_open(deal, "lost")
    return [deal.then(Deal.Lost, meta, stage_id=deal.stage_id, reason=reason, competitor=competitor)]


def reopen(deal: Deal, pipeline: Pipeline, stage_name: str | None, meta: Meta) -> list[Event]:
    if deal.status == OPEN:
        raise RuleViolated("deal-open", "deal is already open")
    stage = _stage(pipeline, stage_name, meta) if stage_name else pipeline.stage(deal.stage_id)
    if stage is None:
        raise RuleViolated("unknown-stage", "the deal's stage was removed; name a stage to reopen it in", field="stage")
    pipeline.check_existed(stage, meta.occurred_at)
    return [deal.then(Deal.Reopened, meta, pipeline_id=deal.pipeline_id, stage_id=stage.id, stage=stage.name)]


def change(
    deal: Deal,
    details: dict[str, Any],
    amount: Decimal | None,
    currency: str | None,
    owner_id: UUID | None,
    owner_given: bool,
    meta: Meta,
) -> list[Event]:
    """Record what changed: amount, owner and the descriptive details are separate facts.
    A closed deal's record can still be corrected (a typo in its title), never moved."""
    decision = Decision(deal, meta)
    new_amount = amount if amount is not None else deal.amount
    new_currency = currency or deal.currency
    if (new_amount, new_currency) != (deal.amount, deal.currency):
        _check_scale(new_amount, new_currency)
        decision.emit(
            Deal.AmountChanged, amount=new_amount, currency=new_currency,
            previous_amount=deal.amount, previous_currency=deal.currency,
        )
    if owner_given and owner_id != deal.owner_id:
        decision.emit(Deal.OwnerChanged, owner_id=owner_id, previous_owner_id=deal.owner_id)
    new_details = replace(deal.details, **details)
    if new_details != deal.details:
        decision.emit(
            Deal.DetailsChanged, title=new_details.title, contact_ids=tuple(new_details.contact_ids),
            company_id=new_details.company_id, source=new_details.source, expected_close=new_details.expected_close,
            properties=dict(new_details.properties or {}),
        )
    return decision.events


def record_interaction(deal: Deal, interaction: Event, meta: Meta) -> list[Event]:
    """Mirror a contact's interaction on the deal it concerns, open or closed (a call
    after the signature belongs to the deal's story too)."""
    return [deal.then(
        Deal.InteractionRecorded, meta,
        contact_id=interaction.originator_id, contact_version=interaction.originator_version, kind=interaction.kind,
    )]
