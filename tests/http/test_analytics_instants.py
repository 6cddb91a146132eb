"""The reports on an imported history, where facts share an instant (both event stores).

An old CRM's export is written as an import writes it: each deal opened in the first stage
of its path and moved through the rest at the instant it was created (handed to another
rep at that instant too, for some), then won or lost at its close date — for two of them
the very instant it was created. The funnel, velocity, movements, sources, KPIs and the
forecast's wins are held against a plain computation over the rows, for periods and pasts
whose bounds sit exactly on those instants (``from`` and ``as_of`` include an instant,
``to`` excludes it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient

from crm_es.clock import FrozenClock
from tests.http.helpers import ok

STAGES = [{"name": "A", "probability": "0.1"}, {"name": "B", "probability": "0.5"}, {"name": "C", "probability": "0.9"}]


def day(d: int) -> datetime:
    return datetime(2026, 3, d, 12, 0, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Row:
    """One deal of the export: the stages it went through when created, its close."""

    title: str
    owner: str
    amount: str
    path: tuple[str, ...]
    created: datetime
    closed: datetime | None = None
    outcome: str | None = None
    handed_to: str | None = None  # another rep, at the instant it was created


ROWS = (
    Row("I1", "Ann", "1000", ("A", "B"), day(2)),  # opened and moved at one instant
    Row("I2", "Ann", "2000", ("A", "B", "C"), day(3), day(10), "won"),  # two moves at that instant
    Row("I3", "Bob", "500", ("A", "C"), day(4), day(4), "won"),  # opened, moved and won at one instant
    Row("I4", "Bob", "700", ("A",), day(5), day(9), "lost"),
    Row("I5", "Ann", "300", ("B",), day(6), day(6), "lost", "Bob"),  # handed on and lost as it was opened
    Row("I6", "Ann", "900", ("A", "B"), day(6), day(12), "won", "Bob"),  # handed on and moved as it was opened
)

# (from, to, as_of): bounds on the instants of the rows.
PERIODS = [
    (day(1), day(30), None),
    (day(3), day(6), None),  # from on I2's creation, to on I5's and I6's (excluded)
    (day(4), day(5), None),  # I3 opened, moved and won at `from`
    (day(2), day(30), day(10)),  # as_of on I2's win
    (day(2), day(30), day(6)),  # as_of on I5's and I6's creation, and I5's loss
    (day(6), day(7), day(6)),
]


@pytest.fixture
def imported(client: TestClient, clock: FrozenClock) -> dict[str, Any]:
    clock.advance(seconds=(day(20) - clock.now()).total_seconds())  # everything is recorded on 20 March
    since = {"occurred_at": day(1).isoformat()}
    ids = {name: ok(client.post("/reps", json={"name": name, "email": f"{name.lower()}@crm.example", **since}))["id"]
           for name in ("Ann", "Bob")}
    ids["pipeline"] = ok(client.post("/pipelines", json={"name": "Old CRM", "stages": STAGES, **since}))["id"]
    position = 0
    for row in ROWS:
        at = {"occurred_at": row.created.isoformat()}
        body = {"title": row.title, "pipeline_id": ids["pipeline"], "stage": row.path[0], "amount": row.amount,
                "currency": "EUR", "owner_id": ids[row.owner], **at}
        deal = ids[row.title] = ok(client.post("/deals", json=body))["id"]
        if row.handed_to:
            ok(client.patch(f"/deals/{deal}", json={"owner_id": ids[row.handed_to], **at}), 200)
        for stage in row.path[1:]:
            ok(client.post(f"/deals/{deal}/stage", json={"stage": stage, **at}), 200)
        if row.outcome:
            body = {"occurred_at": row.closed.isoformat()} | ({"reason": "price"} if row.outcome == "lost" else {})
            position = ok(client.post(f"/deals/{deal}/{row.outcome}", json=body), 200)["position"]
    return {**ids, "position": position}


def ask(client: TestClient, imported: dict[str, Any], name: str, start: datetime, end: datetime,
        as_of: datetime | None, **more: str) -> dict[str, Any]:
    params = {"from": start.isoformat(), "to": end.isoformat(), "after": str(imported["position"]), **more}
    if as_of is not None:
        params["as_of"] = as_of.isoformat()
    return ok(client.get(f"/analytics/{name}", params=params), 200)


# --- the plain computation over the rows ------------------------------------------------


def seen(at: datetime | None, as_of: datetime | None) -> bool:
    return at is not None and (as_of is None or at <= as_of)


def opened(start: datetime, end: datetime, as_of: datetime | None) -> list[Row]:
    return [r for r in ROWS if start <= r.created < end and seen(r.created, as_of)]


def funnel_by_hand(start: datetime, end: datetime, as_of: datetime | None) -> tuple[int, int, dict[str, dict[str, int]]]:
    """(opened, won, {stage: counts}) of the deals opened in the period, as of ``as_of``."""
    stages = {s["name"]: dict.fromkeys(("entered", "moved_on", "won", "lost", "still_there"), 0) for s in STAGES}
    here = opened(start, end, as_of)
    for row in here:
        for i, stage in enumerate(row.path):
            counts = stages[stage]
            counts["entered"] += 1
            if i < len(row.path) - 1:
                counts["moved_on"] += 1  # every path goes forward
            elif row.outcome and seen(row.closed, as_of):
                counts[row.outcome] += 1
                counts["moved_on"] += row.outcome == "won"
            else:
                counts["still_there"] += 1
    won = sum(1 for r in here if r.outcome == "won" and seen(r.closed, as_of))
    return len(here), won, stages


def closed_in(start: datetime, end: datetime, as_of: datetime | None, outcome: str) -> list[Row]:
    return [r for r in ROWS if r.outcome == outcome and r.closed and start <= r.closed < end and seen(r.closed, as_of)]


# --- the laws --------------------------------------------------------------------------


def test_the_funnel_counts_a_deal_opened_and_moved_at_one_instant_once(client: TestClient, imported: dict[str, Any]) -> None:
    for start, end, as_of in PERIODS:
        [group] = ask(client, imported, "funnel", start, end, as_of, pipeline=imported["pipeline"])["groups"]
        want_opened, want_won, want_stages = funnel_by_hand(start, end, as_of)
        assert (group["opened"], group["won"]) == (want_opened, want_won), (start, end, as_of)
        got = {s["name"]: {k: s[k] for k in want_stages[s["name"]]} for s in group["stages"]}
        assert got == want_stages, (start, end, as_of)


def test_the_funnel_by_rep_counts_an_opening_for_the_owner_then(client: TestClient, imported: dict[str, Any]) -> None:
    answer = ask(client, imported, "funnel", day(1), day(30), None, pipeline=imported["pipeline"], by="rep")
    groups = {g["key"]: g for g in answer["groups"]}
    for rep in ("Ann", "Bob"):
        mine = [r for r in ROWS if r.owner == rep]  # I5 and I6 were opened by Ann, then handed to Bob
        got = groups[imported[rep]]
        assert (got["opened"], got["won"]) == (len(mine), sum(r.outcome == "won" for r in mine)), rep
        assert got["key_name"] == rep


def test_velocity_counts_each_deal_opened_once_and_each_close_once(client: TestClient, imported: dict[str, Any]) -> None:
    for start, end, as_of in PERIODS:
        [group] = ask(client, imported, "velocity", start, end, as_of, pipeline=imported["pipeline"])["groups"]
        won, lost = closed_in(start, end, as_of, "won"), closed_in(start, end, as_of, "lost")
        assert (group["opened"], group["won"], group["lost"]) == (len(opened(start, end, as_of)), len(won), len(lost)), \
            (start, end, as_of)
        if won:
            [amounts] = group["amounts"]
            average = sum(int(r.amount) for r in won) / len(won)
            assert (amounts["won"], amounts["average_won_amount"]) == (len(won), f"{average:.2f}")
    # by rep: I6 was opened by Ann and handed to Bob at that instant: Ann opened it, once.
    answer = ask(client, imported, "velocity", day(1), day(30), None, pipeline=imported["pipeline"], by="rep")
    by_rep = {g["key_name"]: g["opened"] for g in answer["groups"]}
    assert by_rep == {"Ann": 4, "Bob": 2}


def test_movements_keep_the_order_of_facts_at_one_instant(client: TestClient, imported: dict[str, Any]) -> None:
    answer = ask(client, imported, "movements", day(3), day(4), None, pipeline=imported["pipeline"])
    # I2 entered A, then advanced to B and C, all at 3 March 12:00; I3 (4 March) is at `to`, excluded.
    assert [(i["title"], i["kind"], i["to_stage"]) for i in answer["items"]] == [
        ("I2", "entered", "A"), ("I2", "advanced", "B"), ("I2", "advanced", "C")]
    answer = ask(client, imported, "movements", day(4), day(5), day(4), pipeline=imported["pipeline"])
    assert [(i["title"], i["kind"], i["to_stage"]) for i in answer["items"]] == [
        ("I3", "entered", "A"), ("I3", "advanced", "C"), ("I3", "won", "C")]
    summary = {s["kind"]: (s["count"], s["amounts"]) for s in answer["summary"]}
    assert summary["won"] == (1, [{"currency": "EUR", "amount": "500.00"}])


def test_sources_kpis_and_the_forecast_count_each_opening_and_win_once(client: TestClient, imported: dict[str, Any]) -> None:
    for start, end, as_of in PERIODS:
        won = closed_in(start, end, as_of, "won")
        [source] = ask(client, imported, "sources", start, end, as_of)["sources"] or [
            {"deals_opened": 0, "deals_won": 0, "won_revenue": []}]
        assert (source["deals_opened"], source["deals_won"]) == (len(opened(start, end, as_of)), len(won)), (start, end)
        [kpi] = ask(client, imported, "kpis", start, end, as_of)["groups"]
        assert [a["won"] for a in kpi["average_won_amount"]] == ([len(won)] if won else [])
        # The forecast's progress: each rep's wins in [from, to) by as_of, for the owner when won.
        reps = {r["rep_name"]: r["progress"] for r in ask(client, imported, "forecast", start, end, as_of)["reps"]}
        for rep in ("Ann", "Bob"):
            mine = [r for r in won if (r.handed_to or r.owner) == rep]
            got = reps.get(rep, [])
            assert [(p["won_deals"], p["won"]) for p in got] == ([(len(mine), f"{sum(int(r.amount) for r in mine)}.00")]
                                                                  if mine else []), (rep, start, end, as_of)
