#!/usr/bin/env python
"""A long Schemathesis run against the app's own /openapi.json (the test suite runs a short one).

Valid and invalid requests, generated for every operation, go to the real app in
process, over a store holding the demo company (so filters and ids meet real rows), in
rounds until the time is up. Each answer must keep the contract: no 5xx (but the
read-side-behind 503), every error a problem+json, no refused request writing an event,
and every 2xx body as /openapi.json documents it. Prints how many requests were sent,
the status codes they got, and each kind of failure with a curl command to reproduce it.

Examples::

    .venv/bin/python bench/fuzz_http.py --seconds 300                    # SQLite, about 5 minutes
    .venv/bin/python bench/fuzz_http.py --backend postgres --seconds 60
    .venv/bin/python bench/fuzz_http.py --max-examples 20 --seconds 0    # one short round
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import response_schema_conformance

from crm_es.entrypoints.http.app import create_app
from crm_es.bootstrap import Services, service
from crm_es_samples.demo import load_demo
from crm_es.settings import Settings

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


@dataclass
class Tally:
    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (method, path, why): count
    examples: dict[tuple[str, str, str], str] = field(default_factory=dict)  # a curl command for each kind

    def fail(self, case: schemathesis.Case, why: str) -> None:
        kind = (case.method, case.operation.path, why)
        self.failures[kind] += 1
        self.examples.setdefault(kind, case.as_curl_command())


def contract_break(case: schemathesis.Case, services: Services, tally: Tally) -> str | None:
    """Sends the case; why its answer breaks the contract, or None."""
    before = services.store.max_position()
    try:
        response = case.call()
    except Exception as error:  # the app raised instead of answering
        return f"exception {type(error).__name__}: {str(error)[:120]}"
    status = response.status_code
    tally.statuses[status] += 1
    content_type = (response.headers.get("content-type") or [""])[0]  # Schemathesis keeps every value
    if status >= 500 and "read-side-behind" not in response.text:
        return f"{status}: {response.text[:120]}"
    if status >= 400 and not content_type.startswith("application/problem+json"):
        return f"{status} is not problem+json"
    if status >= 400 and services.store.max_position() != before:
        return f"{status}, yet events were written"
    if status < 300:
        try:
            case.validate_response(response, checks=[response_schema_conformance])
        except FailureGroup as group:
            found = "; ".join(failure.message.splitlines()[0][:80] for failure in group.exceptions)
            return f"{status} body not as documented: {found}"
    return None


def run_round(schema: schemathesis.BaseSchema, services: Services, max_examples: int, deadline: float, tally: Tally) -> bool:
    """Every operation in both modes; False when time ran out before the round ended."""
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in MODES:
            if time.monotonic() >= deadline:
                return False

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=max_examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            def send(case: schemathesis.Case) -> None:
                tally.sent += 1
                why = contract_break(case, services, tally)
                if why:
                    tally.fail(case, why)

            try:
                send()
            except Unsatisfiable:  # nothing invalid to send (GET /health)
                pass
    return True


@contextmanager
def services_on(backend: str, pg_url: str) -> Iterator[Services]:
    """Services over a fresh store (a temporary directory; a schema of its own on PostgreSQL)."""
    tmp = Path(tempfile.mkdtemp(prefix="crm-es-fuzz-"))
    schema = f"fuzz_{uuid.uuid4().hex[:12]}" if backend == "postgres" else None
    if schema:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
    # read_wait_seconds: a generated ?after= far ahead would wait the full 5 s for its 503.
    config = Settings(data_dir=tmp, database_url=pg_url if schema else None, postgres_schema=schema,
                      poll_seconds=0.05, read_wait_seconds=0.05)
    services = service(config)
    try:
        yield services
    finally:
        services.close()
        shutil.rmtree(tmp, ignore_errors=True)
        if schema:
            with psycopg.connect(pg_url, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")


def report(tally: Tally, rounds: int, seconds: float, args: argparse.Namespace) -> None:
    print(f"backend {args.backend}, {rounds} round(s) of up to {args.max_examples} examples per operation and mode, "
          f"{seconds:.0f} s")
    print(f"generated requests: {tally.sent:,} ({tally.sent / seconds:.0f}/s)")
    print("status codes: " + ", ".join(f"{status} × {count:,}" for status, count in sorted(tally.statuses.items())))
    print(f"contract breaks: {sum(tally.failures.values())}")
    for (method, path, why), count in tally.failures.most_common():
        print(f"  {count:>5} × {method} {path}: {why}")
        print(f"          e.g. {tally.examples[(method, path, why)]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Exit status 1 when any answer broke the contract, 0 otherwise.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--max-examples", type=int, default=100, help="examples per operation and mode in each round")
    parser.add_argument("--seconds", type=float, default=300, help="rounds repeat until this much time has passed (0: one round)")
    parser.add_argument("--empty", action="store_true", help="start from an empty store instead of the demo company")
    parser.add_argument("--pg-url", default=os.environ.get("CRM_ES_BENCH_DATABASE_URL") or DEFAULT_PG_URL,
                        help="PostgreSQL URL (or env CRM_ES_BENCH_DATABASE_URL)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # not the open-mode banner, nor each 503's log line

    tally, rounds = Tally(), 0
    with services_on(args.backend, args.pg_url) as services:
        if not args.empty:
            load_demo(services)
        services.start()
        schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(services))
        started = time.monotonic()
        deadline = started + args.seconds if args.seconds else float("inf")
        while True:
            rounds += 1
            finished = run_round(schema, services, args.max_examples, deadline, tally)
            if not (finished and args.seconds and time.monotonic() < deadline):
                break
        report(tally, rounds, time.monotonic() - started, args)
    return 1 if tally.failures else 0


if __name__ == "__main__":
    sys.exit(main())
