"""The contract at the HTTP edge, held strictly (SQLite and PostgreSQL): times are ISO 8601
strings with an offset and dates ISO dates, never numbers; a read asking for a log
position no write has reached is told so at once; a 405 says which methods the path
takes; If-Match is documented as what it accepts."""

from __future__ import annotations

import re
import uuid
from dataclasses import replace
from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient
from helpers import assert_problem, deal, ok, pipeline

from crm_es.entrypoints.http.app import create_app

NOW = "2026-02-27T09:30:00+01:00"  # before the tests' clock (2026-03-01 09:00 UTC): a valid past
# What a request may not give as a time: seconds since 1970 (as a number, a decimal, or
# text in a query), a time without its offset, a date alone.
NOT_TIMES = [1700000000, 1700000000.5, "1700000000", "-1094", "2026-02-27T09:30:00", "2026-02-27"]
NOT_DAYS = [20260301, 1772323200, "20260301", "2026-03-01T00:00:00Z", "1772323200"]


def fields(problem: dict) -> set[str]:
    return {error["field"] for error in problem["errors"]}


@pytest.fixture
def records(client) -> dict[str, str]:
    """A rep, a contact and an open deal, to send commands about."""
    rep = ok(client.post("/reps", json={"name": "Rob Seller", "email": "rob@example.com", "occurred_at": NOW}))
    contact = ok(client.post("/contacts", json={"first_name": "Zoé", "last_name": "Roux", "email": "zoe@roux.example"}))
    made = deal(client, pipeline(client)["id"])
    return {"rep": rep["id"], "contact": contact["id"], "deal": made["id"], "position": str(made["position"])}


# --- times and dates ------------------------------------------------------------------


def time_bodies(ids: dict[str, str]) -> list[tuple[str, str, dict, str]]:
    """(method, path, body, the time field): one command of each body model that takes a time."""
    contact, rep, deal_id = ids["contact"], ids["rep"], ids["deal"]
    return [
        ("post", "/companies", {"name": "Acme"}, "occurred_at"),
        ("post", "/reps", {"name": "Ann", "email": "ann@example.com"}, "occurred_at"),
        ("patch", f"/reps/{rep}", {"name": "Robert"}, "occurred_at"),
        ("post", f"/deals/{deal_id}/stage", {"stage": "Demo"}, "occurred_at"),
        ("post", f"/contacts/{contact}/interactions", {"type": "note", "text": "called"}, "occurred_at"),
        ("post", "/tasks", {"type": "call", "title": "Call back", "owner_id": rep}, "due_at"),
        ("post", f"/contacts/{contact}/messages", {"body": "Hello"}, "send_at"),
        ("put", "/settings/sources", {"sources": ["trade show", "web"]}, "occurred_at"),
    ]


@pytest.mark.parametrize("bad", NOT_TIMES)
def test_a_time_in_a_body_is_an_iso_8601_string_with_its_offset(client, records, bad):
    for method, path, body, field in time_bodies(records):
        before = client.app.state.services.store.max_position()
        problem = assert_problem(getattr(client, method)(path, json={**body, field: bad}), 422, "invalid-field")
        assert fields(problem) == {field}, (path, problem)
        assert "ISO 8601" in problem["errors"][0]["message"]
        assert client.app.state.services.store.max_position() == before  # nothing written


