"""GET /app/dashboards: the standard dashboard (funnel, velocity, forecast with the quotas,
sources, activity) for a pipeline and a period, grouped by rep, team or source where the
report can be, now or as it stood at the end of a past day; the saved dashboards' list.
GET /app/dashboards/{id}: a saved dashboard, as GET /dashboards/{id} fills it in.

Every number is a report's answer as the JSON API gives it: the live page runs each report
through the dashboards' table of reports (queries/analytics/reports.py: the same query
functions GET /analytics/<report> calls, with the caller's reach); a saved one is the
answer of GET /dashboards/{id}'s own route function. charts.py only chooses what to draw."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from crm_es.aggregates.base import NotFound
from crm_es.entrypoints.http.auth import visibility
from crm_es.entrypoints.web.assets import PLOTLY_URL
from crm_es.entrypoints.web.board_page import end_of
from crm_es.entrypoints.web.charts import GROUPINGS, charts_of
from crm_es.entrypoints.web.guard import InvalidField, read_position
from crm_es.entrypoints.web.i18n import Words, language
from crm_es.entrypoints.web.params import path_id, query_day, query_id, query_moment
from crm_es.entrypoints.web.render import Viewer, page
from crm_es.queries import records
from crm_es.queries.analytics.reports import REPORTS
from crm_es.queries.dashboards import get_dashboard, list_dashboards, run_reports
from crm_es.queries.names import REPS, names
from crm_es.queries.sql import LARGEST_PAGE, every_item
from crm_es.queries.visibility import Visibility

SHOWN = ("funnel", "velocity", "forecast", "sources", "activity")  # the standard dashboard, in its order
NEEDS_PIPELINE = ("funnel", "velocity")
BY = ("rep", "team", "source")
DEFAULT_DAYS = 90  # the default period: the 90 days up to the day shown (today, or the past day chosen)
SAVE = ("POST", "/dashboards")


def _period(request: Request, shown_day: date) -> tuple[date, date]:
    """The period's first and last days (both included; the reports take [from 00:00, the day
    after `to` 00:00) UTC): the last 90 days up to the day shown unless given."""
    last = query_day(request, "to") or shown_day
    first = query_day(request, "from") or last - timedelta(days=DEFAULT_DAYS - 1)
    if last < first:
        raise InvalidField("query.to", "dash_to_before_from")
    return first, last


def _by(request: Request) -> str | None:
    by = request.query_params.get("by", "").strip() or None
    if by is not None and by not in BY:
        raise InvalidField("query.by", "dash_invalid_by")
    return by


def _instant(day: date) -> str:
    return datetime.combine(day, time.min, tzinfo=UTC).isoformat()


def report_params(report: str, period: dict[str, str], pipeline: str | None, by: str | None) -> dict[str, str]:
    """A report's query parameters, as its JSON route takes them (and as a saved dashboard keeps them)."""
    params = dict(period)
    if report in ("funnel", "velocity", "forecast") and pipeline:
        params["pipeline"] = pipeline
    if by in GROUPINGS[report]:
        params["by"] = by
    return params


async def dashboards_page(request: Request, viewer: Viewer) -> Response:
    assert viewer.principal is not None  # not a public page
    services = request.app.state.services
    pipeline_id, by = query_id(request, "pipeline"), _by(request)
    as_of, known_at = query_moment(request)
    first, last = _period(request, as_of or services.clock.now().date())
    period = {"from": _instant(first), "to": _instant(last + timedelta(days=1))}
    if as_of is not None:
        period["as_of"] = end_of(as_of).isoformat()
    if known_at is not None:
        period["known_at"] = end_of(known_at).isoformat()
    visible = await visibility(request, viewer.principal)
    await read_position(request)
    t = Words(language(request))
    shown = await run_in_threadpool(_standard, services, t, pipeline_id, period, by, visible, viewer)
    return page(request, "dashboards.html", viewer, plotly_url=PLOTLY_URL, saved=None, as_of=as_of,
                known_then=known_at is not None, first=first, last=last, by=by or "", period=period,
                may_save=viewer.may(*SAVE), **shown)


