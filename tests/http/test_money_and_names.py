"""Money at the currency's scale and names beside ids, in every report and read of deals
(both event stores).

Reps Ann (team North) and Bob (team South); pipeline "Sales": A (0.1) → B (0.5). Deals
opened on 2 March:

    E1  114 445 EUR  Ann, A, won 5 March
    J1    1 255 JPY  Bob, A (open: weighted 125.5, shown 126: half to even)
    J2    1 200 JPY  Bob, A, won 6 March
    K1    5.25  KWD  Ann, moved to B (open: weighted 2.625)

Quotas for March: Bob 100 000 JPY, Ann 10 KWD. Then Ann is renamed Ann Lee: answers
give the names of now.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient

from crm_es.clock import FrozenClock
from tests.http.helpers import ok

MARCH = {"from": "2026-03-01T00:00:00Z", "to": "2026-04-01T00:00:00Z"}
STAGES = [{"name": "A", "probability": "0.1"}, {"name": "B", "probability": "0.5"}]


def day(d: int) -> datetime:
    return datetime(2026, 3, d, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def story(client: TestClient, clock: FrozenClock) -> dict[str, Any]:
    def on(d: int) -> None:
        clock.advance(seconds=(day(d) - clock.now()).total_seconds())

    on(2)
    since = {"occurred_at": day(1).isoformat()}
    ids: dict[str, Any] = {}
    for team, rep in (("North", "Ann"), ("South", "Bob")):
        ids[team] = ok(client.post("/teams", json={"name": team, **since}))["id"]
        ids[rep] = ok(client.post("/reps", json={"name": rep, "email": f"{rep.lower()}@crm.example", "team_id": ids[team],
                                                 **since}))["id"]
    ids["pipeline"] = ok(client.post("/pipelines", json={"name": "Sales", "stages": STAGES, **since}))["id"]
    for title, amount, currency, owner in (("E1", "114445", "EUR", "Ann"), ("J1", "1255", "JPY", "Bob"),
                                           ("J2", "1200", "JPY", "Bob"), ("K1", "5.25", "KWD", "Ann")):
        ids[title] = ok(client.post("/deals", json={"title": title, "pipeline_id": ids["pipeline"], "stage": "A",
                                                    "amount": amount, "currency": currency, "owner_id": ids[owner]}))["id"]
    ok(client.post(f"/deals/{ids['K1']}/stage", json={"stage": "B"}), 200)
    for rep, amount, currency in (("Bob", "100000", "JPY"), ("Ann", "10", "KWD")):
        ok(client.post(f"/reps/{ids[rep]}/quotas", json={"period_start": "2026-03-01", "period_end": "2026-04-01",
                                                          "amount": amount, "currency": currency}))
    on(5)
    ok(client.post(f"/deals/{ids['E1']}/won", json={}), 200)
    on(6)
    ok(client.post(f"/deals/{ids['J2']}/won", json={}), 200)
    on(7)
    ids["position"] = ok(client.patch(f"/reps/{ids['Ann']}", json={"name": "Ann Lee"}), 200)["position"]
    return ids


def get(client: TestClient, story: dict[str, Any], path: str, **params: str) -> dict[str, Any]:
    return ok(client.get(path, params={**params, "after": str(story["position"])}), 200)


def test_a_deal_reads_its_amount_at_its_currencys_scale_with_its_owners_name(client: TestClient, story: dict[str, Any]) -> None:
    shown = {t: get(client, story, f"/deals/{story[t]}") for t in ("E1", "J1", "K1")}
    assert {t: (d["amount"], d["currency"], d["owner_name"]) for t, d in shown.items()} == {
        "E1": ("114445.00", "EUR", "Ann Lee"), "J1": ("1255", "JPY", "Bob"), "K1": ("5.250", "KWD", "Ann Lee")}
    listed = {d["title"]: d for d in get(client, story, "/deals")["items"]}
    assert {t: (d["amount"], d["owner_id"], d["owner_name"]) for t, d in listed.items()} == {
        "E1": ("114445.00", story["Ann"], "Ann Lee"), "J1": ("1255", story["Bob"], "Bob"),
        "J2": ("1200", story["Bob"], "Bob"), "K1": ("5.250", story["Ann"], "Ann Lee")}


def test_the_board_shows_each_amount_at_its_currencys_scale(client: TestClient, story: dict[str, Any]) -> None:
    board = get(client, story, f"/pipelines/{story['pipeline']}/board")
    assert board["currency"] == "JPY"  # most of the pipeline's deals
    a, b = board["stages"]
    assert (a["amount"], a["weighted_amount"], [d["amount"] for d in a["deals"]]) == ("1255", "126", ["1255"])
    assert (b["amount"], b["weighted_amount"]) == ("0", "0")  # no JPY deal there
    assert b["totals"] == [{"currency": "KWD", "amount": "5.250", "weighted_amount": "2.625"}]
    assert [d["amount"] for d in b["deals"]] == ["5.250"]


def test_velocity_sources_activity_and_kpis_answer_money_at_scale(client: TestClient, story: dict[str, Any]) -> None:
    [group] = get(client, story, "/analytics/velocity", pipeline=story["pipeline"], **MARCH)["groups"]
    # 4 opened × win rate 1 × average won ÷ 3.5 days (E1: 3 days, J2: 4 days)
    assert group["amounts"] == [
        {"currency": "EUR", "won": 1, "average_won_amount": "114445.00", "sales_velocity_per_day": "130794.29"},
        {"currency": "JPY", "won": 1, "average_won_amount": "1200", "sales_velocity_per_day": "1371"}]
    won = [{"currency": "EUR", "deals": 1, "amount": "114445.00"}, {"currency": "JPY", "deals": 1, "amount": "1200"}]
    [source] = get(client, story, "/analytics/sources", **MARCH)["sources"]
    assert source["won_revenue"] == won
    by_rep = {g["key_name"]: g for g in get(client, story, "/analytics/activity", by="rep", **MARCH)["groups"]}
    assert (by_rep["Ann Lee"]["won_revenue"], by_rep["Bob"]["won_revenue"]) == ([won[0]], [won[1]])
    [kpi] = get(client, story, "/analytics/kpis", **MARCH)["groups"]
    assert kpi["average_won_amount"] == [{"currency": "EUR", "won": 1, "average": "114445.00"},
                                         {"currency": "JPY", "won": 1, "average": "1200"}]
    movements = get(client, story, "/analytics/movements", **MARCH)
    summary = {s["kind"]: s["amounts"] for s in movements["summary"]}
    assert summary["won"] == [{"currency": "EUR", "amount": "114445.00"}, {"currency": "JPY", "amount": "1200"}]
    assert summary["entered"] == [{"currency": "EUR", "amount": "114445.00"}, {"currency": "JPY", "amount": "2455"},
                                  {"currency": "KWD", "amount": "5.250"}]
    assert {(i["title"], i["amount"], i["owner_name"]) for i in movements["items"] if i["kind"] == "advanced"} == {
        ("K1", "5.250", "Ann Lee")}


def test_the_forecast_answers_money_at_scale_and_names_reps_and_teams(client: TestClient, story: dict[str, Any]) -> None:
    answer = get(client, story, "/analytics/forecast", **MARCH)
    assert [(d["title"], d["amount"], d["weighted_amount"], d["owner_name"]) for d in answer["deals"]] == [
        ("J1", "1255", "126", "Bob"), ("K1", "5.250", "2.625", "Ann Lee")]
    [group] = answer["groups"]
    assert group["amounts"] == [{"currency": "JPY", "amount": "1255", "weighted_amount": "126"},
                                {"currency": "KWD", "amount": "5.250", "weighted_amount": "2.625"}]
    reps = {r["rep_id"]: r for r in answer["reps"]}
    ann, bob = reps[story["Ann"]], reps[story["Bob"]]
    assert (ann["rep_name"], ann["team_id"], ann["team_name"]) == ("Ann Lee", story["North"], "North")
    assert (bob["rep_name"], bob["team_name"]) == ("Bob", "South")
    assert [(p["currency"], p["quota"], p["won"]) for p in ann["progress"]] == [("EUR", None, "114445.00"),
                                                                                 ("KWD", "10.000", "0.000")]
    assert [(p["currency"], p["quota"], p["won"], p["progress"]) for p in bob["progress"]] == [
        ("JPY", "100000", "1200", 0.012)]
    assert [q["amount"] for q in bob["quotas"]] == ["100000"]
    by_team = get(client, story, "/analytics/forecast", by="team", **MARCH)["groups"]
    assert [(g["key"], g["key_name"]) for g in by_team] == sorted([(story["North"], "North"), (story["South"], "South")])


def test_reports_by_rep_or_team_and_the_feed_name_them_as_they_are_called_now(client: TestClient, story: dict[str, Any]) -> None:
    for name in ("funnel", "velocity"):
        groups = get(client, story, f"/analytics/{name}", pipeline=story["pipeline"], by="rep", **MARCH)["groups"]
        assert {g["key"]: g["key_name"] for g in groups} == {story["Ann"]: "Ann Lee", story["Bob"]: "Bob"}, name
        groups = get(client, story, f"/analytics/{name}", pipeline=story["pipeline"], by="source", **MARCH)["groups"]
        assert [g["key_name"] for g in groups] == [None], name  # a source is its own name
    for name in ("activity", "kpis"):
        groups = get(client, story, f"/analytics/{name}", by="team", **MARCH)["groups"]
        assert {g["key"]: g["key_name"] for g in groups} == {story["North"]: "North", story["South"]: "South"}, name
    feed = get(client, story, "/feed")["items"]
    assert feed and {(i["owner_id"], i["owner_name"]) for i in feed} == {(story["Ann"], "Ann Lee"), (story["Bob"], "Bob")}
