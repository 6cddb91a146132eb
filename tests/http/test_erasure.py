"""Right to erasure by crypto-shredding, on SQLite and PostgreSQL: after
POST /contacts/{id}/forget no personal datum of the person is left anywhere we store
(the event store's rows, the DuckDB file, a rebuild), while every figure stays."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import psycopg
from helpers import assert_problem, deal, ok, pipeline, read

from crm_es.audit.export import export_record, verify_export
from crm_es.bootstrap import Services

EMAIL = "jeanne.forget-me@acme.example"
NAMES = ("Jeanne", "Oubliette")
PHONE = "+33 6 12 34 56 78"
SECRET_PROPERTY = "allergic-to-cats"
PERSONAL = (EMAIL, *NAMES, PHONE, SECRET_PROPERTY)


def store_text(services: Services) -> str:
    """Everything the event store holds, as text: for SQLite the file's bytes (its
    deleted pages too), for PostgreSQL every row of every table of the schema."""
    settings = services.settings
    if settings.database_url is None:
        services.store.close()  # a clean close checkpoints the WAL into the file
        path = settings.store_path
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists()).decode("latin-1")
    schema = settings.postgres_schema
    with psycopg.connect(settings.database_url) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_type = 'BASE TABLE'", (schema,)
        )]
        values = [
            bytes(v).decode("latin-1") if isinstance(v, (bytes, memoryview)) else str(v)
            for table in tables
            for row in conn.execute(f'SELECT * FROM "{schema}"."{table}"')
            for v in row
        ]
    return "\n".join(values)


def duckdb_text(services: Services) -> str:
    services.read_side.db.execute("CHECKPOINT")
    return services.settings.read_side_path.read_bytes().decode("latin-1")


def register(client, **extra) -> dict:
    return ok(client.post("/contacts", json={
        "first_name": NAMES[0], "last_name": NAMES[1], "email": EMAIL, "phone": PHONE, "city": "Lyon",
        "tags": ["Gold"], "properties": {"note": SECRET_PROPERTY}, **extra,
    }))


def figures(client, pipeline_id: str, position: int) -> dict:
    """What the analysts see: per-stage counts and amounts, contacts by status and tag."""
    board = read(client, f"/pipelines/{pipeline_id}/board", position)
    contacts = read(client, "/contacts?tag=Gold", position)["items"]
    return {
        "stages": [(s["name"], s["count"], Decimal(s["amount"])) for s in board["stages"]],
        "contacts": sorted((c["status"], c["city"], tuple(c["tags"]), c["created_at"]) for c in contacts),
    }


def test_forgetting_a_contact_erases_it_everywhere_and_keeps_the_figures(client, services):
    company = ok(client.post("/companies", json={"name": "Acme"}))
    contact = register(client, company_id=company["id"], status="customer")
    p = pipeline(client)
    d = deal(client, p["id"], contact_ids=[contact["id"]], company_id=company["id"])
    moved = ok(client.post(f"/deals/{d['id']}/stage", json={"stage": "Demo"}), 200)
    changed = ok(client.patch(f"/contacts/{contact['id']}", json={"phone": PHONE + "9"}), 200)

    shown = read(client, f"/contacts/{contact['id']}", changed["position"])
    assert (shown["first_name"], shown["email"], shown["phone"]) == (NAMES[0], EMAIL, PHONE + "9")
    assert EMAIL not in store_text_live(services), "personal fields are stored sealed, never in clear"
    before = figures(client, p["id"], changed["position"])

    forgotten = ok(client.post(f"/contacts/{contact['id']}/forget", json={"reason": "ticket 4711"}), 200)
    assert forgotten["version"] == changed["version"] + 1

    shown = read(client, f"/contacts/{contact['id']}", forgotten["position"])
    assert all(shown[f] is None for f in ("first_name", "last_name", "email", "phone", "properties")), shown
    assert shown["forgotten_at"] is not None and shown["city"] == "Lyon" and shown["tags"] == ["Gold"]
    assert figures(client, p["id"], forgotten["position"]) == before
    assert ok(client.get(f"/deals/{d['id']}"), 200)["contact_ids"] == [contact["id"]]

    # the chain still verifies (it covers the sealed bytes); an auditor's export shows erased
    # fields, still verifies offline, and holds no personal datum
    assert ok(client.get("/audit/verify"), 200)["ok"] is True
    lines = export_record(services.store, UUID(contact["id"]))
    assert [line["version"] for line in lines] == list(range(1, forgotten["version"] + 1))
    assert lines[0]["data"]["email"] is None and lines[0]["data"]["city"] == "Lyon"
    exported = "\n".join(json.dumps(line) for line in lines)
    assert verify_export(exported.splitlines()).ok
    assert not [w for w in PERSONAL if w in exported]

    # the write side: the aggregate folds to erased values; the events are all still there
    events = services.store.events(UUID(contact["id"]))
    assert len(events) == forgotten["version"]
    assert all(getattr(e, "email", None) is None and getattr(e, "first_name", None) is None for e in events)

    # the read side, live and rebuilt, holds no trace (the file's bytes, not just its rows)
    live = services.read_side.dump()
    assert not [w for w in PERSONAL if w in str(live)]
    services.stop()
    services.read_side.recreate()  # what `crm-es rebuild` does
    services.projector.reset()
    services.projector.catch_up()
    assert services.read_side.dump() == live
    assert not [w for w in PERSONAL if w in duckdb_text(services)]
    assert moved["position"] < forgotten["position"]

    # the store: no row (and for SQLite no byte of the file) holds a personal datum
    assert not [w for w in PERSONAL if w in store_text(services)]


def store_text_live(services: Services) -> str:
    """The events' stored JSON, read through the store while it runs."""
    return "\n".join(r.state.decode() for r in services.store.read(0, 10_000))


