"""POST /sql, analysts' read-only SQL, on SQLite and PostgreSQL (the event store: the SQL
itself always reads the DuckDB read side). One SELECT answers its columns and rows,
JSON-ready; a write, a file, a URL or a setting is refused and nothing changes; limits
on time and rows hold; analysts never see a person's data, admins see it all."""

from __future__ import annotations

import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from uuid import UUID, uuid4

import duckdb
import pytest
from helpers import assert_problem, deal, ok, pipeline, read

from crm_es.auth.roles import Role
from crm_es.projections.read_side import ReadSide
from crm_es.projections.runner import Projector
from crm_es.projections.schema import TABLES, TABLES_BY_NAME
from crm_es.queries.analyst_sql import SqlLimits, SqlRefused, run_analyst_sql, run_select, without_personal_data
from crm_es.settings import Settings

# Heavy enough to outlast a fraction of a second on any machine, light on memory.
SLOW = "SELECT count(*) FROM range(3000000000) a, range(1000) b WHERE a.range % 997 = b.range"


# For what only DuckDB decides (checks, values, limits): the event store plays no part there.
DUCKDB_ONLY = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def sql(client, query: str, headers: dict[str, str] | None = None, **params: int):
    return client.post("/sql", params=params, json={"sql": query}, headers=headers)


def names_sql(problem: dict) -> bool:
    return [error["field"] for error in problem["errors"]] == ["sql"]


@pytest.fixture
def a_deal(client) -> dict:
    """A deal on the read side, as GET /deals/{id} shows it."""
    made = deal(client, pipeline(client)["id"], amount="12000.50")
    return read(client, f"/deals/{made['id']}", made["position"])


def test_a_select_answers_its_columns_and_rows_as_the_api_shows_them(client, a_deal):
    answer = sql(client, f"SELECT id, title, amount, created_at, stage_id FROM deals WHERE id = '{a_deal['id']}'",
                 after=a_deal["position"])
    body = ok(answer, 200)
    assert body["columns"] == ["id", "title", "amount", "created_at", "stage_id"]
    # The same values; money as the column holds it (DECIMAL(20,4): an analyst's SQL shows the
    # stored number, the API shows it at its currency's scale).
    [row] = body["rows"]
    assert row[:2] + row[3:] == [a_deal[c] for c in body["columns"] if c != "amount"]
    assert Decimal(row[2]) == Decimal(a_deal["amount"])
    deals = TABLES_BY_NAME["deals"]
    assert [t for c, t in zip(body["columns"], body["types"], strict=True) if c != "created_at"] == [
        deals.type_of(c) for c in body["columns"] if c != "created_at"]  # DuckDB spells TIMESTAMPTZ out
    assert body["truncated"] is False
    assert int(answer.headers["X-Position"]) >= a_deal["position"]


@DUCKDB_ONLY
def test_values_are_json_ready(client):
    uid = uuid4()
    body = ok(sql(client, f"""SELECT CAST('12.50' AS DECIMAL(10, 2)) AS money, TIMESTAMPTZ '2026-03-01 09:30:00+01' AS at,
        DATE '2026-03-01' AS day, TIME '09:30:00' AS clock, UUID '{uid}' AS id, [UUID '{uid}'] AS ids,
        {{'k': DATE '2026-03-01'}} AS struct, INTERVAL 90 MINUTE AS lasted, 'nan'::DOUBLE AS nan,
        170141183460469231731687303715884105727::HUGEINT AS huge, 'ab'::BLOB AS bytes, NULL AS nothing"""), 200)
    row = dict(zip(body["columns"], body["rows"][0], strict=True))
    assert Decimal(row["money"]) == Decimal("12.50") and isinstance(row["money"], str)
    assert datetime.fromisoformat(row["at"]) == datetime.fromisoformat("2026-03-01T09:30:00+01:00")
    assert (row["day"], row["clock"]) == ("2026-03-01", "09:30:00")
    assert UUID(row["id"]) == uid and row["ids"] == [str(uid)] and row["struct"] == {"k": "2026-03-01"}
    assert row["lasted"] == "PT1H30M" and row["nan"] == "nan" and int(row["huge"]) == 2**127 - 1
    assert row["bytes"] == "YWI=" and row["nothing"] is None


