"""The admin set-up pages — people, pipelines, settings, automations, and the admin index —
show what the JSON API lists; each form's command, sent as admin.js sends it (the session
cookie and its X-CSRF-Token), changes what the page shows next; admins only (SQLite and
PostgreSQL)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient
from web_pages import Element, World, bearer, csrf_of, dom, ok, sign_in, world

from crm_es.bootstrap import Services

PAGES = ("/app/admin", "/app/admin/people", "/app/admin/pipelines", "/app/admin/settings", "/app/admin/automations")


@pytest.fixture
def w(client: TestClient, services: Services) -> World:
    w = world(client, services)
    sign_in(w.client, w.tokens["admin"])
    return w


def read(w: World, path: str, after: int | None = None, **query: str) -> Element:
    answer = w.client.get(path, params={**query, **({"after": str(after)} if after else {})})
    assert answer.status_code == 200, answer.text
    return dom(answer.text)


def send(w: World, page: Element, method: str, path: str, body: Any, status: int = 200,
         version: int | None = None) -> dict[str, Any]:
    """A command as admin.js sends it: the session's cookie, its CSRF token, an Idempotency-Key."""
    headers = {"X-CSRF-Token": csrf_of(page), "Idempotency-Key": str(uuid4())}
    if version is not None:
        headers["If-Match"] = f'"{version}"'
    return ok(w.client.request(method, path, json=body, headers=headers), status)


def lines(textarea: Element) -> list[str]:
    """A textarea's items, one a line (Element.text folds the lines into one)."""
    return [line for line in "".join(c for c in textarea.children if isinstance(c, str)).split("\n") if line]


def api(w: World, path: str) -> Any:
    return ok(w.client.get(path, headers=bearer(w, "admin")), 200)


def test_the_index_links_every_admin_page(w: World) -> None:
    page = read(w, "/app/admin")
    links = [a.attrs["href"] for a in page.one("#admin-index").all("a")]
    assert links == ["/app/admin/people", "/app/admin/pipelines", "/app/admin/settings", "/app/admin/automations",
                     "/app/admin/keys", "/app/admin/outbox", "/app/admin/imports"]
    assert [a.attrs["href"] for a in page.one("nav").all("a") if a.text == "Admin"] == ["/app/admin"]


def test_the_people_page_lists_the_reps_and_teams_get_reps_and_get_teams_list(w: World) -> None:
    page = read(w, "/app/admin/people")
    reps = api(w, "/reps?limit=1000")["items"]
    assert [r.attrs["data-rep-id"] for r in page.all("tr.rep")] == [r["id"] for r in reps]
    teams = api(w, "/teams?limit=1000")["items"]
    assert [t.attrs["data-team-id"] for t in page.all("tr.team")] == [t["id"] for t in teams]
    west = page.one(f"tr.team[data-team-id={w.ids['west']}]")
    members = {m.attrs["data-rep-id"] for m in west.all("span.member")}
    assert members == set(api(w, f"/teams/{w.ids['west']}")["member_ids"])
    rob = page.one(f"tr.rep[data-rep-id={w.ids['rob']}]")
    assert rob.one("td.email").text == "rob@example.com" and rob.one("td.team").text == "West"
    assert rob.one("td.active").attrs["data-active"] == "true"
    one_team = read(w, "/app/admin/people", team=w.ids["east"])  # as GET /reps?team=
    assert [r.attrs["data-rep-id"] for r in one_team.all("tr.rep")] == [
        r["id"] for r in api(w, f"/reps?team={w.ids['east']}")["items"]]


