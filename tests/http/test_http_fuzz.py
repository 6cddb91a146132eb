"""Hostile input, generated from our own /openapi.json by Schemathesis: valid and
invalid requests to every operation. No answer is a 5xx (but the contract's
read-side-behind 503), every error is problem+json, and only 2xx answers write. And the
document tells the truth: each answer's status, media type, headers and body are the ones
its operation documents."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from conftest import SUMMARY
from crm_es.api.app import create_app

EXAMPLES_PER_OPERATION = 15  # a bounded run: about 28 operations × 2 modes × this
DOCUMENTED = [status_code_conformance, content_type_conformance, response_headers_conformance, response_schema_conformance]


def test_generated_requests_never_break_the_contract(services, backend, record_property):
    from dataclasses import replace

    services.settings = replace(services.settings, read_wait_seconds=0.05)
    services.start()
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(services))
    sent, failures = 0, []

    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            def call(case) -> None:
                nonlocal sent
                before = services.store.max_position()
                response = case.call()
                sent += 1
                status = response.status_code
                content_type = response.headers.get("content-type") or [""]  # Schemathesis keeps every value
                problem = status >= 400 and content_type[0].startswith("application/problem+json")
                if status >= 500 and "read-side-behind" not in response.text:
                    failures.append((case.method, case.formatted_path, status, response.text[:200]))
                elif status >= 400 and not problem:
                    failures.append((case.method, case.formatted_path, status, "not problem+json"))
                elif status >= 400 and services.store.max_position() != before:
                    failures.append((case.method, case.formatted_path, status, "a refused request wrote events"))
                try:
                    case.validate_response(response, checks=DOCUMENTED)
                except FailureGroup as group:
                    failures.extend((case.method, case.formatted_path, status, f.title) for f in group.exceptions)

            try:
                call()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing invalid to send (GET /health)

    record_property(SUMMARY, f"schemathesis ({backend}): {sent} generated requests, {len(failures)} contract breaks")
    assert sent > 500
    assert failures == []