@DUCKDB_ONLY
def test_catalogue_queries_help_to_find_the_tables(client):
    tables = {r[0] for r in ok(sql(client, "SHOW TABLES"), 200)["rows"]}
    assert {"deals", "contacts", "interactions"} <= tables
    described = ok(sql(client, "DESCRIBE deals"), 200)
    assert "amount" in {r[0] for r in described["rows"]}
    columns = ok(sql(client, "SELECT column_name FROM information_schema.columns WHERE table_name = 'deals'"), 200)
    assert {"id", "amount", "stage"} <= {r[0] for r in columns["rows"]}


@DUCKDB_ONLY
def test_ctes_subqueries_and_generated_rows_are_fine(client, a_deal):
    body = ok(sql(client, """WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3),
        open AS (SELECT * FROM deals WHERE status = 'open')
        SELECT i, (SELECT count(*) FROM open) FROM n JOIN range(1, 4) r ON r.range = n.i ORDER BY i""",
                      after=a_deal["position"]), 200)
    assert body["rows"] == [[1, 1], [2, 1], [3, 1]]


WRITES = [
    "INSERT INTO deals (id, title) VALUES (gen_random_uuid(), 'x')",
    "UPDATE deals SET title = 'changed'",
    "DELETE FROM deals",
    "CREATE TABLE stolen AS SELECT * FROM contacts",
    "CREATE VIEW v AS SELECT 1",
    "CREATE MACRO m(a) AS a",
    "DROP TABLE deals",
    "ALTER TABLE deals ADD COLUMN x INTEGER",
    "ATTACH ':memory:' AS other",
    "DETACH other",
    "COPY deals TO '{dir}/deals.csv'",
    "COPY deals FROM '{dir}/deals.csv'",
    "EXPORT DATABASE '{dir}/export'",
    "PRAGMA enable_profiling",
    "SET threads = 1",
    "SET VARIABLE x = 1",
    "RESET threads",
    "INSTALL httpfs",
    "LOAD httpfs",
    "CALL pragma_version()",
    "CHECKPOINT",
    "VACUUM",
    "BEGIN TRANSACTION",
    "EXPLAIN ANALYZE DELETE FROM deals",
    "USE memory",
    "PIVOT deals ON status",  # a PIVOT without IN list: several statements, one of them a CREATE TYPE
]


def test_statements_that_write_or_set_are_refused_and_change_nothing(client, a_deal, tmp_path, untouched):
    out = tmp_path / "out"
    out.mkdir()
    for statement in WRITES:
        problem = assert_problem(sql(client, statement.format(dir=out)), 403, "sql-read-only")
        assert problem["field"] == "sql", statement
    assert list(out.iterdir()) == []
    assert ok(sql(client, "SELECT count(*) FROM deals"), 200)["rows"] == [[1]]


@DUCKDB_ONLY
def test_a_write_the_checks_would_miss_still_fails_in_its_read_only_transaction(services, untouched):
    with services.read_side.cursor() as cur, pytest.raises(SqlRefused) as refused:
        run_select(cur, "INSERT INTO statuses VALUES ('smuggled', 9)", SqlLimits(5, 10))
    assert refused.value.rule == "sql-read-only"


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.csv"
    path.write_text("word\nswordfish\n")
    return path


