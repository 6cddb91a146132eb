"""What the event store keeps below SQL, for tests that look for a value's bytes: the claims
table's rows as stored, SQLite's file and WAL, PostgreSQL's pages of a table and its indexes
(dead tuples included)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from crm_es.settings import Settings

PG_PREFIX = "crm_events"  # the event store's tables on PostgreSQL: crm_events_unique_claims, …


def side_table(settings: Settings, name: str) -> str:
    """A side table's name as SQL: ``unique_claims`` on SQLite, ``"schema".crm_events_unique_claims`` on PostgreSQL."""
    if settings.database_url is None:
        return name
    return f'"{settings.postgres_schema}".{PG_PREFIX}_{name}'


def execute(settings: Settings, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """One statement on the store's own database, outside the service, committed."""
    if settings.database_url is None:
        import sqlite3

        with sqlite3.connect(settings.store_path) as conn:
            rows = conn.execute(statement, params).fetchall()
        conn.close()
        return rows
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        cursor = conn.execute(statement.replace("?", "%s"), params)
        return cursor.fetchall() if cursor.description else []


def claim_rows(settings: Settings) -> list[tuple[str, str, str]]:
    return sorted(execute(settings, f"SELECT scope, value, owner_id FROM {side_table(settings, 'unique_claims')}"))


def sqlite_bytes(settings: Settings) -> bytes:
    """The SQLite file and its WAL: every page, free ones included."""
    path = settings.store_path
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


def pg_relation_bytes(settings: Settings, table: str) -> tuple[bytes | None, str]:
    """Every page of a PostgreSQL table and of its indexes as the server holds them, read
    with pageinspect, else from the data files; (None, why) when neither can be read."""
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        relations = [table, *(r[0] for r in conn.execute(
            "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = %s::regclass", (table,)))]
        schema = _pageinspect_schema(conn)
        if schema is not None:
            read = f'"{schema}".get_raw_page'
            pages = []
            for relation in relations:
                count = conn.execute("SELECT pg_relation_size(%s::regclass) / current_setting('block_size')::int",
                                     (relation,)).fetchone()[0]
                pages += [bytes(conn.execute(f"SELECT {read}(%s, %s)", (relation, n)).fetchone()[0]) for n in range(count)]
            return b"".join(pages), "pageinspect"
        try:
            conn.execute("CHECKPOINT")  # the pages written to their files
            data_dir = Path(conn.execute("SELECT current_setting('data_directory')").fetchone()[0])
            files = [data_dir / conn.execute("SELECT pg_relation_filepath(%s::regclass)", (r,)).fetchone()[0]
                     for r in relations]
            segments = [p for f in files for p in (f, *f.parent.glob(f"{f.name}.*"))]  # 1 GB each
            return b"".join(p.read_bytes() for p in segments), "data files"
        except (psycopg.Error, OSError) as error:
            return None, f"neither pageinspect nor the data directory is readable here: {error}"


def _pageinspect_schema(conn: psycopg.Connection) -> str | None:
    """Where pageinspect's functions are, installing it when the server has it and lets us."""
    find = ("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
            "WHERE e.extname = 'pageinspect'")
    if (row := conn.execute(find).fetchone()) is None:
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pageinspect")
        except psycopg.Error:
            pass  # not installed on the server, not allowed, or another test's at the same moment
        row = conn.execute(find).fetchone()
    return None if row is None else row[0]
