"""The dashboards in a real browser: each plotly chart's numbers, read from the drawn figure
(the traces' x and y), are the JSON API's for the same parameters — now, after moving the date
back, for a manager's team, and on a dashboard saved from the page."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from tests.e2e.pages import expect, shoot
from tests.e2e.served import Console, Key, create_key, demo_store

REPORTS = ("funnel", "velocity", "forecast", "sources", "activity")
ACTIVITY = ("calls_made", "calls_received", "emails_sent", "emails_received", "meetings_held", "meetings_missed",
            "deals_won", "deals_lost", "tasks_done")

# Every drawn chart: which report and part it shows, and its traces as plotly holds them.
PLOTS_JS = """() => [...document.querySelectorAll('figure.chart .plot')].map(plot => ({
    chart: plot.closest('figure').dataset.chart, report: plot.closest('figure').dataset.report,
    traces: plot.data.map(t => ({x: t.x, y: t.y, keys: t.customdata, meta: t.meta})),
}))"""


@pytest.fixture(scope="module")
def people(console: Console) -> dict[str, Key]:
    """An analyst's key, and a manager's: the manager of the demo's first team that has one."""
    store = demo_store(console.service.log.parent)  # the running service's data folder
    manager = next(team["manager_id"] for team in console.get("/teams")["items"] if team.get("manager_id"))
    return {"analyst": create_key(store, "analyst", "e2e-analyst"), "manager": create_key(store, "manager", "e2e-manager", manager)}


def sign_in(page: Any, key: Key, lands_on: str) -> None:
    page.goto("/app/sign-in")
    page.locator("#sign-in input[name=api_key]").fill(key.secret)
    page.locator("#sign-in button[type=submit]").click()
    page.wait_for_url(f"**{lands_on}**")


def instant(day: date, end: bool = False) -> str:
    return datetime.combine(day, time.max if end else time.min, tzinfo=UTC).isoformat()


def api_params(report: str, first: date, last: date, pipeline: str, by: str | None, as_of: date | None) -> dict[str, str]:
    """The page's period, pipeline, grouping and day, said to the API outright."""
    params = {"from": instant(first), "to": instant(last + timedelta(days=1))}
    if as_of is not None:
        params["as_of"] = instant(as_of, end=True)
    if report in ("funnel", "velocity", "forecast"):
        params["pipeline"] = pipeline
    if by in {"funnel": ("rep", "team", "source"), "velocity": ("rep", "team", "source"),
              "forecast": ("rep", "team"), "activity": ("rep", "team")}.get(report, ()):
        params["by"] = by
    return params


def api_number(chart: str, answer: dict[str, Any], meta: dict[str, Any], key: Any) -> Any:
    """What the API's answer says for one bar: its series (group, measure, currency) and category."""
    group = next((g for g in answer.get("groups", []) if g["key"] == meta["group"]), None)
    if chart in ("funnel", "velocity"):
        return next(s for s in group["stages"] if s["name"] == key)[meta["measure"]]
    if chart == "forecast":
        month = next((m for m in group["months"] if m["month"] == key), None)
        amount = None if month is None else next((a for a in month["amounts"] if a["currency"] == meta["currency"]), None)
        return None if amount is None else amount[meta["measure"]]
    if chart == "quotas":
        rep = next(r for r in answer["reps"] if r["rep_id"] == key)
        return next((p[meta["measure"]] for p in rep["progress"] if p["currency"] == meta["currency"]), None)
    if chart == "sources":
        return next(r for r in answer["sources"] if r["source"] == key)[meta["measure"]]
    return group[key]


def api_keys(chart: str, answer: dict[str, Any]) -> list[Any]:
    if chart in ("funnel", "velocity"):
        return [s["name"] for s in answer["groups"][0]["stages"]] if answer["groups"] else []
    if chart == "forecast":
        return sorted({m["month"] for g in answer["groups"] for m in g["months"]}, key=lambda m: (m == "no date", m))
    if chart == "quotas":
        return [r["rep_id"] for r in answer["reps"]]
    if chart == "sources":
        return [r["source"] for r in answer["sources"]]
    return list(ACTIVITY)


def drawn(page: Any) -> list[dict[str, Any]]:
    expect(page.locator("body[data-charts-drawn=true]")).to_have_count(1)
    return page.evaluate(PLOTS_JS)


