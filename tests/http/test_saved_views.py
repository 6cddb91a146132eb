"""Saved views (issue 19) through HTTP on both stores: each person's own — saved, listed for
their owner only, changed, removed; a retried POST writes nothing; another person's view is
not found; the views come back after the read side is rebuilt from the log."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from helpers import assert_problem, ok

from crm_es.auth.roles import Role
from crm_es.bootstrap import Services

VIEW = {"list": "contacts", "name": "My leads", "filters": {"status": "lead", "tag": ""}}


class People:
    def __init__(self, client: TestClient, services: Services) -> None:
        self.client, self.services, self.tokens, self.ids = client, services, {}, {}
        _, self.tokens["admin"] = services.api_keys.create(Role.ADMIN, name="admin")
        for name in ("rob", "eve"):
            self.ids[name] = ok(self.call("admin", "POST", "/reps", {"name": name.title(), "email": f"{name}@example.com"}))["id"]
            _, self.tokens[name] = services.api_keys.create(Role.REP, UUID(self.ids[name]), name)
        for name, role in (("auditor", Role.AUDITOR), ("analyst", Role.ANALYST)):
            _, self.tokens[name] = services.api_keys.create(role, name=name)

    def call(self, who: str, method: str, path: str, body: Any = None, **headers: str) -> Any:
        headers["Authorization"] = f"Bearer {self.tokens[who]}"
        return self.client.request(method, path, json=body, headers=headers)

    def views(self, who: str, position: int, kind: str | None = "contacts") -> list[dict[str, Any]]:
        query = f"?after={position}" + (f"&list={kind}" if kind else "")
        return ok(self.call(who, "GET", f"/views{query}"), 200)["items"]


@pytest.fixture
def people(client: TestClient, services: Services) -> People:
    return People(client, services)


def test_a_view_is_saved_listed_for_its_owner_only_changed_and_removed(people: People) -> None:
    saved = ok(people.call("rob", "POST", "/views", VIEW))
    [view] = people.views("rob", saved["position"])
    assert view["id"] == saved["id"] and view["name"] == "My leads" and view["version"] == 1
    assert view["filters"] == {"status": "lead"}  # an empty filter is no filter
    assert view["saved_by"] == f"rep:{people.ids['rob']}"
    assert people.views("eve", saved["position"]) == [] and people.views("rob", saved["position"], "deals") == []
    assert people.views("admin", saved["position"], None) == []  # an admin sees their own views only too

    body = {"list": "contacts", "name": "Customers", "filters": {"status": "customer"}}
    changed = ok(people.call("rob", "PUT", f"/views/{saved['id']}", body, **{"If-Match": '"1"'}), 200)
    assert changed["version"] == 2
    [view] = people.views("rob", changed["position"])
    assert (view["name"], view["filters"], view["version"]) == ("Customers", {"status": "customer"}, 2)
    same = ok(people.call("rob", "PUT", f"/views/{saved['id']}", body), 200)
    assert same["version"] == 2  # the same view again: nothing recorded
    assert_problem(people.call("rob", "PUT", f"/views/{saved['id']}", body, **{"If-Match": '"1"'}), 412)

    removed = ok(people.call("rob", "DELETE", f"/views/{saved['id']}"), 200)
    assert removed["version"] == 3 and people.views("rob", removed["position"]) == []
    assert_problem(people.call("rob", "DELETE", f"/views/{saved['id']}"), 404)
    assert_problem(people.call("rob", "PUT", f"/views/{saved['id']}", body), 404)


def test_another_persons_view_is_not_found_and_nothing_is_written(people: People, services: Services) -> None:
    saved = ok(people.call("rob", "POST", "/views", VIEW))
    before = services.store.max_position()
    for who in ("eve", "admin"):
        assert_problem(people.call(who, "PUT", f"/views/{saved['id']}", VIEW), 404, "not-found")
        assert_problem(people.call(who, "DELETE", f"/views/{saved['id']}"), 404, "not-found")
    other_record = people.ids["rob"]  # a rep's id is no view
    assert_problem(people.call("rob", "DELETE", f"/views/{other_record}"), 404)
    assert services.store.max_position() == before
    assert [v["id"] for v in people.views("rob", saved["position"])] == [saved["id"]]


def test_a_retried_save_with_the_same_idempotency_key_writes_nothing(people: People, services: Services) -> None:
    first = people.call("rob", "POST", "/views", VIEW, **{"Idempotency-Key": "view-1"})
    before = services.store.max_position()
    again = people.call("rob", "POST", "/views", VIEW, **{"Idempotency-Key": "view-1"})
    assert (again.status_code, again.json()) == (first.status_code, first.json()) == (201, first.json())
    assert services.store.max_position() == before
    assert len(people.views("rob", before)) == 1
    assert_problem(people.call("rob", "POST", "/views", {**VIEW, "name": "Other"}, **{"Idempotency-Key": "view-1"}), 422)


@pytest.mark.parametrize(("body", "field"), [
    ({**VIEW, "filters": {"stage": "Demo"}}, "filters.stage"),  # a deals filter, not a contacts one
    ({**VIEW, "filters": {"owner": "rob"}}, "filters.owner"),
    ({**VIEW, "list": "reps"}, "list"),
    ({**VIEW, "name": ""}, "name"),
    ({**VIEW, "colour": "red"}, "colour"),
])
def test_a_view_the_list_cannot_take_is_refused_naming_the_field(people: People, services: Services,
                                                                body: dict[str, Any], field: str) -> None:
    before = services.store.max_position()
    problem = assert_problem(people.call("rob", "POST", "/views", body), 422)
    assert field in {e["field"] for e in problem["errors"]}
    assert services.store.max_position() == before


def test_who_may_keep_views(people: People) -> None:
    """Reps, managers and admins keep views; auditors write nothing and analysts read no
    records, so neither saves one (403). Role by role, since the role matrix cannot make a
    view that is the caller's own (tests/http/test_roles.py: TESTED_APART)."""
    mine = {who: ok(people.call(who, "POST", "/views", VIEW))["id"] for who in ("rob", "admin")}
    for who in ("auditor", "analyst"):
        assert_problem(people.call(who, "POST", "/views", VIEW), 403, "role-not-allowed")
        assert_problem(people.call(who, "GET", "/views"), 403, "role-not-allowed")
        assert_problem(people.call(who, "PUT", f"/views/{mine['rob']}", VIEW), 403, "role-not-allowed")
        assert_problem(people.call(who, "DELETE", f"/views/{mine['rob']}"), 403, "role-not-allowed")
    for who, view_id in mine.items():
        ok(people.call(who, "PUT", f"/views/{view_id}", {**VIEW, "name": "Renamed"}), 200)
        ok(people.call(who, "DELETE", f"/views/{view_id}"), 200)
    assert_problem(people.client.delete(f"/views/{mine['rob']}"), 401)


