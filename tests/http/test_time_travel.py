"""Time travel on history recorded late, as an import from an old CRM records it: the
set-up (reps, teams, pipelines, companies) is dated at the start of its history, and the
board as of any past moment shows every deal of that moment — through HTTP, both stores."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.http.helpers import STAGES, assert_problem, ok, read

LAST_YEAR = "2025-01-06T09:00:00+01:00"


def setup_of_last_year(client: TestClient) -> dict[str, Any]:
    since = {"occurred_at": LAST_YEAR}
    ids = {"rep": ok(client.post("/reps", json={"name": "Alice Martin", "email": "alice@example.com"} | since))["id"]}
    ids["team"] = ok(client.post("/teams", json={"name": "North", "manager_id": ids["rep"]} | since))["id"]
    ids["company"] = ok(client.post("/companies", json={"name": "Acme"} | since))["id"]
    created = ok(client.post("/pipelines", json={"name": "New business", "stages": STAGES} | since))
    ids["pipeline"], ids["position"] = created["id"], created["position"]
    return ids


def open_deal(client: TestClient, ids: dict[str, Any], title: str, occurred_at: str, currency: str = "EUR") -> dict[str, Any]:
    body = {"title": title, "pipeline_id": ids["pipeline"], "stage": "Contact", "amount": "1000.00", "currency": currency,
            "owner_id": ids["rep"], "company_id": ids["company"], "occurred_at": occurred_at}
    answer = ok(client.post("/deals", json=body))
    ids["position"] = max(ids["position"], answer["position"])
    return answer


def board(client: TestClient, ids: dict[str, Any], as_of: str | None = None) -> dict[str, Any]:
    query = "" if as_of is None else f"?as_of={as_of.replace('+', '%2B')}"
    return read(client, f"/pipelines/{ids['pipeline']}/board{query}", ids["position"])


def titles(answer: dict[str, Any]) -> dict[str, list[str]]:
    return {stage["name"]: [d["title"] for d in stage["deals"]] for stage in answer["stages"] if stage["deals"]}


def test_deals_of_last_year_show_on_the_board_of_their_dates(client: TestClient) -> None:
    ids = setup_of_last_year(client)
    deal = open_deal(client, ids, "Fleet", "2025-03-03T10:00:00+01:00")
    moved = ok(client.post(f"/deals/{deal['id']}/stage", json={"stage": "Demo", "occurred_at": "2025-04-01T10:00:00+02:00"}), 200)
    ids["position"] = moved["position"]
    ok(client.post(f"/deals/{deal['id']}/won", json={"occurred_at": "2025-05-02T10:00:00+02:00"}), 200)
    open_deal(client, ids, "Trucks", "2025-03-20T10:00:00+01:00")

    assert titles(board(client, ids, "2025-02-01T00:00:00+00:00")) == {}
    assert titles(board(client, ids, "2025-03-10T00:00:00+00:00")) == {"Contact": ["Fleet"]}
    assert titles(board(client, ids, "2025-04-15T00:00:00+00:00")) == {"Contact": ["Trucks"], "Demo": ["Fleet"]}
    assert titles(board(client, ids, "2025-06-01T00:00:00+00:00")) == {"Contact": ["Trucks"]}
    before = board(client, ids, "2025-01-01T00:00:00+00:00")  # before the pipeline: no stages, nothing hidden
    assert before["stages"] == []


def test_a_deal_dated_before_its_pipeline_existed_is_refused_and_nothing_is_written(client: TestClient, services) -> None:
    ids = setup_of_last_year(client)
    head = services.store.max_position()
    body = {"title": "Too early", "pipeline_id": ids["pipeline"], "stage": "Contact", "amount": "10.00", "currency": "EUR",
            "occurred_at": "2024-12-31T23:59:59+01:00"}
    problem = assert_problem(client.post("/deals", json=body), 409, "before-pipeline")
    assert "occurred_at" in problem["detail"] and problem["pipeline_created_at"].startswith("2025-01-06T")
    assert services.store.max_position() == head


def test_a_deal_cannot_be_moved_into_a_stage_before_the_stage_was_added(client: TestClient) -> None:
    ids = setup_of_last_year(client)
    deal = open_deal(client, ids, "Fleet", "2025-03-03T10:00:00+01:00")
    stages = read(client, f"/pipelines/{ids['pipeline']}", ids["position"])["stages"]
    wanted = [{"id": s["id"], "name": s["name"], "probability": s["probability"]} for s in stages]
    wanted.append({"name": "Legal review", "probability": "0.95"})
    ok(client.patch(f"/pipelines/{ids['pipeline']}", json={"stages": wanted, "occurred_at": "2025-06-01T00:00:00+02:00"}), 200)
    too_early = {"stage": "Legal review", "occurred_at": "2025-05-01T00:00:00+02:00"}
    assert_problem(client.post(f"/deals/{deal['id']}/stage", json=too_early), 409, "stage-not-yet-added")
    ok(client.post(f"/deals/{deal['id']}/stage", json={"stage": "Legal review", "occurred_at": "2025-06-02T00:00:00+02:00"}), 200)


def test_the_board_keeps_its_currency_from_one_date_to_the_next(client: TestClient) -> None:
    ids = setup_of_last_year(client)
    assert board(client, ids)["currency"] is None  # no deal ever: no currency to make up
    open_deal(client, ids, "A", "2025-03-01T10:00:00+01:00", "EUR")
    open_deal(client, ids, "B", "2025-03-02T10:00:00+01:00", "EUR")
    open_deal(client, ids, "C", "2025-09-01T10:00:00+02:00", "USD")
    for as_of in (None, "2025-02-01T00:00:00+00:00", "2025-03-01T12:00:00+00:00", "2025-10-01T00:00:00+00:00"):
        answer = board(client, ids, as_of)
        assert answer["currency"] == "EUR", as_of
    early = board(client, ids, "2025-02-01T00:00:00+00:00")
    assert {(s["count"], s["deals"] == []) for s in early["stages"]} == {(0, True)}
