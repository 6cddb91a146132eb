"""Tasks in reps' agendas, and the activity types they are planned with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from crm_es.aggregates import Contact, Deal, Rep
from crm_es.aggregates import activity_types as settings
from crm_es.aggregates import deal as deals
from crm_es.aggregates import rep as reps
from crm_es.aggregates import task as tasks
from crm_es.aggregates.activity_types import ACTIVITY_TYPES_ID, ActivityTypes
from crm_es.aggregates.base import InvalidInput, RuleViolated
from crm_es.aggregates.task import Task, TaskPlan
from crm_es.commands.context import CommandContext, CommandResult


@dataclass(frozen=True)
class PlanTask:
    plan: TaskPlan
    owner_id: UUID | None = None  # the rep whose agenda; by default the caller's own


@dataclass(frozen=True)
class CompleteTask:
    task_id: UUID
    outcome: str | None = None
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class RescheduleTask:
    task_id: UUID
    due_at: datetime


@dataclass(frozen=True)
class CancelTask:
    task_id: UUID


@dataclass(frozen=True)
class SetActivityType:
    name: str
    colour: str
    label: str | None = None


def activity_types(ctx: CommandContext) -> ActivityTypes:
    return settings.current(ctx.store.load(ActivityTypes, ACTIVITY_TYPES_ID))


def plan_task(cmd: PlanTask, ctx: CommandContext) -> CommandResult:
    if cmd.owner_id is None:
        raise InvalidInput("owner_id", "a task goes in a rep's agenda: name the rep (owner_id)")
    owner = ctx.load(Rep, cmd.owner_id, "owner_id")
    meta = ctx.meta()
    reps.check_assignable(owner, meta.occurred_at, "owner_id")
    if cmd.plan.contact_id is not None:
        contact = ctx.referenced(Contact, cmd.plan.contact_id, "contact_id")
        if contact.forgotten:
            raise RuleViolated("contact-forgotten", f"contact {contact.id} has been forgotten: no task can be planned about them")
    deal = ctx.referenced(Deal, cmd.plan.deal_id, "deal_id") if cmd.plan.deal_id is not None else None
    known = {t.name for t in activity_types(ctx).types}
    task_id = ctx.new_id()
    events = tasks.plan(task_id, cmd.plan, cmd.owner_id, known, meta, deals.key_of_text(deal) if deal else None)
    return ctx.save(task_id, events, created=True)


def _deal_text_key(ctx: CommandContext, deal_id: UUID | None) -> UUID | None:
    """The key the deal's free text is sealed under now: a task about the deal and no
    contact seals its own under it (see aggregates/task.py)."""
    deal = None if deal_id is None else ctx.store.load(Deal, deal_id)
    return None if deal is None else deals.key_of_text(deal)


def complete_task(cmd: CompleteTask, ctx: CommandContext) -> CommandResult:
    task = ctx.target(Task, cmd.task_id)
    deal_key = _deal_text_key(ctx, task.plan.deal_id) if task.plan.contact_id is None else None
    events = tasks.complete(task, cmd.outcome, ctx.meta(cmd.occurred_at), deal_key)
    return ctx.save(task.id, events, current_version=task.version)


def reschedule_task(cmd: RescheduleTask, ctx: CommandContext) -> CommandResult:
    task = ctx.target(Task, cmd.task_id)
    return ctx.save(task.id, tasks.reschedule(task, cmd.due_at, ctx.meta()), current_version=task.version)


def cancel_task(cmd: CancelTask, ctx: CommandContext) -> CommandResult:
    task = ctx.target(Task, cmd.task_id)
    return ctx.save(task.id, tasks.cancel(task, ctx.meta()), current_version=task.version)


def set_activity_type(cmd: SetActivityType, ctx: CommandContext) -> CommandResult:
    state = ctx.store.load(ActivityTypes, ACTIVITY_TYPES_ID)
    if state is not None:
        ctx.check_version(state)
    events = settings.set_type(state, cmd.name, cmd.label, cmd.colour, ctx.meta())
    return ctx.save(ACTIVITY_TYPES_ID, events, current_version=state.version if state else 0)