def test_the_same_email_can_register_again_as_a_new_contact(client):
    first = register(client)
    assert_problem(client.post("/contacts", json={"first_name": "X", "last_name": "Y", "email": EMAIL}), 409,
                   "email-already-registered")
    ok(client.post(f"/contacts/{first['id']}/forget"), 200)
    again = register(client)
    assert again["id"] != first["id"]
    shown = read(client, f"/contacts/{again['id']}", again["position"])
    assert shown["email"] == EMAIL and shown["forgotten_at"] is None


def test_a_forgotten_contact_cannot_be_changed_and_forgetting_twice_writes_nothing(client, services):
    contact = register(client)
    first = ok(client.post(f"/contacts/{contact['id']}/forget", json={}), 200)
    again = ok(client.post(f"/contacts/{contact['id']}/forget"), 200)
    assert again["version"] == first["version"] and services.store.max_position() == first["position"]
    body = assert_problem(client.patch(f"/contacts/{contact['id']}", json={"first_name": "Back"}), 409, "contact-forgotten")
    assert "forgotten" in body["detail"]
    assert services.store.max_position() == first["position"]
    assert_problem(client.post("/contacts/00000000-0000-4000-8000-000000000000/forget"), 404)
    assert_problem(client.post(f"/contacts/{contact['id']}/forget", json={"reason": 5}), 422)


def test_request_fingerprints_about_the_person_are_erased_and_retries_still_write_nothing(client, services):
    """An Idempotency-Key keeps a hash of its request's body, personal data included:
    forgetting erases the hash, and the retry still hears the first answer."""
    request = {"first_name": NAMES[0], "last_name": NAMES[1], "email": EMAIL}
    contact = ok(client.post("/contacts", headers={"Idempotency-Key": "k1"}, json=request))
    refused = client.post("/contacts", headers={"Idempotency-Key": "k2"}, json={**request, "first_name": "Other"})
    assert_problem(refused, 409, "email-already-registered")
    fingerprints = {k: services.store.find_idempotency("dev", k)[0] for k in ("k1", "k2")}

    forgotten = ok(client.post(f"/contacts/{contact['id']}/forget"), 200)
    for key in ("k1", "k2"):
        fingerprint, *_ = services.store.find_idempotency("dev", key)
        assert fingerprint == "erased" != fingerprints[key]
    again = ok(client.post("/contacts", headers={"Idempotency-Key": "k1"}, json=request))
    assert again["id"] == contact["id"] and services.store.max_position() == forgotten["position"]
    assert_problem(client.post("/contacts", headers={"Idempotency-Key": "k2"}, json=request), 409, "email-already-registered")
