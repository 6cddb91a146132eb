"""`crm-es sql` against a real uvicorn server, started here on a free port over the
test's services (as `crm-es serve` runs them): the command only speaks HTTP to it."""

from __future__ import annotations

import csv
import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
import uvicorn
from click.testing import CliRunner

from crm_es.entrypoints.http.app import create_app
from crm_es.auth.roles import Role
from crm_es.bootstrap import Services
from crm_es.entrypoints.cli.main import main
from crm_es.commands import execute
from crm_es.commands.people import AddRep, add_rep

# What the CLI shows is decided by the service's DuckDB answer; the event store only seeds it.
SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture
def url(services: Services) -> Iterator[str]:
    services.start()
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))  # a free port, held until the server takes the socket
    server = uvicorn.Server(uvicorn.Config(create_app(services), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the test server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{listening.getsockname()[1]}"
    server.should_exit = True
    thread.join(10)
    listening.close()


def crm_es(url: str, *args: str, key: str | None = None, stdin: str | None = None):
    env = {"CRM_ES_URL": url, "CRM_ES_API_KEY": key}
    return CliRunner().invoke(main, ["sql", *args], env=env, input=stdin, catch_exceptions=False)


@pytest.fixture
def reps(services: Services) -> list[dict[str, str]]:
    """Two reps on the read side, one with a name the table must align."""
    ctx = services.context()
    for name, email in (("Ada", "ada@example.com"), ("Grace Brewster Hopper", "grace@example.com")):
        execute(add_rep, AddRep(name, email), ctx)
    services.projector.catch_up()
    with services.read_side.cursor() as cur:
        rows = cur.execute("SELECT id::VARCHAR, name, email FROM reps ORDER BY name").fetchall()
    return [{"id": i, "name": n, "email": e} for i, n, e in rows]


QUERY = "SELECT name, email, version FROM reps ORDER BY name"


def test_the_three_formats_show_the_services_answer(url, reps):
    as_json = crm_es(url, QUERY, "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    answer = json.loads(as_json.stdout)
    assert answer["columns"] == ["name", "email", "version"] and not answer["truncated"]
    assert [row[:2] for row in answer["rows"]] == [[r["name"], r["email"]] for r in reps]
    assert json.loads(crm_es(url, QUERY, "--json").stdout) == answer

    as_csv = crm_es(url, QUERY, "--format", "csv")
    assert list(csv.reader(io.StringIO(as_csv.stdout))) == [answer["columns"], *([str(v) for v in row]
                                                                                 for row in answer["rows"])]

    as_table = crm_es(url, QUERY)  # the default
    assert as_table.exit_code == 0
    header, rule, *lines, count = as_table.stdout.splitlines()
    assert [c.strip() for c in header.split("|")] == answer["columns"] and set(rule) == {"-", "+"}
    assert [[c.strip() for c in line.split("|")] for line in lines] == [[str(v) for v in row] for row in answer["rows"]]
    # aligned: every row has its separators where the header has them
    assert {tuple(i for i, ch in enumerate(line) if ch == "|") for line in [header, *lines]} == {
        tuple(i for i, ch in enumerate(header) if ch == "|")}
    assert all(line.split("|")[-1] == " " + "1".rjust(len("version")) for line in lines)  # numbers to the right
    assert count == "(2 rows)"


@SQLITE_ONLY
def test_the_query_may_come_from_stdin_and_nulls_show(url):
    result = crm_es(url, "-", stdin="SELECT NULL AS nothing, 1 AS one")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[2].split("|")[0].strip() == "NULL"


@SQLITE_ONLY
def test_an_error_answer_exits_1_with_the_problems_detail(url, reps):
    refused = crm_es(url, "DROP TABLE reps")
    assert refused.exit_code == 1 and refused.stdout == ""
    assert "403 (sql-read-only)" in refused.stderr and "DROP statements are not allowed" in refused.stderr
    wrong = crm_es(url, "SELECT no_such_column FROM reps")
    assert wrong.exit_code == 1 and "422 (sql-error)" in wrong.stderr and "no_such_column" in wrong.stderr
    assert json.loads(crm_es(url, "SELECT count(*) FROM reps", "--json").stdout)["rows"] == [[2]]


@SQLITE_ONLY
def test_a_truncated_answer_says_so_on_stderr(url, services):
    services.settings = replace(services.settings, sql_max_rows=3)
    result = crm_es(url, "SELECT range FROM range(10)", "--format", "csv")
    assert result.exit_code == 0 and result.stdout.splitlines() == ["range", "0", "1", "2"]
    assert "only the first 3 rows" in result.stderr


def test_an_answer_over_the_size_limit_is_refused_with_the_limit_named(url, services):
    services.settings = replace(services.settings, sql_max_answer_bytes=100_000)
    result = crm_es(url, "SELECT rpad('', 1000, 'x') AS line FROM range(400)")  # 400 KB of JSON
    assert result.exit_code == 1 and result.stdout == ""
    assert "422 (sql-answer-too-large)" in result.stderr and "100,000 bytes" in result.stderr
    assert "CRM_ES_SQL_MAX_ANSWER_BYTES" in result.stderr


@SQLITE_ONLY
def test_the_key_comes_from_the_option_or_the_environment(url, services):
    rep_id = execute(add_rep, AddRep("Ada", "ada@example.com"), services.context()).id
    _, analyst = services.api_keys.create(Role.ANALYST, name="analyst")
    _, rep = services.api_keys.create(Role.REP, rep_id, name="rep")
    missing = crm_es(url, "SELECT 1")
    assert missing.exit_code == 1 and "401 (api-key-required)" in missing.stderr
    assert crm_es(url, "SELECT 1", "--api-key", analyst).exit_code == 0
    assert crm_es(url, "SELECT 1", key=analyst).exit_code == 0
    refused = crm_es(url, "SELECT 1", key=rep)
    assert refused.exit_code == 1 and "403 (role-not-allowed)" in refused.stderr


def test_a_service_that_is_not_running_is_said_so():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # bound, never listening: nothing answers there
        result = crm_es(f"http://127.0.0.1:{port}", "SELECT 1")
    assert result.exit_code == 1
    assert f"cannot reach the service at http://127.0.0.1:{port}" in result.stderr and "crm-es serve" in result.stderr


def test_usage_errors_exit_2_and_help_works():
    assert crm_es("ftp://example.com", "SELECT 1").exit_code == 2
    assert crm_es("http://127.0.0.1:1", "SELECT 1", "--format", "xml").exit_code == 2
    assert crm_es("http://127.0.0.1:1").exit_code == 2  # no query
    helped = crm_es("http://127.0.0.1:1", "--help")
    assert helped.exit_code == 0 and "--api-key" in helped.output and "docs/tables.md" in helped.output
