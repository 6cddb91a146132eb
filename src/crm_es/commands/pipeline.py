"""Decide and append: the one write pipeline every caller goes through.

An HTTP command, a tracking batch, an import, an automation's reaction and the sample data
all write the same way: a fresh ``UnitOfWork`` over the event store, a decision that
reads and stages through it (its checks of ownership, references and claims included),
then one commit of everything it staged — events, claims, the answer kept under an
Idempotency-Key, a policy's new place in the log, outbox rows. When another writer got
there first the commit writes nothing and raises; the decision is then taken again on
fresh state, unless the caller finds its answer already given (a twin with the same
Idempotency-Key). Group commit, several nodes, a new caller: one place to change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from crm_es.aggregates.base import DomainError, RuleViolated
from crm_es.commands.context import CommandContext, CommandResult, TooMuchContention
from crm_es.commands.unit_of_work import UnitOfWork
from crm_es.store import EventStore
from crm_es.store.event_store import IntegrityError, SubjectForgotten

ATTEMPTS = 3  # decisions before a lost race is answered as contention

R = TypeVar("R")
C = TypeVar("C")

LostRace = IntegrityError | SubjectForgotten


def decide_and_append(
    store: EventStore,
    decide: Callable[[UnitOfWork], R],
    *,
    after_lost_race: Callable[[LostRace], R | None] = lambda _error: None,
    attempts: int = ATTEMPTS,
    new_unit: Callable[[EventStore], UnitOfWork] = UnitOfWork,
    on_contention: Callable[[], Exception] = lambda: TooMuchContention(
        "the record kept changing while this command was decided; try again"),
) -> tuple[R, int | None]:
    """``decide(work)`` stages what it decides in ``work`` and returns its answer; the
    answer and the position of the last event written (None when none was). On a lost
    race (IntegrityError: a version, claim, key or place taken; SubjectForgotten: a
    person forgotten meanwhile) ``after_lost_race(error)`` may return the answer to give
    instead (a twin's), return None to decide again, or raise. After ``attempts`` lost
    races: ``on_contention()`` is raised. ``new_unit``: how each attempt's unit of work is
    made (an import's rows: one that refuses an Idempotency-Key and messages)."""
    for _ in range(attempts):
        work = new_unit(store)
        answer = decide(work)
        try:
            position = work.write()
        except (IntegrityError, SubjectForgotten) as error:
            settled = after_lost_race(error)
            if settled is not None:
                return settled, None
            continue
        work.finish()
        return answer, position
    raise on_contention()


def execute(handler: Callable[[C, CommandContext], CommandResult], command: C, ctx: CommandContext) -> CommandResult:
    """Run a command handler through the pipeline: a retried key returns the first answer;
    a lost race is decided again on fresh state (or is a 412 when the client named a
    version); a refusal is kept as the key's answer. Inside a larger unit of work (an
    import's rows) the handler only stages: the unit's owner commits."""
    if isinstance(ctx.store, UnitOfWork):
        return handler(command, ctx)
    answer = ctx.first_answer()
    if answer is not None:
        return answer

    def decide(work: UnitOfWork) -> CommandResult:
        return handler(command, replace(ctx, store=work))

    def after_lost_race(error: LostRace) -> CommandResult | None:
        if isinstance(error, SubjectForgotten):  # forgotten while this command was decided
            raise RuleViolated("contact-forgotten", str(error)) from error
        # Someone else wrote first; nothing of ours was written. A twin with this key may
        # have: its answer is this one's. Else deciding again shows whether it still holds.
        return ctx.first_answer()

    try:
        result, position = decide_and_append(ctx.store, decide, after_lost_race=after_lost_race)
    except TooMuchContention:
        raise  # not an answer to keep: the same request may well succeed when sent again
    except DomainError as refusal:
        # Refused on the state a twin with this key has just written (its e-mail claim,
        # its new version): the twin's answer is this request's, not the refusal.
        if not ctx.remember_refusal(refusal) and (answer := ctx.first_answer()) is not None:
            return answer
        raise
    if result.replayed:
        return result
    # Nothing written (a change to what already is): the answer points at the log's end.
    return replace(result, position=position if position is not None else ctx.store.max_position())
