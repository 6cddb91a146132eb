"""Quotas and the forecast on a story small enough to work out by hand (both event stores).

Pipeline "Sales": A (0.1) → B (0.5) → C (0.9); A's probability becomes 0.2 on 18 March.
Team West: Mia (manager) and Rob; team East: Max (manager) and Eve. Acme's contacts: Ann
(Silver) from 2 March, Bob (Gold) from 16 March; Globex's: Cat (Bronze, vip). Each fact is
recorded on the day it happens (the clock is moved to it, noon UTC), but D2's win, on
10 March, is recorded on 20 March — the day the story ends ("now").

    D1  Rob  Acme    1 000 EUR  close 15 Apr  opened in A on 2 Mar, to B on 5 Mar
    D2  Rob  Globex  2 000 EUR  close 20 Apr  opened in A on 2 Mar, won on 10 Mar (recorded 20 Mar)
    D6  Rob  Globex  1 000 EUR  close 30 Apr  opened in A on 3 Mar
    D3  Eve  —         500 USD  no date       opened in C on 3 Mar
    D5  Rob  Acme      300 EUR                opened in A and lost on 4 Mar
    D4  Eve  Acme      800 EUR  close  3 May  opened in A on 4 Mar, won 6 Mar, reopened in B on 8 Mar
    D7  Eve  —         300 USD                opened in A and won on 9 Mar

Quotas: Rob, Q1 (1 Jan – 1 Apr) 10 000 EUR set on 2 March, 8 000 EUR from 15 March; Rob,
April 5 000 EUR; Eve, March 2 000 EUR.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from crm_es.auth.roles import Role
from crm_es.bootstrap import Services
from crm_es.clock import FrozenClock
from tests.http.helpers import assert_problem, ok

STAGES = [{"name": "A", "probability": "0.1"}, {"name": "B", "probability": "0.5"}, {"name": "C", "probability": "0.9"}]
MARCH = "from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z"
Q1 = {"period_start": "2026-01-01", "period_end": "2026-04-01"}


def day(d: int) -> datetime:
    return datetime(2026, 3, d, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def story(client: TestClient, clock: FrozenClock) -> dict[str, Any]:
    ids: dict[str, Any] = {}

    def on(d: int) -> None:
        clock.advance(seconds=(day(d) - clock.now()).total_seconds())

    def post(path: str, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
        answer = ok(client.post(path, json=body), status)
        ids["position"] = answer["position"]
        return answer

    def deal(title: str, owner: str, amount: str, currency: str = "EUR", stage: str = "A", **fields: Any) -> None:
        ids[title] = post("/deals", {"title": title, "pipeline_id": ids["pipeline"], "stage": stage, "amount": amount,
                                     "currency": currency, "owner_id": ids[owner], **fields})["id"]

    def contact(name: str, company: str, tags: list[str]) -> None:
        post("/contacts", {"first_name": name, "last_name": "Doe", "email": f"{name.lower()}@example.com",
                           "company_id": ids[company], "tags": tags})

    on(2)
    ids["pipeline"] = post("/pipelines", {"name": "Sales", "stages": STAGES})["id"]
    ids["renewals"] = post("/pipelines", {"name": "Renewals", "stages": STAGES})["id"]
    for name in ("mia", "rob", "max", "eve"):
        ids[name] = post("/reps", {"name": name.title(), "email": f"{name}@example.com"})["id"]
    for team, manager, members in (("west", "mia", ("mia", "rob")), ("east", "max", ("max", "eve"))):
        ids[team] = post("/teams", {"name": team.title(), "manager_id": ids[manager]})["id"]
        for member in members:
            post(f"/teams/{ids[team]}/members", {"rep_id": ids[member]}, 200)
    for company in ("Acme", "Globex"):
        ids[company] = post("/companies", {"name": company})["id"]
    contact("Ann", "Acme", ["Silver"])
    contact("Cat", "Globex", ["vip", "Bronze"])
    post(f"/reps/{ids['rob']}/quotas", {**Q1, "amount": "10000", "currency": "EUR"})
    post(f"/reps/{ids['rob']}/quotas", {"period_start": "2026-04-01", "period_end": "2026-05-01", "amount": "5000",
                                        "currency": "EUR"})
    post(f"/reps/{ids['eve']}/quotas", {"period_start": "2026-03-01", "period_end": "2026-04-01", "amount": "2000",
                                        "currency": "EUR"})
    deal("D1", "rob", "1000", company_id=ids["Acme"], expected_close="2026-04-15")
    deal("D2", "rob", "2000", company_id=ids["Globex"], expected_close="2026-04-20")
    on(3)
    deal("D6", "rob", "1000", company_id=ids["Globex"], expected_close="2026-04-30")
    deal("D3", "eve", "500", "USD", stage="C")
    on(4)
    deal("D5", "rob", "300", company_id=ids["Acme"])
    post(f"/deals/{ids['D5']}/lost", {"reason": "price"}, 200)
    deal("D4", "eve", "800", company_id=ids["Acme"], expected_close="2026-05-03")
    on(5)
    post(f"/deals/{ids['D1']}/stage", {"stage": "B"}, 200)
    on(6)
    post(f"/deals/{ids['D4']}/won", {}, 200)
    on(8)
    post(f"/deals/{ids['D4']}/reopen", {"stage": "B"}, 200)
    on(9)
    deal("D7", "eve", "300", "USD")
    post(f"/deals/{ids['D7']}/won", {}, 200)
    on(15)
    post(f"/reps/{ids['rob']}/quotas", {**Q1, "amount": "8000", "currency": "EUR"})
    on(16)
    contact("Bob", "Acme", ["Gold"])
    on(18)
    ok(client.patch(f"/pipelines/{ids['pipeline']}", json={"stages": [{**STAGES[0], "probability": "0.2"}, *STAGES[1:]]}), 200)
    on(20)
    post(f"/deals/{ids['D2']}/won", {"occurred_at": day(10).isoformat()}, 200)
    return ids


@pytest.fixture
def rep(client: TestClient) -> str:
    return ok(client.post("/reps", json={"name": "Rob", "email": "rob@example.com"}))["id"]


def forecast(client: TestClient, story: dict[str, Any], query: str = "", **headers: str) -> dict[str, Any]:
    return ok(client.get(f"/analytics/forecast?{MARCH}&{query}&after={story['position']}", headers=headers), 200)


def money(*triples: tuple[str, str, str]) -> list[dict[str, str]]:
    return [{"currency": c, "amount": a, "weighted_amount": w} for c, a, w in triples]


def progress(answer: dict[str, Any], story: dict[str, Any]) -> dict[str, list[tuple[Any, ...]]]:
    """Each rep's progress, by name: (currency, quota, won, won deals, progress)."""
    names = {story[n]: n for n in ("mia", "rob", "max", "eve")}
    return {names[r["rep_id"]]: [(p["currency"], p["quota"], p["won"], p["won_deals"], p["progress"]) for p in r["progress"]]
            for r in answer["reps"]}


