"""/tasks, /agenda and /settings/activity-types: the reps' planner (F05, F23)."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Response

from crm_es.aggregates.base import NotFound
from crm_es.aggregates.task import TaskPlan
from crm_es.entrypoints.http.auth import Caller, Visible, readable
from crm_es.entrypoints.http.deps import Ctx, Limit, ReadCursor, ServicesDep
from crm_es.entrypoints.http.problems import ProblemError
from crm_es.entrypoints.http.respond import answer, found
from crm_es.entrypoints.http.answers import ActivityTypeList, Agenda, TaskPage, TaskPublic
from crm_es.entrypoints.http.schemas import CommandAnswer
from crm_es.inputs.fields import IsoDate
from crm_es.entrypoints.http.task_schemas import (
    ActivityTypeSet,
    TaskCancel,
    TaskCreate,
    TaskDone,
    TaskReschedule,
)
from crm_es.commands import execute
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
from crm_es.queries import records, tasks

router = APIRouter(tags=["tasks and agenda"])

Status = Literal["open", "done", "cancelled"]
TYPE_NAME = re.compile(r"[a-z][a-z0-9_]*")


def _invalid(field: str, message: str) -> ProblemError:
    return ProblemError(422, "invalid-field", f"invalid field(s): {field}", errors=[{"field": field, "message": message}])


@router.post("/tasks", status_code=201, response_model=CommandAnswer)
def post_task(body: TaskCreate, ctx: Ctx, response: Response) -> dict[str, Any]:
    plan = TaskPlan(body.type, body.title, body.due_at, body.duration_minutes, body.contact_id, body.deal_id, body.notes)
    return answer(response, execute(plan_task, PlanTask(plan, body.owner_id or ctx.default_owner), ctx))


@router.post("/tasks/{task_id}/done", response_model=CommandAnswer)
def post_task_done(task_id: UUID, ctx: Ctx, response: Response, body: TaskDone | None = None) -> dict[str, Any]:
    """Done now (or at ``occurred_at``), by the caller. A task is done once: 409 task-closed after."""
    body = body or TaskDone()
    return answer(response, execute(complete_task, CompleteTask(task_id, body.outcome, body.occurred_at), ctx))


@router.post("/tasks/{task_id}/reschedule", response_model=CommandAnswer)
def post_task_reschedule(task_id: UUID, body: TaskReschedule, ctx: Ctx, response: Response) -> dict[str, Any]:
    return answer(response, execute(reschedule_task, RescheduleTask(task_id, body.due_at), ctx))


@router.post("/tasks/{task_id}/cancel", response_model=CommandAnswer)
def post_task_cancel(task_id: UUID, ctx: Ctx, response: Response, body: TaskCancel | None = None) -> dict[str, Any]:
    return answer(response, execute(cancel_task, CancelTask(task_id), ctx))


@router.get("/tasks", response_model=TaskPage)
def get_tasks(
    cur: ReadCursor,
    visible: Visible,
    rep: UUID | None = None,
    contact: UUID | None = None,
    deal: UUID | None = None,
    status: Status | None = None,
    type: Annotated[str | None, Query(max_length=50)] = None,
    limit: Limit = 50,
    cursor: str | None = None,
) -> Any:
    return tasks.list_tasks(cur, rep=rep, contact=contact, deal=deal, status=status, type=type, limit=limit,
                            cursor=cursor, visible=visible)


@router.get("/tasks/{task_id}", response_model=TaskPublic)
def get_task(task_id: UUID, cur: ReadCursor, visible: Visible, response: Response) -> dict[str, Any]:
    return found(response, readable(cur, visible, tasks.get_task(cur, task_id)), "task", task_id)


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (KeyError, ValueError, OSError) as error:  # not found, or not a zone's name at all
        raise _invalid("query.tz", f"not an IANA time zone: {tz!r}") from error


@router.get("/agenda", response_model=Agenda, responses={404: {"description": "The rep named by ?rep= does not exist"}})
def get_agenda(
    cur: ReadCursor,
    visible: Visible,
    caller: Caller,
    services: ServicesDep,
    rep: Annotated[UUID | None, Query(description="the rep; by default the caller (a rep's key)")] = None,
    day: Annotated[IsoDate | None, Query(alias="date", description="the day; by default today in `tz`")] = None,
    tz: Annotated[str, Query(max_length=64, description="the IANA time zone the day is in")] = "UTC",
) -> dict[str, Any]:
    """A rep's day: the tasks due that day (open or done) and every open task overdue now,
    whatever its day; overdue first, then by due time. Times are shown in ``tz``."""
    zone = _zone(tz)
    rep_id = rep or caller.rep_id
    if rep_id is None:
        raise _invalid("query.rep", "name the rep whose agenda to show")
    if records.get_rep(cur, rep_id) is None:
        raise NotFound("rep", rep_id, "query.rep")
    if not visible.sees(cur, str(rep_id)):
        raise ProblemError(403, "not-your-record", "this rep's agenda is outside this key's reach")
    now = services.clock.now()
    day = day or now.astimezone(zone).date()
    if not date(1900, 1, 1) <= day <= date(9998, 12, 31):
        raise _invalid("query.date", "a day between 1900 and 9998")
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    items = tasks.agenda(cur, rep_id, start, end, now)
    for item in items:
        item["due_at"] = datetime.fromisoformat(item["due_at"]).astimezone(zone).isoformat()
    return {"rep_id": str(rep_id), "date": day.isoformat(), "tz": tz, "items": items}


@router.get("/settings/activity-types", response_model=ActivityTypeList)
def get_activity_types(cur: ReadCursor) -> dict[str, Any]:
    return {"items": tasks.activity_types(cur)}


@router.put("/settings/activity-types/{name}", response_model=CommandAnswer)
def put_activity_type(name: Annotated[str, Path(max_length=50, description="lower case letters, digits and _",
                                                json_schema_extra={"pattern": f"^{TYPE_NAME.pattern}$"})],
                      body: ActivityTypeSet, ctx: Ctx, response: Response) -> dict[str, Any]:
    """Add an activity type, or change a type's colour (and label). Tasks keep their type;
    the agenda shows the new colour."""
    # Checked here rather than by the path's schema, so that a bad body is reported alone.
    if not TYPE_NAME.fullmatch(name):
        raise _invalid("path.name", "an activity type's name is lower case letters, digits and _, from a letter")
    return answer(response, execute(set_activity_type, SetActivityType(name, body.colour, body.label), ctx))