def same_as_api(plots: list[dict[str, Any]], answers: dict[str, dict[str, Any]]) -> int:
    """Every bar of every drawn chart is the API's number; each chart has the API's categories.
    How many bars were compared."""
    bars = 0
    for plot in plots:
        answer = answers[plot["report"]]
        for trace in plot["traces"]:
            assert trace["keys"] == api_keys(plot["chart"], answer), plot["chart"]
            for key, y in zip(trace["keys"], trace["y"], strict=True):
                expected = api_number(plot["chart"], answer, trace["meta"], key)
                assert (y is None) == (expected is None), (plot["chart"], trace["meta"], key)
                assert y is None or float(y) == float(expected), (plot["chart"], trace["meta"], key, y, expected)
                bars += 1
    return bars


def test_an_analysts_charts_are_the_apis_numbers_now_and_on_a_past_day(console: Console, people: dict[str, Key],
                                                                        browse: Any) -> None:
    analyst = people["analyst"]
    page = browse(console.url)
    sign_in(page, analyst, "/app/dashboards")  # an analyst's home: the board is not theirs
    last = date.today()
    first = last - timedelta(days=89)
    page.goto(f"/app/dashboards?pipeline={console.pipeline_id}&from={first}&to={last}&by=rep")

    def answers(as_of: date | None) -> dict[str, dict[str, Any]]:
        return {r: console.get(f"/analytics/{r}", analyst, **api_params(r, first, last, console.pipeline_id, "rep", as_of))
                for r in REPORTS}

    plots = drawn(page)
    assert {p["chart"] for p in plots} >= {"funnel", "velocity", "forecast", "sources", "activity"}
    assert same_as_api(plots, answers(None)) > 30
    shoot(page, "dashboards-now")

    # Back 30 days, through the form: the page says so, and the charts are the API's of that day.
    day = last - timedelta(days=30)
    form = page.locator("#time-travel")
    form.locator("input[name=as_of]").fill(day.isoformat())
    form.locator("[type=submit]").click()
    page.wait_for_url(f"**as_of={day}**")
    expect(page.locator("#as-of-notice")).to_be_visible()
    expect(page.locator("#dashboard")).to_have_attribute("data-as-of-instant", instant(day, end=True))
    past = drawn(page)
    assert same_as_api(past, answers(day)) > 30
    assert past != plots  # the demo's last month shows
    shoot(page, "dashboards-as-of")


def test_a_manager_sees_their_teams_charts_and_saves_the_view(console: Console, people: dict[str, Key],
                                                              browse: Any) -> None:
    manager = people["manager"]
    page = browse(console.url)
    sign_in(page, manager, "/app/board")
    last = date.today()
    first = last - timedelta(days=89)
    page.goto(f"/app/dashboards?pipeline={console.pipeline_id}&from={first}&to={last}&by=rep")
    answers = {r: console.get(f"/analytics/{r}", manager, **api_params(r, first, last, console.pipeline_id, "rep", None))
               for r in REPORTS}
    plots = drawn(page)
    assert same_as_api(plots, answers) > 10
    # Their team's reps only: the activity of every pipeline has the other team's reps too.
    team = {rep["id"] for rep in console.get("/reps", limit=1000)["items"]
            if rep.get("team_id") == console.get(f"/reps/{manager.rep_id}")["team_id"]}
    everyone = console.get("/analytics/activity", console.admin, **api_params("activity", first, last,
                                                                             console.pipeline_id, "rep", None))
    activity = {t["meta"]["group"] for p in plots if p["chart"] == "activity" for t in p["traces"]}
    assert activity <= team and activity < {g["key"] for g in everyone["groups"]}

    name = f"Team view {datetime.now(UTC):%H%M%S%f}"
    page.locator("#save-dashboard input[name=name]").fill(name)
    page.locator("#save-dashboard button[type=submit]").click()
    page.wait_for_url("**/app/dashboards/*")
    expect(page.locator("h1")).to_have_text(name)
    dashboard_id = page.url.split("/app/dashboards/")[1].split("?")[0]
    filled = console.get(f"/dashboards/{dashboard_id}", manager)
    saved = drawn(page)
    assert same_as_api(saved, {item["report"]: item["result"] for item in filled["reports"]}) > 10
    assert [p["traces"] for p in saved] == [p["traces"] for p in plots]  # the view it was saved from
    shoot(page, "dashboards-saved")
    page.goto("/app/dashboards")
    expect(page.locator(f'li.saved-dashboard.mine[data-dashboard-id="{dashboard_id}"]')).to_have_count(1)
