"""Hostile input, generated from our own /openapi.json by Schemathesis, run as `schemathesis
run --checks all` runs against the live app: uvicorn on a free port over the test's
store (SQLite and PostgreSQL), with an admin's key. Every phase — the document's
examples, coverage (each boundary, each missing header, each undocumented method),
fuzzing, and stateful sequences that follow ids from answer to answer — and every check:
no 5xx, each answer's status, media type, headers and body as its operation documents
them, invalid requests refused, valid ones accepted, a key required, 405s naming the
methods in `Allow`, a deleted record gone. And, beside them: every error is problem+json
and no refused request writes an event."""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
import uvicorn
from click.testing import CliRunner
from schemathesis.checks import CHECKS
from schemathesis.cli import schemathesis as schemathesis_cli
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.checks import positive_data_acceptance

from conftest import SUMMARY
from crm_es.entrypoints.http.app import create_app
from crm_es.auth.roles import Role
from crm_es.bootstrap import Services

# Schemathesis shares this out between its phases and the ~100 operations, and repeats
# fuzzing and stateful sequences while time is left: a faster machine sends more. A longer
# probe: CRM_ES_FUZZ_SECONDS=600.
SECONDS_PER_STORE = int(os.environ.get("CRM_ES_FUZZ_SECONDS") or 45)

# A request valid by its schema may still break a rule no JSON Schema can state. Schemathesis's
# `positive_data_acceptance` would call each such 422 (or 412) a rejected valid request; here it runs
# with these refusals allowed (and only these), each named by its rule or by the field and
# the kind of error it reports:
BEYOND_THE_SCHEMA = {
    "idempotency-key-reused": "the generator sends a key again with another body: the contract's 422",
    "version-mismatch": "an If-Match naming another version than the record's: the contract's 412",
    "invalid-input": "a rule between fields or over the records (`to` after `from`, a CSV's rows, a rep keeps a name)",
    "sql-error": "SQL that parses as a string and fails in DuckDB",
}
FIELDS_BEYOND_THE_SCHEMA = [  # (the field, the kind of error; None: any), as regular expressions
    (r".*", "unstorable"),  # a NUL character, a lone surrogate: JSON, but nothing the store can keep
    # Exact decimals: the schema says number or string; their digits, the pattern's look-ahead
    # that refuses "" (Hypothesis leaves it out), and a string's bounds (a probability of
    # "1.5"), it cannot say.
    (r".*", r"decimal_.*|finite_number"),
    (r".*(probability|amount|quantity|unit_price|annual_revenue)", r"(less|greater)_than(_equal)?"),
    # ISO 4217 codes and each currency's decimals: three letters in the schema, a list in the code.
    (r"(.*\.)?(currency|default_currency|amount|annual_revenue)|lines\[\d+\]\.(unit_price|quantity)|query\.currency",
     "value_error"),
    (r"query\.cursor", None),  # opaque: only one the service gave out
    (r"query\.after|header\.x-after-position", None),  # a position beyond the end of the log (documented)
    (r"query\.rep", None),  # an admin's key names the rep whose agenda (a rep's key is the default)
    (r"query\.tz", None),  # an IANA time zone name
    (r"reports\[\d+\]\.params.*", None),  # each report's own parameters (the dashboard keeps them as JSON)
    (r"settings\..*", None),  # each automation's own settings (PUT /policies/{name} takes any one's)
]


def beyond_the_schema(answer: dict[str, Any]) -> bool:
    if answer.get("rule") in BEYOND_THE_SCHEMA:
        return True
    errors = answer.get("errors") or []
    return answer.get("rule") == "invalid-field" and bool(errors) and all(
        any(re.fullmatch(field, error["field"], re.DOTALL) and (kind is None or re.fullmatch(kind, error.get("type") or ""))
            for field, kind in FIELDS_BEYOND_THE_SCHEMA)
        for error in errors)


def positive_data_acceptance_within_the_schema(ctx, response, case):
    """Schemathesis's `positive_data_acceptance`, but for the refusals above."""
    try:
        return positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        if response.status_code in (412, 422) and beyond_the_schema(json.loads(response.content)):
            return None
        raise


@pytest.fixture
def live(services: Services) -> Iterator[tuple[str, str]]:
    """The app served by uvicorn on a free port, as `crm-es serve` runs it; and an admin's key."""
    _, key = services.api_keys.create(Role.ADMIN, name="fuzz")
    services.start()
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(services), log_level="error", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the test server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{listening.getsockname()[1]}", key
    server.should_exit = True
    thread.join(10)
    listening.close()


@pytest.fixture
def refusals_that_wrote(services: Services) -> Iterator[list[str]]:
    """Each answer of 400 or more that is not problem+json, or whose request wrote events
    (the store's last position before and after it: the run sends one request at a time)."""
    found: list[str] = []
    before: dict[str, int] = {}

    def before_call(context, case, kwargs):
        before["position"] = services.store.max_position()

    def after_call(context, case, response):
        if response.status_code < 400:
            return
        where = f"{case.method} {case.formatted_path} → {response.status_code}"
        if not (response.headers.get("content-type") or [""])[0].startswith("application/problem+json"):
            found.append(f"{where}: not problem+json")
        if services.store.max_position() != before.get("position"):
            found.append(f"{where}: a refused request wrote events")

    for hook in (before_call, after_call):
        schemathesis.hook(hook)
    CHECKS.register(positive_data_acceptance_within_the_schema)
    try:
        yield found
    finally:
        CHECKS.unregister(positive_data_acceptance_within_the_schema.__name__)
        for hook in (before_call, after_call):
            schemathesis.hooks.unregister(hook)


def test_generated_requests_never_break_the_contract(live, refusals_that_wrote, backend, record_property, tmp_path,
                                                     monkeypatch):
    url, key = live
    report = tmp_path / "schemathesis.json"
    monkeypatch.chdir(tmp_path)  # where Schemathesis keeps its cache of crashes: not the work tree
    run = CliRunner().invoke(schemathesis_cli, [
        "run", f"{url}/openapi.json",
        # Every check, the one above standing in for positive_data_acceptance. ignored_auth and
        # missing_required_header hold because the run sends a key the service knows (it
        # drops or spoils it); use_after_free and ensure_resource_availability follow records
        # in the stateful phase. object_level_authorization compares identities: with the one
        # admin key it has no peer and passes (one rep's reach over another's records is
        # test_roles.py's).
        "--checks", "all", "--exclude-checks", "positive_data_acceptance",
        "--header", f"Authorization: Bearer {key}",
        "--max-time", str(SECONDS_PER_STORE), "--workers", "1",  # one at a time: see refusals_that_wrote
        "--report", "json", "--report-json-path", str(report), "--output-sanitize", "false", "--output-truncate", "false",
    ], catch_exceptions=False)
    summary = json.loads(report.read_text())
    sent = summary["test_cases"]["generated"]
    record_property(SUMMARY, f"schemathesis --checks all ({backend}): {sent} test cases, "
                             f"{summary['test_cases']['with_failures']} with failures")
    assert summary["complete"] and summary["errors"] == [], run.output[-5000:]
    assert summary["failures"] == [], run.output[-20000:]
    assert run.exit_code == 0, run.output[-5000:]
    assert refusals_that_wrote == []
    assert summary["operations"]["tested"] > 90 and sent > 300
    assert [name for name, phase in summary["phases"].items() if phase["status"] == "skip"] == []
