"""The dashboards page shows each report's numbers as the JSON API answers them — for the
caller's reach, grouped, now and as it stood on a past day — and a saved dashboard as
GET /dashboards/{id} fills it in (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_pages import Element, World, bearer, dom, ok, sign_in, world

from crm_es.bootstrap import Services
from crm_es.clock import FrozenClock
from crm_es.entrypoints.web.i18n import Words

FROM, TO = "2026-02-01T00:00:00+00:00", "2026-04-01T00:00:00+00:00"  # the page's from=2026-02-01&to=2026-03-31
PERIOD_QUERY = "from=2026-02-01&to=2026-03-31"
END_OF_2_MARCH = "2026-03-02T23:59:59.999999+00:00"
REPORTS = ("funnel", "velocity", "forecast", "sources", "activity")


@pytest.fixture
def w(client: TestClient, services: Services, clock: FrozenClock) -> World:
    """Rob's deal moved to Demo and won on 4 March; Rita's moved on 2 March, recorded on 6
    March; Rob made a call; Rob has a quota for the quarter."""
    w = world(client, services)
    w.write("POST", f"/reps/{w.ids['rob']}/quotas", {"period_start": "2026-01-01", "period_end": "2026-04-01",
                                                     "amount": "5000.00", "currency": "EUR"})
    w.write("POST", f"/contacts/{w.ids['rob_contact']}/interactions", {"type": "call", "direction": "outbound",
                                                                       "rep_id": w.ids["rob"]})
    clock.advance(days=3)
    w.write("POST", f"/deals/{w.ids['rob_deal']}/stage", {"stage": "Demo"}, 200)
    w.write("POST", f"/deals/{w.ids['rob_deal']}/won", {}, 200)
    clock.advance(days=2)
    w.write("POST", f"/deals/{w.ids['rita_deal']}/stage", {"stage": "Demo", "occurred_at": "2026-03-02T10:00:00Z"}, 200)
    assert services.projector.wait_for(w.position, 10)
    return w


def api_report(w: World, who: str, report: str, **params: str) -> dict[str, Any]:
    return ok(w.client.get(f"/analytics/{report}", params=params, headers=bearer(w, who)), 200)


def api_params(w: World, report: str, by: str | None = None, **past: str) -> dict[str, str]:
    """What the page's period means, said to the API outright (not read from the page)."""
    params = {"from": FROM, "to": TO, **past}
    if report in ("funnel", "velocity", "forecast"):
        params["pipeline"] = w.ids["pipeline"]
    if by and (by in ("rep", "team") or report in ("funnel", "velocity")) and report != "sources":
        params["by"] = by
    return params


def _or_none(text: str) -> str | None:
    return text or None


def api_value(chart: str, answer: dict[str, Any], group: str | None, measure: str, currency: str | None, key: str | None) -> Any:
    """The number the API's answer gives for one cell of a chart's table."""
    def of_group() -> dict[str, Any]:
        return next(g for g in answer["groups"] if g["key"] == group)

    if chart in ("funnel", "velocity"):
        return next(s for s in of_group()["stages"] if s["name"] == key)[measure]
    if chart == "forecast":
        month = next((m for m in of_group()["months"] if m["month"] == key), None)
        amount = None if month is None else next((a for a in month["amounts"] if a["currency"] == currency), None)
        return None if amount is None else amount[measure]
    if chart == "quotas":
        rep = next(r for r in answer["reps"] if r["rep_id"] == key)
        return next((p[measure] for p in rep["progress"] if p["currency"] == currency), None)
    if chart == "sources":
        return next(r for r in answer["sources"] if r["source"] == key)[measure]
    assert chart == "activity"
    return of_group()[key]


def categories(chart: str, answer: dict[str, Any]) -> list[Any]:
    """The API's categories of a chart, in the order the page shows them."""
    if chart in ("funnel", "velocity"):
        return [s["name"] for s in answer["groups"][0]["stages"]] if answer["groups"] else []
    if chart == "forecast":
        months = {m["month"] for g in answer["groups"] for m in g["months"]}
        return sorted(months, key=lambda m: (m == "no date", m))
    if chart == "quotas":
        return [r["rep_id"] for r in answer["reps"]]
    if chart == "sources":
        return [r["source"] for r in answer["sources"]]
    return ["calls_made", "calls_received", "emails_sent", "emails_received", "meetings_held", "meetings_missed",
            "deals_won", "deals_lost", "tasks_done"]


