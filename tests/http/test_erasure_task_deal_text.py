"""Issue 16: the free text reps write about a person — a task's title, a deal's title, a lost
deal's reason — goes when the person is forgotten, on SQLite and PostgreSQL: from the API's
answers, the store's rows, every read-side table, the analysts' SQL, `crm-es export` and
the audit export; while the board, the funnel and every other figure stay as they were."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest
from helpers import STAGES, assert_problem, ok, read
from test_erasure import duckdb_text, store_text, store_text_live

from crm_es.audit.export import export_record, verify_export
from crm_es.auth.roles import Role

FIRST, LAST = "Ysolde", "Quennevic"
TASK_TITLE = f"call {FIRST} {LAST}"
DEAL_TITLE = f"{LAST} renewal"
LOST_REASON = f"{FIRST} left for {LAST} & Fils"
DEAL_TASK = f"send {LAST} the contract"  # a task about the deal, naming no contact
DEAL_TASK_OUTCOME = f"{FIRST} signed elsewhere"
PERSONAL = (FIRST, LAST)
KEPT = ("Harbour fleet", "Order the brochures")  # about no one forgotten: they stay
PERIOD = "from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z"


def deal_body(pipeline_id: str, title: str, amount: str, *contact_ids: str) -> dict:
    return {"title": title, "pipeline_id": pipeline_id, "stage": "Contact", "amount": amount, "currency": "EUR",
            "contact_ids": list(contact_ids)}


def task_body(rep: str, title: str, **about: str) -> dict:
    return {"type": "call", "title": title, "due_at": "2026-03-10T10:00:00Z", "owner_id": rep, **about}


def figures(client, pipeline_id: str, position: int) -> dict:
    """What the analysts count: the board's stages, the funnel, the KPIs."""
    board = read(client, f"/pipelines/{pipeline_id}/board", position)
    return {
        "board": [(s["name"], s["count"], Decimal(s["amount"])) for s in board["stages"]],
        "funnel": read(client, f"/analytics/funnel?{PERIOD}&pipeline={pipeline_id}", position)["groups"],
        "kpis": read(client, f"/analytics/kpis?{PERIOD}", position),
    }


def found(text: str, words: tuple[str, ...] = PERSONAL) -> list[str]:
    return [w for w in words if w in text]


@pytest.fixture
def world(client, services) -> dict:
    """A contact, the tasks and deals a rep writes about them, and some about no one; an
    admin's key on the client, an analyst's beside it."""
    _, admin = services.api_keys.create(Role.ADMIN, name="admin")
    _, analyst = services.api_keys.create(Role.ANALYST, name="analyst")
    client.headers["Authorization"] = f"Bearer {admin}"
    rep = ok(client.post("/reps", json={"name": "Rob Seller", "email": "rob@seller.example"}))["id"]
    contact = ok(client.post("/contacts", json={"first_name": FIRST, "last_name": LAST, "email": "yq@hidden.example"}))["id"]
    p = ok(client.post("/pipelines", json={"name": "Renewals", "stages": STAGES}))["id"]
    lost = ok(client.post("/deals", json=deal_body(p, DEAL_TITLE, "12000.00", contact)))["id"]
    still_open = ok(client.post("/deals", json=deal_body(p, f"{LAST} expansion", "3000.00", contact)))["id"]
    kept = ok(client.post("/deals", json=deal_body(p, KEPT[0], "500.00")))["id"]
    ok(client.post(f"/deals/{still_open}/stage", json={"stage": "Demo"}), 200)
    ok(client.post(f"/deals/{lost}/lost", json={"reason": LOST_REASON, "competitor": "Globex"}), 200)
    task = ok(client.post("/tasks", json=task_body(rep, TASK_TITLE, contact_id=contact, deal_id=lost)))["id"]
    deal_task = ok(client.post("/tasks", json=task_body(rep, DEAL_TASK, deal_id=lost)))["id"]
    ok(client.post(f"/tasks/{deal_task}/done", json={"outcome": DEAL_TASK_OUTCOME}), 200)
    other_task = ok(client.post("/tasks", json=task_body(rep, KEPT[1])))
    return {"rep": rep, "contact": contact, "pipeline": p, "lost": lost, "open": still_open, "kept": kept, "task": task,
            "deal_task": deal_task, "other_task": other_task["id"], "position": other_task["position"],
            "analyst": {"Authorization": f"Bearer {analyst}"}}