def _standard(services: Any, t: Words, pipeline_id: UUID | None, period: dict[str, str], by: str | None,
              visible: Visibility, viewer: Viewer) -> dict[str, Any]:
    with services.read_side.cursor() as cur:
        pipelines = every_item(lambda cursor: records.list_pipelines(cur, limit=LARGEST_PAGE, cursor=cursor))
        if pipeline_id is None and pipelines:
            pipeline_id = UUID(str(pipelines[0]["id"]))
        if pipeline_id is not None and not records.pipeline_exists(cur, pipeline_id):
            raise NotFound("pipeline", pipeline_id)
        pipeline = None if pipeline_id is None else str(pipeline_id)
        sections, saving = [], []
        for report in SHOWN:
            if report in NEEDS_PIPELINE and pipeline is None:
                sections.append({"report": report, "charts": [], "note": t.no_pipeline})
                continue
            params = report_params(report, period, pipeline, by)
            kind = REPORTS[report]
            answer = kind.run(cur, kind.params.model_validate(params), visible, services.clock.now())
            ungrouped = by is not None and "by" not in params
            sections.append({"report": report, "params": params, "charts": charts_of(report, answer, t),
                             "note": t.not_grouped.format(by=t.strings[f"by_{by}"]) if ungrouped else None})
            saving.append({"report": report, "params": params})
        listed = _saved_list(cur, viewer)
    return {"pipelines": pipelines, "pipeline_id": pipeline or "", "sections": sections, "reports_to_save": saving,
            "dashboards": listed}


def _saved_list(cur: Any, viewer: Viewer) -> list[dict[str, Any]]:
    """The saved dashboards, the viewer's own first, each with who saved it."""
    rows = list_dashboards(cur)
    reps = names(cur, REPS, (r["saved_by"][4:] for r in rows if str(r["saved_by"]).startswith("rep:")))
    me = viewer.principal.actor if viewer.principal is not None else None
    for row in rows:
        actor = str(row["saved_by"])
        row["saver"] = reps.get(actor[4:], actor) if actor.startswith("rep:") else actor
        row["mine"] = actor == me
    return sorted(rows, key=lambda r: not r["mine"])


async def saved_dashboard_page(request: Request, viewer: Viewer) -> Response:
    dashboard_id = path_id(request, "dashboard_id")
    as_of, known_at = query_moment(request)
    assert viewer.principal is not None  # not a public page
    services = request.app.state.services
    visible = await visibility(request, viewer.principal)
    await read_position(request)
    t = Words(language(request))
    moment = None if as_of is None else {"as_of": end_of(as_of).isoformat(),
                                         "known_at": end_of(known_at).isoformat() if known_at else None}
    shown = await run_in_threadpool(_saved, services, t, dashboard_id, visible, moment)
    return page(request, "dashboards.html", viewer, plotly_url=PLOTLY_URL, may_save=False, as_of=as_of,
                known_then=known_at is not None, **shown)


def _saved(services: Any, t: Words, dashboard_id: UUID, visible: Visibility,
           moment: dict[str, str | None] | None) -> dict[str, Any]:
    """The saved dashboard, each report run as GET /dashboards/{id} runs it (queries/dashboards.py);
    at a past moment, every report as of it (``moment`` replaces the saved as_of and known_at)."""
    with services.read_side.cursor() as cur:
        dashboard = get_dashboard(cur, dashboard_id)
        if dashboard is None:
            raise NotFound("dashboard", dashboard_id)
        filled = run_reports(cur, dashboard, visible, services.clock.now(), moment)
        saver = str(dashboard.get("saved_by") or "")
        rep = names(cur, REPS, [saver[4:]]) if saver.startswith("rep:") else {}
    sections = []
    for item in filled:
        if "error" in item:
            note = t.report_failed.format(detail=item["error"].detail)
            sections.append({"report": item["report"], "params": item["params"], "charts": [], "note": note})
            continue
        charts = charts_of(item["report"], item["result"], t)
        sections.append({"report": item["report"], "params": item["params"], "charts": charts,
                         "note": None if charts else t.no_chart})
    return {"saved": {**dashboard, "saver": rep.get(saver[4:], saver)}, "sections": sections}
