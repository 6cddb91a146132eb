"""Hostile input on SQLite and PostgreSQL: SQL injection through every query parameter
of every read route (found in /openapi.json, so a new parameter is covered without a
word here), ids that are not UUIDs, and JSON bodies made to hurt a parser. Never a 5xx;
a refusal is a problem+json naming what was wrong; an answer leaks nothing; and the
event store and the read side's tables are exactly as they were."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from helpers import PROBLEM, assert_problem, deal, ok, pipeline, read

INJECTIONS = [
    "' OR 1=1 --",
    "' OR '1'='1",
    "'; DROP TABLE contacts; --",
    "1) UNION SELECT id, email, NULL FROM reps --",
    "x' UNION SELECT table_name FROM information_schema.tables --",
    "1; SELECT * FROM duckdb_tables()",
    "'||(SELECT version())||'",
    "created_at DESC; DROP TABLE deals",  # what a sort parameter would be sent
    "name ASC NULLS FIRST, (SELECT 1)",
    '"', "'", "\\", "\\'", "%", "_", "%' --", "*",
    "a\x00b",
    "Ωmega 日本語 🚀 \u202etxt.exe",
    "x" * 10_000,
]
# Already percent-encoded: bytes no text encodes to (invalid UTF-8, an encoded surrogate,
# an overlong dot) and a bare NUL.
RAW_QUERY_VALUES = ["%FF", "%ED%A0%80", "%C0%AE", "%00"]
HARMLESS = "no-such-value"  # matches no seeded record

NOT_UUIDS = ["' OR 1=1 --", "1 OR 1=1", "%27%3B%20DROP%20TABLE%20deals%3B%20--", "%00", "123",
             "00000000-0000-0000-0000-00000000000g", "x" * 1000, "%FF"]


def cursor(created_at: Any, id: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([created_at, id])).decode()


@pytest.fixture
def seeded(client) -> dict[str, str]:
    """One record of each kind, through the API, on the read side: ids by kind."""
    rep = ok(client.post("/reps", json={"name": "Ada Lovelace", "email": "ada@example.com"}))
    team = ok(client.post("/teams", json={"name": "West", "manager_id": rep["id"]}))
    ok(client.post(f"/teams/{team['id']}/members", json={"rep_id": rep["id"]}), 200)
    company = ok(client.post("/companies", json={"name": "Acme", "sector": "Retail", "properties": {"tier": "gold"}}))
    contact = ok(client.post("/contacts", json={
        "first_name": "Jean", "last_name": "Dupont", "email": "jean@acme.example", "company_id": company["id"],
        "owner_id": rep["id"], "source": "trade show", "status": "lead", "tags": ["Gold"]}))
    p = pipeline(client)
    d = deal(client, p["id"], owner_id=rep["id"], company_id=company["id"], contact_ids=[contact["id"]], source="trade show")
    read(client, "/deals", d["position"])
    return {"rep": rep["id"], "team": team["id"], "company": company["id"], "contact": contact["id"],
            "pipeline": p["id"], "deal": d["id"]}


def operations(client, method: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, by_method in client.get("/openapi.json").json()["paths"].items():
        if method in by_method:
            yield path, by_method[method]


# Path parameters that are names, not ids (the settings): a valid value each.
NAMED = {"record_type": "contact", "name": "budget", "category": "potential"}


def is_id(param: dict[str, Any]) -> bool:
    return param.get("schema", {}).get("format") == "uuid"


def fill(path: str, operation: dict[str, Any], seeded: dict[str, str], **given: str) -> str:
    """The path with a seeded id in each {kind_id}; a kind not seeded here gets a fresh
    UUID (its query parameters are still validated, but may not reach SQL: seed it)."""
    for param in operation.get("parameters", []):
        if param["in"] == "path":
            name = param["name"]
            value = given.get(name) or seeded.get(name.removesuffix("_id")) or (
                str(uuid.uuid4()) if is_id(param) else NAMED[name])
            path = path.replace("{" + name + "}", value)
    return path


def query_params(operation: dict[str, Any]) -> list[str]:
    return [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]


def names_the_param(response: Any, field: str) -> bool:
    if response.status_code != 422 or not response.headers["content-type"].startswith(PROBLEM):
        return False
    # A repeatable parameter names the value it refused: query.type[0].
    return any(error["field"] == field or error["field"].startswith(f"{field}[") for error in response.json().get("errors", []))


def test_injections_through_every_query_parameter_find_nothing_and_change_nothing(client, seeded, untouched):
    failures, sent = [], 0
    for template, operation in operations(client, "get"):
        path = fill(template, operation, seeded)
        for name in query_params(operation):
            harmless = client.get(f"{path}?{name}={HARMLESS}")
            if harmless.status_code == 200 and "items" in harmless.json() and harmless.json()["items"]:
                failures.append(f"GET {template}?{name}={HARMLESS}: the filter did not filter")
            for value in [quote(p, safe="") for p in INJECTIONS] + RAW_QUERY_VALUES:
                response = client.get(f"{path}?{name}={value}")
                sent += 1
                where = f"GET {template}?{name}={value[:40]}"
                if 200 <= response.status_code < 300:
                    if harmless.status_code != 200 or response.json() != harmless.json():
                        failures.append(f"{where}: answered {response.status_code} unlike a harmless value")
                elif not names_the_param(response, f"query.{name}"):
                    failures.append(f"{where}: {response.status_code} {response.text[:200]}")
    assert sent > 500  # every list route, every parameter
    assert failures == []


def test_injection_characters_are_data_matched_literally(client, seeded):
    # Statuses and sources come from their configured lists: these are configured first.
    ok(client.put("/settings/statuses", json={"statuses": ["lead", "prospect", "\"; DELETE FROM deals; --"]}), 200)
    ok(client.put("/settings/sources", json={"sources": ["trade show", "' OR 1=1 --"]}), 200)
    bobby = ok(client.post("/contacts", json={
        "first_name": "Robert'); DROP TABLE contacts;--", "last_name": "O'Brien \\ 100% _", "email": "bobby@example.com",
        "source": "' OR 1=1 --", "status": "\"; DELETE FROM deals; --", "tags": ["'; DROP TABLE deals; --"]}))
    read(client, "/contacts", bobby["position"])
    for query in ["source=' OR 1=1 --", "status=\"; DELETE FROM deals; --", "tag='; DROP TABLE deals; --",
                  "q=); DROP TABLE", "q=O'Brien", "q=\\ 100% _", "q=%", "q=_"]:
        name, value = query.split("=", 1)
        page = ok(client.get(f"/contacts?{name}={quote(value, safe='')}"), 200)
        assert [c["id"] for c in page["items"]] == [bobby["id"]], query
    assert len(ok(client.get("/contacts"), 200)["items"]) == 2
    assert len(ok(client.get("/deals"), 200)["items"]) == 1


def test_a_forged_cursor_is_refused_or_pages_no_further_than_the_filter(client, seeded, untouched):
    some_id = str(uuid.uuid4())
    for forged in [cursor("2026-03-01T09:00:00+00:00", "' OR 1=1 --"), cursor("' OR 1=1 --", some_id),
                   cursor("2026-03-01T09:00:00+00:00; DROP TABLE reps", some_id), cursor(1, 2),
                   base64.urlsafe_b64encode(b"'; DROP TABLE reps; --").decode(), cursor("2026-03-01T24:00:00", some_id)]:
        assert names_the_param(client.get(f"/reps?cursor={forged}"), "query.cursor"), forged
    everyone = ok(client.get("/reps"), 200)["items"]
    # Well-formed but not ours, in spellings Python reads and DuckDB's cast did not (500s before).
    for forged in [cursor("9999-12-31T23:59:59,5+00:00", some_id), cursor("9999-12-31T23:59:59+00:00", f"urn:uuid:{some_id}"),
                   cursor("99991231T235959", "{" + some_id + "}")]:
        assert ok(client.get(f"/reps?cursor={forged}"), 200)["items"] == everyone, forged
    assert ok(client.get(f"/reps?cursor={cursor('0001-01-01T00:00:00+14:00', some_id)}"), 200)["items"] == []


def test_ids_that_are_not_uuids_are_a_422_naming_the_path_parameter(client, seeded, untouched):
    failures = []
    for method in ("get", "post", "patch", "put", "delete"):
        for template, operation in operations(client, method):
            for param in (p["name"] for p in operation.get("parameters", []) if p["in"] == "path" and is_id(p)):
                for bad in NOT_UUIDS:
                    path = fill(template, operation, seeded, **{param: bad})
                    response = client.request(method.upper(), path, json={} if method != "get" else None)
                    if not names_the_param(response, f"path.{param}"):
                        failures.append(f"{method.upper()} {path[:80]}: {response.status_code} {response.text[:200]}")
    assert failures == []


def deep_bodies() -> dict[str, bytes]:
    n = 100_000
    return {
        "arrays": b"[" * n + b"]" * n,
        "objects": b'{"a":' * n + b"1" + b"}" * n,
        "in a field": b'{"name": "x", "properties": ' + b"[" * n + b"]" * n + b"}",
        "unclosed": b'{"name": ' + b"[" * n,
    }


def test_deeply_nested_json_is_refused_at_once_on_every_command_route(client, seeded, untouched):
    commands = [(m.upper(), fill(t, op, seeded)) for m in ("post", "patch", "put")
                for t, op in operations(client, m) if "requestBody" in op]
    assert len(commands) >= 15
    for method, path in commands:
        for shape, body in deep_bodies().items():
            started = time.perf_counter()
            response = client.request(method, path, content=body, headers={"content-type": "application/json"})
            assert_problem(response, 400, "json-too-deep")
            assert time.perf_counter() - started < 2, (method, path, shape)  # a scan, not a parse


@pytest.mark.parametrize("body", [b"[]", b'"x"', b"1", b"true", b"[{}]"])
def test_a_body_that_is_not_an_object_is_a_422_on_every_command_route(client, seeded, untouched, body):
    for method in ("post", "patch", "put"):
        for template, operation in operations(client, method):
            if "requestBody" in operation:
                response = client.request(method.upper(), fill(template, operation, seeded), content=body,
                                          headers={"content-type": "application/json"})
                problem = assert_problem(response, 422, "invalid-field")
                assert [e["field"] for e in problem["errors"]] == ["body"], (method, template)


def company(client, raw: bytes) -> Any:
    return client.post("/companies", content=raw, headers={"content-type": "application/json"})


def nested(depth: int) -> bytes:
    """A company body whose deepest value sits ``depth`` levels down (the body is level 1)."""
    inner = depth - 1
    return b'{"name": "Deep", "properties": ' + b'{"a": ' * inner + b"1" + b"}" * inner + b"}"


def test_nesting_up_to_64_levels_and_brackets_inside_strings_are_fine(client):
    ok(company(client, nested(64)))
    assert_problem(company(client, nested(65)), 400, "json-too-deep")
    created = ok(company(client, b'{"name": "\\"' + b"[" * 150 + b'", "sector": "' + b"{" * 150 + b'"}'))
    row = read(client, f"/companies/{created['id']}", created["position"])
    assert row["name"] == '"' + "[" * 150 and row["sector"] == "{" * 150


@pytest.mark.parametrize("raw, status, rule, field", [
    (b'{"name": "a", "name": "b"}', 400, "duplicate-key", None),
    (b'{"name": "a", "properties": {"k": 1, "k": 2}}', 400, "duplicate-key", None),
    (b'{"name": "a", "properties": {"k": NaN}}', 400, "malformed-json", None),
    (b'{"name": "a", "annual_revenue": Infinity}', 400, "malformed-json", None),
    (b'{"name": "\xff\xfe"}', 400, "malformed-json", None),
    (b'{"name": "\xed\xa0\x80"}', 400, "malformed-json", None),  # a surrogate, encoded in UTF-8
    ('{"name": "a"}'.encode("utf-16"), 400, "malformed-json", None),  # JSON between systems is UTF-8
    (b'{"name": "a",', 400, "malformed-json", None),
    (b'{"name": "a"} {}', 400, "malformed-json", None),
    (b'{"name": "a", "annual_revenue": 1e999999}', 422, "invalid-field", "annual_revenue"),
    (b'{"name": "a", "properties": {"k": 1e999999}}', 422, "invalid-field", "properties.k"),
    (b'{"name": "a", "properties": {"k": [1, 9223372036854775808]}}', 422, "invalid-field", "properties.k[1]"),
    (b'{"name": "a", "properties": {"k": -' + b"9" * 5000 + b"}}", 422, "invalid-field", "properties.k"),
    (b'{"name": "a\\u0000b"}', 422, "invalid-field", "name"),  # PostgreSQL's jsonb cannot hold it
    (b'{"name": "a", "properties": {"k\\u0000": 1}}', 422, "invalid-field", "properties.k\\x00"),
    (b'{"name": "\\ud800"}', 422, "invalid-field", "name"),
    (b'{"name": "a", "properties": {"\\udfff": "x"}}', 422, "invalid-field", "properties.\\udfff"),
])
def test_json_the_store_could_not_keep_is_refused_by_name(client, untouched, raw, status, rule, field):
    problem = assert_problem(company(client, raw), status, rule)
    if field:
        assert [e["field"] for e in problem["errors"]] == [field]


def test_what_looks_like_trouble_but_is_not_is_kept_exactly(client):
    created = ok(company(client, b'\xef\xbb\xbf{"name": "\\\\u0000 \\ud83d\\ude80", "properties": {"big": 9223372036854775807,'
                                 b' "small": -9223372036854775808, "x": 1e308}}'))  # with a byte order mark
    row = read(client, f"/companies/{created['id']}", created["position"])
    assert row["name"] == "\\u0000 🚀"
    assert row["properties"] == {"big": 2**63 - 1, "small": -(2**63), "x": 1e308}