def test_the_open_deals_weighted_by_close_month_and_segment(client: TestClient, story: dict[str, Any]) -> None:
    answer = forecast(client, story)
    assert (answer["as_of"], answer["known_at"]) == (day(20).isoformat(), None)  # now
    [group] = answer["groups"]
    # Open now: D1 (B 0.5: 500), D6 (A, 0.2 since 18 March: 200), D4 (reopened, B: 400), D3 (C 0.9: 450 USD).
    assert group["count"] == 4
    assert group["amounts"] == money(("EUR", "2800.00", "1100.00"), ("USD", "500.00", "450.00"))
    assert [(m["month"], m["count"], m["amounts"]) for m in group["months"]] == [
        ("2026-04", 2, money(("EUR", "2000.00", "700.00"))),  # D1 and D6
        ("2026-05", 1, money(("EUR", "800.00", "400.00"))),  # D4
        ("no date", 1, money(("USD", "500.00", "450.00"))),  # D3
    ]
    # Acme has Bob (Gold) since 16 March beside Ann (Silver): Gold ranks first. Globex: Cat's
    # Bronze (her other tag is in no category). D3 has no company: no segment.
    assert [(s["segment"], s["count"], s["amounts"]) for s in group["segments"]] == [
        ("Gold", 2, money(("EUR", "1800.00", "900.00"))),  # D1 and D4
        ("Bronze", 1, money(("EUR", "1000.00", "200.00"))),  # D6
        (None, 1, money(("USD", "500.00", "450.00"))),  # D3
    ]
    # The prioritised pipeline: Gold first, then by weighted amount.
    assert [(d["title"], d["stage"], d["probability"], d["weighted_amount"], d["segment"], d["month"]) for d in answer["deals"]] == [
        ("D1", "B", "0.5000", "500.00", "Gold", "2026-04"), ("D4", "B", "0.5000", "400.00", "Gold", "2026-05"),
        ("D6", "A", "0.2000", "200.00", "Bronze", "2026-04"), ("D3", "C", "0.9000", "450.00", None, "no date"),
    ]
    assert answer["truncated"] is False