def test_a_select_never_reads_files_urls_or_settings(client, secret_file, untouched):
    file, folder = secret_file, secret_file.parent
    attempts = [
        f"SELECT * FROM read_csv('{file}')", f"SELECT * FROM read_csv_auto('{file}')",
        f"SELECT * FROM read_parquet('{file}')", f"SELECT * FROM parquet_scan('{file}')",
        f"SELECT * FROM read_json('{file}')", f"SELECT * FROM read_json_auto('{file}')",
        f"SELECT * FROM read_ndjson_objects('{file}')", f"SELECT * FROM read_text('{file}')",
        f"SELECT * FROM read_blob('{file}')", f"SELECT * FROM glob('{folder}/*')", f"SELECT * FROM sniff_csv('{file}')",
        f"SELECT content FROM read_text('{file}')", f"SELECT read_text('{file}')",
        f"SELECT * FROM '{file}'", f'SELECT * FROM "{file}"', f"DESCRIBE '{file}'", f"SUMMARIZE '{file}'",
        f"SHOW '{file}'", "SELECT * FROM 'https://example.com/data.csv'", "SELECT * FROM 's3://bucket/data.parquet'",
        f"SELECT * FROM deals WHERE title IN (FROM '{file}')",
        f"SELECT * FROM deals, LATERAL (SELECT * FROM read_csv('{file}'))",
        f"WITH w AS (SELECT * FROM read_csv('{file}')) SELECT * FROM w",
        # a CTE named like the file is in scope only after its own definition, and in its own query
        f'WITH a AS (SELECT * FROM "{file}"), "{file}" AS (SELECT 1) SELECT * FROM a',
        f'SELECT * FROM (WITH "{file}" AS (SELECT 1) SELECT * FROM "{file}"), "{file}"',
        f"SELECT * FROM query('SELECT * FROM read_csv(''{file}'')')", "SELECT * FROM query_table('deals')",
        "SELECT * FROM duckdb_settings()", "SELECT * FROM duckdb_secrets()", "SELECT * FROM duckdb_databases()",
        "SELECT current_setting('memory_limit')", "SELECT * FROM duckdb_logs", "SELECT * FROM pg_settings",
        "SELECT * FROM other_db.main.deals",
    ]
    for attempt in attempts:
        response = sql(client, attempt)
        problem = assert_problem(response, 403, "sql-outside-read-side")
        assert problem["field"] == "sql" and "swordfish" not in response.text, attempt


@DUCKDB_ONLY
def test_names_duckdb_would_fetch_an_extension_for_are_refused_at_once(client, untouched):
    """A function or type DuckDB has not loaded would be bound by downloading an extension."""
    for attempt in ["SELECT text(1, '0.00')", "SELECT html_escape('<b>')", "SELECT '10.0.0.1'::INET",
                    "SELECT st_point(1, 2)"]:
        started = time.perf_counter()
        problem = assert_problem(sql(client, attempt), 422, "sql-error")
        assert names_sql(problem) and time.perf_counter() - started < 1, attempt


def test_one_statement_per_request(client, a_deal, untouched):
    problem = assert_problem(sql(client, "SELECT 1; DROP TABLE deals"), 422, "one-statement")
    assert names_sql(problem) and "2" in problem["detail"]
    assert_problem(sql(client, "SELECT 1; SELECT 2"), 422, "one-statement")
    assert ok(sql(client, "SELECT count(*) FROM deals;"), 200)["rows"] == [[1]]  # a final semicolon is fine


SQL_ERRORS = [
    ("SELECT no_such_column FROM deals", "no_such_column"),
    ("SELEC 1", "syntax error"),
    ("SELECT 1 +", "syntax error"),
    ("SELECT CAST('x' AS INTEGER)", "Conversion Error"),
    ("SELECT $1", "1"),
    ("-- nothing but a comment", "no SQL statement"),
]


@DUCKDB_ONLY
def test_a_sql_error_is_a_422_naming_sql_with_duckdbs_message(client, untouched):
    for query, says in SQL_ERRORS:
        problem = assert_problem(sql(client, query), 422, "sql-error")
        assert names_sql(problem) and says in problem["detail"] and says in problem["errors"][0]["message"], query


@DUCKDB_ONLY
def test_a_bad_body_is_refused_naming_the_field(client, untouched):
    for body, field in [({}, "sql"), ({"sql": ""}, "sql"), ({"sql": 1}, "sql"), ({"sql": "x" * 100_001}, "sql"),
                        ({"sql": "SELECT 1", "limit": 5}, "limit")]:
        problem = assert_problem(client.post("/sql", json=body), 422, "invalid-field")
        assert [e["field"] for e in problem["errors"]] == [field], body


@DUCKDB_ONLY
def test_a_query_past_the_time_limit_is_stopped(client, services):
    services.settings = replace(services.settings, sql_timeout_seconds=0.3)
    started = time.perf_counter()
    problem = assert_problem(sql(client, SLOW), 422, "sql-timeout")
    assert time.perf_counter() - started < 5  # interrupted, not run to its end
    assert names_sql(problem) and "0.3 seconds" in problem["detail"]
    assert ok(sql(client, "SELECT 42"), 200)["rows"] == [[42]]  # the service goes on


