#!/usr/bin/env python
"""Time travel and analytics on the `crm-es generate` data set (PostgreSQL store), each
figure beside a baseline of the same run.

1. The board of a pipeline as of a random past date, from DuckDB's history tables
   (``GET /pipelines/{id}/board?as_of=`` minus HTTP). Baseline: the same board computed
   by replaying the event store (audit/board.py: every deal's and the pipeline's events up
   to then, folded by the aggregates) — checked equal to DuckDB's on the way.
2. The funnel and the velocity over the whole history. Baseline: the very same SQL
   statements (the reports' SQL is plain enough to run unchanged) on PostgreSQL tables
   holding the same rows, with indexes on the keys.

The data set is made once (``crm-es generate`` then ``crm-es project``) into ``--data``
and a PostgreSQL schema, and reused by later runs.

Examples::

    .venv/bin/python bench/bench_history.py                      # the default data set (100,000 contacts …)
    .venv/bin/python bench/bench_history.py --contacts 10000 --deals 5000 --interactions 100000 --data /tmp/small
    .venv/bin/python bench/bench_history.py --write               # rewrite BENCHMARKS.md's section
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from bench_core import PostgresBackend, Results, Row, finish, log, machine, pct, run_options

from crm_es.audit.board import board_then
from crm_es.projections.read_side import ReadSide
from crm_es.projections.schema import TABLES_BY_NAME
from crm_es.queries import board
from crm_es.queries.analytics.funnel import funnel
from crm_es.queries.analytics.period import Period
from crm_es.queries.analytics.velocity import velocity
from crm_es.queries.past import Past
from crm_es.settings import Settings
from crm_es.store import EventStore

BOARD_TARGET = 1000  # times faster than the replay
BOARD_P95_MS = 100
REPORT_P95_MS = 200
REPORT_TARGET = 10  # times faster than the same SQL on PostgreSQL
COPIED = ("deal_history", "deal_stays", "pipeline_stage_history", "reps")  # what the reports read
PG_TYPES = {"UUID": "uuid", "VARCHAR": "text", "INTEGER": "integer", "BIGINT": "bigint", "BOOLEAN": "boolean",
            "TIMESTAMPTZ": "timestamptz", "DATE": "date", "JSON": "jsonb", "VARCHAR[]": "text[]", "UUID[]": "uuid[]"}
INDEXES = ("deal_history (deal_id, version)", "deal_history (pipeline_id)", "deal_history (valid_from)",
           "deal_stays (pipeline_id)", "deal_stays (entered_at)",
           "pipeline_stage_history (stage_id, version)", "reps (id)")
CLI = Path(sys.executable).parent / "crm-es"


class Recorder:
    """A DuckDB cursor that remembers the statements run through it (to run them again
    on PostgreSQL)."""

    def __init__(self, cur: Any) -> None:
        self.cur, self.statements = cur, []

    def execute(self, statement: str, params: list[Any] | None = None) -> Any:
        self.statements.append((statement, list(params or [])))
        return self.cur.execute(statement, params or [])


def ensure_data(args: argparse.Namespace, env: dict[str, str]) -> None:
    """Generate the data set and project it, unless a previous run did."""
    marker = args.data / "ready"
    if marker.exists():
        log(f"reusing the data set in {args.data} (schema {args.schema})")
        return
    with psycopg.connect(args.pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(args.schema)))
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(args.schema)))
    sizes = ["--contacts", str(args.contacts), "--deals", str(args.deals), "--interactions", str(args.interactions)]
    log("crm-es generate " + " ".join(sizes) + " …")
    subprocess.run([str(CLI), "generate", *sizes], env=env, check=True)
    log("crm-es project …")
    subprocess.run([str(CLI), "project"], env=env, check=True)
    marker.write_text(dt.datetime.now(dt.timezone.utc).isoformat())


def busiest_pipeline(cur: Any) -> UUID:
    return UUID(str(cur.execute("SELECT pipeline_id FROM deal_history GROUP BY pipeline_id ORDER BY count(*) DESC LIMIT 1").fetchone()[0]))


def span(cur: Any) -> tuple[dt.datetime, dt.datetime]:
    start, end = cur.execute("SELECT min(valid_from), max(valid_from) FROM deal_history").fetchone()
    return start, end


def plain(answer: dict[str, Any]) -> Any:
    """A board with numbers as numbers and times as instants (as the laws compare them)."""
    from decimal import Decimal

    return answer["currency"], [
        (str(s["stage_id"]), s["name"], Decimal(s["probability"]), s["count"], Decimal(s["amount"]),
         [(d["id"], Decimal(d["amount"]), dt.datetime.fromisoformat(d["stage_entered_at"])) for d in s["deals"]])
        for s in answer["stages"]
    ]


def part_board(cur: Any, store: EventStore, pipeline: UUID, samples: int, replays: int, results: Results) -> None:
    start, end = span(cur)
    rng = random.Random(11)

    def moment() -> dt.datetime:
        return start + (end - start) * rng.random()

    def from_duckdb(past: Past) -> dict[str, Any]:
        currency = board.board_currency(cur, pipeline, past)
        return {"currency": currency, "stages": board.get_board(cur, pipeline, currency=currency, past=past)}

    from_duckdb(Past(moment()))  # warm-up
    seconds = []
    for _ in range(samples):
        past = Past(moment())
        t0 = time.perf_counter()
        from_duckdb(past)
        seconds.append(time.perf_counter() - t0)
    replayed = []
    for i in range(replays):
        past = Past(moment())
        t0 = time.perf_counter()
        then = board_then(store, pipeline, past)
        replayed.append(time.perf_counter() - t0)
        assert plain(then) == plain(from_duckdb(past)), f"the board as of {past.as_of} differs from the replay"
        log(f"replay {i + 1}/{replays}: {replayed[-1]:.1f} s, equal to DuckDB's board")
    p50, p95, replay = pct(seconds, 0.5) * 1000, pct(seconds, 0.95) * 1000, sum(replayed) / len(replayed) * 1000
    ok = replay / p50 >= BOARD_TARGET and p95 < BOARD_P95_MS
    results.add(Row("1", "postgres", f"board as of a random past date from DuckDB's history tables ({samples} dates), p50",
                    p50, "ms", f"the same board replayed from the event store ({replays} dates, equal answers)", replay,
                    f">= {BOARD_TARGET:,}x faster and p95 < {BOARD_P95_MS} ms", ok, f"p95 {p95:,.1f} ms"))


def copy_to_postgres(cur: Any, url: str, schema: str) -> None:
    """The tables the reports read, row for row, into PostgreSQL (with indexes, analysed)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(schema)))
        for name in COPIED:
            table = TABLES_BY_NAME[name]
            columns = ", ".join(f"{c} {PG_TYPES.get(t, 'numeric')}" for c, t in table.columns)
            conn.execute(f"CREATE TABLE {name} ({columns})")
            rows = cur.execute(f"SELECT * FROM {name}").fetchall()
            with conn.cursor() as pg, pg.copy(f"COPY {name} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            log(f"copied {len(rows):,} rows of {name} to PostgreSQL")
        for index in INDEXES:
            conn.execute(f"CREATE INDEX ON {index}")
        conn.execute("ANALYZE")


def part_reports(cur: Any, url: str, schema: str, pipeline: UUID, runs: int, results: Results) -> None:
    start, end = span(cur)
    period = Period(start, end + dt.timedelta(seconds=1))
    copy_to_postgres(cur, url, schema)
    for name, report_of in (("funnel", funnel), ("velocity", velocity)):
        recorder = Recorder(cur)
        answer = report_of(recorder, pipeline, period)
        statements = recorder.statements
        seconds = []
        for _ in range(runs):
            t0 = time.perf_counter()
            report_of(cur, pipeline, period)
            seconds.append(time.perf_counter() - t0)
        pg_seconds = []
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(schema)))
            for _ in range(max(3, runs // 4)):
                t0 = time.perf_counter()
                counts = [len(conn.execute(s.replace("?", "%s"), p).fetchall()) for s, p in statements]
                pg_seconds.append(time.perf_counter() - t0)
        duck_counts = [len(cur.execute(s, p).fetchall()) for s, p in statements]
        assert counts == duck_counts, f"{name}: PostgreSQL answered {counts} rows, DuckDB {duck_counts}"
        p50, p95, pg50 = pct(seconds, 0.5) * 1000, pct(seconds, 0.95) * 1000, pct(pg_seconds, 0.5) * 1000
        ok = p95 < REPORT_P95_MS and pg50 / p50 >= REPORT_TARGET
        deals = answer["groups"][0].get("opened", 0) if answer["groups"] else 0
        results.add(Row("2", "postgres", f"{name} over the whole history ({len(statements)} statements, {deals:,} deals opened), p50",
                        p50, "ms", "the same statements on PostgreSQL tables of the same rows, indexed, p50", pg50,
                        f"p95 < {REPORT_P95_MS} ms and >= {REPORT_TARGET}x faster", ok, f"p95 {p95:,.1f} ms"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                                     epilog="Exit status 1 when a figure misses its target, 0 otherwise.")
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "crm-es-bench-history",
                        help="where the data set's read side lives (made once, then reused)")
    parser.add_argument("--schema", default="crm_es_bench_history", help="PostgreSQL schema of the data set's event store")
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--deals", type=int, default=50_000)
    parser.add_argument("--interactions", type=int, default=2_000_000)
    parser.add_argument("--samples", type=int, default=100, help="past dates the DuckDB board is timed at")
    parser.add_argument("--replays", type=int, default=3, help="past dates the replayed board is timed at (slow)")
    parser.add_argument("--runs", type=int, default=20, help="runs of each report on DuckDB")
    run_options(parser)
    args = parser.parse_args(argv)

    started, t_start = dt.datetime.now(dt.timezone.utc), time.perf_counter()
    args.data.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CRM_ES_DATABASE_URL": args.pg_url, "CRM_ES_POSTGRES_SCHEMA": args.schema,
           "CRM_ES_DATA_DIR": str(args.data / "var")}
    ensure_data(args, env)
    settings = Settings.from_env(env)
    store, read_side = EventStore(settings.store_env()), ReadSide(settings.read_side_path)
    results = Results()
    info_backend = PostgresBackend(Path(tempfile.mkdtemp(prefix="crm-es-history-")), args.pg_url)
    try:
        cur = read_side.cursor()
        events = store.max_position()
        rows = cur.execute("SELECT count(*) FROM deal_history").fetchone()[0]
        results.note(f"data set: {events:,} events in the store; deal_history {rows:,} rows")
        pipeline = busiest_pipeline(cur)
        part_board(cur, store, pipeline, args.samples, args.replays, results)
        part_reports(cur, args.pg_url, f"{args.schema}_sql", pipeline, args.runs, results)
    finally:
        store.close()
        read_side.close()
        info_backend.close()
    return finish(results, args, machine(info_backend), started, t_start, script="bench_history.py")


if __name__ == "__main__":
    sys.exit(main())
