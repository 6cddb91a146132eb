"""The record configuration over HTTP, on SQLite and PostgreSQL: custom properties
(required, typed, retired), statuses, sources, tag categories; a contact's lifecycle
stages with their dates, its roles at a company and leaving that company."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from helpers import assert_problem, deal, ok, pipeline, read

from crm_es.aggregates.setup import DEFAULT_SOURCES, DEFAULT_STATUSES
from crm_es.bootstrap import Services


def contact(client: TestClient, email: str = "ada@example.com", **fields: Any) -> Any:
    return client.post("/contacts", json={"first_name": "Ada", "last_name": "Lovelace", "email": email, **fields})


def rows(services: Services, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    services.projector.catch_up()
    with services.read_side.cursor() as cur:
        return cur.execute(sql, params or []).fetchall()


def fields_of(response: Any) -> list[str]:
    return [e["field"] for e in assert_problem(response, 422, "invalid-input")["errors"]]


class NothingWritten:
    def __init__(self, services: Services) -> None:
        self.store = services.store

    def __enter__(self) -> None:
        self.before = self.store.max_position()

    def __exit__(self, *_: Any) -> None:
        assert self.store.max_position() == self.before


def test_the_defaults_hold_until_changed(client: TestClient, services: Services) -> None:
    response = client.get("/settings")
    settings = ok(response, 200)

    assert settings["version"] == 0 and response.headers["ETag"] == '"0"'
    assert settings["statuses"] == list(DEFAULT_STATUSES) and settings["sources"] == list(DEFAULT_SOURCES)
    assert settings["lifecycle_stages"] == ["potential", "active", "loyal", "lost"]
    assert settings["tag_categories"] == {"potential": ["Gold", "Silver", "Bronze"]}
    assert settings["properties"] == {"contact": [], "company": [], "deal": []}
    assert rows(services, "SELECT count(*) FROM statuses") == [(0,)]  # nothing configured yet: the defaults hold

    ok(client.put("/settings/sources", json={"sources": ["referral", "partner"]}), 200)

    assert rows(services, "SELECT name, sort_order FROM sources ORDER BY sort_order") == [("referral", 0), ("partner", 1)]
    assert rows(services, "SELECT name FROM statuses ORDER BY sort_order") == [(s,) for s in DEFAULT_STATUSES]  # seeded


@pytest.mark.parametrize("record_type", ["contact", "company", "deal"])
def test_a_required_property_missing_at_creation_is_a_422_naming_it(client: TestClient, services: Services,
                                                                    record_type: str) -> None:
    ok(client.put(f"/settings/properties/{record_type}/budget",
                  json={"type": "money", "required": True, "default_currency": "EUR"}), 200)
    p = pipeline(client)
    create = {
        "contact": lambda props: contact(client, properties=props),
        "company": lambda props: client.post("/companies", json={"name": "Acme", "properties": props}),
        "deal": lambda props: client.post("/deals", json={"title": "D", "pipeline_id": p["id"], "stage": "Contact",
                                                          "amount": "1.00", "currency": "EUR", "properties": props}),
    }[record_type]

    with NothingWritten(services):
        assert fields_of(create({})) == ["properties.budget"]
        assert fields_of(create({"budget": None, "other": 1})) == ["properties.budget"]
    created = ok(create({"budget": "1200"}))

    path = {"contact": "contacts", "company": "companies", "deal": "deals"}[record_type]
    row = read(client, f"/{path}/{created['id']}", created["position"])
    assert row["properties"] == {"budget": {"amount": "1200", "currency": "EUR"}}


@pytest.mark.parametrize(("type_", "extra", "bad", "good", "stored"), [
    ("number", {}, "many", "42", 42),
    ("money", {"default_currency": "EUR"}, "12,50", "12.50 USD", {"amount": "12.50", "currency": "USD"}),
    ("money", {}, "12.50", {"amount": "12.50", "currency": "GBP"}, {"amount": "12.50", "currency": "GBP"}),
    ("date", {}, "01/03/2026", "2026-03-01", "2026-03-01"),
    ("boolean", {}, "maybe", True, True),
    ("choice", {"choices": ["S", "M", "L"]}, "XL", "m", "M"),
    ("multi_choice", {"choices": ["crm", "erp"]}, ["crm", "hr"], ["erp"], ["erp"]),
    ("text", {}, 42, "hello", "hello"),
])
def test_a_property_value_of_the_wrong_type_is_a_422_naming_it(client: TestClient, services: Services, type_: str,
                                                               extra: dict[str, Any], bad: Any, good: Any, stored: Any) -> None:
    ok(client.put("/settings/properties/contact/field", json={"type": type_, **extra}), 200)

    with NothingWritten(services):
        refused = contact(client, properties={"field": bad})
        assert fields_of(refused) == ["properties.field"]
    created = ok(contact(client, properties={"field": good}))
    with NothingWritten(services):  # a change is checked too
        assert fields_of(client.patch(f"/contacts/{created['id']}", json={"properties": {"field": bad}})) == ["properties.field"]

    assert read(client, f"/contacts/{created['id']}", created["position"])["properties"] == {"field": stored}


def test_every_bad_field_of_a_request_is_named_at_once(client: TestClient) -> None:
    ok(client.put("/settings/properties/contact/seats", json={"type": "number", "required": True}), 200)

    fields = fields_of(contact(client, status="lost", source="fair", lifecycle="gone", properties={"seats": "x"}))

    assert fields == ["properties.seats", "status", "source", "lifecycle"]


def test_a_property_defined_then_retired_is_no_longer_required_nor_checked(client: TestClient, services: Services) -> None:
    first = ok(client.put("/settings/properties/contact/seats", json={"type": "number", "required": True}), 200)
    ok(client.put("/settings/properties/contact/seats", json={"type": "number", "required": True}), 200)  # no change
    assert ok(client.get("/settings"), 200)["version"] == first["version"]
    assert fields_of(contact(client)) == ["properties.seats"]

    retired = ok(client.delete("/settings/properties/contact/seats"), 200)

    assert ok(client.get("/settings"), 200)["properties"]["contact"] == []
    ok(contact(client, properties={"seats": "not checked any more"}))
    [(type_, required, retired_at)] = rows(services, "SELECT type, required, retired_at FROM properties WHERE id = 'contact:seats'")
    assert (type_, required) == ("number", True) and retired_at is not None
    assert_problem(client.delete("/settings/properties/contact/seats"), 404, "not-found")
    assert retired["version"] == first["version"] + 1

    # Defined again: a new definition, checked again.
    ok(client.put("/settings/properties/contact/seats", json={"type": "text"}), 200)
    assert rows(services, "SELECT type, retired_at FROM properties WHERE id = 'contact:seats'") == [("text", None)]


def test_a_definition_that_does_not_hold_together_is_refused(client: TestClient, services: Services) -> None:
    with NothingWritten(services):
        assert_problem(client.put("/settings/properties/contact/size", json={"type": "choice"}), 422)
        assert_problem(client.put("/settings/properties/contact/size", json={"type": "text", "default_currency": "EUR"}), 422)
        assert_problem(client.put("/settings/properties/ticket/size", json={"type": "text"}), 422)
        assert_problem(client.put("/settings/properties/contact/1size", json={"type": "text"}), 422)
        assert_problem(client.put("/settings/properties/contact/size", json={"type": "colour"}), 422)


def test_custom_statuses_then_an_unknown_status_is_a_422_listing_them(client: TestClient, services: Services) -> None:
    kept = ok(contact(client, "bea@example.com", status="cold prospect"))
    ok(client.put("/settings/statuses", json={"statuses": ["new", "qualified", "customer"]}), 200)

    with NothingWritten(services):
        refused = assert_problem(contact(client, status="prospect"), 422, "invalid-input")
        assert_problem(client.patch(f"/contacts/{kept['id']}", json={"status": "lead"}), 422, "invalid-input")
    assert refused["errors"] == [{"field": "status", "allowed": ["new", "qualified", "customer"],
                                  "message": refused["errors"][0]["message"]}]
    assert "new, qualified, customer" in refused["errors"][0]["message"]

    created = ok(contact(client, status="Qualified"))
    defaulted = ok(contact(client, "cy@example.com"))  # "prospect" is gone: the first status is the default
    assert read(client, f"/contacts/{created['id']}", created["position"])["status"] == "qualified"
    assert read(client, f"/contacts/{defaulted['id']}", defaulted["position"])["status"] == "new"
    # A contact keeps a status the list no longer has, and its other changes still go through.
    changed = ok(client.patch(f"/contacts/{kept['id']}", json={"city": "Paris"}), 200)
    assert read(client, f"/contacts/{kept['id']}", changed["position"])["status"] == "cold prospect"
    assert rows(services, "SELECT name FROM statuses ORDER BY sort_order") == [("new",), ("qualified",), ("customer",)]


def test_contacts_and_deals_come_from_a_configured_source(client: TestClient, services: Services) -> None:
    p = pipeline(client)
    with NothingWritten(services):
        assert fields_of(contact(client, source="fair")) == ["source"]
        assert fields_of(client.post("/deals", json={"title": "D", "pipeline_id": p["id"], "stage": "Contact",
                                                     "amount": "1.00", "currency": "EUR", "source": "fair"})) == ["source"]
    ok(client.put("/settings/sources", json={"sources": ["fair", "referral"]}), 200)

    c = ok(contact(client, source="fair"))
    d = deal(client, p["id"], source="Fair")
    with NothingWritten(services):
        assert fields_of(client.patch(f"/deals/{d['id']}", json={"source": "website"})) == ["source"]
    moved = ok(client.patch(f"/deals/{d['id']}", json={"source": "referral"}), 200)

    assert read(client, f"/contacts/{c['id']}", c["position"])["source"] == "fair"
    assert read(client, f"/deals/{d['id']}", moved["position"])["source"] == "referral"


def test_tag_categories_group_tags_a_tag_in_one_only(client: TestClient, services: Services) -> None:
    ok(client.put("/settings/tag-categories/sector", json={"tags": ["Retail", "Industry"]}), 200)
    with NothingWritten(services):
        assert assert_problem(client.put("/settings/tag-categories/sector", json={"tags": ["Gold"]}), 422)["errors"][0][
            "field"] == "tags[0]"
    ok(client.put("/settings/tag-categories/potential", json={"tags": ["Gold", "Platinum"]}), 200)
    ok(client.delete("/settings/tag-categories/sector"), 200)

    assert ok(client.get("/settings"), 200)["tag_categories"] == {"potential": ["Gold", "Platinum"]}
    assert rows(services, "SELECT category, tag, sort_order FROM tags ORDER BY category, sort_order") == [
        ("potential", "Gold", 0), ("potential", "Platinum", 1)]
    assert_problem(client.delete("/settings/tag-categories/sector"), 404, "not-found")


def test_each_lifecycle_change_is_kept_with_its_date(client: TestClient, services: Services) -> None:
    created = ok(contact(client, lifecycle="potential", occurred_at="2026-01-05T09:00:00+01:00"))
    ok(client.patch(f"/contacts/{created['id']}", json={"lifecycle": "active", "occurred_at": "2026-02-01T10:00:00+01:00"}), 200)
    with NothingWritten(services):
        assert fields_of(client.patch(f"/contacts/{created['id']}", json={"lifecycle": "permanent"})) == ["lifecycle"]
    last = ok(client.patch(f"/contacts/{created['id']}", json={"lifecycle": "Loyal", "occurred_at": "2026-02-20T08:00:00Z"}), 200)
    ok(client.patch(f"/contacts/{created['id']}", json={"lifecycle": "loyal"}), 200)  # no change: nothing recorded

    row = read(client, f"/contacts/{created['id']}", last["position"])
    history = rows(services, "SELECT stage, previous_stage, strftime(occurred_at AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M') "
                             "FROM contact_lifecycle_changes WHERE contact_id = ? ORDER BY position", [created["id"]])

    assert (row["lifecycle"], row["lifecycle_changed_at"]) == ("loyal", "2026-02-20T08:00:00+00:00")
    assert history == [("potential", None, "2026-01-05 08:00"), ("active", "potential", "2026-02-01 09:00"),
                       ("loyal", "active", "2026-02-20 08:00")]


def test_roles_at_a_company_end_when_the_contact_leaves_and_the_history_stays(client: TestClient, services: Services) -> None:
    acme = ok(client.post("/companies", json={"name": "Acme"}))
    ada = ok(contact(client, company_id=acme["id"], roles=["decision maker"], occurred_at="2026-01-05T09:00:00Z"))
    ok(client.patch(f"/contacts/{ada['id']}", json={"roles": ["decision maker", "Billing Contact"],
                                                    "occurred_at": "2026-01-10T09:00:00Z"}), 200)
    with NothingWritten(services):
        assert fields_of(client.patch(f"/contacts/{ada['id']}", json={"roles": ["boss"]})) == ["roles[0]"]
        assert_problem(contact(client, "bea@example.com", roles=["user"]), 422)  # no company: no role

    left = ok(client.post(f"/contacts/{ada['id']}/left-company", json={"note": "joined a competitor",
                                                                         "occurred_at": "2026-02-01T17:00:00Z"}), 200)

    row = read(client, f"/contacts/{ada['id']}", left["position"])
    assert (row["company_id"], row["roles"]) == (None, [])
    history = rows(services, "SELECT role, company_id::VARCHAR, strftime(started_at AT TIME ZONE 'UTC', '%m-%d'), "
                             "strftime(ended_at AT TIME ZONE 'UTC', '%m-%d') FROM contact_roles WHERE contact_id = ? "
                             "ORDER BY started_at, role", [ada["id"]])
    assert history == [("decision maker", acme["id"], "01-05", "02-01"), ("billing contact", acme["id"], "01-10", "02-01")]
    assert_problem(client.post(f"/contacts/{ada['id']}/left-company", json={}), 409, "no-company")
    assert_problem(client.post("/contacts/00000000-0000-0000-0000-000000000000/left-company"), 404, "not-found")


def test_a_contact_moved_to_another_company_ends_its_roles_at_the_first(client: TestClient, services: Services) -> None:
    acme, globex = (ok(client.post("/companies", json={"name": name})) for name in ("Acme", "Globex"))
    ada = ok(contact(client, company_id=acme["id"], roles=["user", "influencer"]))

    moved = ok(client.patch(f"/contacts/{ada['id']}", json={"company_id": globex["id"], "roles": ["decision maker"]}), 200)

    assert read(client, f"/contacts/{ada['id']}", moved["position"])["roles"] == ["decision maker"]
    held = rows(services, "SELECT role, company_id::VARCHAR, ended_at IS NULL FROM contact_roles WHERE contact_id = ? "
                          "ORDER BY role", [ada["id"]])
    assert held == [("decision maker", globex["id"], True), ("influencer", acme["id"], False), ("user", acme["id"], False)]


def test_a_forgotten_contacts_departure_note_is_erased(client: TestClient, services: Services) -> None:
    acme = ok(client.post("/companies", json={"name": "Acme"}))
    ada = ok(contact(client, company_id=acme["id"]))
    ok(client.post(f"/contacts/{ada['id']}/left-company", json={"note": "Ada moved to Lyon"}), 200)
    ok(client.post(f"/contacts/{ada['id']}/forget", json={}), 200)

    [left] = [e for e in services.store.events(UUID(ada["id"])) if type(e).__name__ == "LeftCompany"]
    assert left.note is None and left.company_id is not None