def test_the_limits_come_from_the_environment(tmp_path):
    settings = Settings.from_env({"CRM_ES_DATA_DIR": str(tmp_path), "CRM_ES_SQL_TIMEOUT_SECONDS": "2.5",
                                  "CRM_ES_SQL_MAX_ROWS": "500"})
    assert (settings.sql_timeout_seconds, settings.sql_max_rows) == (2.5, 500)
    defaults = Settings.from_env({"CRM_ES_DATA_DIR": str(tmp_path)})
    assert (defaults.sql_timeout_seconds, defaults.sql_max_rows) == (10.0, 10_000)
    for name, bad in [("CRM_ES_SQL_TIMEOUT_SECONDS", "0"), ("CRM_ES_SQL_TIMEOUT_SECONDS", "ten"),
                      ("CRM_ES_SQL_TIMEOUT_SECONDS", "nan"), ("CRM_ES_SQL_MAX_ROWS", "-1"), ("CRM_ES_SQL_MAX_ROWS", "1e3")]:
        with pytest.raises(ValueError, match=name):
            Settings.from_env({"CRM_ES_DATA_DIR": str(tmp_path), name: bad})


@DUCKDB_ONLY
def test_rows_past_the_row_limit_are_left_out_and_said_so(client, services):
    services.settings = replace(services.settings, sql_max_rows=5)
    cut = ok(sql(client, "SELECT range FROM range(12)"), 200)
    assert cut["rows"] == [[i] for i in range(5)] and cut["truncated"] is True
    whole = ok(sql(client, "SELECT range FROM range(5)"), 200)
    assert len(whole["rows"]) == 5 and whole["truncated"] is False


def test_analysts_may_query_others_may_not_without_a_key_or_role(client, services, a_deal):
    _, analyst = services.api_keys.create(Role.ANALYST, name="analyst")
    _, auditor = services.api_keys.create(Role.AUDITOR, name="auditor")
    query = {"sql": "SELECT count(*) FROM deals"}
    assert ok(client.post("/sql", json=query, headers={"Authorization": f"Bearer {analyst}"}), 200)["rows"] == [[1]]
    assert_problem(client.post("/sql", json=query, headers={"Authorization": f"Bearer {auditor}"}), 403, "role-not-allowed")
    assert_problem(client.post("/sql", json=query), 401, "api-key-required")


# --- a person's data: analysts never see it, admins do ----------------------------------

PERSONAL_TABLES = [table for table in TABLES if table.personal]


@dataclass(frozen=True)
class People:
    analyst: dict[str, str]  # the analyst's Authorization header; the client itself is an admin's
    secrets: list[str]  # every personal value sent, each distinct
    position: int  # the last write's


@pytest.fixture
def people(client, services) -> People:
    """A contact with every personal field, interactions, a lost deal and a task holding some too,
    written by an admin; the client goes on as that admin, beside an analyst's key."""
    _, admin = services.api_keys.create(Role.ADMIN, name="admin")
    _, analyst = services.api_keys.create(Role.ANALYST, name="analyst")
    client.headers["Authorization"] = f"Bearer {admin}"
    rep = ok(client.post("/reps", json={"name": "Rob Seller", "email": "rob@seller.example"}))["id"]
    person = ok(client.post("/contacts", json={
        "first_name": "Zebulon", "last_name": "Quixotte", "email": "zq@hidden.example", "phone": "+33 6 99 88 77 66",
        "city": "Lyon", "status": "customer", "owner_id": rep, "properties": {"hobby": "sails-on-sundays"}}))["id"]
    path = f"/contacts/{person}/interactions"
    ok(client.post(path, json={"type": "email_sent", "subject": "About your divorce", "rep_id": rep}))
    ok(client.post(path, json={"type": "note", "text": "allergic-to-peanuts"}))
    ok(client.post(path, json={"type": "page_visited", "url": "https://example.com/pricing", "visitor_id": "visitor-v9",
                               "session_id": "session-s9"}))
    pipeline_id = pipeline(client)["id"]
    lost = deal(client, pipeline_id, title="Quixotte-renewal", contact_ids=[person])["id"]
    ok(client.post(f"/deals/{lost}/lost", json={"reason": "lost-to-the-cousin"}), 200)
    task = ok(client.post("/tasks", json={"type": "call", "title": "Call back", "due_at": "2026-03-02T10:00:00Z",
                                          "owner_id": rep, "contact_id": person, "notes": "ask-about-the-surgery"}))
    done = ok(client.post(f"/tasks/{task['id']}/done", json={"outcome": "signs-after-surgery"}), 200)
    assert services.projector.wait_for(done["position"], 10)  # on the read side before the test looks
    secrets = ["Zebulon", "Quixotte", "zq@hidden.example", "+33 6 99 88 77 66", "sails-on-sundays",
               "About your divorce", "allergic-to-peanuts", "visitor-v9", "session-s9", "ask-about-the-surgery",
               "signs-after-surgery", "Quixotte-renewal", "lost-to-the-cousin"]
    return People({"Authorization": f"Bearer {analyst}"}, secrets, done["position"])


