"""A deal (opportunity): a potential sale moving through the stages of one pipeline.

Its free text — the title, a lost deal's reason — often names a person ("Jean Dupont
renewal"). It is sealed under a key of the deal's own (``text_key``: the deal's id at
first), erased when any contact the deal ever named is forgotten (``ContactForgotten``):
what was written before then reads as null everywhere, and what is written after is
sealed under a new key. Amounts, stages, dates, owner, source and the competitor (a
company, not a person) stay in clear for the analysts.
"""

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
    title: str | None  # None: erased (a contact the deal named was forgotten)
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
    # The id of the key that seals the deal's free text now: the deal's own id, until a
    # contact it named is forgotten (see the module's docstring). None: the deal's id.
    text_key: UUID | None = None

    class Opened(Event):
        """v2 added the custom ``properties``. The title is sealed under the deal's own key
        (its id: a new deal's text key)."""

        class_version = 2
        personal_fields = ("title",)

        title: str | None  # None: erased (a contact the deal named was forgotten)
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
        """v2 names the competitor the deal went to (None: not to a competitor, or not known);
        v3 seals the reason (free text, often about the person) under the deal's text key."""

        class_version = 3
        personal_fields = ("reason",)
        subject_field = "text_key"

        stage_id: UUID
        reason: str | None  # None: erased
        competitor: str | None  # a company: kept in clear for the analysts
        text_key: UUID | None  # None: stored before v3, its reason in clear

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["competitor"] = None  # v1 did not ask; "not known" is the truth for those

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state["text_key"] = None  # the reason was stored in clear: no key opens it

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
        the custom ``properties``; v3 seals the title under the deal's text key."""

        class_version = 3
        personal_fields = ("title",)
        subject_field = "text_key"

        title: str | None  # None: erased
        contact_ids: tuple[UUID, ...]
        company_id: UUID | None
        source: str | None
        expected_close: date | None
        properties: dict[str, Any]
        text_key: UUID | None  # None: stored before v3, its title in clear

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["properties"] = {}

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state["text_key"] = None  # the title was stored in clear: no key opens it

    class ContactForgotten(Event):
        """A contact the deal names (or once named) was forgotten: the key that sealed the
        deal's free text until now was deleted with them (its title and lost reasons read
        as null from then on); ``text_key`` is the new one, for what is written next."""

        changes_state = False  # an erasure, not a business change: it may come after any date

        contact_id: UUID
        text_key: UUID

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
        if isinstance(event, Deal.ContactForgotten):
            erased = replace(state.details, title=None)
            return state.moved_on(version=event.originator_version, details=erased, text_key=event.text_key)
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


def key_of_text(deal: Deal) -> UUID:
    """The id of the key that seals what the deal's free text says now."""
    return deal.text_key or deal.id


def lose(deal: Deal, reason: str, meta: Meta, competitor: str | None = None) -> list[Event]:
    _require_open(deal, "lost")
    return [deal.then(Deal.Lost, meta, stage_id=deal.stage_id, reason=reason, competitor=competitor,
                      text_key=key_of_text(deal))]


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
            properties=dict(new_details.properties or {}), text_key=key_of_text(deal),
        )
    return decision.events


def contact_forgotten(deal: Deal, contact_id: UUID, new_text_key: UUID, meta: Meta) -> list[Event]:
    """Record that the deal's text key was erased with a contact it named (the caller
    deletes the key, ``key_of_text(deal)``, first) and name the key that follows it."""
    return [deal.then(Deal.ContactForgotten, meta, contact_id=contact_id, text_key=new_text_key)]


def record_interaction(deal: Deal, interaction: Event, meta: Meta) -> list[Event]:
    """Mirror a contact's interaction on the deal it concerns, open or closed (a call
    after the signature belongs to the deal's story too)."""
    return [deal.then(
        Deal.InteractionRecorded, meta,
        contact_id=interaction.originator_id, contact_version=interaction.originator_version, kind=interaction.kind,
    )]
