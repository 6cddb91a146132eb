"""The main flow through the real HTTP app, on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

from helpers import STAGES, deal, ok, pipeline, read


def test_a_deal_travels_from_command_to_board(client):
    rep = ok(client.post("/reps", json={"name": "Alice Martin", "email": "alice@example.com"}))
    team = ok(client.post("/teams", json={"name": "West", "manager_id": rep["id"]}))
    ok(client.post(f"/teams/{team['id']}/members", json={"rep_id": rep["id"]}), 200)
    company = ok(client.post("/companies", json={"name": "Acme", "sector": "Retail", "annual_revenue": "2500000"}))
    contact = ok(client.post("/contacts", json={
        "first_name": "Jean", "last_name": "Dupont", "email": "jean@acme.example", "company_id": company["id"],
        "owner_id": rep["id"], "tags": ["Gold"], "properties": {"shoe_size": 43},
    }))
    p = pipeline(client)
    d = deal(client, p["id"], owner_id=rep["id"], contact_ids=[contact["id"]], company_id=company["id"], source="referral")
    moved = ok(client.post(f"/deals/{d['id']}/stage", json={"stage": "demo"}), 200)
    assert moved["version"] == 2 and moved["position"] > d["position"]

    board = read(client, f"/pipelines/{p['id']}/board", moved["position"])
    stages = {s["name"]: s for s in board["stages"]}
    assert [s["name"] for s in board["stages"]] == [s["name"] for s in STAGES]
    assert stages["Demo"]["count"] == 1 and stages["Contact"]["count"] == 0
    assert Decimal(stages["Demo"]["amount"]) == Decimal("12000")
    assert Decimal(stages["Demo"]["weighted_amount"]) == Decimal("6000")
    assert stages["Demo"]["deals"][0]["id"] == d["id"]

    by_team = read(client, f"/pipelines/{p['id']}/board?team={team['id']}", moved["position"])
    assert sum(s["count"] for s in by_team["stages"]) == 1
    by_other_owner = read(client, f"/pipelines/{p['id']}/board?owner={company['id']}", moved["position"])
    assert sum(s["count"] for s in by_other_owner["stages"]) == 0

    got = client.get(f"/deals/{d['id']}")
    assert got.headers["ETag"] == '"2"'
    assert got.json()["stage"] == "Demo" and got.json()["contact_ids"] == [contact["id"]]
    assert read(client, f"/teams/{team['id']}", moved["position"])["member_ids"] == [rep["id"]]
    assert read(client, f"/contacts/{contact['id']}", moved["position"])["properties"] == {"shoe_size": 43}


def test_won_and_lost_deals_leave_the_board(client):
    p = pipeline(client)
    won = deal(client, p["id"], title="Won one")
    lost = deal(client, p["id"], title="Lost one")
    ok(client.post(f"/deals/{won['id']}/won", json={}), 200)
    last = ok(client.post(f"/deals/{lost['id']}/lost", json={"reason": "price"}), 200)
    board = read(client, f"/pipelines/{p['id']}/board", last["position"])
    assert sum(s["count"] for s in board["stages"]) == 0
    assert client.get(f"/deals/{lost['id']}").json()["lost_reason"] == "price"
    reopened = ok(client.post(f"/deals/{lost['id']}/reopen", json={"stage": "Demo"}), 200)
    board = read(client, f"/pipelines/{p['id']}/board", reopened["position"])
    assert [s["count"] for s in board["stages"]] == [0, 0, 1, 0]


def test_lists_filter_and_paginate(client):
    rep = ok(client.post("/reps", json={"name": "Bob", "email": "bob@example.com"}))
    last = None
    for i in range(7):
        last = ok(client.post("/contacts", json={
            "first_name": f"Person{i}", "last_name": "Test", "email": f"p{i}@example.com",
            "status": "customer" if i % 2 else "prospect", "owner_id": rep["id"] if i < 3 else None,
            "tags": ["Gold"] if i == 4 else [], "occurred_at": f"2026-01-0{i + 1}T10:00:00+01:00",
        }))
    seen, cursor = [], None
    while True:
        page = read(client, "/contacts?limit=3" + (f"&cursor={cursor}" if cursor else ""), last["position"])
        seen += [c["first_name"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"Person{i}" for i in reversed(range(7))]  # newest first, each once
    assert len(read(client, "/contacts?status=customer", last["position"])["items"]) == 3
    assert len(read(client, f"/contacts?owner={rep['id']}", last["position"])["items"]) == 3
    assert [c["first_name"] for c in read(client, "/contacts?tag=Gold", last["position"])["items"]] == ["Person4"]
    assert [c["first_name"] for c in read(client, "/contacts?q=person6", last["position"])["items"]] == ["Person6"]
    assert read(client, "/contacts?q=%25", last["position"])["items"] == []  # % is a literal, not a wildcard


def test_patch_changes_only_what_is_sent(client):
    contact = ok(client.post("/contacts", json={
        "first_name": "Ann", "last_name": "Lee", "email": "ann@example.com", "city": "Lyon", "phone": "+33 1"}))
    changed = ok(client.patch(f"/contacts/{contact['id']}", json={"city": "Paris", "phone": None, "status": "customer"}), 200)
    assert changed["version"] == 3  # details, then status: two facts
    row = read(client, f"/contacts/{contact['id']}", changed["position"])
    assert (row["city"], row["phone"], row["status"], row["first_name"]) == ("Paris", None, "customer", "Ann")
    same = ok(client.patch(f"/contacts/{contact['id']}", json={"city": "Paris"}), 200)
    assert same["version"] == 3  # nothing changed, nothing recorded


def test_pipeline_stages_can_be_renamed_reordered_and_removed(client):
    p = pipeline(client)
    d = deal(client, p["id"], stage="Demo")
    revised = ok(client.patch(f"/pipelines/{p['id']}", json={"stages": [
        {"name": "Contact", "probability": "0.1"},
        {"name": "Live demo", "probability": "0.6", "id": read(client, f"/pipelines/{p['id']}", d["position"])["stages"][2]["id"]},
        {"name": "Qualification", "probability": "0.25"},
        {"name": "Closing", "probability": "0.95"},
    ]}), 200)
    shown = read(client, f"/pipelines/{p['id']}", revised["position"])
    assert [s["name"] for s in shown["stages"]] == ["Contact", "Live demo", "Qualification", "Closing"]
    assert read(client, f"/deals/{d['id']}", revised["position"])["stage"] == "Live demo"


def test_request_ids_are_echoed_and_reads_carry_the_position(client):
    p = pipeline(client)
    response = client.post(f"/deals/{p['id']}/won", headers={"X-Request-ID": "req-123"})
    assert response.headers["X-Request-ID"] == "req-123"
    got = client.get(f"/pipelines/{p['id']}?after={p['position']}")
    assert int(got.headers["X-Position"]) >= p["position"]
    assert client.get("/health").json()["read_side"]["position"] >= p["position"]


def test_correlation_id_and_business_time_are_recorded_on_the_event(client, services):
    p = pipeline(client, occurred_at="2025-01-01T00:00:00+00:00")  # in use before the deal it records
    d = ok(client.post("/deals", headers={"X-Request-ID": "corr-9"}, json={
        "title": "Old import", "pipeline_id": p["id"], "stage": "Contact", "amount": "10", "currency": "EUR",
        "occurred_at": "2025-06-01T08:30:00+02:00"}))
    from uuid import UUID

    [event] = services.store.events(UUID(d["id"]))
    assert event.correlation_id == "corr-9" and event.actor == "dev"
    assert event.occurred_at.isoformat() == "2025-06-01T08:30:00+02:00"
    assert event.timestamp == services.clock.now()  # recorded time comes from the injected clock


def test_the_openapi_document_lists_every_route(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in ["/reps", "/teams", "/teams/{team_id}/members", "/pipelines", "/pipelines/{pipeline_id}",
                 "/pipelines/{pipeline_id}/board", "/companies", "/companies/{company_id}", "/contacts",
                 "/contacts/{contact_id}", "/deals", "/deals/{deal_id}", "/deals/{deal_id}/stage",
                 "/deals/{deal_id}/won", "/deals/{deal_id}/lost", "/deals/{deal_id}/reopen", "/health"]:
        assert path in paths, path
