"""Shared fixtures. Every storage test runs on SQLite AND PostgreSQL.

PostgreSQL comes from CRM_ES_TEST_DATABASE_URL (e.g. postgresql://postgres@127.0.0.1:5432/test);
each test gets a schema of its own, dropped afterwards. Without the variable the
PostgreSQL half is skipped locally, and fails under CI (CI=true) so that it can never
be skipped silently there.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from crm_es.bootstrap import Services, service
from crm_es.clock import FrozenClock
from crm_es.settings import Settings

PG_URL = os.environ.get("CRM_ES_TEST_DATABASE_URL")
BACKENDS = ["sqlite", "postgres"]


def pg_schema() -> Iterator[str]:
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield schema
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def require_postgres() -> None:
    if PG_URL:
        return
    if os.environ.get("CI"):
        pytest.fail("CRM_ES_TEST_DATABASE_URL is not set under CI: the PostgreSQL half must run")
    pytest.skip("CRM_ES_TEST_DATABASE_URL not set (PostgreSQL tests skipped locally)")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        require_postgres()
    return request.param


def make_settings(backend: str, data_dir: Path, schema: str | None) -> Settings:
    # The automations run when a test says so (services.policies.run_once(), with the test's
    # clock), not in the background: a test decides when time passes and when they act.
    if backend == "postgres":
        return Settings(data_dir=data_dir, database_url=PG_URL, postgres_schema=schema, poll_seconds=0.05,
                        run_policies=False)
    return Settings(data_dir=data_dir, poll_seconds=0.05, run_policies=False)


@pytest.fixture
def settings(backend: str, tmp_path: Path) -> Iterator[Settings]:
    if backend == "postgres":
        for schema in pg_schema():
            yield make_settings(backend, tmp_path / "var", schema)
    else:
        yield make_settings(backend, tmp_path / "var", None)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc))


@pytest.fixture
def services(settings: Settings, clock: FrozenClock) -> Iterator[Services]:
    with service(settings, clock=clock) as services:
        yield services


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    """The real HTTP app over the test's services, following the log in the background."""
    from fastapi.testclient import TestClient

    from crm_es.entrypoints.http.app import create_app

    services.start()
    with TestClient(create_app(services)) as client:
        yield client


@pytest.fixture
def run(settings: Settings):
    """``run("status", "--json")``: the `crm-es` command, in process, on the test's store."""
    from click.testing import CliRunner

    from crm_es.entrypoints.cli.main import main

    env = {"CRM_ES_DATA_DIR": str(settings.data_dir), "CRM_ES_DATABASE_URL": settings.database_url or "",
           "CRM_ES_POSTGRES_SCHEMA": settings.postgres_schema or ""}

    def invoke(*args: str):
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

    return invoke


# Figures a test wants shown after the run (how many requests Schemathesis sent): a test
# records them with record_property(SUMMARY, line); they travel with its report, so they
# reach the summary from pytest-xdist's workers too.
SUMMARY = "summary"


def pytest_terminal_summary(terminalreporter) -> None:
    for report in terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", []):
        for name, line in getattr(report, "user_properties", []):
            if name == SUMMARY:
                terminalreporter.write_line(line)


@pytest.fixture
def untouched(services):
    """Checks, when the test ends, that no event was written and no read-side row changed."""
    position, tables = services.store.max_position(), services.read_side.dump()
    yield
    assert services.store.max_position() == position
    assert services.read_side.dump() == tables