def test_the_views_come_back_after_the_read_side_is_rebuilt(people: People, services: Services) -> None:
    kept = ok(people.call("rob", "POST", "/views", VIEW))
    gone = ok(people.call("rob", "POST", "/views", {**VIEW, "name": "Gone"}))
    position = ok(people.call("rob", "DELETE", f"/views/{gone['id']}"), 200)["position"]
    shown = people.views("rob", position)
    services.stop()
    services.read_side.recreate()  # what `crm-es rebuild` does
    services.projector.reset()
    services.projector.catch_up()
    assert people.views("rob", position) == shown and [v["id"] for v in shown] == [kept["id"]]


def test_a_view_keeps_no_search_text_of_contacts_which_may_name_a_person(people: People, services: Services) -> None:
    before = services.store.max_position()
    refused = people.call("rob", "POST", "/views", {"list": "contacts", "name": "Dupont", "filters": {"q": "dupont"}})
    assert refused.status_code == 422 and "filters" in refused.text and "q" in refused.text
    assert services.store.max_position() == before  # nothing written
    deals = ok(people.call("rob", "POST", "/views", {"list": "deals", "name": "Fleet", "filters": {"q": "fleet"}}))
    assert people.views("rob", deals["position"], "deals")[0]["filters"] == {"q": "fleet"}  # a deal's title may be searched


@pytest.mark.parametrize("tag", [{}, [], 7, None])
def test_a_list_sent_as_any_other_json_is_a_422_naming_it_never_a_500(people: People, tag: object) -> None:
    refused = people.call("rob", "POST", "/views", {"list": tag, "name": "x", "filters": {}})
    assert refused.status_code == 422 and refused.headers["content-type"].startswith("application/problem+json")
    assert "list" in {e["field"] for e in refused.json()["errors"]}