def every_row(client, table, headers=None, position=0) -> dict:
    order = table.key or "position"
    return ok(sql(client, f"SELECT * FROM {table.name} ORDER BY {order}", headers, after=position), 200)


def test_analysts_read_every_row_and_column_with_a_persons_data_null(client, people):
    admins, analysts = [], []
    for table in PERSONAL_TABLES:
        full = every_row(client, table, position=people.position)
        seen = every_row(client, table, people.analyst, people.position)
        # SELECT * keeps every column, by the same name and of the same type
        assert (seen["columns"], seen["types"]) == (full["columns"], full["types"]), table.name
        assert len(seen["rows"]) == len(full["rows"]) > 0, table.name
        for column, mine, theirs in zip(full["columns"], zip(*seen["rows"]), zip(*full["rows"]), strict=True):
            if column in table.personal:
                assert set(mine) == {None}, (table.name, column)
            else:
                assert mine == theirs, (table.name, column)
        admins.append(str(full["rows"]))
        analysts.append(str(seen["rows"]))
    assert all(secret in "".join(admins) for secret in people.secrets)  # admins see everything
    assert not [secret for secret in people.secrets if secret in "".join(analysts)]


@DUCKDB_ONLY
def test_the_figures_are_the_same_for_analysts_and_admins(client, people):
    for query in ["SELECT status, city, count(*) FROM contacts GROUP BY ALL ORDER BY ALL",
                  "SELECT type, count(*), count(url_path) FROM interactions GROUP BY ALL ORDER BY ALL",
                  "SELECT c.city, i.type FROM contacts c JOIN interactions i ON i.contact_id = c.id ORDER BY ALL",
                  "SELECT t.status, t.type, r.name FROM tasks t JOIN reps r ON r.id = t.owner_id"]:
        full = ok(sql(client, query, after=people.position), 200)
        assert full["rows"] and ok(sql(client, query, people.analyst), 200) == full, query
    counted = "SELECT count(*), count(first_name), count(email), count(properties), count(city) FROM contacts"
    assert ok(sql(client, counted), 200)["rows"] == [[1, 1, 1, 1, 1]]
    assert ok(sql(client, counted, people.analyst), 200)["rows"] == [[1, 0, 0, 0, 1]]


@pytest.fixture
def catalog(services) -> str:
    """The read side's database name, as DuckDB calls it."""
    with services.read_side.cursor() as cur:
        return cur.execute("SELECT current_database()").fetchone()[0]


