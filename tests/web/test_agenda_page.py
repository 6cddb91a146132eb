"""The agenda page: a rep's day or week as GET /agenda has it (overdue first, then by due
time), coloured by type, "mark done" where the viewer may close the rep's tasks, the
rep's reach held (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_pages import World, bearer, csrf_of, dom, ok, sign_in, world

from crm_es.bootstrap import Services
from crm_es.clock import FrozenClock

# The clock stands at Sunday 1 March 2026, 09:00 UTC.
TASKS = {  # name: (owner, due_at, type)
    "late": ("rob", "2026-02-27T10:00:00Z", "call"),
    "today": ("rob", "2026-03-01T14:00:00Z", "demo"),
    "today_early": ("rob", "2026-03-01T11:00:00Z", "email"),
    "finished": ("rob", "2026-03-01T12:00:00Z", "task"),
    "tuesday": ("rob", "2026-03-03T09:30:00Z", "meeting_video"),
    "ritas": ("rita", "2026-03-01T15:00:00Z", "call"),
    "eves": ("eve", "2026-03-01T16:00:00Z", "call"),
}


@pytest.fixture
def w(client: TestClient, services: Services, clock: FrozenClock) -> World:
    w = world(client, services)
    for name, (owner, due_at, kind) in TASKS.items():
        w.ids[name] = w.write("POST", "/tasks", {"type": kind, "title": f"{name} task", "due_at": due_at,
                                                 "owner_id": w.ids[owner], "contact_id": w.ids[f"{owner}_contact"]})["id"]
    w.write("POST", f"/tasks/{w.ids['finished']}/done", {}, 200)
    assert services.projector.wait_for(w.position, 10)
    return w


def shown(page: Any) -> list[str]:
    return [task.attrs["data-task-id"] for task in page.one("#agenda").all("li.task")]


def agenda(w: World, who: str, rep: str, day: str) -> list[dict[str, Any]]:
    return ok(w.client.get("/agenda", params={"rep": w.ids[rep], "date": day}, headers=bearer(w, who)), 200)["items"]


def test_a_reps_day_is_the_json_agendas_overdue_first(w: World) -> None:
    sign_in(w.client, w.tokens["rob"])
    page = dom(w.client.get("/app/agenda").text)  # a rep's own agenda, today, by default
    assert shown(page) == [item["id"] for item in agenda(w, "rob", "rob", "2026-03-01")]
    assert shown(page) == [w.ids[n] for n in ("late", "today_early", "finished", "today")]
    assert [t.attrs["data-task-id"] for t in page.one("ol.overdue-tasks").all("li.task")] == [w.ids["late"]]
    assert "overdue" in page.one(f"li.task[data-task-id={w.ids['late']}]").classes


def test_a_week_runs_monday_to_sunday_each_task_under_its_day(w: World) -> None:
    sign_in(w.client, w.tokens["rob"])
    page = dom(w.client.get("/app/agenda", params={"view": "week", "date": "2026-03-04"}).text)
    days = page.one("#agenda").all("h2.day")
    assert [d.attrs["data-date"] for d in days] == [f"2026-03-0{n}" for n in range(2, 9)]
    lists = page.one("#agenda").all("ol.tasks")[1:]  # after the overdue ones
    tuesday = [t.attrs["data-task-id"] for t in lists[1].all("li.task")]
    assert tuesday == [w.ids["tuesday"]]
    assert shown(page)[0] == w.ids["late"] and w.ids["today"] not in shown(page)  # Sunday 1 March is last week's
    earlier = page.one("a.earlier").attrs["href"]
    assert "date=2026-02-23" in earlier and "view=week" in earlier


def test_each_task_wears_its_types_colour(w: World) -> None:
    colours = {t["name"]: t["colour"] for t in ok(w.client.get("/settings/activity-types", headers=bearer(w, "rob")),
                                                  200)["items"]}
    sign_in(w.client, w.tokens["rob"])
    page = dom(w.client.get("/app/agenda").text)
    for name in ("late", "today", "today_early"):
        task = page.one(f"li.task[data-task-id={w.ids[name]}]")
        assert f"--type-colour: {colours[TASKS[name][2]]}" in task.attrs["style"]


def test_marking_done_from_the_page_closes_the_task_and_the_page_says_so(w: World) -> None:
    sign_in(w.client, w.tokens["rob"])
    page = dom(w.client.get("/app/agenda").text)
    task = page.one(f"li.task[data-task-id={w.ids['today']}]")
    assert task.all("button.mark-done")
    answer = ok(w.client.post(f"/tasks/{w.ids['today']}/done", json={},  # as agenda.js sends it
                              headers={"X-CSRF-Token": csrf_of(page), "Idempotency-Key": "done-today"}), 200)
    again = dom(w.client.get("/app/agenda", params={"after": answer["position"]}).text)
    done = again.one(f"li.task[data-task-id={w.ids['today']}]")
    assert "done" in done.classes and not done.all("button.mark-done") and done.all(".done-mark")
    assert ok(w.client.get(f"/tasks/{w.ids['today']}", headers=bearer(w, "rob")), 200)["status"] == "done"


def test_a_manager_reads_and_closes_the_teams_tasks_an_auditor_only_reads(w: World) -> None:
    sign_in(w.client, w.tokens["mia"])
    page = dom(w.client.get("/app/agenda", params={"rep": w.ids["rita"]}).text)
    assert shown(page) == [w.ids["ritas"]] and page.all("button.mark-done")
    offered = {o.attrs["value"] for o in page.one("select[name=rep]").all("option")}
    assert w.ids["eve"] not in offered and {w.ids["rob"], w.ids["rita"]} <= offered
    sign_in(w.client, w.tokens["auditor"])
    page = dom(w.client.get("/app/agenda", params={"rep": w.ids["eve"]}).text)
    assert shown(page) == [item["id"] for item in agenda(w, "auditor", "eve", "2026-03-01")]
    assert not page.all(".write")


@pytest.mark.parametrize(("who", "status"), [("rob", 403), ("analyst", 403)])
def test_another_teams_agenda_or_an_analyst_gets_the_refusal_page(w: World, who: str, status: int) -> None:
    sign_in(w.client, w.tokens[who])
    answer = w.client.get("/app/agenda", params={"rep": w.ids["eve"]})
    assert answer.status_code == status and "text/html" in answer.headers["content-type"]
    assert w.ids["eves"] not in answer.text


@pytest.mark.parametrize(("query", "field"), [({"view": "month"}, "query.view"), ({"date": "1/3/2026"}, "query.date"),
                                              ({"rep": "rob"}, "query.rep")])
def test_a_bad_parameter_gets_a_422_page_naming_it(w: World, query: dict[str, str], field: str) -> None:
    sign_in(w.client, w.tokens["rob"])
    answer = w.client.get("/app/agenda", params=query)
    assert answer.status_code == 422 and field in answer.text


def test_a_french_browser_reads_the_agenda_in_french(w: World) -> None:
    sign_in(w.client, w.tokens["rob"])
    page = dom(w.client.get("/app/agenda", headers={"Accept-Language": "fr-FR,fr;q=0.9"}).text)
    assert page.one("h1").text == "Agenda" and page.one("h2.overdue-heading").text == "En retard"
    assert page.one(f"li.task[data-task-id={w.ids['today']}]").one(".type").text == "Démo"