def test_each_rep_progresses_against_their_quota(client: TestClient, story: dict[str, Any]) -> None:
    answer = forecast(client, story)
    # Rob: Q1's quota is 8 000 since 15 March (April's does not overlap March); D2's 2 000 won on 10 March.
    # Eve: March's 2 000; D4's win was undone by its reopening; D7's 300 USD has no quota in USD.
    assert progress(answer, story) == {
        "rob": [("EUR", "8000.00", "2000.00", 1, 0.25)],
        "eve": [("EUR", "2000.00", "0.00", 0, 0.0), ("USD", None, "300.00", 1, None)],
    }
    [rob] = [r for r in answer["reps"] if r["rep_id"] == story["rob"]]
    assert rob["team_id"] == story["west"]
    assert rob["quotas"] == [{"period_start": "2026-01-01", "period_end": "2026-04-01", "amount": "8000.00",
                              "currency": "EUR", "set_at": day(15).isoformat()}]
    # April's report sees April's quota only, and no win yet.
    april = ok(client.get(f"/analytics/forecast?from=2026-04-01T00:00:00Z&to=2026-05-01T00:00:00Z&after={story['position']}"), 200)
    assert progress(april, story) == {"rob": [("EUR", "5000.00", "0.00", 0, 0.0)]}


def test_as_of_shows_the_probabilities_segments_and_quotas_of_then(client: TestClient, story: dict[str, Any]) -> None:
    answer = forecast(client, story, "as_of=2026-03-14T12:00:00Z")
    # On 14 March A's probability was 0.1 (D6: 100), Bob was not yet at Acme (Silver), and
    # Rob's Q1 quota was 10 000. D2 had been won on 10 March: as_of knows it now.
    [group] = answer["groups"]
    assert [(s["segment"], s["count"], s["amounts"]) for s in group["segments"]] == [
        ("Silver", 2, money(("EUR", "1800.00", "900.00"))),
        ("Bronze", 1, money(("EUR", "1000.00", "100.00"))),
        (None, 1, money(("USD", "500.00", "450.00"))),
    ]
    assert progress(answer, story)["rob"] == [("EUR", "10000.00", "2000.00", 1, 0.2)]
    # On 7 March D4's win still stood (it was reopened on the 8th); D7 was not yet opened.
    answer = forecast(client, story, "as_of=2026-03-07T12:00:00Z")
    assert progress(answer, story)["eve"] == [("EUR", "2000.00", "800.00", 1, 0.4)]
    assert {d["title"] for d in answer["deals"]} == {"D1", "D2", "D3", "D6"}


def test_a_win_recorded_late_is_not_known_before_it_was_recorded(client: TestClient, story: dict[str, Any]) -> None:
    as_of = forecast(client, story, "as_of=2026-03-15T00:00:00Z")
    assert progress(as_of, story)["rob"] == [("EUR", "10000.00", "2000.00", 1, 0.2)]
    assert "D2" not in {d["title"] for d in as_of["deals"]}
    # As known on 15 March (before D2's win was recorded on the 20th): D2 still open in A (0.1 × 2 000).
    known = forecast(client, story, "known_at=2026-03-15T00:00:00Z")
    assert (known["as_of"], known["known_at"]) == ("2026-03-15T00:00:00+00:00", "2026-03-15T00:00:00+00:00")
    assert progress(known, story)["rob"] == [("EUR", "10000.00", "0.00", 0, 0.0)]
    [d2] = [d for d in known["deals"] if d["title"] == "D2"]
    assert (d2["stage"], d2["weighted_amount"], d2["segment"]) == ("A", "200.00", "Bronze")


def test_the_forecast_by_rep_and_by_segment_and_for_one_pipeline(client: TestClient, story: dict[str, Any]) -> None:
    by_rep = {g["key"]: (g["count"], g["amounts"]) for g in forecast(client, story, "by=rep")["groups"]}
    assert by_rep == {story["rob"]: (2, money(("EUR", "2000.00", "700.00"))),  # D1, D6
                      story["eve"]: (2, money(("EUR", "800.00", "400.00"), ("USD", "500.00", "450.00")))}  # D4, D3
    by_team = {g["key"]: g["count"] for g in forecast(client, story, "by=team")["groups"]}
    assert by_team == {story["west"]: 2, story["east"]: 2}
    assert [(g["key"], g["count"]) for g in forecast(client, story, "by=segment")["groups"]] == [
        ("Bronze", 1), ("Gold", 2), (None, 1)]
    # Another pipeline has no deals; the reps' progress still counts every pipeline's wins.
    renewals = forecast(client, story, f"pipeline={story['renewals']}")
    assert (renewals["groups"], renewals["deals"]) == ([{"key": None, "key_name": None, "count": 0, "amounts": [], "months": [], "segments": []}], [])
    assert progress(renewals, story)["rob"] == [("EUR", "8000.00", "2000.00", 1, 0.25)]