@DUCKDB_ONLY
def test_no_name_reaches_the_tables_themselves_for_analysts(client, people, catalog, untouched):
    attempts = [
        "SELECT first_name FROM main.contacts", "SELECT * FROM MAIN.Contacts", "FROM main.contacts",
        f'SELECT * FROM "{catalog}"."main"."contacts"', f"SELECT * FROM {catalog}.contacts",
        'SELECT * FROM "memory"."main"."contacts"', "SELECT * FROM temp.main.contacts",
        "SELECT * FROM system.main.contacts", "SELECT text FROM main.interactions", "SELECT notes FROM main.tasks",
        "SELECT * FROM main.deals",  # no personal data there, but the raw tables are out of reach as a whole
        "DESCRIBE main.contacts", "SUMMARIZE main.contacts", "SHOW main.contacts",
        "WITH x AS (SELECT * FROM main.interactions) SELECT subject FROM x",
        "SELECT (SELECT max(email) FROM main.contacts)",
        "SELECT * FROM contacts WHERE email IN (SELECT email FROM main.contacts)",
        "SELECT * FROM contacts, LATERAL (SELECT first_name FROM main.contacts)",
        "SELECT outcome FROM main.tasks UNION ALL SELECT 'x'",
        "SELECT * FROM query_table('main.contacts')",
    ]
    for attempt in attempts:
        response = sql(client, attempt, people.analyst)
        assert assert_problem(response, 403, "sql-outside-read-side")["field"] == "sql", attempt
        assert not [secret for secret in people.secrets if secret in response.text], attempt
    # the same names, for admins: the tables as they are
    assert ok(sql(client, "SELECT first_name FROM main.contacts"), 200)["rows"] == [["Zebulon"]]
    assert ok(sql(client, f'SELECT email FROM "{catalog}"."main"."contacts"'), 200)["rows"] == [["zq@hidden.example"]]


@DUCKDB_ONLY
def test_the_catalogue_casts_and_summaries_show_analysts_no_persons_data(client, people, catalog, untouched):
    answered = [
        "SELECT * FROM information_schema.columns", "SELECT * FROM information_schema.tables",
        "SELECT * FROM duckdb_tables", "SELECT * FROM duckdb_views", "SELECT * FROM duckdb_columns",
        "SELECT * FROM pg_catalog.pg_class", "SHOW TABLES", "SHOW ALL TABLES", "DESCRIBE contacts",
        "SUMMARIZE contacts", "SUMMARIZE interactions", "SUMMARIZE tasks", "SUMMARIZE SELECT * FROM contacts",
        "SELECT contacts FROM contacts", "SELECT COLUMNS(*) FROM interactions", "SELECT * FROM analyst.contacts",
        f'SELECT * FROM "{catalog}".analyst.contacts', "SELECT CAST(email AS INTEGER) FROM contacts",
        "SELECT first_name || last_name || email FROM contacts", "SELECT to_json(t) FROM tasks t",
    ]
    for query in answered:
        response = sql(client, query, people.analyst)
        assert response.status_code == 200, (query, response.text)
        assert not [secret for secret in people.secrets if secret in response.text], query


@DUCKDB_ONLY
def test_the_analyst_views_are_one_cursors_setting_only(services, people):
    """A cursor is a connection of its own: its search path never reaches the others."""
    with services.read_side.cursor() as hidden, services.read_side.cursor() as other:
        with without_personal_data(hidden):
            assert hidden.execute("SELECT first_name, city FROM contacts").fetchall() == [(None, "Lyon")]
            assert other.execute("SELECT first_name, city FROM contacts").fetchall() == [("Zebulon", "Lyon")]
        assert hidden.execute("SELECT first_name FROM contacts").fetchall() == [("Zebulon",)]


@DUCKDB_ONLY
def test_analysts_and_admins_querying_at_once_each_see_their_own(services, people):
    def names(personal_data: bool) -> set:
        seen = set()
        with services.read_side.cursor() as cur:
            for _ in range(20):
                answer = run_analyst_sql(cur, "SELECT first_name FROM contacts", SqlLimits(5, 10),
                                         personal_data=personal_data)
                seen.update(row[0] for row in answer.rows)
        return seen

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(names, [False, True, False, True]))
    assert results == [{None}, {"Zebulon"}, {None}, {"Zebulon"}]


ANALYSTS_COUNT = "SELECT count(*), count(first_name), count(city) FROM contacts"


def test_the_analyst_views_outlive_a_rebuild(client, services, people):
    assert ok(sql(client, ANALYSTS_COUNT, people.analyst, after=people.position), 200)["rows"] == [[1, 0, 1]]
    services.stop()
    services.read_side.recreate()  # what `crm-es rebuild` does
    services.projector.reset()
    services.projector.catch_up()
    assert ok(sql(client, ANALYSTS_COUNT, people.analyst), 200)["rows"] == [[1, 0, 1]]
    services.read_side.drop_tables()
    services.read_side.create_tables()
    services.projector.reset()
    services.projector.catch_up()
    assert ok(sql(client, ANALYSTS_COUNT, people.analyst), 200)["rows"] == [[1, 0, 1]]
    assert ok(sql(client, ANALYSTS_COUNT), 200)["rows"] == [[1, 1, 1]]


