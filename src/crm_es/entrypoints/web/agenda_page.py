"""GET /app/agenda: a rep's day or week — every open task already overdue first, then the
period's tasks by due time, each coloured by its type — with "mark done" where the viewer
may close the rep's tasks (console.js sends POST /tasks/{id}/done).

The tasks are the JSON agenda's own (queries/tasks.agenda: GET /agenda reads a day with it;
a week is the same query over seven days). Days are UTC days, as on the board."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from crm_es.aggregates.base import NotFound
from crm_es.entrypoints.http.auth import visibility
from crm_es.entrypoints.http.problems import ProblemError
from crm_es.entrypoints.web.params import query_day, query_id
from crm_es.entrypoints.web.guard import InvalidField, read_position
from crm_es.entrypoints.web.render import Viewer, page
from crm_es.queries import records, tasks
from crm_es.queries.board_cards import list_owner_choices
from crm_es.queries.visibility import Visibility

MARK_DONE = ("POST", "/tasks/{task_id}/done")
VIEWS = ("day", "week")


async def agenda_page(request: Request, viewer: Viewer) -> Response:
    rep_id, day = query_id(request, "rep"), query_day(request, "date")
    view = request.query_params.get("view", "day") or "day"
    if view not in VIEWS:
        raise InvalidField("query.view", "invalid_view")
    assert viewer.principal is not None  # not a public page
    visible = await visibility(request, viewer.principal)
    services = request.app.state.services
    await read_position(request)
    shown = await run_in_threadpool(_agenda, services, rep_id or viewer.principal.rep_id, day, view, visible, viewer)
    return page(request, "agenda.html", viewer, view=view, **shown)


def _agenda(services: Any, rep_id: UUID | None, day: date | None, view: str, visible: Visibility,
            viewer: Viewer) -> dict[str, Any]:
    now = services.clock.now()
    day = day or now.astimezone(UTC).date()
    first = day - timedelta(days=day.weekday()) if view == "week" else day
    days = 7 if view == "week" else 1
    with services.read_side.cursor() as cur:
        reps = list_owner_choices(cur, visible)
        if rep_id is None and reps:
            rep_id = UUID(reps[0]["id"])  # an admin's or auditor's key has no rep: the first in reach
        shown: dict[str, Any] = {"reps": reps, "rep_id": str(rep_id or ""), "day": day, "overdue": [], "by_day": [],
                                 "earlier": first - timedelta(days=days), "later": first + timedelta(days=days),
                                 "may_mark_done": False}
        if rep_id is None:
            return shown
        if records.get_rep(cur, rep_id) is None:
            raise NotFound("rep", rep_id)
        if not visible.sees(cur, str(rep_id)):
            raise ProblemError(403, "not-your-record", "this rep's agenda is outside this key's reach")
        start = datetime.combine(first, time.min, tzinfo=UTC)
        items = tasks.agenda(cur, rep_id, start, start + timedelta(days=days), now)
        may_mark_done = viewer.may(*MARK_DONE) and viewer.writes().sees(cur, str(rep_id))
    for item in items:
        item["due_at"] = datetime.fromisoformat(item["due_at"]).astimezone(UTC)
    # Overdue first (the query's order), then the period's own, under the day each is due.
    by_day = [(first + timedelta(days=n), [i for i in items if not i["overdue"]
                                           and i["due_at"].date() == first + timedelta(days=n)]) for n in range(days)]
    return {**shown, "overdue": [i for i in items if i["overdue"]], "by_day": by_day, "may_mark_done": may_mark_done}
