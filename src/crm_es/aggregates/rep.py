"""A sales rep: a user of the CRM who owns contacts and deals, with their sales targets and
the signature their documents carry (F25).

A rep who leaves is deactivated, not deleted: their deals, tasks, quotas and timeline stay
theirs and reports still name them, but from the business time of their deactivation on
nothing new is given to them (``check_assignable``). Reactivating them lifts that."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from crm_es.aggregates.base import Aggregate, Decision, Event, InvalidInput, Meta, RuleViolated, new_event


@dataclass(frozen=True)
class Quota:
    """A sales target for the days [period_start, period_end): the end is excluded, as a
    report's `to` is (the first quarter is 1 January to 1 April)."""

    period_start: date
    period_end: date
    amount: Decimal
    currency: str
    set_at: datetime  # business time


@dataclass(frozen=True)
class Rep(Aggregate):
    name: str
    email: str
    team_id: UUID | None
    quotas: tuple[Quota, ...] = ()  # one per period: the latest set for it
    signature: str | None = None  # what closes their quotes, contracts and invoices (F25)
    deactivated_at: datetime | None = None  # business time; None while active
    added_at: datetime | None = None  # business time: no change of theirs is dated before it

    @property
    def active(self) -> bool:
        return self.deactivated_at is None

    class Added(Event):
        name: str
        email: str
        team_id: UUID | None

    class JoinedTeam(Event):
        team_id: UUID
        previous_team_id: UUID | None

    class LeftTeam(Event):
        """The rep is in no team any more (PATCH /reps/{id} with team_id null)."""

        previous_team_id: UUID

    # A rep's name and e-mail are their work identity, kept in clear like Rep.Added's:
    # not a customer's personal data (no personal_fields), as for the signature below.
    class Renamed(Event):
        name: str

    class EmailChanged(Event):
        email: str

    class Deactivated(Event):
        """The rep left (or is away for good): their records stay theirs, nothing new is
        given to them from ``occurred_at`` on, and their API keys stop working."""

        reason: str | None

    class Reactivated(Event):
        pass

    class QuotaSet(Event):
        """The rep's sales target for a period (F26). A new one for the same period
        replaces the one before from its business time on; the earlier stays in the log.
        No personal fields: a target and its dates say nothing about a person's private life."""

        period_start: date
        period_end: date
        amount: Decimal
        currency: str

    class SignatureSet(Event):
        """The signature the rep's documents carry (F25): their name, title, phone … as
        they sign. Kept in clear like the rep's name and e-mail: a user's work identity."""

        signature: str

    @classmethod
    def evolve(cls, state: Rep | None, event: Event) -> Rep:
        match event:
            case Rep.Added():
                return Rep(event.originator_id, event.originator_version, event.name, event.email, event.team_id,
                           added_at=event.occurred_at)
            case Rep.JoinedTeam():
                assert state is not None
                return replace(state, version=event.originator_version, team_id=event.team_id)
            case Rep.LeftTeam():
                assert state is not None
                return replace(state, version=event.originator_version, team_id=None)
            case Rep.Renamed():
                assert state is not None
                return replace(state, version=event.originator_version, name=event.name)
            case Rep.EmailChanged():
                assert state is not None
                return replace(state, version=event.originator_version, email=event.email)
            case Rep.Deactivated():
                assert state is not None
                return replace(state, version=event.originator_version, deactivated_at=event.occurred_at)
            case Rep.Reactivated():
                assert state is not None
                return replace(state, version=event.originator_version, deactivated_at=None)
            case Rep.QuotaSet():
                assert state is not None
                quota = Quota(event.period_start, event.period_end, event.amount, event.currency, event.occurred_at)
                others = tuple(q for q in state.quotas if not _same_period(q, quota.period_start, quota.period_end))
                return replace(state, version=event.originator_version, quotas=(*others, quota))
            case Rep.SignatureSet():
                assert state is not None
                return replace(state, version=event.originator_version, signature=event.signature)
        raise TypeError(f"Rep cannot apply {type(event).__qualname__}")

    def quota_for(self, period_start: date, period_end: date) -> Quota | None:
        return next((q for q in self.quotas if _same_period(q, period_start, period_end)), None)


def _same_period(quota: Quota, period_start: date, period_end: date) -> bool:
    return (quota.period_start, quota.period_end) == (period_start, period_end)


def add(rep_id: UUID, name: str, email: str, team_id: UUID | None, meta: Meta) -> list[Event]:
    return [new_event(Rep.Added, rep_id, 1, meta, name=name, email=email, team_id=team_id)]


def join_team(rep: Rep, team_id: UUID, meta: Meta) -> list[Event]:
    if rep.team_id == team_id:
        return []
    return [rep.then(Rep.JoinedTeam, meta, team_id=team_id, previous_team_id=rep.team_id)]


