"""A realistic export of a few thousand deals (tests/http/deal_export.py) imported through
POST /imports/deals (SQLite and PostgreSQL): the board as of past dates and the funnel
equal what a plain pass over the CSV files says, the few bad rows fail alone, the
companies are registered at the earliest row naming them, and sending the files again
writes nothing."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from deal_export import (
    PIPELINE,
    STAGES,
    ZONE,
    Export,
    Rep,
    board,
    companies_created,
    funnel,
    generate,
    parse_time,
    read_export,
)
from fastapi.testclient import TestClient
from helpers import ok

from crm_es.bootstrap import Services

DEALS = 3_000
START, END = datetime(2024, 3, 1, tzinfo=ZONE), datetime(2026, 2, 20, tzinfo=ZONE)
SINCE = (START - timedelta(days=30)).isoformat()  # the set-up is dated before the file's deals
REPS = [Rep(f"{first} {last}", f"{first.lower()}.{last.lower()}@example.com")
        for first, last in [("Ann", "Lee"), ("Bob", "Ray"), ("Chloé", "Martin"), ("Dev", "Patel"), ("Eva", "Nowak"),
                            ("Femi", "Ade")]]
COMPANIES = [f"{word} {kind}" for word in ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne",
                                           "Wonka", "Tyrell", "Cyberdyne", "Soylent", "Vandelay", "Gringotts",
                                           "Oscorp", "Aperture", "Monarch", "Pied Piper", "Dunder", "Sterling",
                                           "Prestige") for kind in ("SA", "GmbH", "Ltd", "Inc", "BV", "AG", "SAS")]
EXISTING = COMPANIES[::3]  # in the CRM before the import
CONTACTS = [f"person{i}@customer{i % 40}.example" for i in range(300)]


def set_up(client: TestClient) -> str:
    for rep in REPS:
        ok(client.post("/reps", json={"name": rep.name, "email": rep.email, "occurred_at": SINCE}))
    stages = [{"name": name, "probability": p} for name, p in STAGES]
    pipeline = ok(client.post("/pipelines", json={"name": PIPELINE, "stages": stages, "occurred_at": SINCE}))["id"]
    for name in EXISTING:
        ok(client.post("/companies", json={"name": name, "occurred_at": SINCE}))
    people = "email,first_name,last_name\n" + "".join(f"{e},P{i},Q{i}\n" for i, e in enumerate(CONTACTS))
    report = ok(client.post("/imports/contacts", files={"file": ("contacts.csv", people.encode(), "text/csv")}), 200)
    assert report["counts"]["imported"] == len(CONTACTS)
    return pipeline


def upload(client: TestClient, export: Export) -> dict[str, Any]:
    files = {"file": ("deals.csv", export.deals, "text/csv"), "stages": ("stage_history.csv", export.stages, "text/csv")}
    return ok(client.post("/imports/deals", files=files, data={"timezone": "Europe/Paris"}), 200)


def read_after(client: TestClient, path: str, position: int, **params: str) -> dict[str, Any]:
    """GET once the read side has caught up with ``position`` (a big import takes a while)."""
    deadline = time.monotonic() + 120
    while True:
        response = client.get(path, params={**params, "after": position})
        if response.status_code != 503 or time.monotonic() > deadline:
            return ok(response, 200)


def columns(answer: dict[str, Any]) -> dict[str, dict[str, object]]:
    return {stage["name"]: {"count": stage["count"],
                            "totals": {t["currency"]: Decimal(t["amount"]) for t in stage["totals"]}}
            for stage in answer["stages"]}


def test_the_board_and_the_funnel_of_an_imported_export_agree_with_the_file(client: TestClient,
                                                                            services: Services) -> None:
    pipeline = set_up(client)
    export = generate(15, DEALS, REPS, COMPANIES, CONTACTS, START, END)
    report = upload(client, export)

    # One result a row, of each file.
    assert len(report["rows"]) == report["file"]["rows"] + report["stages_file"]["rows"]
    # The bad rows failed alone: a deal naming an unknown rep, and its stage changes.
    failed = {(row["kind"], row["old_id"]) for row in report["rows"] if row["status"] == "failed"}
    assert export.bad_ids and {old_id for _, old_id in failed} == export.bad_ids
    assert {row["errors"][0]["rule"] for row in report["rows"] if row["status"] == "failed"} == {
        "unknown-rep", "deal-row-failed"}
    deals = read_export(export, {r.email for r in REPS} | {r.name for r in REPS})
    assert report["counts_by_kind"]["deal"] == {"imported": len(deals), "updated": 0, "skipped": 0,
                                                "failed": len(export.bad_ids)}
    assert report["counts"]["skipped"] == 0  # no stage change was already where the deal stood

    # Each company no record had is registered once, at the earliest row naming it.
    wanted = companies_created(export.deals, {name.casefold() for name in EXISTING})
    created = {c["name"].casefold(): parse_time(c["occurred_at"]) for c in report["companies_created"]}
    assert created == wanted

    # The board as of past dates (and now): every deal open then, in its stage then.
    position = report["position"]
    moments = [START + (END - START) * share / 8 for share in range(9)]
    same_instant = sorted(d.closed for d in deals.values() if d.closed is not None and d.closed == d.stages[-1][0])
    moments += [same_instant[len(same_instant) // 2], min(d.created for d in deals.values())]
    for moment in moments:
        answer = read_after(client, f"/pipelines/{pipeline}/board", position, as_of=moment.isoformat())
        assert columns(answer) == board(deals, moment), moment
    now = services.clock.now()
    assert columns(read_after(client, f"/pipelines/{pipeline}/board", position)) == board(deals, now)

    # The funnel: deals opened, won and lost, over the whole history as of several dates, and over a year.
    ever, later = datetime(2000, 1, 1, tzinfo=UTC), now + timedelta(days=1)
    periods = [(ever, later, moment) for moment in moments[2::3]] + [
        (ever, later, now), (datetime(2025, 1, 1, tzinfo=ZONE), datetime(2026, 1, 1, tzinfo=ZONE), now)]
    for start, end, as_of in periods:
        params = {"from": start.isoformat(), "to": end.isoformat(), "as_of": as_of.isoformat(), "pipeline": pipeline,
                  "after": position}
        [group] = ok(client.get("/analytics/funnel", params=params), 200)["groups"]
        said = {"opened": group["opened"], "won": group["won"], "lost": sum(s["lost"] for s in group["stages"])}
        assert said == funnel(deals, start, end, as_of), (start, end, as_of)

    # The same files again: nothing new, nothing written.
    again = upload(client, export)
    assert again["counts"] == {"imported": 0, "updated": 0, "skipped": report["counts"]["imported"],
                               "failed": report["counts"]["failed"]}
    assert again["position"] == position == services.store.max_position()