def cells(table: Element) -> list[tuple[str | None, str, str | None, str | None, str]]:
    """Each cell of a chart's table: (group, measure, currency, category key, value)."""
    heads = table.one("thead").all("th")[1:]
    found = []
    for row in table.one("tbody").all("tr"):
        for head, cell in zip(heads, row.all("td"), strict=True):
            found.append((_or_none(head.attrs["data-group"]), head.attrs["data-measure"], _or_none(head.attrs["data-currency"]),
                          _or_none(row.attrs["data-key"]), cell.attrs["data-value"]))
    return found


def same_as_api(page: Element, answers: dict[str, dict[str, Any]]) -> int:
    """Every chart's table on the page holds the API's numbers, its categories in the API's
    order, and its JSON block (what plotly draws) the same numbers; how many cells were compared."""
    compared = 0
    for figure in page.all("figure.chart"):
        chart, report = figure.attrs["data-chart"], figure.attrs["data-report"]
        answer = answers[report]
        if not categories(chart, answer):
            assert figure.all("p.empty")
            continue
        table = figure.one("table.numbers")
        assert [_or_none(r.attrs["data-key"]) for r in table.one("tbody").all("tr")] == categories(chart, answer)
        for group, measure, currency, key, value in cells(table):
            expected = api_value(chart, answer, group, measure, currency, key)
            assert value == ("" if expected is None else str(expected)), (chart, group, measure, key)
            compared += 1
        plot = json.loads(figure.one("script").text)
        assert plot["x_keys"] == categories(chart, answer)
        for series in plot["series"]:
            for key, y in zip(plot["x_keys"], series["y"], strict=True):
                expected = api_value(chart, answer, series["group"], series["measure"], series["currency"], key)
                assert (y is None and expected is None) or float(y) == float(expected), (chart, series["name"], key)
    return compared


@pytest.mark.parametrize("who, by", [("admin", None), ("analyst", "rep"), ("mia", "team"), ("auditor", "source")])
def test_each_chart_holds_the_apis_numbers_for_the_same_parameters_and_reach(w: World, who: str, by: str | None) -> None:
    sign_in(w.client, w.tokens[who])
    page = dom(w.client.get(f"/app/dashboards?{PERIOD_QUERY}" + (f"&by={by}" if by else "")).text)
    shown = page.one("#dashboard")
    assert (shown.attrs["data-from"], shown.attrs["data-to"], shown.attrs["data-pipeline"]) == (FROM, TO, w.ids["pipeline"])
    answers = {r: api_report(w, who, r, **api_params(w, r, by)) for r in REPORTS}
    assert same_as_api(page, answers) > 20
    assert {s.attrs["data-report"] for s in page.all("section.report")} == set(REPORTS)
    assert {f.attrs["data-chart"] for f in page.all("figure.chart")} == {*REPORTS, "quotas"}


def test_a_manager_sees_their_teams_figures_only(w: World) -> None:
    sign_in(w.client, w.tokens["mia"])
    page = dom(w.client.get(f"/app/dashboards?{PERIOD_QUERY}&by=rep").text)
    funnel = page.one("figure.chart[data-chart=funnel]").one("table.numbers")
    groups = {head.attrs["data-group"] for head in funnel.one("thead").all("th")[1:]}
    assert groups == {w.ids["rob"], w.ids["rita"]}  # West's reps, not Eve of East
    quotas = page.one("figure.chart[data-chart=quotas]")
    assert [r.attrs["data-key"] for r in quotas.one("tbody").all("tr")] == [w.ids["rob"]]
    assert "5000.00" in [c.attrs["data-value"] for c in quotas.all("td")]


def test_a_past_day_and_as_we_knew_it_then_change_the_charts_as_they_change_the_api(w: World) -> None:
    sign_in(w.client, w.tokens["admin"])
    now = dom(w.client.get(f"/app/dashboards?{PERIOD_QUERY}").text)
    known = dom(w.client.get(f"/app/dashboards?{PERIOD_QUERY}&as_of=2026-03-02").text)
    then = dom(w.client.get(f"/app/dashboards?{PERIOD_QUERY}&as_of=2026-03-02&known_at_then=1").text)
    for page, past in ((known, {"as_of": END_OF_2_MARCH}), (then, {"as_of": END_OF_2_MARCH, "known_at": END_OF_2_MARCH})):
        assert page.one("#dashboard").attrs["data-as-of-instant"] == END_OF_2_MARCH
        same_as_api(page, {r: api_report(w, "admin", r, **api_params(w, r, None, **past)) for r in REPORTS})
    assert then.one("#dashboard").attrs["data-known-at"] == END_OF_2_MARCH and not known.one("#dashboard").attrs["data-known-at"]

    def demo_entered(page: Element) -> str:
        table = page.one("figure.chart[data-chart=funnel]").one("table.numbers")
        return next(r for r in table.all("tr") if r.attrs.get("data-key") == "Demo").all("td")[0].attrs["data-value"]

    # Now: Rob's and Rita's deals entered Demo; by 2 March only Rita's had; as known then, none.
    assert (demo_entered(now), demo_entered(known), demo_entered(then)) == ("2", "1", "0")
    assert known.one("#as-of-notice").text != then.one("#as-of-notice").text
    assert not now.all("#as-of-notice")


