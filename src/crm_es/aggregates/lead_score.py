"""A contact's lead score (F18): every change is its own event saying why — which rule,
how many points, which event caused it — so a score is explained, and can be summed again
for any past date. One record per contact, with an id from the contact's.

Also the round-robin pointer of a team: which of its reps got the last lead handed over,
kept in the log so that a restart (or a second runner) goes on with the next rep.

Pure: the time comes with each event (``occurred_at``), never from a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from crm_es.aggregates.base import Aggregate, Event, Meta, new_event

COMPANY_OWNER, ROUND_ROBIN, OWNER = "company-owner", "round-robin", "owner"


def lead_score_id(contact_id: UUID) -> UUID:
    return uuid5(NAMESPACE_URL, f"urn:crm-es:lead-score:{contact_id}")


def round_robin_id(team_id: UUID | None) -> UUID:
    """One pointer per team (None: every rep, when no team is set)."""
    return uuid5(NAMESPACE_URL, f"urn:crm-es:round-robin:{team_id or 'all'}")


class LeadScoreChanged(Event):
    """``points`` were added (negative: taken) by ``rule``, making ``score``. ``reason`` is
    the kind of rule: page, behaviour, profile or decay; ``cause`` the event that caused it
    (``record:version``, as ``causation_id``)."""

    recorded_on = "LeadScore"
    # No personal data: a rule is named by its pattern, never by the URL visited (a URL
    # may carry a name or an e-mail address). Declared empty on purpose.
    personal_fields = ()
    subject_field = "contact_id"

    contact_id: UUID
    points: int
    score: int
    reason: str
    rule: str
    cause: str


class LeadHandedToRep(Event):
    """The lead crossed the threshold and is now ``rep_id``'s to call; ``how`` the rep was
    chosen: owner (it already had one), company-owner or round-robin."""

    recorded_on = "LeadScore"
    personal_fields = ()  # ids and a score: nothing about the person
    subject_field = "contact_id"

    contact_id: UUID
    rep_id: UUID
    score: int
    how: str


@dataclass(frozen=True)
class LeadScore(Aggregate):
    contact_id: UUID
    score: int = 0
    last_change_at: datetime | None = None  # business time of the last change: decay counts from it
    applied: tuple[str, ...] = ()  # the profile rules already applied (each applies once)
    handed_to: UUID | None = None  # set once: the lead is handed over the first time only

    @classmethod
    def evolve(cls, state: LeadScore | None, event: Event) -> LeadScore:
        if state is None:
            state = LeadScore(event.originator_id, 0, event.contact_id)  # type: ignore[attr-defined]
        state = state.moved_on(version=event.originator_version)
        match event:
            case LeadScoreChanged():
                last = state.last_change_at
                applied = (*state.applied, event.rule) if event.reason == "profile" else state.applied
                return replace(state, score=event.score, applied=applied,
                               last_change_at=event.occurred_at if last is None or event.occurred_at > last else last)
            case LeadHandedToRep():
                return replace(state, handed_to=event.rep_id)
        raise TypeError(f"LeadScore cannot apply {type(event).__qualname__}")


def new_lead(contact_id: UUID) -> LeadScore:
    """The score of a contact no rule has scored yet (version 0: nothing recorded)."""
    return LeadScore(lead_score_id(contact_id), 0, contact_id)


def score(lead: LeadScore, points: int, reason: str, rule: str, cause: str, meta: Meta) -> list[Event]:
    """Add the points (the score never goes below zero: what is taken is what there was)."""
    points = max(points, -lead.score)
    if points == 0:
        return []
    return [lead.then(LeadScoreChanged, meta, contact_id=lead.contact_id, points=points, score=lead.score + points,
                      reason=reason, rule=rule, cause=cause)]


def hand_over(lead: LeadScore, rep_id: UUID, how: str, meta: Meta) -> list[Event]:
    if lead.handed_to is not None:
        return []
    return [lead.then(LeadHandedToRep, meta, contact_id=lead.contact_id, rep_id=rep_id, score=lead.score, how=how)]


def decayed(lead: LeadScore, at: datetime, points_per_day: float | None, half_life_days: float | None) -> int:
    """The whole points lost between the last change and ``at`` (0 when ``at`` is not
    later: an interaction recorded late does not decay the score)."""
    if lead.last_change_at is None or lead.score == 0 or at <= lead.last_change_at:
        return 0
    days = (at - lead.last_change_at).total_seconds() / 86_400
    if points_per_day is not None:
        lost = points_per_day * days
    elif half_life_days is not None:
        lost = lead.score * (1 - 0.5 ** (days / half_life_days))
    else:
        return 0
    return min(int(lost), lead.score)


@dataclass(frozen=True)
class RoundRobin(Aggregate):
    team_id: UUID | None
    turns: int  # leads handed over by turn so far: the next goes to reps[turns % len(reps)]

    class Turned(Event):
        personal_fields = ()  # ids and a count only
        subject_field = "originator_id"

        team_id: UUID | None
        rep_id: UUID
        turns: int

    @classmethod
    def evolve(cls, state: RoundRobin | None, event: Event) -> RoundRobin:
        if isinstance(event, RoundRobin.Turned):
            return RoundRobin(event.originator_id, event.originator_version, event.team_id, event.turns)
        raise TypeError(f"RoundRobin cannot apply {type(event).__qualname__}")


def next_rep(pointer: RoundRobin | None, reps: list[UUID]) -> UUID | None:
    """Whose turn it is among ``reps`` (in a stable order); None when there is nobody."""
    if not reps:
        return None
    return reps[(pointer.turns if pointer else 0) % len(reps)]


def turn(pointer: RoundRobin | None, team_id: UUID | None, rep_id: UUID, meta: Meta) -> list[Event]:
    turns = (pointer.turns if pointer else 0) + 1
    return [new_event(RoundRobin.Turned, round_robin_id(team_id), (pointer.version if pointer else 0) + 1, meta,
                      team_id=team_id, rep_id=rep_id, turns=turns)]
