"""Tasks, the agenda, next steps and activity types through the HTTP API, on SQLite and
PostgreSQL. The service's clock stands at 2026-03-01 09:00 UTC (see conftest)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

from fastapi.testclient import TestClient
from helpers import assert_problem, deal, ok, pipeline, read
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from crm_es.auth.roles import Role
from crm_es.bootstrap import Services

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
emails = itertools.count()


def rep(client: TestClient, name: str = "Alice", team_id: str | None = None) -> str:
    return ok(client.post("/reps", json={"name": name, "email": f"{name.lower()}{next(emails)}@example.com",
                                         "team_id": team_id}))["id"]


def contact(client: TestClient, **fields: Any) -> dict[str, Any]:
    body = {"first_name": "Jean", "last_name": "Dupont", "email": f"jean{next(emails)}@acme.example", **fields}
    return ok(client.post("/contacts", json=body))


def plan(client: TestClient, owner_id: str, due_at: str, **fields: Any) -> dict[str, Any]:
    body = {"type": "call", "title": "Call back", "due_at": due_at, "owner_id": owner_id, **fields}
    return ok(client.post("/tasks", json=body))


def agenda(client: TestClient, rep_id: str, position: int, **params: str) -> list[dict[str, Any]]:
    query = "&".join(f"{k}={v}" for k, v in {"rep": rep_id, **params}.items())
    return read(client, f"/agenda?{query}", position)["items"]


def test_a_planned_task_shows_in_the_reps_agenda_with_its_colour(client: TestClient) -> None:
    alice = rep(client)
    planned = plan(client, alice, "2026-03-01T15:00:00+01:00", duration_minutes=30)
    assert planned["version"] == 1 and planned["position"] > 0

    [item] = agenda(client, alice, planned["position"], date="2026-03-01")
    assert item["id"] == planned["id"]
    assert (item["type"], item["colour"], item["title"], item["status"], item["overdue"]) == ("call", "#43a047", "Call back", "open", False)
    assert item["due_at"] == "2026-03-01T14:00:00+00:00" and item["duration_minutes"] == 30
    shown = read(client, f"/tasks/{planned['id']}", planned["position"])
    assert (shown["owner_id"], shown["status"], shown["colour"], shown["version"]) == (alice, "open", "#43a047", 1)


def test_the_agenda_puts_overdue_tasks_first_then_the_days_tasks_by_due_time(client: TestClient) -> None:
    alice, bob = rep(client, "Alice"), rep(client, "Bob")
    late = plan(client, alice, "2026-02-27T10:00:00Z", title="Late since Friday")
    early_today = plan(client, alice, "2026-03-01T08:00:00Z", title="Missed this morning")
    afternoon = plan(client, alice, "2026-03-01T17:00:00Z", type="demo", title="Demo")
    noon = plan(client, alice, "2026-03-01T12:00:00Z", type="meeting_video", title="Video call")
    plan(client, alice, "2026-03-02T10:00:00Z", title="Tomorrow")
    old_done = plan(client, alice, "2026-02-20T10:00:00Z", title="Done last week")
    ok(client.post(f"/tasks/{old_done['id']}/done", json={}), 200)
    cancelled = plan(client, alice, "2026-03-01T11:00:00Z", title="Cancelled")
    ok(client.post(f"/tasks/{cancelled['id']}/cancel", json={}), 200)
    last = plan(client, bob, "2026-03-01T10:00:00Z", title="Bob's")

    items = agenda(client, alice, last["position"], date="2026-03-01")
    assert [i["id"] for i in items] == [late["id"], early_today["id"], noon["id"], afternoon["id"]]
    assert [i["overdue"] for i in items] == [True, True, False, False]
    assert [i["colour"] for i in items] == ["#43a047", "#43a047", "#00acc1", "#d81b60"]

    # Overdue open tasks follow the rep from day to day; the day's own tasks are that day's.
    tomorrow = agenda(client, alice, last["position"], date="2026-03-02")
    assert [i["title"] for i in tomorrow] == ["Late since Friday", "Missed this morning", "Tomorrow"]
    # By default: today, by the service's clock.
    assert [i["id"] for i in agenda(client, alice, last["position"])] == [i["id"] for i in items]


def test_the_day_is_the_one_of_the_time_zone_asked_for(client: TestClient) -> None:
    alice = rep(client)
    late_evening = plan(client, alice, "2026-03-03T23:30:00Z")  # already 4 March in Paris
    utc = agenda(client, alice, late_evening["position"], date="2026-03-03")
    paris = agenda(client, alice, late_evening["position"], date="2026-03-04", tz="Europe/Paris")
    assert [i["id"] for i in utc] == [i["id"] for i in paris] == [late_evening["id"]]
    assert paris[0]["due_at"] == "2026-03-04T00:30:00+01:00"
    assert agenda(client, alice, late_evening["position"], date="2026-03-03", tz="Europe/Paris") == []
    bad = assert_problem(client.get(f"/agenda?rep={alice}&tz=Mars/Olympus_Mons"), 422, "invalid-field")
    assert bad["errors"][0]["field"] == "query.tz"
    assert_problem(client.get(f"/agenda?rep={uuid4()}"), 404)
    assert assert_problem(client.get(f"/agenda?rep={alice}&date=9999-12-31"), 422)["errors"][0]["field"] == "query.date"
    assert assert_problem(client.get("/agenda"), 422)["errors"][0]["field"] == "query.rep"


def test_a_done_task_leaves_the_open_list_and_shows_as_done(client: TestClient) -> None:
    alice = rep(client)
    task = plan(client, alice, "2026-03-01T15:00:00Z")
    done = ok(client.post(f"/tasks/{task['id']}/done", json={"outcome": "agreed to a demo"}), 200)
    assert (done["id"], done["version"]) == (task["id"], 2)

    shown = read(client, f"/tasks/{task['id']}", done["position"])
    assert (shown["status"], shown["outcome"], shown["done_by"], shown["version"]) == ("done", "agreed to a demo", "dev", 2)
    assert datetime.fromisoformat(shown["done_at"]) == NOW
    assert read(client, f"/tasks?rep={alice}&status=open", done["position"])["items"] == []
    assert [t["id"] for t in read(client, f"/tasks?rep={alice}&status=done", done["position"])["items"]] == [task["id"]]
    [item] = agenda(client, alice, done["position"], date="2026-03-01")
    assert (item["status"], item["overdue"]) == ("done", False)


def test_a_task_is_done_once_and_a_retry_with_its_key_hears_the_first_answer(client: TestClient, services: Services) -> None:
    task = plan(client, rep(client), "2026-03-01T15:00:00Z")
    key = {"Idempotency-Key": "done-1"}
    first = client.post(f"/tasks/{task['id']}/done", json={"outcome": "ok"}, headers=key)
    assert first.status_code == 200
    before = services.store.max_position()
    retried = client.post(f"/tasks/{task['id']}/done", json={"outcome": "ok"}, headers=key)
    assert (retried.status_code, retried.json(), retried.headers["Idempotent-Replayed"]) == (200, first.json(), "true")
    again = assert_problem(client.post(f"/tasks/{task['id']}/done", json={"outcome": "ok"}), 409, "task-closed")
    assert "done" in again["detail"]
    assert_problem(client.post(f"/tasks/{task['id']}/cancel", json={}), 409, "task-closed")
    assert_problem(client.post(f"/tasks/{task['id']}/reschedule", json={"due_at": "2026-03-05T10:00:00Z"}), 409, "task-closed")
    assert services.store.max_position() == before


def test_rescheduling_and_cancelling(client: TestClient) -> None:
    alice = rep(client)
    task = plan(client, alice, "2026-03-01T15:00:00Z")
    moved = ok(client.post(f"/tasks/{task['id']}/reschedule", json={"due_at": "2026-03-04T09:30:00+01:00"}), 200)
    assert moved["version"] == 2
    assert datetime.fromisoformat(read(client, f"/tasks/{task['id']}", moved["position"])["due_at"]) == datetime(
        2026, 3, 4, 8, 30, tzinfo=timezone.utc)
    assert agenda(client, alice, moved["position"], date="2026-03-01") == []
    cancelled = ok(client.post(f"/tasks/{task['id']}/cancel"), 200)
    assert read(client, f"/tasks/{task['id']}", cancelled["position"])["status"] == "cancelled"
    assert agenda(client, alice, cancelled["position"], date="2026-03-04") == []
    assert_problem(client.post(f"/tasks/{uuid4()}/done", json={}), 404)


def test_what_a_task_names_must_exist(client: TestClient, services: Services) -> None:
    alice = rep(client)
    before = services.store.max_position()
    for field in ("contact_id", "deal_id", "owner_id"):
        refused = assert_problem(client.post("/tasks", json={
            "type": "call", "title": "t", "due_at": "2026-03-02T10:00:00Z", "owner_id": alice, field: str(uuid4())}), 404)
        assert refused["errors"][0]["field"] == field
    bad_type = assert_problem(client.post("/tasks", json={
        "type": "telepathy", "title": "t", "due_at": "2026-03-02T10:00:00Z", "owner_id": alice}), 422)
    assert bad_type["errors"][0]["field"] == "type" and "call" in bad_type["detail"]
    nobody = assert_problem(client.post("/tasks", json={"type": "call", "title": "t", "due_at": "2026-03-02T10:00:00Z"}), 422)
    assert nobody["errors"][0]["field"] == "owner_id"
    naive = assert_problem(client.post("/tasks", json={"type": "call", "title": "t", "due_at": "2026-03-02T10:00:00",
                                                       "owner_id": alice}), 422)
    assert naive["errors"][0]["field"] == "due_at"
    assert services.store.max_position() == before


def test_a_configured_type_can_be_planned_and_a_new_colour_shows_in_the_agenda(client: TestClient) -> None:
    alice = rep(client)
    shown = read(client, "/settings/activity-types", 0)["items"]
    assert {t["name"] for t in shown} == {"task", "call", "email", "meeting_on_site", "meeting_phone", "meeting_video",
                                          "demo", "customer_visit"}
    added = ok(client.put("/settings/activity-types/webinar", json={"colour": "#ABCDEF"}), 200)
    recoloured = ok(client.put("/settings/activity-types/call", json={"colour": "#ff0000", "label": "Phone call"}), 200)
    assert (added["version"], recoloured["version"]) == (2, 3)  # the built-in types were recorded first
    task = plan(client, alice, "2026-03-01T15:00:00Z", type="webinar")
    call = plan(client, alice, "2026-03-01T16:00:00Z")
    colours = {i["type"]: i["colour"] for i in agenda(client, alice, call["position"], date="2026-03-01")}
    assert colours == {"webinar": "#abcdef", "call": "#ff0000"}
    types = {t["name"]: t for t in read(client, "/settings/activity-types", task["position"])["items"]}
    assert types["call"] == {"name": "call", "label": "Phone call", "colour": "#ff0000"}
    assert len(types) == 9
    bad = assert_problem(client.put("/settings/activity-types/webinar", json={"colour": "red"}), 422)
    assert bad["errors"][0]["field"] == "colour"
    assert_problem(client.put("/settings/activity-types/Bad Name", json={"colour": "#000000"}), 422)


def test_next_step_is_the_earliest_open_task_of_the_contact_and_the_deal(client: TestClient) -> None:
    alice = rep(client)
    jean = contact(client, owner_id=alice)
    fleet = deal(client, pipeline(client)["id"], owner_id=alice, contact_ids=[jean["id"]])
    assert read(client, f"/contacts/{jean['id']}", fleet["position"])["next_step"] is None
    assert read(client, f"/deals/{fleet['id']}", fleet["position"])["next_step"] is None

    later = plan(client, alice, "2026-03-10T10:00:00Z", contact_id=jean["id"], deal_id=fleet["id"], title="Send quote")
    sooner = plan(client, alice, "2026-03-05T10:00:00Z", contact_id=jean["id"], type="demo", title="Demo")
    step = read(client, f"/contacts/{jean['id']}", sooner["position"])["next_step"]
    assert (step["id"], step["type"], step["title"], step["owner_id"]) == (sooner["id"], "demo", "Demo", alice)
    assert datetime.fromisoformat(step["due_at"]) == datetime(2026, 3, 5, 10, tzinfo=timezone.utc)
    assert read(client, f"/deals/{fleet['id']}", sooner["position"])["next_step"]["id"] == later["id"]

    done = ok(client.post(f"/tasks/{sooner['id']}/done", json={}), 200)
    assert read(client, f"/contacts/{jean['id']}", done["position"])["next_step"]["id"] == later["id"]
    cancelled = ok(client.post(f"/tasks/{later['id']}/cancel", json={}), 200)
    assert read(client, f"/contacts/{jean['id']}", cancelled["position"])["next_step"] is None
    assert read(client, f"/deals/{fleet['id']}", cancelled["position"])["next_step"] is None
    listed = read(client, f"/tasks?contact={jean['id']}", cancelled["position"])["items"]
    assert sorted(t["id"] for t in listed) == sorted([sooner["id"], later["id"]])
    assert [t["id"] for t in read(client, f"/tasks?deal={fleet['id']}", cancelled["position"])["items"]] == [later["id"]]


def test_forgetting_the_contact_erases_the_tasks_notes_and_outcome(client: TestClient, services: Services) -> None:
    alice = rep(client)
    jean = contact(client, owner_id=alice)
    task = plan(client, alice, "2026-03-01T15:00:00Z", contact_id=jean["id"], notes="Jean's daughter is ill")
    done = ok(client.post(f"/tasks/{task['id']}/done", json={"outcome": "Jean will sign in May"}), 200)
    shown = read(client, f"/tasks/{task['id']}", done["position"])
    assert (shown["notes"], shown["outcome"]) == ("Jean's daughter is ill", "Jean will sign in May")
    loose = plan(client, alice, "2026-03-01T16:00:00Z", notes="book the meeting room")  # about no contact: in clear
    ok(client.put("/settings/activity-types/webinar", json={"colour": "#abcdef"}), 200)

    forgotten = ok(client.post(f"/contacts/{jean['id']}/forget", json={"reason": "ticket 1"}), 200)
    after = read(client, f"/tasks/{task['id']}", forgotten["position"])
    assert (after["notes"], after["outcome"]) == (None, None)
    # the title too is free text about them (issue 16: "call Jean Dupont"); the rest stays
    assert (after["title"], after["status"], after["contact_id"]) == (None, "done", jean["id"])
    assert read(client, f"/tasks/{loose['id']}", forgotten["position"])["notes"] == "book the meeting room"
    [planned, completed] = services.store.events(UUID(task["id"]))
    assert (planned.notes, completed.outcome) == (None, None)
    services.stop()
    live = {name: rows for name, rows in services.read_side.dump().items() if name in ("tasks", "activity_types")}
    services.read_side.recreate()  # what `crm-es rebuild` does: the events say the same
    services.projector.reset()
    services.projector.catch_up()
    assert {name: services.read_side.dump()[name] for name in live} == live
    assert len(live["activity_types"]) == 9
    rebuilt = read(client, f"/tasks/{task['id']}", forgotten["position"])
    assert (rebuilt["notes"], rebuilt["outcome"], rebuilt["title"]) == (None, None, None)
    again = client.post("/tasks", json={"type": "call", "title": "t", "due_at": "2026-03-02T10:00:00Z",
                                        "owner_id": alice, "contact_id": jean["id"]})
    assert_problem(again, 409, "contact-forgotten")


def test_reps_plan_in_their_own_agenda_and_managers_in_their_teams(client: TestClient, services: Services) -> None:
    west, east = (ok(client.post("/teams", json={"name": name}))["id"] for name in ("West", "East"))
    mia, rob, rita = rep(client, "Mia", west), rep(client, "Rob", west), rep(client, "Rita", west)
    eve = rep(client, "Eve", east)
    tokens = {}
    for name, role, rep_id in (("admin", Role.ADMIN, None), ("rob", Role.REP, rob), ("mia", Role.MANAGER, mia)):
        tokens[name] = {"Authorization": f"Bearer {services.api_keys.create(role, UUID(rep_id) if rep_id else None, name)[1]}"}
    body = {"type": "call", "title": "t", "due_at": "2026-03-02T10:00:00Z"}
    before = services.store.max_position()
    refused = assert_problem(client.post("/tasks", json={**body, "owner_id": eve}, headers=tokens["rob"]), 403, "not-your-record")
    assert refused["field"] == "owner_id"
    assert_problem(client.post("/tasks", json={**body, "owner_id": eve}, headers=tokens["mia"]), 403, "not-your-record")
    assert services.store.max_position() == before

    own = ok(client.post("/tasks", json=body, headers=tokens["rob"]))  # no owner named: the rep's own agenda
    for_rita = ok(client.post("/tasks", json={**body, "owner_id": rita}, headers=tokens["mia"]))
    assert ok(client.get(f"/tasks/{own['id']}?after={own['position']}", headers=tokens["admin"]), 200)["owner_id"] == rob
    assert_problem(client.post(f"/tasks/{for_rita['id']}/done", json={}, headers=tokens["rob"]), 403, "not-your-record")
    ok(client.post(f"/tasks/{own['id']}/done", json={}, headers=tokens["rob"]), 200)
    ok(client.post(f"/tasks/{for_rita['id']}/done", json={}, headers=tokens["mia"]), 200)

    eves = ok(client.post("/tasks", json={**body, "owner_id": eve}, headers=tokens["admin"]))
    after = f"after={eves['position']}"
    assert_problem(client.get(f"/agenda?rep={eve}&{after}", headers=tokens["rob"]), 403, "not-your-record")
    assert_problem(client.get(f"/tasks/{eves['id']}?{after}", headers=tokens["rob"]), 403, "not-your-record")
    assert ok(client.get(f"/agenda?date=2026-03-02&{after}", headers=tokens["rob"]), 200)["rep_id"] == rob
    assert ok(client.get(f"/agenda?rep={rita}&date=2026-03-02&{after}", headers=tokens["rob"]), 200)["items"][0]["id"] == for_rita["id"]
    listed = ok(client.get(f"/tasks?{after}", headers=tokens["rob"]), 200)["items"]
    assert {t["id"] for t in listed} == {own["id"], for_rita["id"]}


def test_task_lists_are_paginated(client: TestClient) -> None:
    alice = rep(client)
    made = [plan(client, alice, f"2026-03-0{day}T10:00:00Z") for day in range(2, 7)]
    seen, cursor = [], None
    while True:
        page = read(client, f"/tasks?rep={alice}&limit=2" + (f"&cursor={cursor}" if cursor else ""), made[-1]["position"])
        seen += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(t["id"] for t in made) and len(seen) == 5
    assert_problem(client.get("/tasks?status=someday"), 422)


# Due times within three days either side of the clock, on the minute; what happened to each task.
tasks_drawn = st.lists(st.tuples(st.integers(-3 * 24 * 60, 3 * 24 * 60), st.sampled_from(["open", "done", "cancelled"])),
                       max_size=8)


def test_the_agenda_is_the_days_tasks_and_the_overdue_ones_overdue_first(client: TestClient) -> None:
    """The law: for any tasks, the agenda holds exactly the day's tasks that are not
    cancelled and the open ones due before now, ordered overdue first, then by due time."""

    @hypothesis_settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(drawn=tasks_drawn, day_offset=st.integers(-2, 2), tz=st.sampled_from(["UTC", "Europe/Paris", "America/New_York"]))
    def law(drawn: list[tuple[int, str]], day_offset: int, tz: str) -> None:
        from zoneinfo import ZoneInfo

        made = ok(client.post("/reps", json={"name": "Law", "email": f"law{next(emails)}@example.com"}))
        owner, position, expected = made["id"], made["position"], []  # a fresh agenda for each example
        zone = ZoneInfo(tz)
        day = (NOW.astimezone(zone) + timedelta(days=day_offset)).date()
        for minutes, fate in drawn:
            due = NOW + timedelta(minutes=minutes)
            task = plan(client, owner, due.isoformat())
            position = task["position"]
            if fate != "open":
                position = ok(client.post(f"/tasks/{task['id']}/{'done' if fate == 'done' else 'cancel'}", json={}), 200)["position"]
            overdue = fate == "open" and due < NOW
            if overdue or (fate != "cancelled" and due.astimezone(zone).date() == day):
                expected.append((not overdue, due, task["id"]))
        items = agenda(client, owner, position, date=day.isoformat(), tz=tz)
        assert {i["id"] for i in items} == {e[2] for e in expected}
        shown = [(not i["overdue"], datetime.fromisoformat(i["due_at"])) for i in items]
        assert shown == sorted((e[0], e[1]) for e in expected)

    law()