def test_the_default_period_is_the_90_days_up_to_the_day_shown(w: World) -> None:
    sign_in(w.client, w.tokens["analyst"])
    today = dom(w.client.get("/app/dashboards").text).one("#dashboard")  # the clock says 6 March 2026
    assert (today.attrs["data-from"], today.attrs["data-to"]) == ("2025-12-07T00:00:00+00:00", "2026-03-07T00:00:00+00:00")
    past = dom(w.client.get("/app/dashboards?as_of=2026-03-02").text).one("#dashboard")
    assert (past.attrs["data-from"], past.attrs["data-to"]) == ("2025-12-03T00:00:00+00:00", "2026-03-03T00:00:00+00:00")


def test_a_rep_gets_the_not_allowed_page(w: World) -> None:
    sign_in(w.client, w.tokens["rob"])
    answer = w.client.get("/app/dashboards")
    assert answer.status_code == 403 and dom(answer.text).one("#problem").attrs["data-rule"] == "role-not-allowed"
    assert w.client.get("/app/dashboards/00000000-0000-0000-0000-000000000000").status_code == 403


@pytest.mark.parametrize("query, field", [("from=2026-02-30", "query.from"), ("from=yesterday", "query.from"),
                                          ("to=2026-3-1", "query.to"), ("from=2026-03-05&to=2026-03-01", "query.to"),
                                          ("by=month", "query.by"), ("pipeline=42", "query.pipeline"),
                                          ("as_of=soon", "query.as_of")])
def test_a_bad_parameter_is_a_422_page_naming_it(w: World, query: str, field: str) -> None:
    sign_in(w.client, w.tokens["analyst"])
    answer = w.client.get(f"/app/dashboards?{query}")
    assert answer.status_code == 422 and dom(answer.text).one(".error").attrs["data-field"] == field


def test_a_saved_dashboard_shows_what_get_dashboards_id_fills_in_for_the_reader(w: World) -> None:
    sign_in(w.client, w.tokens["mia"])
    page = dom(w.client.get(f"/app/dashboards?{PERIOD_QUERY}&by=rep").text)
    reports = json.loads(page.one("#dashboard-reports").text)  # what "save this view" sends
    assert [r["report"] for r in reports] == list(REPORTS)
    saved = ok(w.client.post("/dashboards", json={"name": "West, Q1", "reports": reports}, headers=bearer(w, "mia")))
    shown = dom(w.client.get(f"/app/dashboards/{saved['id']}?after={saved['position']}").text)
    filled = ok(w.client.get(f"/dashboards/{saved['id']}", headers=bearer(w, "mia")), 200)
    assert shown.one("h1").text == "West, Q1" and shown.one(".saver").text == "Mia"
    assert same_as_api(shown, {item["report"]: item["result"] for item in filled["reports"]}) > 20
    # The same numbers as the live page of the same view.
    assert [cells(t) for t in shown.all("table.numbers")] == [cells(t) for t in page.all("table.numbers")]
    listed = dom(w.client.get("/app/dashboards").text).one(f"li.saved-dashboard[data-dashboard-id={saved['id']}]")
    assert "mine" in listed.classes and listed.one("a").attrs["href"] == f"/app/dashboards/{saved['id']}"
    sign_in(w.client, w.tokens["analyst"])
    theirs = dom(w.client.get("/app/dashboards").text).one(f"li.saved-dashboard[data-dashboard-id={saved['id']}]")
    assert "mine" not in theirs.classes and "Mia" in theirs.one(".saver").text


