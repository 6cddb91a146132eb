"""The OpenAPI document, made true to what the server answers — in one place, for every
route (those added later too), so a client generated from it can parse every answer.

FastAPI documents each route's success answer and, for any route with parameters, a 422
in its own `HTTPValidationError` shape, which this service never sends. Here every
operation gets instead each error status it can answer, derived from the route itself —
its method, its path parameters, its body, the parameters its dependencies add
(`If-Match`), and whether it needs a key — all as `application/problem+json` with the one
`Problem` schema (api/problems.py). A route declares in its decorator only what no rule
can guess (410 for an erased document): given without content, such a status is a problem
too. Pages are documented as CSV as well (api/csv_pages.py), and answers of a media type
without a schema (a PDF) as binary.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from crm_es.entrypoints.http.answers import Page
from crm_es.entrypoints.http.problems import PROBLEM, Problem
from crm_es.auth.roles import rule_for

COMMANDS = {"post", "put", "patch", "delete"}
REF = "#/components/schemas/"

WHY = {
    400: "The body is not JSON a parser should see: malformed, a key twice, nested too deep",
    401: "No API key, or an unknown or revoked one",
    403: "The key's role may not call this route, or the record is outside its reach",
    404: "A record named by the path or the body does not exist",
    409: "A business rule says no (`rule` names it): a closed deal moved, an unknown stage, an e-mail already "
         "registered, a change dated before the record's last one, a concurrent change",
    410: "Gone",
    412: "If-Match names another version than the record's (`current_version`)",
    413: "The body is over the size limit",
    422: "A field is invalid: `errors` names each one (`amount`, `query.limit`, `path.deal_id`, `header.if-match`, "
         "`query.after` beyond the end of the log); or an Idempotency-Key was first used for another request",
    503: "The event store or the read side cannot be reached, or the read side has not reached ?after= in time: "
         "retry after Retry-After",
}
HEADERS = {
    401: {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}},
    503: {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}},
}


def install(app: FastAPI) -> None:
    """``app.openapi`` (served at /openapi.json) gives the document made true."""
    fastapi_document: Callable[[], dict[str, Any]] = app.openapi

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:  # made once, at the first request for it
            app.openapi_schema = true_to_the_server(fastapi_document(), app.routes)
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]


def true_to_the_server(doc: dict[str, Any], routes: list[Any]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    problem = Problem.model_json_schema(ref_template=REF + "{model}", mode="serialization")
    schemas.update(problem.pop("$defs", {}))
    schemas["Problem"] = problem
    for context in iter_route_contexts(routes):  # the routers' routes, with their prefixes
        route = context.original_route
        if not (isinstance(route, APIRoute) and route.include_in_schema):
            continue
        for method in context.methods - {"HEAD"}:
            path = context.path_format
            operation = doc["paths"][path][method.lower()]
            if (rule := rule_for(method, path)) is not None and rule.public:
                operation["security"] = []  # no key: FastAPI lists the app-wide bearer dependency's scheme on every route
            for parameter in operation.get("parameters", []):
                absent_not_null(parameter)
            form_parts_not_null(operation, schemas)
            responses = operation["responses"]
            responses.pop("422", None)  # FastAPI's HTTPValidationError: never sent here
            for status in statuses(path, method.lower(), operation, schemas):
                responses[str(status)] = problem_answer(status, responses.get(str(status)))
            for status, answer in responses.items():
                if status.startswith(("4", "5")) and "content" not in answer:
                    responses[status] = problem_answer(int(status), answer)
                for media in answer.get("content", {}).values():
                    media.setdefault("schema", {"type": "string", "format": "binary"})
            if isinstance(route.response_model, type) and issubclass(route.response_model, Page):
                responses["200"]["content"]["text/csv"] = {
                    "schema": {"type": "string", "description": "with Accept: text/csv: a header row of the items' "
                               "fields, one row per item; the next page in the Link header"}}
            operation["responses"] = dict(sorted(responses.items()))
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return doc


def absent_not_null(parameter: dict[str, Any]) -> None:
    """An optional parameter (``int | None``) is one a request leaves out: a header or a
    query has no null, and FastAPI's `anyOf [..., null]` would let a client send the text
    "null" (`If-Match: null`), which the server refuses."""
    if parameter.get("in") in ("header", "query", "cookie"):
        parameter["schema"] = not_null(parameter.get("schema", {}))


def form_parts_not_null(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    """The same for the parts of a form (a CSV upload): an optional file or field is a part
    the request leaves out; as `anyOf [file, null]` a client would send it as text."""
    form = operation.get("requestBody", {}).get("content", {}).get("multipart/form-data", {}).get("schema", {})
    properties = schemas.get(form.get("$ref", "").removeprefix(REF), {}).get("properties", {})
    for name, schema in properties.items():
        properties[name] = not_null(schema)


def not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """`anyOf [X, null]` as X, beside the schema's own title and description."""
    kinds = [kind for kind in schema.get("anyOf", []) if kind != {"type": "null"}]
    if len(kinds) != 1 or len(schema["anyOf"]) != 2:
        return schema
    return {**{k: v for k, v in schema.items() if k != "anyOf"}, **kinds[0]}


def statuses(path: str, method: str, operation: dict[str, Any], schemas: dict[str, Any]) -> set[int]:
    """The error statuses an operation can answer, from what it takes."""
    parameters = operation.get("parameters", [])
    found: set[int] = set()
    rule = rule_for(method.upper(), path)
    if rule is None or not rule.public:  # the key is checked, and looked up in the store
        found |= {401, 403, 503}
    if method in COMMANDS:  # any body is checked before a route sees it; any rule may refuse
        found |= {400, 409, 413}
    if parameters or "requestBody" in operation:
        found.add(422)
    if any(p["in"] == "path" for p in parameters) or names_a_record(operation.get("requestBody"), schemas):
        found.add(404)
    if any(p["in"] == "header" and p["name"].lower() == "if-match" for p in parameters):
        found.add(412)
    return found


def names_a_record(schema: Any, schemas: dict[str, Any], seen: set[str] | None = None) -> bool:
    """Whether a body holds an id (a UUID) anywhere: the record it names may not exist."""
    seen = set() if seen is None else seen
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF):
            name = ref.removeprefix(REF)
            if name in seen:
                return False
            seen.add(name)
            return names_a_record(schemas.get(name), schemas, seen)
        if schema.get("format") == "uuid":
            return True
        return any(names_a_record(value, schemas, seen) for value in schema.values())
    if isinstance(schema, list):
        return any(names_a_record(value, schemas, seen) for value in schema)
    return False


def problem_answer(status: int, declared: dict[str, Any] | None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": (declared or {}).get("description") or WHY.get(status, "Error"),
                              "content": {PROBLEM: {"schema": {"$ref": REF + "Problem"}}}}
    if status in HEADERS:
        answer["headers"] = HEADERS[status]
    return answer