def test_the_people_forms_add_rename_move_deactivate_and_reactivate(w: World) -> None:
    page = read(w, "/app/admin/people")
    assert page.one("form#add-rep").attrs["data-path"] == "/reps" and "write" in page.one("form#add-rep").classes
    nina = send(w, page, "POST", "/reps", {"name": "Nina", "email": "nina@example.com"}, 201)
    north = send(w, page, "POST", "/teams", {"name": "North", "manager_id": w.ids["mia"]}, 201)
    page = read(w, "/app/admin/people", after=north["position"])
    assert page.one(f"tr.rep[data-rep-id={nina['id']}]").one("td.name").text == "Nina"
    assert page.one(f"tr.team[data-team-id={north['id']}]").one("td.manager").text == "Mia"
    add_member = page.one(f"tr.team[data-team-id={north['id']}]").one("form.add-member")
    moved = send(w, page, "POST", add_member.attrs["data-path"], {"rep_id": nina["id"]})
    page = read(w, "/app/admin/people", after=moved["position"])
    row = page.one(f"tr.rep[data-rep-id={nina['id']}]")
    assert row.one("td.team").text == "North"
    assert [m.attrs["data-rep-id"] for m in page.one(f"tr.team[data-team-id={north['id']}]").all("span.member")] == [
        nina["id"]]
    rename = row.one("form.rename-rep")
    renamed = send(w, page, "PATCH", rename.attrs["data-path"], {"name": "Nina Simone", "team_id": north["id"]},
                   version=int(rename.attrs["data-version"]))
    page = read(w, "/app/admin/people", after=renamed["position"])
    row = page.one(f"tr.rep[data-rep-id={nina['id']}]")
    assert row.one("td.name").text == "Nina Simone"
    gone = send(w, page, "POST", row.one("form.deactivate-rep").attrs["data-path"], {},
                version=int(row.attrs["data-version"]))
    page = read(w, "/app/admin/people", after=gone["position"])
    row = page.one(f"tr.rep[data-rep-id={nina['id']}]")
    assert row.one("td.active").attrs["data-active"] == "false" and "inactive" in row.classes
    assert api(w, f"/reps/{nina['id']}")["active"] is False
    back = send(w, page, "POST", row.one("form.reactivate-rep").attrs["data-path"], {})
    page = read(w, "/app/admin/people", after=back["position"])
    assert page.one(f"tr.rep[data-rep-id={nina['id']}]").one("td.active").attrs["data-active"] == "true"


def test_a_stale_version_is_refused_and_nothing_changes(w: World) -> None:
    page = read(w, "/app/admin/people")
    rename = page.one(f"tr.rep[data-rep-id={w.ids['rob']}]").one("form.rename-rep")
    answer = w.client.patch(rename.attrs["data-path"], json={"name": "Robert"},
                            headers={"X-CSRF-Token": csrf_of(page), "If-Match": '"99"'})
    assert answer.status_code == 412
    assert api(w, f"/reps/{w.ids['rob']}")["name"] == "Rob"


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/reps", {"name": "Nina", "email": "nina@example.com"}),
    ("PUT", "/settings/statuses", {"statuses": ["lead", "won over"]}),
    ("PUT", "/policies/task-after-meeting", {"enabled": False}),
])
def test_without_the_csrf_token_a_command_is_refused_and_nothing_written(w: World, method: str, path: str,
                                                                         body: Any) -> None:
    before = (api(w, "/reps?limit=1000"), api(w, "/settings"), api(w, "/policies"))
    answer = w.client.request(method, path, json=body)  # the session's cookie alone
    assert answer.status_code == 403 and answer.json()["type"].endswith("csrf-token-required")
    assert (api(w, "/reps?limit=1000"), api(w, "/settings"), api(w, "/policies")) == before


