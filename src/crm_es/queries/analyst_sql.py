"""Analysts' SQL (POST /sql, `crm-es sql`): one SELECT over the read side, checked on
DuckDB's own parse, then run read-only under a time limit, a row limit and limits on the
answer's size and on each value's.

What is checked, and why not on the text: DuckDB reads files, URLs, other databases and
Python variables from inside a SELECT (``read_csv(...)``, ``FROM 'x.parquet'``, a name no
table has), and a name it does not know can make it download an extension. So:

- the statement must be one, of type SELECT (``extract_statements``); DESCRIBE, SHOW,
  SUMMARIZE, VALUES, WITH and FROM-first queries are SELECTs there;
- its syntax tree (``json_serialize_sql``) may name only the read side's tables and views,
  the catalogue's own views, and the CTEs in scope; only a few table functions that make
  rows from their arguments; only the functions and types DuckDB has already loaded, but
  for a few that reach outside or change state;
- it runs in a READ ONLY transaction, so a write the checks missed still fails.

Analysts never see a person's data (their role's promise); admins see every column. For
analysts the query runs with the connection's search path on the read side's ``analyst``
schema, whose views null each table's personal columns (``Table.personal``, same name and
type: projections/read_side.py), so DuckDB itself resolves ``contacts`` to the view; and
the syntax tree may name no raw table, however qualified (``main.contacts``,
``"read"."main"."contacts"``, ``read.contacts``).
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import duckdb
import orjson

from crm_es.aggregates.base import FORBIDDEN, INVALID, DomainError
from crm_es.projections.read_side import ANALYST_SCHEMA
from crm_es.queries.sql import jsonable

FIELD = "sql"

# Table functions that only make rows from their arguments. Every other one is refused:
# most read files or URLs (read_csv, read_parquet, glob, parquet_scan, read_text …), run
# SQL given as text (query, query_table, json_execute_serialized_sql), or show or change
# the engine's settings, secrets and logs.
TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest", "json_each", "json_tree"})

# Functions DuckDB has loaded that reach outside the read side or change state.
FUNCTIONS_REFUSED = frozenset({"current_setting", "nextval", "currval", "setseed", "write_log"})
# Named in the syntax tree but bound by the binder itself (the scalar UNNEST).
FUNCTIONS_OF_THE_BINDER = frozenset({"unnest", "unlist"})

# Views of DuckDB's own catalogue left out: the log may hold other callers' queries; the
# databases' list and the settings show where the file lies on the server.
VIEWS_REFUSED = frozenset({"duckdb_logs", "duckdb_databases", "pragma_database_list", "pg_settings"})


class SqlProblem(DomainError):
    """Analysts' SQL said no; ``rule`` names why, the field is always ``sql``."""

    def __init__(self, rule: str, detail: str, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.rule = rule
        self.field = FIELD


class SqlRefused(SqlProblem):
    """Well-formed, but not something analysts' SQL may do."""

    category = FORBIDDEN


class SqlInvalid(SqlProblem):
    """The SQL cannot run as sent (syntax, an unknown column, several statements …)."""

    category = INVALID


@dataclass(frozen=True)
class SqlLimits:
    timeout_seconds: float
    max_rows: int
    max_answer_bytes: int = 16_000_000  # the answer's JSON, all rows together
    max_cell_bytes: int = 1_000_000  # one value's JSON


@dataclass(frozen=True)
class SqlAnswer:
    columns: list[str]
    types: list[str]  # DuckDB's names: INTEGER, DECIMAL(20,4), TIMESTAMP WITH TIME ZONE, VARCHAR[] …
    rows: list[list[Any]]  # JSON-ready
    truncated: bool  # more rows than max_rows: the first max_rows are here

    def as_dict(self) -> dict[str, Any]:
        return {"columns": self.columns, "types": self.types, "rows": self.rows, "truncated": self.truncated}


def run_analyst_sql(cur: duckdb.DuckDBPyConnection, sql: str, limits: SqlLimits, *,
                    personal_data: bool = False) -> SqlAnswer:
    """``personal_data``: the tables as they are (admins); without it, the analyst views."""
    query = checked_select(cur, sql, personal_data=personal_data)
    if personal_data:
        return run_select(cur, query, limits)
    with without_personal_data(cur):
        return run_select(cur, query, limits)


@contextmanager
def without_personal_data(cur: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Unqualified names resolve to the analyst views while in the block. The search path
    is a setting of this connection alone (a cursor is one), never of the other requests';
    DuckDB refuses a path to a schema that does not exist, so a missing view fails loudly
    instead of falling through to the tables."""
    row = cur.execute("SELECT current_database()").fetchone()
    database = row[0] if row else ""
    quoted = '"' + database.replace('"', '""') + '"'
    cur.execute("SET SESSION search_path = ?", [f"{quoted}.{ANALYST_SCHEMA}"])
    try:
        yield
    finally:
        cur.execute("RESET SESSION search_path")


# --- the checks -----------------------------------------------------------------------


def checked_select(cur: duckdb.DuckDBPyConnection, sql: str, *, personal_data: bool = False) -> str:
    """The one SELECT in ``sql``, once the checks pass (SqlRefused / SqlInvalid if not).
    Without ``personal_data`` it may name the analyst views, never the raw tables."""
    try:
        statements = cur.extract_statements(sql)
    except duckdb.Error as error:
        raise SqlInvalid("sql-error", str(error)) from error
    if not statements:
        raise SqlInvalid("sql-error", "no SQL statement found: send one SELECT")
    if len(statements) > 1:
        raise SqlInvalid("one-statement", f"send one statement per request, not {len(statements)}")
    [statement] = statements
    if statement.type != duckdb.StatementType.SELECT:
        kind = "PIVOT without an IN list" if statement.type == duckdb.StatementType.MULTI else statement.type.name
        raise SqlRefused("sql-read-only", f"{kind} statements are not allowed: analysts' SQL is one SELECT "
                                          "(or WITH, FROM, VALUES, DESCRIBE, SHOW, SUMMARIZE) over the read side")
    tree = _syntax_tree(cur, statement.query)
    catalogue = Catalogue.of(cur, personal_data=personal_data)
    for statement_tree in tree["statements"]:
        _check(statement_tree, catalogue, frozenset())
    return statement.query


def _syntax_tree(cur: duckdb.DuckDBPyConnection, query: str) -> dict[str, Any]:
    row = cur.execute("SELECT json_serialize_sql(?)", [query]).fetchone()
    tree = orjson.loads(row[0]) if row else {"error": True, "error_message": "no syntax tree"}
    if tree.get("error"):
        raise SqlInvalid("sql-error", tree.get("error_message") or "this SELECT cannot be checked")
    return tree


@dataclass(frozen=True)
class Catalogue:
    """What a SELECT may name. Relations by (database, schema, name), lower case, read
    for each query (a rebuild makes new tables); functions and types as loaded. For
    analysts, ``raw`` names the tables they reach only through the analyst views."""

    relations: frozenset[tuple[str, str, str]]
    tables: tuple[str, ...]  # the read side's own, for messages
    functions: frozenset[str]
    table_functions: frozenset[str]
    types: frozenset[str]
    raw: frozenset[str] | None = None  # None: every table is in reach (admins)

    @classmethod
    def of(cls, cur: duckdb.DuckDBPyConnection, *, personal_data: bool = True) -> Catalogue:
        rows = [(d.lower(), s.lower(), n.lower(), internal) for d, s, n, internal in cur.execute(
            "SELECT database_name, schema_name, table_name, internal FROM duckdb_tables() "
            "UNION ALL SELECT database_name, schema_name, view_name, internal FROM duckdb_views()"
        ).fetchall() if n.lower() not in VIEWS_REFUSED]
        raw = None
        if not personal_data:  # the catalogue's own views, and the analyst views
            raw = frozenset(n for _, s, n, internal in rows if not internal and s != ANALYST_SCHEMA)
            rows = [row for row in rows if row[3] or row[1] == ANALYST_SCHEMA]
        own = "main" if personal_data else ANALYST_SCHEMA
        tables = tuple(sorted(n for _, s, n, internal in rows if not internal and s == own))
        return cls(frozenset((d, s, n) for d, s, n, _ in rows), tables, *_loaded(cur), raw)

    def has(self, catalog: str, schema: str, name: str) -> bool:
        catalog, schema, name = catalog.lower(), schema.lower(), name.lower()
        if self.raw is not None:
            return self._has_exactly(catalog, schema, name)
        for d, s, n in self.relations:
            if n != name:
                continue
            if catalog and (d, s) == (catalog, schema):
                return True
            # ``a.b``: DuckDB reads a as a schema, or as a database when no schema has that name.
            if not catalog and (not schema or schema in (s, d)):
                return True
        return False

    def _has_exactly(self, catalog: str, schema: str, name: str) -> bool:
        """Only names that cannot mean a raw table, whatever DuckDB makes of them: no
        ``a.b`` where a could be the database (whose default schema is main), no main."""
        if catalog:
            return (catalog, schema, name) in self.relations
        if schema:
            return schema != "main" and any((s, n) == (schema, name) for _, s, n in self.relations)
        # The search path puts the analyst schema before main: a raw table's name is its view.
        return any(n == name and (s == ANALYST_SCHEMA or name not in (self.raw or ())) for _, s, n in self.relations)

    def hides(self, name: str) -> bool:
        """A raw table, out of analysts' reach."""
        return self.raw is not None and name.lower() in self.raw


_LOADED_LOCK = threading.Lock()
_LOADED: list[tuple[frozenset[str], frozenset[str], frozenset[str]]] = []


def _loaded(cur: duckdb.DuckDBPyConnection) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """The functions and types DuckDB has loaded, read once (nothing here loads more). A
    name outside them could be bound by installing an extension: a download."""
    with _LOADED_LOCK:
        if not _LOADED:
            functions = cur.execute("SELECT function_name, function_type FROM duckdb_functions()").fetchall()
            types = cur.execute("SELECT type_name FROM duckdb_types()").fetchall()
            _LOADED.append((
                frozenset(n.lower() for n, kind in functions if kind in ("scalar", "aggregate", "window", "macro")),
                frozenset(n.lower() for n, kind in functions if kind in ("table", "table_macro")),
                frozenset(n.lower() for (n,) in types),
            ))
        return _LOADED[0]


def _check(node: Any, catalogue: Catalogue, ctes: frozenset[str]) -> None:
    """Walk DuckDB's syntax tree; ``ctes`` are the CTE names in scope at ``node``."""
    if isinstance(node, list):
        for item in node:
            _check(item, catalogue, ctes)
        return
    if not isinstance(node, dict):
        return
    if "cte_map" in node:  # a query node: its CTEs are in scope in it, each after its own definition
        for entry in (node["cte_map"] or {}).get("map") or []:
            _check(entry["value"], catalogue, ctes)
            ctes = ctes | {entry["key"].lower()}
    if node.get("type") == "RECURSIVE_CTE_NODE":
        ctes = ctes | {node["cte_name"].lower()}
    kind = node.get("type")
    if "class" in node:  # an expression
        if "function_name" in node:
            _check_function(node["function_name"], catalogue)
        if node["class"] == "TYPE":
            _check_type(node.get("type_name") or "", catalogue)
    elif kind == "BASE_TABLE":
        _check_relation(node.get("catalog_name") or "", node.get("schema_name") or "", node["table_name"], catalogue, ctes)
    elif kind == "SHOW_REF" and node.get("show_type") == "SHOW" and node.get("table_name"):
        _check_relation(node.get("catalog_name") or "", node.get("schema_name") or "", node["table_name"], catalogue, ctes)
    elif kind == "TABLE_FUNCTION":
        function = node["function"]
        name = function.get("function_name", "")
        if name.lower() not in TABLE_FUNCTIONS:
            raise SqlRefused("sql-outside-read-side", f"the table function {name} is not allowed: analysts' SQL "
                                                      f"reads the read side's tables, never files, URLs or settings "
                                                      f"(allowed: {', '.join(sorted(TABLE_FUNCTIONS))})")
        _check(function.get("arguments"), catalogue, ctes)
        node = {k: v for k, v in node.items() if k != "function"}
    if "user_type_name" in node:  # older DuckDB versions spell a cast's type this way
        _check_type(node["user_type_name"] or "", catalogue)
    for key, value in node.items():
        if key != "cte_map" and isinstance(value, (dict, list)):
            _check(value, catalogue, ctes)


def _check_relation(catalog: str, schema: str, name: str, catalogue: Catalogue, ctes: frozenset[str]) -> None:
    if not catalog and not schema and name.lower() in ctes:
        return
    if catalogue.has(catalog, schema, name):
        return
    shown = ".".join(p for p in (catalog, schema, name) if p)
    if catalogue.hides(name) and name.lower() in catalogue.tables:
        raise SqlRefused("sql-outside-read-side", f"{shown!r} reaches the read side's own table: analysts' SQL reads "
                                                  f"{name} by its name alone, where a person's data is null")
    # Not a table: DuckDB would read it as a file, a URL or a Python variable.
    raise SqlRefused("sql-outside-read-side", f"{shown!r} is not a table of the read side, and analysts' SQL never "
                                              f"reads files, URLs or other databases (tables: {', '.join(catalogue.tables)})")


def _check_function(name: str, catalogue: Catalogue) -> None:
    lowered = name.lower()
    refused = lowered in catalogue.table_functions and lowered not in FUNCTIONS_OF_THE_BINDER | TABLE_FUNCTIONS
    if refused or lowered in FUNCTIONS_REFUSED or lowered.startswith("__"):
        raise SqlRefused("sql-outside-read-side", f"the function {name} is not allowed in analysts' SQL")
    if lowered not in catalogue.functions and lowered not in FUNCTIONS_OF_THE_BINDER:
        raise SqlInvalid("sql-error", f"unknown function {name}: analysts' SQL has DuckDB's built-in functions")


def _check_type(name: str, catalogue: Catalogue) -> None:
    if name and name.lower() not in catalogue.types:
        raise SqlInvalid("sql-error", f"unknown type {name}: analysts' SQL has DuckDB's built-in types")


# --- running it -----------------------------------------------------------------------


class _Deadline:
    """Interrupts the cursor's query once the time is up, never after it has finished
    (an interrupt sent to an idle connection must not reach its next statement)."""

    def __init__(self, cur: duckdb.DuckDBPyConnection, seconds: float) -> None:
        self.cur, self.fired, self.done = cur, False, False
        self.lock = threading.Lock()
        self.timer = threading.Timer(seconds, self._interrupt)
        self.timer.daemon = True

    def _interrupt(self) -> None:
        with self.lock:
            if not self.done:
                self.fired = True
                self.cur.interrupt()

    def __enter__(self) -> _Deadline:
        self.timer.start()
        return self

    def __exit__(self, *_: object) -> None:
        with self.lock:
            self.done = True
        self.timer.cancel()


def run_select(cur: duckdb.DuckDBPyConnection, query: str, limits: SqlLimits) -> SqlAnswer:
    """Run a query that passed ``checked_select``, in a READ ONLY transaction (rolled back)."""
    cur.execute("BEGIN TRANSACTION READ ONLY")
    try:
        with _Deadline(cur, limits.timeout_seconds) as deadline:
            try:
                result = cur.execute(query)
                described = result.description or []
                columns, types = [d[0] for d in described], [str(d[1]) for d in described]
                rows, truncated = _rows_within(result, SqlAnswer(columns, types, [], False), limits)
            except duckdb.InterruptException as error:
                if not deadline.fired:
                    raise SqlInvalid("sql-error", str(error)) from error
                raise SqlInvalid("sql-timeout", f"the query ran longer than the limit of {limits.timeout_seconds:g} "
                                                "seconds and was stopped: narrow it down or aggregate") from error
            except duckdb.TransactionException as error:
                if "read-only" in str(error):  # a write the checks above did not see
                    raise SqlRefused("sql-read-only", "analysts' SQL reads, it never writes") from error
                raise SqlInvalid("sql-error", str(error)) from error
            except duckdb.Error as error:
                raise SqlInvalid("sql-error", str(error)) from error
    finally:
        cur.execute("ROLLBACK")
    return SqlAnswer(columns, types, rows, truncated)


FIRST_BATCH = 8  # rows fetched before their size is known
BATCH_BYTES = 1_000_000  # then about this much at a time: DuckDB hands a whole batch over as Python objects


def _rows_within(result: duckdb.DuckDBPyConnection, empty: SqlAnswer, limits: SqlLimits) -> tuple[list[list[Any]], bool]:
    """The first ``max_rows`` rows, JSON-ready, and whether there were more. Fetched a
    batch at a time and measured as each is encoded, so an answer past the byte limits
    is refused once it gets there: never held whole (400 rows of 1 MB would be 400 MB)."""
    size = len(orjson.dumps(empty.as_dict()))
    rows: list[list[Any]] = []
    batch = FIRST_BATCH
    while fetched := result.fetchmany(min(batch, limits.max_rows + 1 - len(rows))):
        for raw in fetched:
            if len(rows) == limits.max_rows:
                return rows, True
            row = [cell(v) for v in raw]
            encoded = len(orjson.dumps(row))
            if encoded > limits.max_cell_bytes:
                _refuse_large_cell(row, empty.columns, len(rows), limits.max_cell_bytes)
            size += encoded + 1  # and its comma
            if size > limits.max_answer_bytes:
                raise SqlInvalid("sql-answer-too-large", f"the answer is over the limit of {limits.max_answer_bytes:,} "
                                 f"bytes of JSON by row {len(rows) + 1} (CRM_ES_SQL_MAX_ANSWER_BYTES): aggregate, "
                                 "select fewer columns or add a LIMIT", limit_bytes=limits.max_answer_bytes)
            rows.append(row)
        batch = max(1, min(2048, BATCH_BYTES * len(rows) // size))
    return rows, False


def _refuse_large_cell(row: list[Any], columns: list[str], index: int, limit: int) -> None:
    for column, value in zip(columns, row, strict=True):
        if len(orjson.dumps(value)) > limit:
            raise SqlInvalid("sql-cell-too-large", f"the value of {column!r} in row {index + 1} is over the limit of "
                             f"{limit:,} bytes of JSON for one value (CRM_ES_SQL_MAX_CELL_BYTES): select a part of "
                             f"it (left({column}, n)) or its length", limit_bytes=limit, column=column)


def cell(value: Any) -> Any:
    """A DuckDB value, JSON-ready: jsonable's forms, and those only a free query returns."""
    if isinstance(value, dict):  # STRUCT and MAP
        return {str(k): cell(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [cell(v) for v in value]
    if isinstance(value, int) and not -(2**63) <= value < 2**64:
        return str(value)  # HUGEINT: beyond what JSON parsers keep exactly
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN or infinity: "nan", "inf", "-inf"
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return _duration(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    return jsonable(value)


def _duration(value: dt.timedelta) -> str:
    """ISO 8601: P1DT2H30M, PT0.5S, -P1D."""
    sign = "-" if value < dt.timedelta(0) else ""
    value = abs(value)
    hours, rest = divmod(value.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    fraction = f"{seconds + value.microseconds / 1e6:g}" if value.microseconds else str(seconds)
    time = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M")) if n)
    time += f"{fraction}S" if seconds or value.microseconds else ""
    days = f"{value.days}D" if value.days else ""
    return f"{sign}P{days}" + (f"T{time}" if time else ("" if days else "T0S"))