@pytest.mark.parametrize("then", [False, True], ids=["as_known_now", "as_known_then"])
def test_a_saved_dashboard_moved_back_in_time_is_each_report_of_that_day(w: World, then: bool) -> None:
    """Its reports' own as_of and known_at are replaced by the day chosen: each equals the
    API's report with the saved parameters and that day's end."""
    sign_in(w.client, w.tokens["mia"])
    reports = json.loads(dom(w.client.get(f"/app/dashboards?{PERIOD_QUERY}&by=rep").text).one("#dashboard-reports").text)
    saved = ok(w.client.post("/dashboards", json={"name": "West, Q1", "reports": reports}, headers=bearer(w, "mia")))
    query = f"after={saved['position']}&as_of=2026-03-02" + ("&known_at_then=1" if then else "")
    shown = dom(w.client.get(f"/app/dashboards/{saved['id']}?{query}").text)
    past = {"as_of": END_OF_2_MARCH, **({"known_at": END_OF_2_MARCH} if then else {})}
    answers = {r["report"]: api_report(w, "mia", r["report"], **{**r["params"], **past}) for r in reports}
    assert same_as_api(shown, answers) > 20
    assert shown.one("#dashboard").attrs["data-as-of"] == "2026-03-02" and shown.all("#as-of-notice")
    assert shown.one("#time-travel").attrs["action"] == f"/app/dashboards/{saved['id']}"
    as_saved = dom(w.client.get(f"/app/dashboards/{saved['id']}").text)
    assert [cells(t) for t in as_saved.all("table.numbers")] != [cells(t) for t in shown.all("table.numbers")]


def test_a_saved_dashboard_with_a_report_the_page_does_not_draw_says_so(w: World) -> None:
    body = {"name": "KPIs", "reports": [{"report": "kpis", "params": {"from": FROM, "to": TO}}]}
    saved = ok(w.client.post("/dashboards", json=body, headers=bearer(w, "analyst")))
    sign_in(w.client, w.tokens["auditor"])
    shown = dom(w.client.get(f"/app/dashboards/{saved['id']}?after={saved['position']}").text)
    assert shown.one("section.report[data-report=kpis]").one("p.note").text
    missing = w.client.get("/app/dashboards/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404
    assert w.client.get("/app/dashboards/42").status_code == 422


@pytest.mark.parametrize("who, may_save", [("analyst", True), ("mia", True), ("auditor", False), ("admin", True)])
def test_save_this_view_is_offered_to_who_may_save_a_dashboard(w: World, who: str, may_save: bool) -> None:
    sign_in(w.client, w.tokens[who])
    page = dom(w.client.get("/app/dashboards").text)
    assert bool(page.all("form#save-dashboard")) == may_save
    assert bool([e for e in page.walk() if "write" in e.classes]) == may_save


def test_an_analyst_lands_on_the_dashboards_and_a_rep_on_the_board(w: World) -> None:
    for who, home in (("analyst", "/app/dashboards"), ("rob", "/app/board"), ("mia", "/app/board"),
                      ("auditor", "/app/board")):
        signed = sign_in(w.client, w.tokens[who])
        assert signed.status_code == 303 and signed.headers["location"] == home
        assert w.client.get("/app/", follow_redirects=False).headers["location"] == home
        nav = {a.attrs["href"] for a in dom(w.client.get(home).text).one("nav").all("a")}
        assert ("/app/dashboards" in nav) == (who != "rob") and ("/app/feed" in nav) == (who != "analyst")


def test_plotly_is_served_from_the_package_kept_a_year_and_gzipped(client: TestClient) -> None:
    page_script = "/app/static/plotly.min.js"
    plain = client.get(page_script, headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and plain.headers["content-type"].startswith("text/javascript")
    assert "max-age=31536000" in plain.headers["cache-control"] and b"plotly.js v" in plain.content[:200]
    zipped = client.get(page_script, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip" and zipped.content == plain.content  # httpx unzips it
    for name in ("dashboards.js", "dashboards.css"):
        assert client.get(f"/app/static/{name}").status_code == 200


def test_a_french_browser_gets_the_dashboards_and_the_feed_in_french(w: World) -> None:
    sign_in(w.client, w.tokens["mia"])
    french = {"Accept-Language": "fr-FR,fr;q=0.9"}
    page = dom(w.client.get(f"/app/dashboards?{PERIOD_QUERY}", headers=french).text)
    assert page.one("html").attrs["lang"] == "fr" and page.one("h1").text == "Tableaux de bord"
    assert "Du 1 févr. 2026 au 31 mars 2026" in page.one("#period").text
    quota = page.one("figure.chart[data-chart=quotas]").one("tbody").all("td")[0]
    assert quota.attrs["data-value"] == "5000.00" and quota.text == " ".join(Words("fr").money("5000.00", "EUR").split())
    assert dom(w.client.get("/app/feed", headers=french).text).one("h1").text == "Fil d'actualité"