def test_the_pipelines_page_shows_each_pipelines_stages_and_its_table_changes_them(w: World) -> None:
    page = read(w, "/app/admin/pipelines")
    pipelines = api(w, "/pipelines?limit=1000")["items"]
    assert [f.attrs["data-pipeline-id"] for f in page.all("form.pipeline")] == [p["id"] for p in pipelines]
    form = page.one(f"form.pipeline[data-pipeline-id={w.ids['pipeline']}]")
    rows = form.all("tr.stage")
    shown = [(r.attrs["data-stage-id"], r.one("input[name=stage]").attrs["value"],
              r.one("input[name=probability]").attrs["value"]) for r in rows]
    assert shown == [(s["id"], s["name"], s["probability"]) for s in pipelines[0]["stages"]]
    # What admin.js sends from the table: every row in its order, ids kept; here one renamed,
    # two swapped, one new at the end, with a new probability.
    stages = [{"id": i, "name": n, "probability": p} for i, n, p in shown]
    stages[0]["name"], stages[1]["probability"] = "First call", "0.6"
    stages[1], stages[2] = stages[2], stages[1]
    stages.append({"name": "Legal review", "probability": "0.95"})
    revised = send(w, page, "PATCH", f"/pipelines/{w.ids['pipeline']}", {"name": "New business", "stages": stages},
                   version=int(form.attrs["data-version"]))
    page = read(w, "/app/admin/pipelines", after=revised["position"])
    rows = page.one(f"form.pipeline[data-pipeline-id={w.ids['pipeline']}]").all("tr.stage")
    assert [(r.one("input[name=stage]").attrs["value"], Decimal(r.one("input[name=probability]").attrs["value"]))
            for r in rows] == [("First call", Decimal("0.1")), ("Signature", Decimal("0.9")), ("Demo", Decimal("0.6")),
                               ("Legal review", Decimal("0.95"))]
    assert rows[0].attrs["data-stage-id"] == shown[0][0]  # renamed, not replaced: it keeps its deals
    assert api(w, f"/deals/{w.ids['rob_deal']}")["stage"] == "First call"
    made = send(w, page, "POST", "/pipelines", {"name": "Renewals", "stages": [
        {"name": "Due", "probability": "0.5"}, {"name": "Signed", "probability": "1"}]}, 201)
    page = read(w, "/app/admin/pipelines", after=made["position"])
    renewals = page.one(f"form.pipeline[data-pipeline-id={made['id']}]")
    assert [r.one("input[name=stage]").attrs["value"] for r in renewals.all("tr.stage")] == ["Due", "Signed"]


def test_the_settings_page_shows_get_settings_and_its_forms_change_it(w: World) -> None:
    page = read(w, "/app/admin/settings")
    settings = api(w, "/settings")
    for part in ("statuses", "sources", "lifecycle_stages", "contact_roles"):
        assert lines(page.one(f"form#list-{part}").one("textarea")) == settings[part]
    assert {d.attrs["data-category"] for d in page.all("div.tag-category")} == set(settings["tag_categories"])
    types = api(w, "/settings/activity-types")["items"]
    assert [r.attrs["data-name"] for r in page.all("tr.activity-type")] == [t["name"] for t in types]

    form = page.one("form#list-statuses")
    send(w, page, "PUT", form.attrs["data-path"], {"statuses": ["lead", "qualified", "customer"]})
    send(w, page, "PUT", "/settings/tag-categories/size", {"tags": ["Small", "Large"]})
    send(w, page, "PUT", "/settings/properties/deal/budget", {"type": "money", "required": False, "choices": [],
                                                               "default_currency": "EUR"})
    last = send(w, page, "PUT", "/settings/activity-types/webinar", {"label": "Webinar", "colour": "#123abc"})
    page = read(w, "/app/admin/settings", after=last["position"])
    assert lines(page.one("form#list-statuses").one("textarea")) == ["lead", "qualified", "customer"]
    assert lines(page.one("div.tag-category[data-category=size]").one("textarea")) == ["Small", "Large"]
    budget = page.one("tr.property[data-name=budget]")
    assert budget.attrs["data-record-type"] == "deal" and budget.one("td.type").text == "money"
    webinar = page.one("tr.activity-type[data-name=webinar]")
    assert webinar.one("input[name=colour]").attrs["value"] == "#123abc"

    send(w, page, "DELETE", budget.one("form.retire-property").attrs["data-path"].format(record_type="deal",
                                                                                        name="budget"), None)
    last = send(w, page, "DELETE", "/settings/tag-categories/size", None)
    page = read(w, "/app/admin/settings", after=last["position"])
    assert not page.all("tr.property[data-name=budget]") and not page.all("div.tag-category[data-category=size]")
    assert "budget" not in [p["name"] for p in api(w, "/settings")["properties"]["deal"]]