def test_forgetting_a_contact_erases_the_tasks_and_deals_written_about_them(client, services, world):
    w = world
    assert read(client, f"/deals/{w['lost']}", w["position"])["lost_reason"] == LOST_REASON
    assert read(client, f"/tasks/{w['deal_task']}", w["position"])["title"] == DEAL_TASK
    assert not found(store_text_live(services)), "the free text is stored sealed, never in clear"
    before = figures(client, w["pipeline"], w["position"])

    forgotten = ok(client.post(f"/contacts/{w['contact']}/forget", json={"reason": "ticket 4711"}), 200)
    at = forgotten["position"]

    # the API's answers: the deals, their tasks, the board, the feed, the timelines
    for deal_id in (w["lost"], w["open"]):
        deal = read(client, f"/deals/{deal_id}", at)
        assert (deal["title"], deal["lost_reason"], deal["contact_ids"]) == (None, None, [w["contact"]]), deal
    assert read(client, f"/deals/{w['lost']}", at)["lost_to"] == "Globex"  # a company: kept
    for task_id in (w["task"], w["deal_task"]):
        task = read(client, f"/tasks/{task_id}", at)
        assert (task["title"], task["notes"], task["outcome"]) == (None, None, None), task
    assert read(client, f"/deals/{w['kept']}", at)["title"] == KEPT[0]
    assert read(client, f"/tasks/{w['other_task']}", at)["title"] == KEPT[1]
    board = read(client, f"/pipelines/{w['pipeline']}/board", at)
    assert sorted((d["title"] or "") for s in board["stages"] for d in s["deals"]) == ["", KEPT[0]]
    answers = [repr(ok(client.get(path), 200)) for path in (
        "/deals", "/tasks", "/feed?limit=100", f"/deals/{w['lost']}/timeline", f"/tasks/{w['task']}",
        f"/pipelines/{w['pipeline']}/board", f"/analytics/movements?{PERIOD}&pipeline={w['pipeline']}",
        f"/analytics/forecast?{PERIOD}&pipeline={w['pipeline']}")]
    assert not found("".join(answers)) and found("".join(answers), KEPT)
    assert figures(client, w["pipeline"], at) == before

    # the analysts: null before (free text is never theirs) and after
    query = "SELECT title, lost_reason, amount FROM deals UNION ALL SELECT title, outcome, NULL FROM tasks"
    assert not found(repr(ok(client.post("/sql", json={"sql": query}, headers=w["analyst"]), 200)["rows"]))
    assert not found(repr(ok(client.post("/sql", json={"sql": query}), 200)["rows"]))  # nor for an admin now

    # the auditors' export: still verifies, holds none of it
    for record in (w["lost"], w["open"], w["task"], w["deal_task"]):
        exported = "\n".join(json.dumps(line) for line in export_record(services.store, UUID(record)))
        assert verify_export(exported.splitlines()).ok and not found(exported), record

    # every read-side table, live and rebuilt (the DuckDB file's bytes then); the store's rows
    live = services.read_side.dump()
    assert not found(str(live)) and found(str(live), KEPT)
    services.stop()
    services.read_side.recreate()
    services.projector.reset()
    services.projector.catch_up()
    assert services.read_side.dump() == live
    assert not found(duckdb_text(services))
    assert not found(store_text(services))


