"""The analysts' reports on a story small enough to work out by hand (both event stores).

Pipeline "Sales": A (0.1) → B (0.5) → C (0.9). Each fact is recorded on the day it
happens (the clock is moved to it), but D1's win, on 11 March, is recorded on 20 March.

    D1  1 000 EUR  opened in A on  2 Mar, to B on  5 Mar, won  11 Mar (recorded 20 Mar)
    D2    500 EUR  opened in A on  3 Mar, lost on 4 Mar
    D3    800 EUR  opened in A on  4 Mar, to B on  6 Mar, back to A on 8 Mar (still open)
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient

from crm_es.clock import FrozenClock
from tests.http.helpers import assert_problem, ok

STAGES = [{"name": "A", "probability": "0.1"}, {"name": "B", "probability": "0.5"}, {"name": "C", "probability": "0.9"}]
MARCH = "from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z"


def day(d: int) -> datetime:
    return datetime(2026, 3, d, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def story(client: TestClient, clock: FrozenClock) -> dict[str, Any]:
    def on(d: int) -> None:
        clock.advance(seconds=(day(d) - clock.now()).total_seconds())

    def deal(title: str, amount: str) -> str:
        return ok(client.post("/deals", json={"title": title, "pipeline_id": pipeline, "stage": "A", "amount": amount,
                                              "currency": "EUR"}))["id"]

    on(2)
    pipeline = ok(client.post("/pipelines", json={"name": "Sales", "stages": STAGES}))["id"]
    d1 = deal("D1", "1000")
    on(3)
    d2 = deal("D2", "500")
    on(4)
    ok(client.post(f"/deals/{d2}/lost", json={"reason": "price"}), 200)
    d3 = deal("D3", "800")
    on(5)
    ok(client.post(f"/deals/{d1}/stage", json={"stage": "B"}), 200)
    on(6)
    ok(client.post(f"/deals/{d3}/stage", json={"stage": "B"}), 200)
    on(8)
    ok(client.post(f"/deals/{d3}/stage", json={"stage": "A"}), 200)
    on(20)
    last = ok(client.post(f"/deals/{d1}/won", json={"occurred_at": day(11).isoformat()}), 200)
    return {"pipeline": pipeline, "d1": d1, "d2": d2, "d3": d3, "position": last["position"]}


def report(client: TestClient, story: dict[str, Any], name: str, query: str) -> dict[str, Any]:
    return ok(client.get(f"/analytics/{name}?{query}&pipeline={story['pipeline']}&after={story['position']}"), 200)


def by_name(stages: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in stages}


def test_the_funnel_counts_entries_and_what_became_of_them(client: TestClient, story: dict[str, Any]) -> None:
    [group] = report(client, story, "funnel", MARCH)["groups"]
    stages = by_name(group["stages"])
    # A is entered four times (D1, D2, D3, D3 again): two moved on, D2 was lost, D3 is back there.
    assert {k: stages["A"][k] for k in ("entered", "moved_on", "lost", "slipped_back", "still_there")} == \
        {"entered": 4, "moved_on": 2, "lost": 1, "slipped_back": 0, "still_there": 1}
    assert stages["A"]["conversion"] == 0.5
    # B: D1 won from there, D3 slipped back to A.
    assert {k: stages["B"][k] for k in ("entered", "moved_on", "won", "slipped_back", "lost")} == \
        {"entered": 2, "moved_on": 1, "won": 1, "slipped_back": 1, "lost": 0}
    assert stages["C"]["entered"] == 0 and stages["C"]["conversion"] is None
    assert (group["opened"], group["won"], group["overall_conversion"], group["most_losses"]) == (3, 1, 0.3333, "A")


def test_the_funnel_as_known_on_a_day_does_not_know_a_win_recorded_later(client: TestClient, story: dict[str, Any]) -> None:
    [group] = report(client, story, "funnel", f"{MARCH}&known_at=2026-03-15T00:00:00Z")["groups"]
    b = by_name(group["stages"])["B"]
    assert (b["won"], b["still_there"]) == (0, 1)  # D1's win was recorded on 20 March
    [group] = report(client, story, "funnel", f"{MARCH}&as_of=2026-03-15T00:00:00Z")["groups"]
    assert by_name(group["stages"])["B"]["won"] == 1  # it had happened by then: as_of knows it now


def test_velocity_times_each_stage_and_the_way_to_a_close(client: TestClient, story: dict[str, Any]) -> None:
    [group] = report(client, story, "velocity", MARCH)["groups"]
    stages = by_name(group["stages"])
    # A: D1 3 days (2→5 Mar), D2 1 day (3→4), D3 2 days (4→6): mean 2, median 2. D3's second stay has not ended.
    assert (stages["A"]["stays"], stages["A"]["average_days"], stages["A"]["median_days"]) == (3, 2.0, 2.0)
    # B: D1 6 days (5→11), D3 2 days (6→8).
    assert (stages["B"]["stays"], stages["B"]["average_days"], stages["B"]["median_days"]) == (2, 4.0, 4.0)
    assert (group["opened"], group["won"], group["lost"], group["win_rate"]) == (3, 1, 1, 0.5)
    assert (group["average_days_to_close"], group["median_days_to_close"]) == (9.0, 9.0)  # D1: 2 → 11 March
    # 3 opened × 0.5 × 1,000 ÷ 9 days
    assert group["amounts"] == [{"currency": "EUR", "won": 1, "average_won_amount": "1000.00", "sales_velocity_per_day": "166.67"}]


def test_movements_list_what_happened_between_two_dates(client: TestClient, story: dict[str, Any]) -> None:
    answer = report(client, story, "movements", "from=2026-03-04T00:00:00Z&to=2026-03-09T00:00:00Z")
    moves = [(i["title"], i["kind"], i["from_stage"], i["to_stage"]) for i in answer["items"]]
    assert sorted(moves) == sorted([("D2", "lost", "A", "A"), ("D3", "entered", None, "A"), ("D1", "advanced", "A", "B"),
                                    ("D3", "advanced", "A", "B"), ("D3", "slipped_back", "B", "A")])
    times = [i["occurred_at"] for i in answer["items"]]
    assert times == sorted(times)
    summary = {s["kind"]: (s["count"], s["amounts"]) for s in answer["summary"]}
    assert summary["advanced"] == (2, [{"currency": "EUR", "amount": "1800.00"}])
    assert summary["won"] == (0, [])


def test_a_report_names_what_is_wrong_with_its_parameters(client: TestClient, story: dict[str, Any]) -> None:
    assert_problem(client.get(f"/analytics/funnel?{MARCH}"), 422)  # no pipeline
    assert_problem(client.get(f"/analytics/funnel?from=2026-04-01T00:00:00Z&to=2026-03-01T00:00:00Z&pipeline={story['pipeline']}"), 422)
    assert_problem(client.get(f"/analytics/velocity?{MARCH}&pipeline={story['pipeline']}&by=planet"), 422)
    assert_problem(client.get("/analytics/movements?from=yesterday&to=2026-03-01T00:00:00Z"), 422)
