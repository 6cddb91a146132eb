"""The projector: follows the event store's log and writes the read side.

Each batch of events becomes row operations (pure projection functions), applied
in ONE DuckDB transaction together with the log position they reach. A crash at
any point leaves either the whole batch and its position, or neither.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from crm_es.projections import deals, people, pipelines, records  # noqa: F401  (they register their handlers)
from crm_es.projections.read_side import READ_SIDE, ReadSide
from crm_es.projections.rows import HANDLERS, Delete, EventRow, Insert, Op, Patch, PatchWhere
from crm_es.projections.schema import TABLES_BY_NAME, Table
from crm_es.store import EventStore, RawEvent


def _arrow_type(duck_type: str) -> pa.DataType:
    if duck_type in ("INTEGER", "BIGINT"):
        return pa.int64()
    if duck_type.endswith("[]"):
        return pa.list_(pa.string())
    return pa.string()  # UUIDs, decimals, times and JSON travel as text and are cast by DuckDB


def _arrow(table: Table, columns: list[str], rows: list[dict[str, Any]]) -> pa.Table:
    return pa.table({c: pa.array([r.get(c) for r in rows], type=_arrow_type(table.type_of(c))) for c in columns})


def _cast(table: Table, column: str, source: str) -> str:
    return f"CAST({source}.{column} AS {table.type_of(column)})"


class Batch:
    """Row operations of many events, merged in memory and written in bulk."""

    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self.conn = conn
        self.inserts: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self.appends: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.patches: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)

    def apply(self, op: Op) -> None:
        match op:
            case Insert(table, row):
                spec = TABLES_BY_NAME[table]
                if spec.key is None:
                    self.appends[table].append(row)
                else:
                    self.inserts[table][str(row[spec.key])] = dict(row)
            case Patch(table, key, values):
                pending = self.inserts[table].get(key)
                if pending is not None:
                    pending.update(values)
                else:
                    self.patches[table].setdefault(key, {}).update(values)
            case PatchWhere(table, where, values):
                self.flush()  # set-based changes see every earlier row
                spec = TABLES_BY_NAME[table]
                sets = ", ".join(f"{c} = CAST(? AS {spec.type_of(c)})" for c in values)
                conds = " AND ".join(f"{c} = CAST(? AS {spec.type_of(c)})" for c in where)
                self.conn.execute(f"UPDATE {table} SET {sets} WHERE {conds}", [*values.values(), *where.values()])
            case Delete(table, key):
                self.flush()
                spec = TABLES_BY_NAME[table]
                self.conn.execute(f"DELETE FROM {table} WHERE {spec.key} = CAST(? AS {spec.type_of(spec.key)})", [key])

    def flush(self) -> None:
        for name, by_key in self.inserts.items():
            if by_key:
                self._insert(TABLES_BY_NAME[name], list(by_key.values()))
        for name, rows in self.appends.items():
            if rows:
                self._insert(TABLES_BY_NAME[name], rows)
        for name, by_key in self.patches.items():
            self._patch(TABLES_BY_NAME[name], by_key)
        self.inserts.clear()
        self.appends.clear()
        self.patches.clear()

    def _insert(self, table: Table, rows: list[dict[str, Any]]) -> None:
        columns = [name for name, _ in table.columns]
        batch = _arrow(table, columns, rows)
        self.conn.register("batch_rows", batch)
        try:
            casts = ", ".join(_cast(table, c, "batch_rows") for c in columns)
            self.conn.execute(f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT {casts} FROM batch_rows")
        finally:
            self.conn.unregister("batch_rows")

    def _patch(self, table: Table, by_key: dict[str, dict[str, Any]]) -> None:
        # One UPDATE … FROM per set of columns changed (few: a stage move, a win …).
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for key, values in by_key.items():
            groups[tuple(sorted(values))].append({table.key: key, **values})
        assert table.key is not None
        for columns, rows in groups.items():
            batch = _arrow(table, [table.key, *columns], rows)
            self.conn.register("batch_rows", batch)
            try:
                sets = ", ".join(f"{c} = {_cast(table, c, 'batch_rows')}" for c in columns)
                self.conn.execute(
                    f"UPDATE {table.name} SET {sets} FROM batch_rows "
                    f"WHERE {table.name}.{table.key} = {_cast(table, table.key, 'batch_rows')}"
                )
            finally:
                self.conn.unregister("batch_rows")


def project(raw: RawEvent) -> list[Op]:
    handlers = HANDLERS.get(raw.topic)
    if not handlers:
        return []  # an event no table shows: skipped, its position still counts
    row = EventRow(raw.position, raw.originator_id, raw.version, raw.topic, orjson.loads(raw.state))
    return [op for handler in handlers for op in handler(row)]


class Projector:
    def __init__(self, store: EventStore, read_side: ReadSide, batch_size: int = 10_000) -> None:
        self.store = store
        self.read_side = read_side
        self.batch_size = batch_size
        self.conn = read_side.cursor()
        self._position = read_side.position()
        self._advanced = threading.Condition()
        self._wake = threading.Event()
        self._lock = threading.Lock()  # one catch-up at a time
        self.last_error: str | None = None

    @property
    def position(self) -> int:
        return self._position

    def reset(self) -> None:
        """Start again from the beginning of the log (after the tables were dropped)."""
        with self._lock:
            self._position = self.read_side.position()

    def process(self, events: list[RawEvent]) -> None:
        """Apply one batch and its position in one transaction."""
        if not events:
            return
        self.conn.execute("BEGIN")
        try:
            batch = Batch(self.conn)
            for raw in events:
                for op in project(raw):
                    batch.apply(op)
            batch.flush()
            position = events[-1].position
            self.conn.execute("UPDATE projection_positions SET position = ? WHERE name = ?", [position, READ_SIDE])
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        with self._advanced:
            self._position = position
            self._advanced.notify_all()

    def catch_up(self, progress: Callable[[int], None] | None = None) -> int:
        """Process every event stored so far; returns how many were processed."""
        done = 0
        with self._lock:
            while True:
                events = self.store.read(self._position, self.batch_size)
                if not events:
                    return done
                self.process(events)
                done += len(events)
                if progress:
                    progress(len(events))

    def wait_for(self, position: int, timeout: float) -> bool:
        """Block until the read side has reached ``position`` (read-your-writes)."""
        self.wake()
        with self._advanced:
            return self._advanced.wait_for(lambda: self._position >= position, timeout)

    def wake(self, _position: int | None = None) -> None:
        self._wake.set()

    def run(self, stop: threading.Event, poll_seconds: float) -> None:
        """Follow the log until ``stop``: woken by saves in this process, by NOTIFY on
        PostgreSQL, and by polling for writers elsewhere."""
        while not stop.is_set():
            self._wake.wait(poll_seconds)
            self._wake.clear()
            try:
                self.catch_up()
                self.last_error = None
            except Exception as error:  # keep following; /health shows the error
                self.last_error = f"{type(error).__name__}: {error}"
                stop.wait(poll_seconds)
