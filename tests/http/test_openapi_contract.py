"""The OpenAPI document tells the truth, on SQLite and PostgreSQL: every read of a populated
CRM answers a body its documented schema accepts (formats checked, money as decimal text),
in a documented media type; every error status an operation can answer is documented as
the one problem+json schema; the answers keep the fields they do not declare; and /docs
and /redoc work without the internet."""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from helpers import PROBLEM
from populated import filled, populate

from crm_es.entrypoints.http.app import create_app
from crm_es.auth.roles import rule_for


def is_decimal(text: str) -> bool:
    try:
        return Decimal(text).is_finite()
    except InvalidOperation:
        return False


def validator(doc: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A JSON Schema validator of one answer's schema, its $refs read in the document."""
    return jsonschema_rs.validator_for({**schema, "components": doc["components"]}, validate_formats=True,
                                       formats={"decimal": is_decimal})


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return TestClient(create_app()).get("/openapi.json").json()


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, by_method in doc["paths"].items():
        for method, operation in by_method.items():
            yield method, path, operation


def media_type(response: Any) -> str:
    return response.headers["content-type"].split(";")[0].strip()


def test_every_read_of_a_populated_crm_answers_what_the_document_says(client: TestClient, services: Any) -> None:
    services.settings = replace(services.settings, smtp_url="smtp://127.0.0.1:9")  # a message may be queued
    ids = populate(client)
    doc = client.get("/openapi.json").json()
    failures, checked = [], 0
    for method, path, operation in operations(doc):
        if method != "get":
            continue
        url = filled(path, operation, ids)
        documented = operation["responses"]["200"]["content"]
        response = client.get(url)
        checked += 1
        if response.status_code != 200 or media_type(response) not in documented:
            failures.append(f"GET {url}: {response.status_code} {media_type(response)} {response.text[:200]}")
            continue
        if media_type(response) == "application/json":
            errors = [f"{e.instance_path}: {e.message}" for e in
                      validator(doc, documented["application/json"]["schema"]).iter_errors(response.json())]
            failures += [f"GET {path}: {error}" for error in errors[:5]]
        if "text/csv" in documented:  # a page, as CSV too
            as_csv = client.get(url, headers={"Accept": "text/csv"})
            if as_csv.status_code != 200 or media_type(as_csv) != "text/csv":
                failures.append(f"GET {path} as CSV: {as_csv.status_code} {media_type(as_csv)}")
    assert checked >= 40  # every read
    assert failures == []


def test_a_body_unlike_its_schema_is_caught(doc: dict[str, Any]) -> None:
    """What the read test relies on: the documented schemas do refuse a body that lies."""
    deal = validator(doc, doc["paths"]["/deals/{deal_id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"])
    good = {"id": "6f1c1b0e-4a57-4c8e-9d0e-2f7f5b1e9a01", "title": "Fleet", "pipeline_id": "6f1c1b0e-4a57-4c8e-9d0e-2f7f5b1e9a02",
            "stage_id": None, "stage": "Demo", "status": "open", "amount": "12000.00", "currency": "EUR", "owner_id": None,
            "contact_ids": [], "company_id": None, "source": None, "expected_close": "2026-06-30", "properties": {},
            "stage_entered_at": "2026-03-01T09:00:00+00:00", "closed_at": None, "lost_reason": None, "lost_to": None,
            "created_at": "2026-03-01T09:00:00+00:00", "updated_at": "2026-03-01T09:00:00+00:00", "version": 1,
            "position": 3, "next_step": None, "owner_name": "a field added later"}
    assert deal.is_valid(good)
    for lie in ({"amount": 12000.0}, {"amount": "twelve"}, {"created_at": "yesterday"}, {"version": "1"},
                {"id": "not-a-uuid"}, {"title": 5}):  # a title may be null (erased), never a number
        assert not deal.is_valid({**good, **lie}), lie
    assert not deal.is_valid({k: v for k, v in good.items() if k != "stage"})


def _objects(schema: Any, doc: dict[str, Any], seen: set[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object schema an answer's schema holds, named by the component it is in."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if ref:
            name = ref.rsplit("/", 1)[-1]
            if name not in seen:
                seen.add(name)
                target = doc["components"]["schemas"][name]
                if "properties" in target:
                    yield name, target
                yield from _objects(target, doc, seen)
            return
        for value in schema.values():
            yield from _objects(value, doc, seen)
    elif isinstance(schema, list):
        for value in schema:
            yield from _objects(value, doc, seen)


def test_every_answer_keeps_the_fields_it_does_not_declare(doc: dict[str, Any]) -> None:
    """A body may grow new fields (API.md): no answer's model may drop one, so each says so."""
    seen: set[str] = set()
    closed = []
    for _, _, operation in operations(doc):
        for status, answer in operation["responses"].items():
            for name, schema in _objects(answer.get("content", {}), doc, seen):
                if schema.get("additionalProperties") is not True:
                    closed.append(f"{name} ({status})")
    assert {"DealDetail", "ContactCard", "Board", "Problem", "CommandAnswer", "Funnel"} <= seen
    assert closed == []


PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def test_every_operation_documents_each_problem_it_can_answer(doc: dict[str, Any]) -> None:
    failures = []
    for method, path, operation in operations(doc):
        responses = operation["responses"]
        statuses = {int(s) for s in responses}
        params = operation.get("parameters", [])
        expected = set()
        rule = rule_for(method.upper(), path)
        if rule is None or not rule.public:
            expected |= {401, 403, 503}
        if method != "get":
            expected |= {400, 409, 413, 422}
        if any(p["in"] == "path" for p in params):
            expected |= {404, 422}
        if any(p["in"] == "header" and p["name"] == "if-match" for p in params):
            expected.add(412)
        if not expected <= statuses:
            failures.append(f"{method.upper()} {path}: {sorted(expected - statuses)} not documented")
        for status, answer in responses.items():
            if status >= "400" and path != "/health" and answer.get("content") != {PROBLEM: {"schema": PROBLEM_REF}}:
                failures.append(f"{method.upper()} {path} {status}: {answer.get('content')}")
    assert failures == []
    assert not {"HTTPValidationError", "ValidationError"} & set(doc["components"]["schemas"])
    routes = {(method.lower(), r.path) for r in iter_route_contexts(create_app().routes)
              if isinstance(r.original_route, APIRoute) for method in r.methods - {"HEAD"}}
    assert routes == {(method, path) for method, path, _ in operations(doc)}  # routes added later too
    ids = [operation["operationId"] for _, _, operation in operations(doc)]
    assert len(ids) == len(set(ids))  # a generated client names its functions after them


def test_the_main_routes_document_exactly_what_they_answer(doc: dict[str, Any]) -> None:
    def statuses(method: str, path: str) -> list[int]:
        return sorted(int(s) for s in doc["paths"][path][method]["responses"])

    assert statuses("post", "/deals/{deal_id}/stage") == [200, 400, 401, 403, 404, 409, 412, 413, 422, 503]
    assert statuses("post", "/deals") == [201, 400, 401, 403, 404, 409, 412, 413, 422, 503]  # 404: its pipeline
    assert statuses("get", "/deals/{deal_id}") == [200, 401, 403, 404, 422, 503]
    assert statuses("get", "/deals") == [200, 401, 403, 422, 503]
    assert statuses("get", "/health") == [200, 503]
    assert statuses("get", "/documents/{document_id}/pdf") == [200, 401, 403, 404, 410, 422, 503]
    pdf = doc["paths"]["/documents/{document_id}/pdf"]["get"]["responses"]["200"]["content"]
    assert pdf == {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}
    deals = doc["paths"]["/deals"]["get"]["responses"]["200"]["content"]
    assert deals["application/json"]["schema"] == {"$ref": "#/components/schemas/DealPage"} and "text/csv" in deals
    assert doc["paths"]["/deals/{deal_id}/stage"]["post"]["responses"]["412"]["description"].startswith("If-Match")
    problem = doc["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "rule"} <= set(problem["required"])
    assert {"instance", "errors", "current_version"} <= set(problem["properties"])


def test_the_docs_pages_load_nothing_from_the_internet(client: TestClient) -> None:
    for page in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        response = client.get(page)
        assert response.status_code == 200 and media_type(response) == "text/html", page
        html = response.text
        assert not re.search(r"(?:src|href)\s*=\s*[\"'](?:https?:)?//", html), page
        assert not re.search(r"\bhttps?://", html.replace("http://www.w3.org/", "")), page
        for asset in re.findall(r"(?:src|href)\s*=\s*[\"']([^\"']+)[\"']", html):
            fetched = client.get(asset)
            assert fetched.status_code == 200, asset
            kind = {"js": "javascript", "css": "text/css", "png": "image/png"}[asset.rsplit(".", 1)[-1]]
            assert kind in fetched.headers["content-type"] and len(fetched.content) > 1000, asset
    swagger, redoc = client.get("/docs").text, client.get("/redoc").text
    assert "swagger-ui-bundle.js" in swagger and "swagger-ui.css" in swagger and "'/openapi.json'" in swagger
    assert "redoc.standalone.js" in redoc and 'spec-url="/openapi.json"' in redoc
    missing = client.get("/docs/assets/../../settings.py")
    assert missing.status_code == 404
    unknown = client.get("/docs/assets/nothing.js")
    assert unknown.status_code == 404 and media_type(unknown) == PROBLEM
