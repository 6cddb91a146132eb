"""Dashboards (F34) through HTTP on both stores: saved, changed, read back filled in with
the same answers as the reports' own routes."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.http.helpers import STAGES, assert_problem, ok

PERIOD = {"from": "2026-01-01T00:00:00Z", "to": "2026-04-01T00:00:00Z"}


def a_pipeline_with_deals(client: TestClient) -> tuple[str, int]:
    pipeline = ok(client.post("/pipelines", json={"name": "Sales", "stages": STAGES}))["id"]
    position = 0
    for title, amount in (("Fleet", "1000"), ("Tyres", "250")):
        deal = ok(client.post("/deals", json={"title": title, "pipeline_id": pipeline, "stage": "Contact", "amount": amount,
                                              "currency": "EUR"}))
        position = ok(client.post(f"/deals/{deal['id']}/stage", json={"stage": "Demo"}), 200)["position"]
    return pipeline, position


def test_a_saved_dashboard_comes_back_filled_in_with_its_reports(client: TestClient) -> None:
    pipeline, position = a_pipeline_with_deals(client)
    reports = [{"report": "funnel", "params": {**PERIOD, "pipeline": pipeline}},
               {"report": "board", "params": {"pipeline": pipeline}},
               {"report": "movements", "params": PERIOD}]
    saved = ok(client.post("/dashboards", json={"name": "My week", "reports": reports}))
    shown = ok(client.get(f"/dashboards/{saved['id']}?after={saved['position']}"), 200)
    assert shown["name"] == "My week" and [r["report"] for r in shown["reports"]] == ["funnel", "board", "movements"]
    query = f"from={PERIOD['from']}&to={PERIOD['to']}&after={position}"
    assert shown["reports"][0]["result"] == ok(client.get(f"/analytics/funnel?{query}&pipeline={pipeline}"), 200)
    assert shown["reports"][2]["result"] == ok(client.get(f"/analytics/movements?{query}"), 200)
    board = ok(client.get(f"/pipelines/{pipeline}/board?after={position}"), 200)
    assert shown["reports"][1]["result"]["stages"] == board["stages"]

    changed = ok(client.put(f"/dashboards/{saved['id']}", json={"name": "Funnel only", "reports": reports[:1]}), 200)
    assert changed["version"] == 2
    shown = ok(client.get(f"/dashboards/{saved['id']}?after={changed['position']}"), 200)
    assert (shown["name"], len(shown["reports"])) == ("Funnel only", 1)
    again = ok(client.put(f"/dashboards/{saved['id']}", json={"name": "Funnel only", "reports": reports[:1]}), 200)
    assert again["version"] == 2  # the same dashboard again: nothing recorded


def test_a_report_with_bad_parameters_is_named_and_nothing_is_saved(client: TestClient, services: Any) -> None:
    pipeline, _ = a_pipeline_with_deals(client)
    before = services.store.max_position()
    body = {"name": "Broken", "reports": [{"report": "funnel", "params": {**PERIOD, "pipeline": pipeline}},
                                          {"report": "velocity", "params": {"from": "yesterday", "to": PERIOD["to"]}}]}
    problem = assert_problem(client.post("/dashboards", json=body), 422)
    assert {e["field"] for e in problem["errors"]} == {"reports[1].params.from", "reports[1].params.pipeline"}
    assert_problem(client.post("/dashboards", json={"name": "X", "reports": [{"report": "horoscope", "params": {}}]}), 422)
    assert_problem(client.post("/dashboards", json={"name": "X", "reports": []}), 422)
    assert_problem(client.put(f"/dashboards/{pipeline}", json={"name": "X", "reports": body["reports"][:1]}), 404)
    assert services.store.max_position() == before


def test_a_dashboard_whose_pipeline_is_gone_says_so_in_that_report(client: TestClient) -> None:
    pipeline, _ = a_pipeline_with_deals(client)
    unknown = "00000000-0000-4000-8000-000000000000"
    saved = ok(client.post("/dashboards", json={"name": "Old", "reports": [
        {"report": "board", "params": {"pipeline": unknown}}, {"report": "movements", "params": PERIOD}]}))
    shown = ok(client.get(f"/dashboards/{saved['id']}?after={saved['position']}"), 200)
    assert shown["reports"][0]["error"]["status"] == 404 and "result" not in shown["reports"][0]
    assert shown["reports"][1]["result"]["summary"]  # the other report is still shown
    assert_problem(client.get(f"/dashboards/{unknown}"), 404)


def test_every_report_a_dashboard_holds_answers_as_its_own_route(client: TestClient) -> None:
    pipeline, position = a_pipeline_with_deals(client)
    asked = {"forecast": {**PERIOD, "pipeline": pipeline, "by": "segment"}, "sources": PERIOD,
             "activity": {**PERIOD, "by": "rep"}, "kpis": PERIOD, "velocity": {**PERIOD, "pipeline": pipeline}}
    saved = ok(client.post("/dashboards", json={"name": "All", "reports": [{"report": r, "params": p} for r, p in asked.items()]}))
    shown = ok(client.get(f"/dashboards/{saved['id']}?after={saved['position']}"), 200)
    for item in shown["reports"]:
        own = ok(client.get(f"/analytics/{item['report']}", params={**asked[item["report"]], "after": str(position)}), 200)
        assert item["result"] == own, item["report"]