def test_times_with_an_offset_or_z_are_taken(client, records):
    for at in (NOW, "2026-02-27T08:30:00Z", "2026-02-27T08:30:00.250z"):
        ok(client.post("/companies", json={"name": f"Acme {at}", "occurred_at": at}))
    answer = ok(client.post(f"/contacts/{records['contact']}/interactions",
                            json={"type": "note", "text": "called", "occurred_at": "2026-02-27T10:30:00+02:00"}))
    items = ok(client.get(f"/contacts/{records['contact']}/timeline?after={answer['position']}"), 200)["items"]
    [note] = [item for item in items if item["type"] == "note"]
    assert datetime.fromisoformat(note["occurred_at"]) == datetime(2026, 2, 27, 8, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize("bad", NOT_TIMES)
def test_a_time_in_a_query_is_an_iso_8601_string_with_its_offset(client, records, bad):
    period = {"from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}
    pipeline_id = ok(client.get(f"/deals/{records['deal']}?after={records['position']}"), 200)["pipeline_id"]
    for path, params, field in [
        (f"/pipelines/{pipeline_id}/board", {"known_at": bad}, "known_at"),
        (f"/pipelines/{pipeline_id}/board", {"as_of": bad}, "as_of"),
        ("/analytics/kpis", {**period, "from": bad}, "from"),
        ("/analytics/kpis", {**period, "to": bad}, "to"),
        (f"/contacts/{records['contact']}/timeline", {"from": bad}, "from"),
        (f"/contacts/{records['contact']}/history", {"as_of": bad}, "as_of"),
    ]:
        problem = assert_problem(client.get(path, params=params), 422, "invalid-field")
        assert fields(problem) == {f"query.{field}"}, (path, problem)


@pytest.mark.parametrize("bad", NOT_DAYS)
def test_a_date_is_an_iso_date_and_nothing_else(client, records, bad):
    before = client.app.state.services.store.max_position()
    deal_body = {"title": "t", "pipeline_id": ok(client.get(f"/deals/{records['deal']}?after={records['position']}"),
                                                 200)["pipeline_id"],
                 "stage": "Contact", "amount": "1", "currency": "EUR", "expected_close": bad}
    assert fields(assert_problem(client.post("/deals", json=deal_body), 422)) == {"expected_close"}
    quota = {"period_start": bad, "period_end": "2026-04-01", "amount": "1000", "currency": "EUR"}
    assert fields(assert_problem(client.post(f"/reps/{records['rep']}/quotas", json=quota), 422)) == {"period_start"}
    assert client.app.state.services.store.max_position() == before
    problem = assert_problem(client.get("/agenda", params={"rep": records["rep"], "date": bad}), 422)
    assert fields(problem) == {"query.date"}
    ok(client.post("/deals", json={**deal_body, "expected_close": "2026-06-30"}))


def test_the_document_says_each_time_and_date_is_a_string_of_its_format(client):
    """Every time and date a request carries, in a body or a query, as /openapi.json shows it."""
    document = client.get("/openapi.json").json()
    schemas, found, bodies = document["components"]["schemas"], {}, []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                found[f"{method} {path} ?{parameter['name']}"] = parameter["schema"]
            bodies += [media["schema"] for media in operation.get("requestBody", {}).get("content", {}).values()]
    for name in referenced(bodies, schemas):
        for field, prop in (schemas[name].get("properties") or {}).items():
            found[f"{name}.{field}"] = prop
    times = {where: schema for where, schema in found.items()
             if re.search(r"(_at|\.from|\.to|\?from|\?to|_on|expected_close|period_start|period_end|\?date)$", where)}
    assert len(times) > 40
    for where, schema in times.items():
        kinds = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
        assert kinds and all(s.get("type") == "string" and s.get("format") in ("date-time", "date") for s in kinds), \
            (where, schema)


def referenced(node, schemas: dict, seen: set[str] | None = None) -> set[str]:
    """The names of the component schemas a schema reaches through its $refs."""
    seen = set() if seen is None else seen
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        name = ref.rsplit("/", 1)[-1]
        if ref and name not in seen:
            seen.add(name)
            referenced(schemas[name], schemas, seen)
        for value in node.values():
            referenced(value, schemas, seen)
    elif isinstance(node, list):
        for value in node:
            referenced(value, schemas, seen)
    return seen


# --- ?after= beyond the log -----------------------------------------------------------


@pytest.fixture
def idle_client(services):
    """The app over services whose projector does not follow the log: the read side stays
    where it was, behind every write."""
    services.settings = replace(services.settings, read_wait_seconds=0.2)
    with TestClient(create_app(services)) as client:
        yield client


def test_a_position_beyond_the_log_is_a_422_at_once_and_one_within_it_still_waits(idle_client, services):
    written = ok(idle_client.post("/companies", json={"name": "Acme"}))["position"]
    assert services.store.max_position() == written and services.projector.position < written

    problem = assert_problem(idle_client.get(f"/companies?after={written + 1}"), 422, "invalid-field")
    assert fields(problem) == {"query.after"} and f"ends at {written}" in problem["detail"]
    problem = assert_problem(idle_client.get("/companies", headers={"X-After-Position": str(10**30)}), 422)
    assert fields(problem) == {"header.x-after-position"}

    # Within the log: the read side may still reach it, so the wait stays (then 503).
    behind = idle_client.get(f"/companies?after={written}")
    assert_problem(behind, 503, "read-side-behind")
    assert behind.headers["Retry-After"] == "1"
    services.projector.catch_up()
    assert [c["name"] for c in ok(idle_client.get(f"/companies?after={written}"), 200)["items"]] == ["Acme"]


# --- 405 and Allow --------------------------------------------------------------------


def test_every_405_says_which_methods_the_path_takes(client):
    document = client.get("/openapi.json").json()
    for template, operations in document["paths"].items():
        path = re.sub(r"\{[^}]*_id\}", str(uuid.uuid4()), template)
        path = re.sub(r"\{[^}]*\}", "x", path)
        documented = {method.upper() for method in operations}
        for method in sorted({"GET", "POST", "PUT", "PATCH", "DELETE"} - documented):
            answer = client.request(method, path)
            assert_problem(answer, 405, "method-not-allowed")
            assert set(answer.headers["Allow"].split(", ")) - {"HEAD"} == documented, (method, template)


# --- If-Match -------------------------------------------------------------------------


def test_if_match_is_documented_as_what_it_takes(client, services, records):
    [if_match] = [p for p in client.get("/openapi.json").json()["paths"]["/deals/{deal_id}/stage"]["post"]["parameters"]
                  if p["name"].lower() == "if-match"]
    schema = if_match["schema"]
    schema = next(s for s in schema.get("anyOf", [schema]) if s.get("type") == "string")
    assert schema["minLength"] == 1 and schema["pattern"]
    path = f"/deals/{records['deal']}/stage"
    for value in ["", " ", "soon", '"', '""', '"1', "1.0", 'W/"x"', '"1", "2"', "-1", '"99999999999999999999"']:
        assert not re.search(schema["pattern"], value), value  # the document says no …
        before = services.store.max_position()
        problem = assert_problem(client.post(path, json={"stage": "Demo"}, headers={"If-Match": value}), 422,
                                 "invalid-field")  # … and so does the server, naming the header
        assert fields(problem) == {"header.if-match"}, value
        assert services.store.max_position() == before
    version = 1
    for value in ['"1"', 'W/"2"', "3", "*"]:  # the ETag a read gives, its weak form, bare digits, any version
        assert re.search(schema["pattern"], value), value
        stage = ["Demo", "Signature", "Contact", "Demo"][version - 1]
        answer = ok(client.post(path, json={"stage": stage}, headers={"If-Match": value}), 200)
        version = answer["version"]
    assert_problem(client.post(path, json={"stage": "Contact"}, headers={"If-Match": '"1"'}), 412, "version-mismatch")