def test_the_automations_page_shows_get_policies_and_switches_one(w: World) -> None:
    page = read(w, "/app/admin/automations")
    policies = api(w, "/policies")["items"]
    assert [a.attrs["data-policy"] for a in page.all("article.policy")] == [p["name"] for p in policies]
    shown = page.one("article.policy[data-policy=task-after-meeting]")
    before = next(p for p in policies if p["name"] == "task-after-meeting")
    assert shown.attrs["data-enabled"] == str(before["enabled"]).lower()
    assert shown.one("dd.lag").text == str(before["lag"]) and shown.one("dd.position").text == str(before["position"])
    assert json.loads("".join(shown.one("textarea[name=settings]").children)) == before["settings"]

    settings = {**before["settings"], "due_after_hours": 48}
    answer = send(w, page, "PUT", "/policies/task-after-meeting", {"enabled": False, "settings": settings})
    page = read(w, "/app/admin/automations", after=answer["position"])
    shown = page.one("article.policy[data-policy=task-after-meeting]")
    assert shown.attrs["data-enabled"] == "false" and "off" in shown.classes
    assert "checked" not in shown.one("input[name=enabled]").attrs
    assert json.loads("".join(shown.one("textarea[name=settings]").children))["due_after_hours"] == 48
    after = next(p for p in api(w, "/policies")["items"] if p["name"] == "task-after-meeting")
    assert after["enabled"] is False and after["settings"]["due_after_hours"] == 48


def test_bad_settings_are_refused_naming_the_field(w: World) -> None:
    page = read(w, "/app/admin/automations")
    answer = w.client.put("/policies/task-after-meeting", json={"enabled": True, "settings": {"due_after_hours": -1}},
                          headers={"X-CSRF-Token": csrf_of(page)})
    assert answer.status_code == 422
    assert "settings.due_after_hours" in answer.json()["detail"]  # what admin.js shows
    assert [e["field"] for e in answer.json()["errors"]] == ["settings.due_after_hours"]


@pytest.mark.parametrize("who", ["rob", "mia", "auditor", "analyst"])
@pytest.mark.parametrize("path", PAGES)
def test_only_admins_see_the_admin_pages(w: World, who: str, path: str) -> None:
    sign_in(w.client, w.tokens[who])
    answer = w.client.get(path)
    assert answer.status_code == 403 and "text/html" in answer.headers["content-type"]
    page = dom(answer.text)
    assert page.one("#problem").attrs["data-rule"] and not [e for e in page.walk() if "write" in e.classes]
    assert not [a for a in page.one("nav").all("a") if a.attrs["href"] == "/app/admin"]


@pytest.mark.parametrize(("path", "query", "field"), [("/app/admin/people", {"team": "west"}, "query.team"),
                                                      ("/app/admin/pipelines", {"pipeline": "1"}, "query.pipeline")])
def test_a_bad_parameter_gets_a_422_page_naming_it(w: World, path: str, query: dict[str, str], field: str) -> None:
    answer = w.client.get(path, params=query)
    assert answer.status_code == 422
    assert dom(answer.text).one(".error").attrs["data-field"] == field


def test_an_unknown_team_or_pipeline_is_a_404_page(w: World) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"
    assert w.client.get("/app/admin/people", params={"team": unknown}).status_code == 404
    assert w.client.get("/app/admin/pipelines", params={"pipeline": unknown}).status_code == 404


def test_a_french_browser_reads_the_admin_pages_in_french(w: World) -> None:
    french = {"Accept-Language": "fr-FR,fr;q=0.9"}
    titles = {path: dom(w.client.get(path, headers=french).text).one("h1").text for path in PAGES}
    assert titles == {"/app/admin": "Administration", "/app/admin/people": "Commerciaux et équipes",
                      "/app/admin/pipelines": "Pipelines", "/app/admin/settings": "Paramètres des fiches",
                      "/app/admin/automations": "Automatisations"}
    people = dom(w.client.get("/app/admin/people", headers=french).text)
    assert people.one("form#add-rep").one("h3").text == "Ajouter un commercial"
    assert people.one(f"tr.rep[data-rep-id={w.ids['rob']}]").one("td.active").text == "oui"


@pytest.mark.parametrize("path", PAGES[1:])
def test_an_admin_sees_the_write_controls_on_every_page(w: World, path: str) -> None:
    page = read(w, path)
    assert [e for e in page.walk() if "write" in e.classes]
    assert page.one("body").attrs["data-csrf"]
