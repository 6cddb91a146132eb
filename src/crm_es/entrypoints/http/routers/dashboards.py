"""/dashboards (F34): a saved list of reports, filled in when read."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError

from crm_es.entrypoints.http.auth import Visible
from crm_es.entrypoints.http.deps import Ctx, ReadCursor, ServicesDep
from crm_es.entrypoints.http.report_answers import DashboardPublic
from crm_es.entrypoints.http.respond import answer, found
from crm_es.entrypoints.http.schemas import CommandAnswer
from crm_es.entrypoints.http.statuses import status_of
from crm_es.inputs.fields import Body, Name
from crm_es.commands import execute
from crm_es.commands.dashboards import ChangeDashboard, SaveDashboard, change_dashboard, save_dashboard
from crm_es.queries import dashboards
from crm_es.queries.analytics.reports import REPORTS

router = APIRouter(tags=["dashboards"])

ReportName = Literal[tuple(REPORTS)]  # type: ignore[valid-type]


class ReportIn(BaseModel):
    report: ReportName
    params: dict[str, Any] = Field(description="the report's query parameters, as its own route takes them")


class DashboardIn(Body):
    name: Name
    reports: Annotated[list[ReportIn], Field(min_length=1, max_length=20)]


def _checked(body: DashboardIn) -> list[dict[str, Any]]:
    """Each report's parameters checked as its route checks them (422 naming
    ``reports[i].params.<name>``), kept as plain JSON."""
    reports, errors = [], []
    for i, item in enumerate(body.reports):
        try:
            params = REPORTS[item.report].params.model_validate(item.params)
        except ValidationError as error:
            errors += [{**e, "loc": ("body", "reports", i, "params", *e["loc"])} for e in error.errors()]
            continue
        reports.append({"report": item.report, "params": params.model_dump(mode="json", by_alias=True, exclude_none=True)})
    if errors:
        raise RequestValidationError(errors)
    return reports


@router.post("/dashboards", status_code=201, response_model=CommandAnswer)
def post_dashboard(body: DashboardIn, ctx: Ctx, response: Response) -> dict[str, Any]:
    return answer(response, execute(save_dashboard, SaveDashboard(body.name, _checked(body)), ctx))


@router.put("/dashboards/{dashboard_id}", response_model=CommandAnswer)
def put_dashboard(dashboard_id: UUID, body: DashboardIn, ctx: Ctx, response: Response) -> dict[str, Any]:
    return answer(response, execute(change_dashboard, ChangeDashboard(dashboard_id, body.name, _checked(body)), ctx))


@router.get("/dashboards/{dashboard_id}", response_model=DashboardPublic)
def get_dashboard(dashboard_id: UUID, cur: ReadCursor, services: ServicesDep, visible: Visible,
                  response: Response) -> dict[str, Any]:
    """The dashboard with each report filled in, as the reader may see it (a manager: their
    team's deals). A report that cannot be run now (its pipeline gone) says why."""
    dashboard = found(response, dashboards.get_dashboard(cur, dashboard_id), "dashboard", dashboard_id)
    filled = dashboards.run_reports(cur, dashboard, visible, services.clock.now())
    for item in filled:
        if (error := item.get("error")) is not None:  # a report that cannot run now says why, as a problem would
            item["error"] = {"status": status_of(error), "rule": error.rule, "detail": error.detail}
    return {**dashboard, "reports": filled}