def change(rep: Rep, meta: Meta, *, name: str | None = None, email: str | None = None,
           team_id: UUID | None = None, team_given: bool = False) -> list[Event]:
    """What PATCH /reps/{id} changes: each field given and different is one event; a
    ``team_id`` given as None takes the rep out of their team. Nothing new: no event."""
    _not_before_added(rep, meta)
    decision = Decision(rep, meta)
    if name is not None and name != rep.name:
        decision.emit(Rep.Renamed, name=name)
    if email is not None and email != rep.email:
        decision.emit(Rep.EmailChanged, email=email)
    if team_given and team_id != rep.team_id:
        if team_id is None:
            decision.emit(Rep.LeftTeam, previous_team_id=rep.team_id)
        else:
            decision.emit(Rep.JoinedTeam, team_id=team_id, previous_team_id=rep.team_id)
    return decision.events


def deactivate(rep: Rep, reason: str | None, meta: Meta) -> list[Event]:
    """The rep gets nothing new from ``meta.occurred_at`` on; a deactivated rep
    deactivated again records nothing."""
    if not rep.active:
        return []
    _not_before_added(rep, meta)
    return [rep.then(Rep.Deactivated, meta, reason=reason)]


def _not_before_added(rep: Rep, meta: Meta) -> None:
    if rep.added_at is not None and meta.occurred_at < rep.added_at:
        raise RuleViolated(
            "before-created",
            f"occurred_at {meta.occurred_at.isoformat()} is before the rep was added ({rep.added_at.isoformat()})",
            field="occurred_at", created_at=rep.added_at.isoformat(),
        )


def reactivate(rep: Rep, meta: Meta) -> list[Event]:
    """An active rep reactivated records nothing; a reactivation cannot be dated before the
    deactivation it ends (the rep's active spells follow each other in business time)."""
    if rep.active:
        return []
    assert rep.deactivated_at is not None
    if meta.occurred_at < rep.deactivated_at:
        raise RuleViolated(
            "before-last-change",
            f"occurred_at {meta.occurred_at.isoformat()} is before the rep was deactivated "
            f"({rep.deactivated_at.isoformat()})",
            field="occurred_at", changed_at=rep.deactivated_at.isoformat(),
        )
    return [rep.then(Rep.Reactivated, meta)]


def check_assignable(rep: Rep | None, at: datetime, field: str) -> None:
    """A rep may be given a record (as its owner, its rep, its signer, a quota, a team to
    manage) dated ``at`` unless they were deactivated by then: a fact dated before their
    deactivation (an import of the history they made) is still theirs to have."""
    if rep is None or rep.deactivated_at is None or at < rep.deactivated_at:
        return
    raise RuleViolated(
        "rep-deactivated",
        f"rep {rep.id} ({rep.name}) was deactivated on {rep.deactivated_at.isoformat()}: nothing new is given to "
        f"them; name an active rep in {field} (or reactivate them: POST /reps/{rep.id}/reactivate)",
        field=field, rep_id=str(rep.id), deactivated_at=rep.deactivated_at.isoformat(),
    )


def set_quota(rep: Rep, period_start: date, period_end: date, amount: Decimal, currency: str, meta: Meta) -> list[Event]:
    """Set the rep's target for a period; the same target again records nothing."""
    if period_end <= period_start:
        raise InvalidInput("period_end", "period_end must come after period_start (the end is excluded)")
    if amount <= 0:
        raise InvalidInput("amount", "a quota is an amount above zero")
    current = rep.quota_for(period_start, period_end)
    if current is not None:
        if (current.amount, current.currency) == (amount, currency):
            return []
        # The targets of a period follow each other in business time, so "the quota as of T" has one answer.
        if meta.occurred_at < current.set_at:
            raise RuleViolated(
                "before-last-change",
                f"occurred_at {meta.occurred_at.isoformat()} is before the quota it would replace was set "
                f"({current.set_at.isoformat()})",
                field="occurred_at", changed_at=current.set_at.isoformat(),
            )
    return [rep.then(Rep.QuotaSet, meta, period_start=period_start, period_end=period_end, amount=amount,
                     currency=currency)]


MAX_SIGNATURE = 2000  # characters: a few lines, not a letter


def set_signature(rep: Rep, signature: str, meta: Meta) -> list[Event]:
    """The rep's signature from now on (documents already issued keep theirs); the same
    signature again records nothing."""
    signature = signature.strip()
    if not signature:
        raise InvalidInput("signature", "a signature is some text (the rep's name at least)")
    if len(signature) > MAX_SIGNATURE:
        raise InvalidInput("signature", f"a signature is at most {MAX_SIGNATURE} characters")
    if signature == rep.signature:
        return []
    return [rep.then(Rep.SignatureSet, meta, signature=signature)]