def test_a_read_side_opened_again_or_started_over_has_the_analyst_views(services, people, tmp_path):
    path = tmp_path / "other.duckdb"
    first = ReadSide(path)
    with first.cursor() as c:
        c.execute("DROP SCHEMA analyst CASCADE")  # as a version before the views left it
    first.close()
    for tampered in [False, True]:
        if tampered:
            with duckdb.connect(str(path)) as db:
                db.execute("UPDATE read_side_schema SET fingerprint = 'made-by-another-version'")
        again = ReadSide(path)
        try:
            Projector(services.store, again).catch_up()
            with again.cursor() as cur:
                answer = run_analyst_sql(cur, ANALYSTS_COUNT, SqlLimits(5, 10))
            assert answer.rows == [[1, 0, 1]], tampered
        finally:
            again.close()


def test_an_answer_past_the_byte_limits_is_refused_before_it_is_held(client):
    """400 rows of 1 MB were a 400 MB answer, built whole in the server's memory first."""
    tracemalloc.start()
    try:
        response = sql(client, "SELECT rpad('', 1000000, 'x') AS big FROM range(400)")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    problem = assert_problem(response, 422, "sql-cell-too-large")
    assert names_sql(problem) and problem["limit_bytes"] == 1_000_000 and problem["column"] == "big"
    assert "CRM_ES_SQL_MAX_CELL_BYTES" in problem["detail"]
    assert len(response.content) < 2_000
    assert peak < 50_000_000  # the rows were never all held: only the first few were fetched

    # Values within the cell limit, but 40 MB of them: refused at the answer's limit.
    problem = assert_problem(sql(client, "SELECT rpad('', 100000, 'x') AS big FROM range(400)"), 422,
                             "sql-answer-too-large")
    assert names_sql(problem) and problem["limit_bytes"] == 16_000_000
    assert "row 160" in problem["detail"] and "CRM_ES_SQL_MAX_ANSWER_BYTES" in problem["detail"]
    # Up to the limits, the whole answer.
    body = ok(sql(client, "SELECT rpad('', 100000, 'x') AS big FROM range(150)"), 200)
    assert len(body["rows"]) == 150 and body["truncated"] is False


def test_the_byte_limits_are_settings(client, services, tmp_path):
    services.settings = replace(services.settings, sql_max_answer_bytes=1_000, sql_max_cell_bytes=100)
    problem = assert_problem(sql(client, "SELECT rpad('', 99, 'x') AS line"), 422, "sql-cell-too-large")
    assert problem["limit_bytes"] == 100  # 99 characters and their quotes
    assert ok(sql(client, "SELECT rpad('', 98, 'x') AS line"), 200)["rows"] == [["x" * 98]]
    problem = assert_problem(sql(client, "SELECT range AS n, 'x' AS line FROM range(200)"), 422, "sql-answer-too-large")
    assert problem["limit_bytes"] == 1_000

    settings = Settings.from_env({"CRM_ES_DATA_DIR": str(tmp_path), "CRM_ES_SQL_MAX_ANSWER_BYTES": "2000000",
                                  "CRM_ES_SQL_MAX_CELL_BYTES": "5000"})
    assert (settings.sql_max_answer_bytes, settings.sql_max_cell_bytes) == (2_000_000, 5_000)
    defaults = Settings.from_env({"CRM_ES_DATA_DIR": str(tmp_path)})
    assert (defaults.sql_max_answer_bytes, defaults.sql_max_cell_bytes) == (16_000_000, 1_000_000)
    for name in ("CRM_ES_SQL_MAX_ANSWER_BYTES", "CRM_ES_SQL_MAX_CELL_BYTES"):
        with pytest.raises(ValueError, match=name):
            Settings.from_env({"CRM_ES_DATA_DIR": str(tmp_path), name: "16 MB"})