def test_a_quota_set_again_keeps_the_one_before_and_the_same_one_writes_nothing(
        client: TestClient, services: Services, story: dict[str, Any]) -> None:
    assert services.projector.wait_for(story["position"], 5)
    with services.read_side.cursor() as cur:
        rows = cur.execute("SELECT amount, set_at FROM quotas WHERE rep_id = ? AND period_start = '2026-01-01' "
                           "ORDER BY position", [story["rob"]]).fetchall()
    assert [(str(a), s) for a, s in rows] == [("10000.0000", day(2)), ("8000.0000", day(15))]
    before = services.store.max_position()
    answer = ok(client.post(f"/reps/{story['rob']}/quotas", json={**Q1, "amount": "8000.00", "currency": "EUR"}), 200)
    assert (answer["id"], answer["position"]) == (story["rob"], before)
    assert services.store.max_position() == before


BAD_QUOTAS = [
    ({**Q1, "period_end": "2025-12-01", "amount": "10", "currency": "EUR"}, "period_end"),
    ({**Q1, "period_end": "2026-01-01", "amount": "10", "currency": "EUR"}, "period_end"),
    ({**Q1, "amount": "0", "currency": "EUR"}, "amount"),
    ({**Q1, "amount": "-10", "currency": "EUR"}, "amount"),
    ({**Q1, "amount": "ten", "currency": "EUR"}, "amount"),
    ({**Q1, "amount": "10", "currency": "EURO"}, "currency"),
    ({**Q1, "amount": "10", "currency": "ABC"}, "currency"),
    ({"period_end": "2026-04-01", "amount": "10", "currency": "EUR"}, "period_start"),
    ({**Q1, "period_start": "1 January", "amount": "10", "currency": "EUR"}, "period_start"),
    ({**Q1, "amount": "10", "currency": "EUR", "target": "10"}, "target"),
    ({**Q1, "amount": "10", "currency": "EUR", "occurred_at": "2026-03-01"}, "occurred_at"),
]


def test_a_bad_quota_names_its_field_and_writes_nothing(client: TestClient, services: Services, rep: str) -> None:
    before = services.store.max_position()
    for body, field in BAD_QUOTAS:
        problem = assert_problem(client.post(f"/reps/{rep}/quotas", json=body), 422)
        assert field in [e["field"] for e in problem["errors"]], (body, problem)
    assert services.store.max_position() == before


def test_a_quota_for_an_unknown_rep_is_a_404(client: TestClient, services: Services, rep: str) -> None:
    before = services.store.max_position()
    assert_problem(client.post(f"/reps/{UUID(int=7)}/quotas", json={**Q1, "amount": "10", "currency": "EUR"}), 404, "not-found")
    assert services.store.max_position() == before


def test_a_manager_sets_and_reads_the_quotas_of_their_team_only(client: TestClient, services: Services,
                                                                 story: dict[str, Any]) -> None:
    keys = {name: services.api_keys.create(Role.MANAGER, UUID(story[name]), name)[1] for name in ("mia", "max")}

    def as_(name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {keys[name]}"}

    june = {"period_start": "2026-06-01", "period_end": "2026-07-01", "amount": "3000", "currency": "EUR"}
    before = services.store.max_position()
    assert_problem(client.post(f"/reps/{story['rob']}/quotas", json=june, headers=as_("max")), 403, "not-your-record")
    assert services.store.max_position() == before
    set_by_mia = ok(client.post(f"/reps/{story['rob']}/quotas", json=june, headers=as_("mia")))
    assert (set_by_mia["id"], set_by_mia["version"]) == (story["rob"], 6)  # added, joined West, three quotas, this one
    [*_, event] = services.store.events(UUID(story["rob"]))
    assert event.actor == f"rep:{story['mia']}"
    # Mia's report: West's deals (Rob's D1 and D6) and Rob's progress; Max's: East's.
    west = forecast(client, story, **as_("mia"))
    assert ({d["title"] for d in west["deals"]}, set(progress(west, story))) == ({"D1", "D6"}, {"rob"})
    east = forecast(client, story, **as_("max"))
    assert ({d["title"] for d in east["deals"]}, set(progress(east, story))) == ({"D3", "D4"}, {"eve"})


def test_a_forecast_names_what_is_wrong_with_its_parameters(client: TestClient) -> None:
    assert_problem(client.get("/analytics/forecast?from=2026-04-01T00:00:00Z&to=2026-03-01T00:00:00Z"), 422)
    assert_problem(client.get(f"/analytics/forecast?{MARCH}&by=source"), 422)
    assert_problem(client.get(f"/analytics/forecast?{MARCH}&pipeline=not-a-uuid"), 422)
    assert_problem(client.get("/analytics/forecast?to=2026-03-01T00:00:00Z"), 422)