def test_crm_es_export_holds_none_of_it(client, services, world, run, tmp_path: Path):
    forgotten = ok(client.post(f"/contacts/{world['contact']}/forget"), 200)
    assert services.projector.wait_for(forgotten["position"], 10)
    services.close()  # `crm-es export` wants the service stopped
    for form in ("csv", "parquet"):
        result = run("export", "--json", "--format", form, str(tmp_path / form))
        assert result.exit_code == 0, result.output
        written = b"".join(p.read_bytes() for p in (tmp_path / form).iterdir()).decode("latin-1")
        assert not found(written) and found(written, KEPT[:1]), form


def test_an_erased_deal_goes_on_under_a_new_key(client, services, world):
    """Its text written after the erasure reads back, and is erased with the next contact
    it names; a forgotten contact is not named anew."""
    w = world
    forgotten = ok(client.post(f"/contacts/{w['contact']}/forget"), 200)
    deal = read(client, f"/deals/{w['lost']}", forgotten["position"])
    assert deal["version"] == 3  # opened, lost, its text erased

    ok(client.post(f"/deals/{w['lost']}/reopen", json={}), 200)
    ok(client.post(f"/deals/{w['lost']}/lost", json={"reason": "price"}), 200)
    second = ok(client.post("/contacts", json={"first_name": "Bertille", "last_name": "Ravanel", "email": "br@x.example"}))
    renamed = ok(client.patch(f"/deals/{w['lost']}", json={"title": "Ravanel renewal",
                                                             "contact_ids": [w["contact"], second["id"]]}), 200)
    task = ok(client.post("/tasks", json=task_body(w["rep"], "call about the renewal", deal_id=w["lost"])))
    deal = read(client, f"/deals/{w['lost']}", task["position"])
    assert (deal["title"], deal["lost_reason"]) == ("Ravanel renewal", "price")
    assert read(client, f"/tasks/{task['id']}", task["position"])["title"] == "call about the renewal"

    again = ok(client.post(f"/contacts/{second['id']}/forget"), 200)
    deal = read(client, f"/deals/{w['lost']}", again["position"])
    assert (deal["title"], deal["lost_reason"], deal["version"]) == (None, None, renamed["version"] + 1)
    assert read(client, f"/tasks/{task['id']}", again["position"])["title"] is None

    # naming a forgotten contact anew is refused, and writes nothing; naming them still is not
    before = services.store.max_position()
    body = deal_body(w["pipeline"], "New one", "10.00", w["contact"])
    assert assert_problem(client.post("/deals", json=body), 409, "contact-forgotten")["field"] == "contact_ids[0]"
    assert_problem(client.patch(f"/deals/{w['kept']}", json={"contact_ids": [w["contact"]]}), 409, "contact-forgotten")
    assert services.store.max_position() == before
    ok(client.patch(f"/deals/{w['lost']}", json={"contact_ids": [w["contact"]], "title": "Renewal"}), 200)


def test_a_deal_saved_while_its_contact_is_being_forgotten_erases_its_own_text(client, services, world):
    """The forgetting deletes the contact's key, then looks up their deals: a deal saved
    after the look-up (here: after the key went, the Forgotten event not yet saved) finds
    the key gone and erases its text itself."""
    w = world
    services.store.keys.forget(w["contact"], datetime(2026, 3, 1, tzinfo=timezone.utc))  # the forgetting's first step
    made = ok(client.post("/deals", json=deal_body(w["pipeline"], f"{LAST} late deal", "10.00", w["contact"])))
    at = services.store.max_position()
    deal = read(client, f"/deals/{made['id']}", at)
    assert (deal["title"], deal["version"]) == (None, 2)
    assert not found(store_text_live(services))  # the late title is sealed too, and its key is gone

    forgotten = ok(client.post(f"/contacts/{w['contact']}/forget"), 200)  # the retry finishes
    for deal_id in (w["lost"], w["open"], made["id"]):
        assert read(client, f"/deals/{deal_id}", forgotten["position"])["title"] is None
