"""Sources, activity and KPIs on a story small enough to work out by hand (both event stores).

Reps: Ann and Bob in team North (Ann manages it), Cid in team South. Pipeline "Sales" (A → B).
Each fact is recorded when the clock says (noon UTC unless said), three of them late:

    February (all recorded on 1 March)
      K1  Ann's customer, at Acme, registered 10 Feb      W0  Ann, Acme + K1, 1 000 EUR: opened 12 Feb, won 15 Feb
      K2  Bob's customer, registered 11 Feb
    March
       2  L1 registered (Ann, web form); Ann calls L1 at 15:00 (outbound)
       3  L2 registered (Bob, web form); L2 writes to Bob at 13:00 (e-mail received)
       4  L3 registered (Cid, trade show); Bob e-mails L2
       5  L4 registered (Ann, referral); D1 opened (Ann, web form, L1, 2 000 EUR)
       6  Cid meets L3 (meeting held); D2 opened (Cid, trade show, L3, 500 USD)
          Ann calls L4 — logged on 6 April
       8  L3 misses a meeting with Cid          9  D2 lost
      10  D3 opened (Ann, referral, K1, 3 000 USD)          12  K1 calls Ann (inbound)
      15  Ann's task done                        20  D1 won; L1 becomes a customer; Bob's task done
      25  L4 becomes a customer — recorded on 5 April
      28  D3 won — recorded on 2 April
    April
      10  K2 becomes a former customer
      12  D5 opened (Cid, Acme, no contact, 100 EUR)        15  D5 won
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

MARCH = "from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z"
SPRING = "from=2026-03-01T00:00:00Z&to=2026-05-01T00:00:00Z"
APRIL_1 = "2026-04-01T00:00:00Z"


def at(month: int, d: int, hour: int = 12) -> datetime:
    return datetime(2026, month, d, hour, tzinfo=timezone.utc)


@pytest.fixture
def story(client: TestClient, clock: FrozenClock) -> dict[str, Any]:
    ids: dict[str, Any] = {}

    def on(month: int, d: int, hour: int = 12) -> None:
        clock.advance(seconds=(at(month, d, hour) - clock.now()).total_seconds())

    def contact(name: str, owner: str, **fields: Any) -> None:
        body = {"first_name": name, "last_name": "X", "email": f"{name.lower()}@example.com", "owner_id": ids[owner]}
        ids[name] = ok(client.post("/contacts", json={**body, **fields}))["id"]

    def deal(name: str, owner: str, amount: str, currency: str, **fields: Any) -> None:
        body = {"title": name, "pipeline_id": ids["pipeline"], "stage": "A", "amount": amount, "currency": currency,
                "owner_id": ids[owner]}
        ids[name] = ok(client.post("/deals", json={**body, **fields}))["id"]

    def touch(name: str, rep: str, kind: str, **fields: Any) -> None:
        ok(client.post(f"/contacts/{ids[name]}/interactions", json={"type": kind, "rep_id": ids[rep], **fields}))

    def task(name: str, owner: str, due: datetime) -> None:
        ids[name] = ok(client.post("/tasks", json={"type": "call", "title": name, "due_at": due.isoformat(),
                                                   "owner_id": ids[owner]}))["id"]

    def status(name: str, value: str, **fields: Any) -> None:
        ok(client.patch(f"/contacts/{ids[name]}", json={"status": value, **fields}), 200)

    on(3, 1)
    since = {"occurred_at": at(2, 1).isoformat()}  # the set-up is dated before the February it records
    for rep in ("Ann", "Bob", "Cid"):
        ids[rep] = ok(client.post("/reps", json={"name": rep, "email": f"{rep.lower()}@crm.example", **since}))["id"]
    for team, manager, members in (("North", "Ann", ("Ann", "Bob")), ("South", "Cid", ("Cid",))):
        ids[team] = ok(client.post("/teams", json={"name": team, "manager_id": ids[manager], **since}))["id"]
        for member in members:
            ok(client.post(f"/teams/{ids[team]}/members", json={"rep_id": ids[member], **since}), 200)
    ids["pipeline"] = ok(client.post("/pipelines", json={"name": "Sales", "stages": [
        {"name": "A", "probability": "0.2"}, {"name": "B", "probability": "0.6"}], **since}))["id"]
    ids["Acme"] = ok(client.post("/companies", json={"name": "Acme", **since}))["id"]
    contact("K1", "Ann", status="customer", company_id=ids["Acme"], occurred_at=at(2, 10).isoformat())
    contact("K2", "Bob", status="customer", occurred_at=at(2, 11).isoformat())
    deal("W0", "Ann", "1000", "EUR", contact_ids=[ids["K1"]], company_id=ids["Acme"], occurred_at=at(2, 12).isoformat())
    ok(client.post(f"/deals/{ids['W0']}/won", json={"occurred_at": at(2, 15).isoformat()}), 200)
    task("T1", "Ann", at(3, 15))
    task("T2", "Bob", at(3, 20))
    task("T3", "Cid", at(3, 25))
    on(3, 2)
    contact("L1", "Ann", source="web form")
    on(3, 2, 15)
    touch("L1", "Ann", "call")
    on(3, 3)
    contact("L2", "Bob", source="web form")
    on(3, 3, 13)
    touch("L2", "Bob", "email_received")
    on(3, 4)
    contact("L3", "Cid", source="trade show")
    touch("L2", "Bob", "email_sent")
    on(3, 5)
    contact("L4", "Ann", source="referral")
    deal("D1", "Ann", "2000", "EUR", contact_ids=[ids["L1"]], source="web form")
    on(3, 6)
    touch("L3", "Cid", "meeting_held")
    deal("D2", "Cid", "500", "USD", contact_ids=[ids["L3"]], source="trade show")
    on(3, 8)
    touch("L3", "Cid", "meeting_missed")
    on(3, 9)
    ok(client.post(f"/deals/{ids['D2']}/lost", json={"reason": "price"}), 200)
    on(3, 10)
    deal("D3", "Ann", "3000", "USD", contact_ids=[ids["K1"]], source="referral")
    on(3, 12)
    touch("K1", "Ann", "call", direction="inbound")
    on(3, 15)
    ok(client.post(f"/tasks/{ids['T1']}/done", json={}), 200)
    on(3, 20)
    ok(client.post(f"/deals/{ids['D1']}/won", json={}), 200)
    status("L1", "customer")
    ok(client.post(f"/tasks/{ids['T2']}/done", json={}), 200)
    on(4, 2)
    ok(client.post(f"/deals/{ids['D3']}/won", json={"occurred_at": at(3, 28).isoformat()}), 200)
    on(4, 5)
    status("L4", "customer", occurred_at=at(3, 25).isoformat())
    on(4, 6)
    touch("L4", "Ann", "call", occurred_at=at(3, 6).isoformat())
    on(4, 10)
    status("K2", "former customer")
    on(4, 12)
    deal("D5", "Cid", "100", "EUR", company_id=ids["Acme"])
    on(4, 15)
    ids["position"] = ok(client.post(f"/deals/{ids['D5']}/won", json={}), 200)["position"]
    ok(client.get(f"/reps?after={ids['position']}"), 200)  # the read side has it all
    return ids


def report(client: TestClient, story: dict[str, Any], name: str, query: str) -> dict[str, Any]:
    return ok(client.get(f"/analytics/{name}?{query}&after={story['position']}"), 200)


def groups(answer: dict[str, Any], story: dict[str, Any]) -> dict[str | None, dict[str, Any]]:
    """The groups by the name of their rep or team (None: the one group of everyone)."""
    names = {story[n]: n for n in ("Ann", "Bob", "Cid", "North", "South")}
    return {names.get(g["key"]): g for g in answer["groups"]}


# Sources (F29)


def test_sources_count_leads_deals_and_revenue_per_channel(client: TestClient, story: dict[str, Any]) -> None:
    answer = report(client, story, "sources", MARCH)
    # K1 and K2 were registered in February and W0 opened then: not March's.
    assert answer["sources"] == [
        # L4 (no deal names it); D3 opened on 10 March and won on 28 March.
        {"source": "referral", "leads": 1, "leads_became_deal": 0, "conversion": 0.0, "deals_opened": 1,
         "deals_won": 1, "won_revenue": [{"currency": "USD", "deals": 1, "amount": "3000.00"}]},
        # L3, a contact of D2 (lost).
        {"source": "trade show", "leads": 1, "leads_became_deal": 1, "conversion": 1.0, "deals_opened": 1,
         "deals_won": 0, "won_revenue": []},
        # L1 (a contact of D1) and L2 (of none); D1 won on 20 March.
        {"source": "web form", "leads": 2, "leads_became_deal": 1, "conversion": 0.5, "deals_opened": 1,
         "deals_won": 1, "won_revenue": [{"currency": "EUR", "deals": 1, "amount": "2000.00"}]},
    ]


def test_sources_as_known_on_a_day_miss_a_win_recorded_later(client: TestClient, story: dict[str, Any]) -> None:
    def referral(query: str) -> dict[str, Any]:
        return next(s for s in report(client, story, "sources", query)["sources"] if s["source"] == "referral")

    # D3's win on 28 March was recorded on 2 April: the report printed on 1 April did not have it …
    known = referral(f"{MARCH}&known_at={APRIL_1}")
    assert (known["deals_won"], known["won_revenue"]) == (0, [])
    # … while the world as of 1 April, as known now, has it.
    assert referral(f"{MARCH}&as_of={APRIL_1}")["deals_won"] == 1
    # As of 7 March, only the leads and deals of the first week had come: L4, and no deal yet.
    early = referral(f"{MARCH}&as_of=2026-03-07T00:00:00Z")
    assert (early["leads"], early["deals_opened"], early["deals_won"]) == (1, 0, 0)


# Activity (F26, F35)


def test_activity_counts_each_reps_calls_emails_meetings_deals_and_tasks(client: TestClient,
                                                                        story: dict[str, Any]) -> None:
    reps = groups(report(client, story, "activity", f"{MARCH}&by=rep"), story)
    figures = ("calls_made", "calls_received", "emails_sent", "emails_received", "meetings_held", "meetings_missed",
               "deals_won", "deals_lost", "tasks_done")
    # Ann: L1 on 2 March and L4 on 6 March (logged late, counted at its time); K1 called her; D1 and D3 won; T1.
    assert [reps["Ann"][f] for f in figures] == [2, 1, 0, 0, 0, 0, 2, 0, 1]
    assert reps["Ann"]["won_revenue"] == [{"currency": "EUR", "deals": 1, "amount": "2000.00"},
                                          {"currency": "USD", "deals": 1, "amount": "3000.00"}]
    # Bob: the e-mail from L2 and his answer; T2.
    assert [reps["Bob"][f] for f in figures] == [0, 0, 1, 1, 0, 0, 0, 0, 1]
    # Cid: L3 met him, then missed the next one; D2 lost; T3 is still open.
    assert [reps["Cid"][f] for f in figures] == [0, 0, 0, 0, 1, 1, 0, 1, 0]
    teams = groups(report(client, story, "activity", f"{MARCH}&by=team"), story)
    assert set(teams) == {"North", "South"}
    assert [teams["North"][f] for f in figures] == [2, 1, 1, 1, 0, 0, 2, 0, 2]  # Ann's and Bob's
    [everyone] = report(client, story, "activity", MARCH)["groups"]
    assert everyone["key"] is None and [everyone[f] for f in figures] == [2, 1, 1, 1, 1, 1, 2, 1, 2]


def test_activity_as_known_on_a_day_misses_a_call_logged_later(client: TestClient, story: dict[str, Any]) -> None:
    known = groups(report(client, story, "activity", f"{MARCH}&by=rep&known_at={APRIL_1}"), story)["Ann"]
    # Ann's call to L4 on 6 March was logged on 6 April; D3's win was recorded on 2 April.
    assert (known["calls_made"], known["deals_won"]) == (1, 1)
    assert known["tasks_done"] == 1  # T1, done (and recorded) on 15 March
    before = groups(report(client, story, "activity", f"{MARCH}&by=rep&known_at=2026-03-14T00:00:00Z"), story)["Ann"]
    assert before["tasks_done"] == 0
    as_of = groups(report(client, story, "activity", f"{MARCH}&by=rep&as_of={APRIL_1}"), story)["Ann"]
    assert (as_of["calls_made"], as_of["deals_won"], as_of["tasks_done"]) == (2, 2, 1)
    # As of 10 March: both calls had happened (as known now), no deal was won yet, no task done.
    early = groups(report(client, story, "activity", f"{MARCH}&by=rep&as_of=2026-03-10T00:00:00Z"), story)["Ann"]
    assert (early["calls_made"], early["deals_won"], early["tasks_done"]) == (2, 0, 0)


def test_a_manager_sees_the_activity_and_kpis_of_their_team(client: TestClient, services: Services,
                                                            story: dict[str, Any]) -> None:
    _, token = services.api_keys.create(Role.MANAGER, UUID(story["Ann"]), "ann")
    auth = {"Authorization": f"Bearer {token}"}
    for name in ("activity", "kpis"):
        answer = ok(client.get(f"/analytics/{name}?{MARCH}&by=rep&after={story['position']}", headers=auth), 200)
        assert set(groups(answer, story)) == {"Ann", "Bob"}  # not Cid, of team South
    [north] = ok(client.get(f"/analytics/kpis?{MARCH}", headers=auth), 200)["groups"]
    assert north["leads"]["registered"] == 3  # L1, L2, L4: not Cid's L3
    leads = sum(s["leads"] for s in ok(client.get(f"/analytics/sources?{MARCH}", headers=auth), 200)["sources"])
    assert leads == 3


# KPIs (F31, F33)


def test_the_kpis_of_march_worked_out_by_hand(client: TestClient, story: dict[str, Any]) -> None:
    [kpi] = report(client, story, "kpis", MARCH)["groups"]
    # L1..L4 registered in March; L1 (D1) and L3 (D2) are a deal's contacts: 50 in 100.
    assert kpi["leads"] == {"registered": 4, "became_deal": 2, "per_100": 50.0}
    assert kpi["average_won_amount"] == [{"currency": "EUR", "won": 1, "average": "2000.00"},
                                         {"currency": "USD", "won": 1, "average": "3000.00"}]
    # Customers: K1 and K2 on 1 March; L1 (20 March) and L4 (25 March) by its end: +100 %.
    assert kpi["customer_base"] == [{"month": "2026-03", "from": "2026-03-01T00:00:00+00:00",
                                     "to": "2026-04-01T00:00:00+00:00", "customers_at_start": 2,
                                     "customers_at_end": 4, "growth": 1.0}]
    # First touch by a rep: L1 3 h (a call), L2 24 h (the e-mail sent; the one received is L2 writing),
    # L3 48 h (the meeting), L4 24 h (the call logged late): mean 24.75 h, median 24 h.
    assert kpi["response"] == {"answered": 4, "unanswered": 0, "average_hours": 24.75, "median_hours": 24.0}
    # K1 and K2 were customers on 1 March and still on 31 March.
    assert kpi["retention"] == {"customers_at_start": 2, "retained": 2, "rate": 1.0}
    # D3 is for K1, whose W0 was won in February: a renewal. D1 (for L1) is not.
    assert kpi["renewals"] == {"count": 1, "amounts": [{"currency": "USD", "deals": 1, "amount": "3000.00"}]}


def test_the_kpis_per_rep(client: TestClient, story: dict[str, Any]) -> None:
    reps = groups(report(client, story, "kpis", f"{MARCH}&by=rep"), story)
    ann, bob, cid = reps["Ann"], reps["Bob"], reps["Cid"]
    assert (ann["leads"], bob["leads"], cid["leads"]) == (
        {"registered": 2, "became_deal": 1, "per_100": 50.0},  # L1 (D1), L4
        {"registered": 1, "became_deal": 0, "per_100": 0.0},  # L2
        {"registered": 1, "became_deal": 1, "per_100": 100.0})  # L3 (D2)
    # Ann: K1, then L1 and L4 too (×3); Bob: K2 all month; Cid: none (no growth to speak of).
    [march] = zip(ann["customer_base"], bob["customer_base"], cid["customer_base"], strict=True)
    assert [(m["customers_at_start"], m["customers_at_end"], m["growth"]) for m in march] == \
        [(1, 3, 2.0), (1, 1, 0.0), (0, 0, None)]
    # Ann: L1 3 h, L4 24 h; Bob: L2 24 h; Cid: L3 48 h.
    assert [r["response"]["average_hours"] for r in (ann, bob, cid)] == [13.5, 24.0, 48.0]
    assert (ann["retention"]["rate"], bob["retention"]["rate"], cid["retention"]["rate"]) == (1.0, 1.0, None)
    assert (ann["renewals"]["count"], bob["renewals"]["count"], cid["renewals"]["count"]) == (1, 0, 0)
    assert (bob["average_won_amount"], cid["average_won_amount"]) == ([], [])  # D2 was lost
    teams = groups(report(client, story, "kpis", f"{MARCH}&by=team"), story)
    assert (teams["North"]["leads"]["per_100"], teams["South"]["leads"]["per_100"]) == (33.33, 100.0)  # 1 of 3; 1 of 1
    assert [teams["North"]["customer_base"][0][k] for k in ("customers_at_start", "customers_at_end")] == [2, 4]


def test_the_kpis_as_known_on_a_day_miss_what_was_recorded_later(client: TestClient, story: dict[str, Any]) -> None:
    [known] = report(client, story, "kpis", f"{MARCH}&known_at={APRIL_1}")["groups"]
    # On 1 April nobody knew yet that L4 had become a customer (recorded 5 April), that Ann had
    # called L4 (logged 6 April) nor that D3 was won (recorded 2 April).
    assert (known["customer_base"][0]["customers_at_end"], known["customer_base"][0]["growth"]) == (3, 0.5)
    assert known["response"] == {"answered": 3, "unanswered": 1, "average_hours": 25.0, "median_hours": 24.0}
    assert known["renewals"] == {"count": 0, "amounts": []}
    assert known["average_won_amount"] == [{"currency": "EUR", "won": 1, "average": "2000.00"}]
    # As of 1 April, as known now, all of it had happened.
    [as_of] = report(client, story, "kpis", f"{MARCH}&as_of={APRIL_1}")["groups"]
    assert (as_of["customer_base"][0]["customers_at_end"], as_of["response"]["answered"],
            as_of["renewals"]["count"]) == (4, 4, 1)


def test_the_customer_base_month_by_month_retention_and_renewals_over_two_months(
        client: TestClient, story: dict[str, Any]) -> None:
    [kpi] = report(client, story, "kpis", SPRING)["groups"]
    # April: K2 became a former customer on 10 April, 4 → 3.
    months = [(m["month"], m["customers_at_start"], m["customers_at_end"], m["growth"]) for m in kpi["customer_base"]]
    assert months == [("2026-03", 2, 4, 1.0), ("2026-04", 4, 3, -0.25)]
    assert kpi["retention"] == {"customers_at_start": 2, "retained": 1, "rate": 0.5}  # K1 stayed, K2 left
    # D5 is for Acme, whose W0 was won in February: a renewal through the company.
    assert kpi["renewals"]["amounts"] == [{"currency": "EUR", "deals": 1, "amount": "100.00"},
                                          {"currency": "USD", "deals": 1, "amount": "3000.00"}]
    assert kpi["average_won_amount"][0] == {"currency": "EUR", "won": 2, "average": "1050.00"}  # D1 and D5
    reps = groups(report(client, story, "kpis", f"{SPRING}&by=rep"), story)
    assert (reps["Bob"]["retention"]["rate"], reps["Cid"]["renewals"]["count"]) == (0.0, 1)
    # A period from mid-month: its months are cut to it (15 March: K1, K2; 1 April: + L1, L4; 15 April: − K2).
    [mid] = report(client, story, "kpis", "from=2026-03-15T00:00:00Z&to=2026-04-15T00:00:00Z")["groups"]
    assert [(m["month"], m["from"][:10], m["to"][:10], m["customers_at_start"], m["customers_at_end"])
            for m in mid["customer_base"]] == [("2026-03", "2026-03-15", "2026-04-01", 2, 4),
                                               ("2026-04", "2026-04-01", "2026-04-15", 4, 3)]


def test_bad_parameters_are_named_and_change_nothing(client: TestClient, story: dict[str, Any],
                                                     untouched: None) -> None:
    def field(response: Any) -> list[str]:
        return [e["field"] for e in assert_problem(response, 422)["errors"]]

    assert field(client.get("/analytics/kpis?from=2026-04-01T00:00:00Z&to=2026-03-01T00:00:00Z")) == ["to"]
    assert field(client.get(f"/analytics/activity?{MARCH}&by=source")) == ["query.by"]
    assert field(client.get(f"/analytics/kpis?{MARCH}&by=planet")) == ["query.by"]
    assert field(client.get("/analytics/sources?from=yesterday&to=2026-04-01T00:00:00Z")) == ["query.from"]
    assert field(client.get(f"/analytics/sources?{MARCH}&known_at=2026-04-01")) == ["query.known_at"]  # no offset
    assert field(client.get("/analytics/activity?to=2026-04-01T00:00:00Z")) == ["query.from"]
    # The customer base is followed month by month: twenty years at most.
    assert field(client.get("/analytics/kpis?from=2000-01-01T00:00:00Z&to=2030-01-01T00:00:00Z")) == ["to"]
