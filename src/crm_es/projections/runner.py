"""The projector: follows the event store's log and writes the read side.

Each batch of events becomes row operations (pure projection functions), applied
in ONE DuckDB transaction together with the log position they reach. A crash at
any point leaves either the whole batch and its position, or neither.

A batch is first planned — its row operations merged and turned into Arrow data and
statements, in pure Python — then written. During a long catch-up the next batch is
read and planned while DuckDB writes the one before, in a thread of its own (DuckDB
releases the GIL while it works). Batches still commit one at a time and in log order.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from functools import cache, partial
from typing import Any

import duckdb
import orjson
import pyarrow as pa
from eventsourcing.utils import get_topic

from crm_es.aggregates import Contact
from crm_es.projections.catalogue import HANDLERS
from crm_es.projections.deal_stays import rewrite_statements
from crm_es.projections.history import MASK, MASKS, version_rows, version_statements
from crm_es.projections.read_side import READ_SIDE, ReadSide
from crm_es.projections.rows import Count, Delete, EventRow, Insert, Op, Patch, PatchWhere, Version
from crm_es.projections.schema import TABLES_BY_NAME, Table
from crm_es.store import EventStore, RawEvent, personal
from crm_es.store.codec import event_class, upcast
from crm_es.store.outage import STORE, is_outage, one_line

log = logging.getLogger("crm_es.projections")

SOURCE = "batch_rows"  # what a batch's Arrow data is registered as in DuckDB
YIELD_EVERY = 255  # planning gives up the GIL every 256 events (see Batch.add)
REWRITE_STAYS = rewrite_statements()
# A batch with one of these is checkpointed once committed: until then DuckDB's WAL keeps the
# rows as they were before, the forgotten person's values in clear (a SIGKILL leaves them there).
# Contact.Forgotten, and the erasures it brings on other records (Deal.ContactForgotten …).
ERASURES = frozenset({get_topic(Contact.Forgotten), *(topic for topic in HANDLERS if topic.endswith("Forgotten"))})

# One statement of a batch: SQL with a ``{rows}`` slot and the Arrow rows that fill it,
# or (rare: a set-based change) SQL with parameters.
Step = tuple[str, "pa.Array | None", "list[Any] | None"]


def _arrow_type(duck_type: str) -> pa.DataType:
    if duck_type in ("INTEGER", "BIGINT"):
        return pa.int64()
    if duck_type == "BOOLEAN":
        return pa.bool_()
    if duck_type.endswith("[]"):
        return pa.list_(pa.string())
    return pa.string()  # UUIDs, decimals, times and JSON travel as text and are cast by DuckDB


@cache
def _rows_type(table_name: str, columns: tuple[str, ...]) -> pa.DataType:
    table = TABLES_BY_NAME[table_name]
    return pa.list_(pa.struct([(c, pa.int64() if c in MASKS else _arrow_type(table.type_of(c))) for c in columns]))


def _arrow(table: Table, columns: list[str], rows: list[dict[str, Any]]) -> pa.Array:
    """The rows as one Arrow value, a list of structs of these columns (a missing key is
    a null), converted by Arrow in one pass."""
    return pa.array([rows], type=_rows_type(table.name, tuple(columns)))


def _cast(table: Table, column: str, source: str) -> str:
    return f"CAST({source}.{column} AS {table.type_of(column)})"


class Batch:
    """Row operations of many events, merged in memory, then planned as bulk statements."""

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.inserts: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self.appends: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.patches: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self.counts: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self.versions: dict[str, list[Version]] = defaultdict(list)

    def add(self, events: list[RawEvent], keys: Mapping[str, bytes]) -> None:
        """Project each event and merge its operations (the hot loop: ``apply`` inlined).
        ``keys`` open the personal fields of the batch's events (see ``reshaper``)."""
        handlers_of = HANDLERS.get
        reshaper_of = RESHAPERS.get
        loads = orjson.loads
        inserts, appends, patches, counts, versions = self.inserts, self.appends, self.patches, self.counts, self.versions
        for i, raw in enumerate(events):
            if not i & YIELD_EVERY:
                # DuckDB's Python client takes the GIL between the tasks of a query (to see
                # Ctrl-C); while this loop runs, each take waits up to the 5 ms switch
                # interval. Giving the GIL up now and then keeps a concurrent write moving.
                time.sleep(0)
            handlers = handlers_of(raw.topic)
            if not handlers:
                continue  # an event no table shows: skipped, its position still counts
            data = loads(raw.state)
            reshape = reshaper_of(raw.topic)
            if reshape is not None:
                data = reshape(data, raw.originator_id, keys)
            event = EventRow(raw.position, raw.originator_id, raw.version, raw.topic, data)
            for handler in handlers:
                for op in handler(event):
                    kind = type(op)
                    if kind is Patch:
                        pending = inserts[op.table].get(op.key)  # type: ignore[union-attr]
                        if pending is not None:
                            pending.update(op.values)  # type: ignore[union-attr]
                        else:
                            patches[op.table].setdefault(op.key, {}).update(op.values)  # type: ignore[union-attr]
                    elif kind is Insert:
                        key = TABLES_BY_NAME[op.table].key
                        if key is None:
                            appends[op.table].append(op.row)  # type: ignore[union-attr]
                        else:
                            inserts[op.table][str(op.row[key])] = dict(op.row)  # type: ignore[union-attr]
                    elif kind is Count:
                        row = inserts[op.table].get(op.key)  # type: ignore[union-attr]
                        if row is None:  # counted on top of what the table holds
                            row = counts[op.table].setdefault(op.key, {})  # type: ignore[union-attr]
                        _count_into(row, op)  # type: ignore[arg-type]
                    elif kind is Version:
                        versions[op.table].append(op)  # type: ignore[union-attr,arg-type]
                    else:
                        self._set_based(op)

    def _set_based(self, op: Op) -> None:
        """The rare operations that touch rows by condition: everything merged before
        them is planned first, so they see it."""
        match op:
            case PatchWhere(table, where, values):
                self.flush()  # set-based changes see every earlier row
                spec = TABLES_BY_NAME[table]
                sets = ", ".join(f"{c} = CAST(? AS {spec.type_of(c)})" for c in values)
                # A None in ``where`` asks for the rows where that column is null.
                conds = " AND ".join(f"{c} IS NULL" if v is None else f"{c} = CAST(? AS {spec.type_of(c)})"
                                     for c, v in where.items())
                params = [*values.values(), *(v for v in where.values() if v is not None)]
                self.steps.append((f"UPDATE {table} SET {sets} WHERE {conds}", None, params))
            case Delete(table, key):
                self.flush()
                spec = TABLES_BY_NAME[table]
                self.steps.append((f"DELETE FROM {table} WHERE {spec.key} = CAST(? AS {spec.type_of(spec.key)})", None, [key]))

    def flush(self) -> None:
        """Turn the operations merged so far into steps: inserts, appends, then patches."""
        for name, by_key in self.inserts.items():
            if by_key:
                self._insert(TABLES_BY_NAME[name], list(by_key.values()))
        for name, rows in self.appends.items():
            if rows:
                self._insert(TABLES_BY_NAME[name], rows)
        for name, by_key in self.patches.items():
            if by_key:
                self._patch(TABLES_BY_NAME[name], by_key)
        for name, by_key in self.counts.items():
            if by_key:
                self._count(TABLES_BY_NAME[name], by_key)
        for name, ops in self.versions.items():
            if ops:
                self._version(TABLES_BY_NAME[name], ops)
        self.inserts.clear()
        self.appends.clear()
        self.patches.clear()
        self.counts.clear()
        self.versions.clear()

    def _insert(self, table: Table, rows: list[dict[str, Any]]) -> None:
        columns = [name for name, _ in table.columns]
        casts = ", ".join(_cast(table, c, SOURCE) for c in columns)
        statement = f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT {casts} FROM {{rows}} AS {SOURCE}"
        self.steps.append((statement, _arrow(table, columns, rows), None))

    def _patch(self, table: Table, by_key: dict[str, dict[str, Any]]) -> None:
        """One UPDATE … FROM per table and batch, whatever mix of columns its rows change
        (a move sets the stage, a win the status …): each row carries a bit mask of the
        columns it sets, and a column a row does not set keeps its value."""
        assert table.key is not None
        changed: set[str] = set()
        for values in by_key.values():
            changed.update(values)
        for column in sorted(changed):
            table.type_of(column)  # an unknown column raises KeyError, as before
        columns = [c for c, _ in table.columns if c in changed and c != table.key]
        if not columns:
            return  # only the key "set" to itself: nothing changes
        bits = {c: 1 << i for i, c in enumerate(columns)}
        masks: dict[tuple[str, ...], int] = {}
        common = (1 << len(columns)) - 1  # the columns every row sets need no CASE
        rows = []
        for key, values in by_key.items():  # the dicts are the batch's own: completed in place
            names = tuple(values)
            mask = masks.get(names)
            if mask is None:
                mask = masks[names] = sum(bits.get(c, 0) for c in set(names))
            common &= mask
            values.setdefault(table.key, key)
            values[MASK] = mask
            rows.append(values)
        sets = []
        for c in columns:
            value = _cast(table, c, SOURCE)
            if common & bits[c]:
                sets.append(f"{c} = {value}")
            else:
                sets.append(f"{c} = CASE WHEN ({SOURCE}.{MASK} & {bits[c]}) <> 0 THEN {value} ELSE {table.name}.{c} END")
        statement = (
            f"UPDATE {table.name} SET {', '.join(sets)} FROM {{rows}} AS {SOURCE} "
            f"WHERE {table.name}.{table.key} = {_cast(table, table.key, SOURCE)}"
        )
        self.steps.append((statement, _arrow(table, [table.key, *columns, MASK], rows), None))


    def _count(self, table: Table, by_key: dict[str, dict[str, Any]]) -> None:
        """One UPDATE … FROM per table and batch: counters added, times moved forward (a
        null in a row's column leaves the table's value as it was)."""
        assert table.key is not None
        columns = sorted({c for values in by_key.values() for c in values})
        rows = [{**values, table.key: key} for key, values in by_key.items()]
        sets = []
        for c in columns:
            value = _cast(table, c, SOURCE)
            if table.type_of(c) == "TIMESTAMPTZ":
                sets.append(f"{c} = greatest({table.name}.{c}, {value})")
            else:
                sets.append(f"{c} = coalesce({table.name}.{c}, 0) + coalesce({value}, 0)")
        statement = (
            f"UPDATE {table.name} SET {', '.join(sets)} FROM {{rows}} AS {SOURCE} "
            f"WHERE {table.name}.{table.key} = {_cast(table, table.key, SOURCE)}"
        )
        self.steps.append((statement, _arrow(table, [table.key, *columns], rows), None))


    def _version(self, table: Table, ops: list[Version]) -> None:
        """Two statements per history table and batch (see projections/history.py)."""
        columns, rows, firsts = version_rows(table, ops)
        insert, close = version_statements(table)
        self.steps.append((insert, _arrow(table, columns, rows), None))
        keys = _arrow(table, [table.key, "version", "valid_from", "recorded_at"], firsts)  # each touched record once
        self.steps.append((close, keys, None))
        if table.name == "deal_history":  # the touched deals' stays, worked out again (projections/deal_stays.py)
            self.steps.extend((statement, keys, None) for statement in REWRITE_STAYS)


def _erases(events: list[RawEvent]) -> bool:
    return any(e.topic in ERASURES for e in events)


def _count_into(row: dict[str, Any], op: Count) -> None:
    """Merge a count into a row (a pending insert's, or the batch's sum for the key)."""
    for column, n in op.add.items():
        row[column] = (row.get(column) or 0) + n
    for column, when in op.latest.items():
        current = row.get(column)
        if current is None or datetime.fromisoformat(when) > datetime.fromisoformat(current):
            row[column] = when


def reshaper(cls: type) -> Callable[[dict[str, Any], str, Mapping[str, bytes]], dict[str, Any]] | None:
    """For an event class stored in an older shape or with personal fields: what turns
    its stored JSON into what projections read (upcast, personal fields opened)."""
    if personal.personal_fields(cls):
        return partial(personal.readable, cls)
    if getattr(cls, "class_version", 1) > 1:
        return partial(_upcast_only, cls)
    return None


def _upcast_only(cls: type, data: dict[str, Any], _originator_id: str, _keys: Mapping[str, bytes]) -> dict[str, Any]:
    return upcast(cls, data)


RESHAPERS = {topic: r for topic in HANDLERS if (r := reshaper(event_class(topic))) is not None}
SEALED = frozenset(topic for topic in HANDLERS if personal.personal_fields(event_class(topic)))  # they need keys


def plan(events: list[RawEvent], keys: Mapping[str, bytes]) -> list[Step]:
    """The statements that write these events' rows: pure Python, no database."""
    batch = Batch()
    batch.add(events, keys)
    batch.flush()
    return batch.steps


# The read side's delay is bounded by this under load (issue 18: command → read side
# p95 < 50 ms), and its transactions to one per this while saves keep coming.
GATHER_SECONDS = 0.02


class Projector:
    def __init__(self, store: EventStore, read_side: ReadSide, batch_size: int = 10_000) -> None:
        self.store = store
        self.read_side = read_side
        self.batch_size = batch_size
        self.conn = read_side.cursor()
        self._position = read_side.position()
        self._advanced = threading.Condition()
        self._wake = threading.Event()
        self._wanted = threading.Event()  # a reader waits for a position (wait_for): no gathering
        self._last_batch = 0.0  # time.monotonic() of the last catch-up that wrote
        self._lock = threading.Lock()  # one catch-up at a time
        self.last_error: str | None = None
        # Told of each committed batch, on the projector's thread: its events and the seconds its
        # transaction took (the HTTP app's metrics, entrypoints/http/metrics.py). Keep them quick.
        self.batch_observers: list[Callable[[Sequence[RawEvent], float], None]] = []

    @property
    def position(self) -> int:
        return self._position

    def reset(self) -> None:
        """Start again from where the read side is (after it was recreated or dropped)."""
        with self._lock:
            self.conn = self.read_side.cursor()
            self._position = self.read_side.position()

    def take_over(self, built: Projector, keep_old: bool = False,
                  progress: Callable[[int], None] | None = None) -> duckdb.DuckDBPyConnection:
        """Move to ``built``'s read side, caught up beside this one (a blue-green rebuild,
        projections/rebuild.py). Under this projector's lock, so that no batch is written
        meanwhile: ``built`` projects the events saved since it last caught up (a few), its
        file becomes the read side, and this projector writes there from its position on.
        Readers wait for nothing: they see the old side until the swap, the new one after,
        never one further behind (``built`` is at the log's head).

        Returns the old side's connection: DuckDB closes a database with its last reference
        (tens of milliseconds, more for a large file), which the caller lets go when it
        chooses — not under this lock, nor in whichever request happens to hold the last
        cursor of it."""
        with self._lock:
            built.catch_up(progress=progress)
            old = self.read_side.replace_with(built.read_side, keep_old)
            retired, self.conn = self.conn, self.read_side.cursor()
            with self._advanced:
                self._position = built.position
                self._advanced.notify_all()
        retired.close()  # a cursor: the database lives on in ``old``
        built.conn.close()
        return old

    def process(self, events: list[RawEvent]) -> None:
        """Apply one batch and its position in one transaction."""
        if events:
            self._write(plan(events, self._keys(events)), events[-1].position, _erases(events), events)

    def _keys(self, events: list[RawEvent]) -> dict[str, bytes]:
        """The keys for the personal fields of the events a projection reads (those of a
        forgotten person are gone: their fields project as null)."""
        return self.store.keys_for([e for e in events if e.topic in SEALED])

    def _write(self, steps: list[Step], position: int, checkpoint: bool = False, events: Sequence[RawEvent] = ()) -> None:
        """One transaction: the batch's statements, then its position; then, for a batch
        that erases a person (``checkpoint``), a checkpoint, before anyone reads it.

        The statements go to DuckDB as one script over one registered Arrow table, a
        column per statement: each call into DuckDB gives up the GIL and must win it back
        from the thread planning the next batch (up to the 5 ms switch interval), so one
        call per batch rather than a few per table.
        """
        started = time.perf_counter()
        conn = self.conn
        script = ["BEGIN"]
        columns: dict[str, pa.Array] = {}

        def run() -> None:
            if columns:
                conn.register(SOURCE, pa.table(columns))
            conn.execute(";\n".join(script))

        try:
            for statement, rows, params in steps:
                if rows is None:  # a statement with parameters runs by itself, in its turn
                    run()
                    script, columns = [], {}
                    conn.execute(statement, params)
                    continue
                column = f"s{len(columns)}"
                columns[column] = rows
                script.append(statement.format(rows=f"(SELECT unnest({column}, max_depth := 2) FROM {SOURCE})"))
            script.append(f"UPDATE projection_positions SET position = {int(position)} WHERE name = '{READ_SIDE}'")
            script.append("COMMIT")
            run()
        except BaseException:
            with contextlib.suppress(duckdb.TransactionException):  # raised when none is open
                conn.execute("ROLLBACK")
            raise
        if checkpoint:
            self._checkpoint()
        with self._advanced:
            self._position = position
            self._advanced.notify_all()
        for observe in self.batch_observers:
            observe(events, time.perf_counter() - started)

    def _checkpoint(self) -> None:
        """Move the WAL into the file and empty it. FORCE: a plain CHECKPOINT gives up while
        any query runs; this one waits for them. The batch is committed already: a failure
        is told, not raised (raising would make the batch be applied again)."""
        try:
            self.conn.execute("FORCE CHECKPOINT")
        except duckdb.Error as error:
            log.warning("projector: no checkpoint after an erasure (%s); the WAL keeps the erased values "
                        "until the next one", error)

    def _release(self) -> None:
        """Let go of the last batch's Arrow data after a long catch-up (the next write
        replaces it anyway, so a small batch keeps it: unregistering costs a DuckDB call)."""
        with contextlib.suppress(duckdb.Error):
            self.conn.unregister(SOURCE)

    def catch_up(self, progress: Callable[[int], None] | None = None) -> int:
        """Process every event stored so far; returns how many were processed."""
        done = 0
        with self._lock:
            while True:
                events = self.store.read(self._position, self.batch_size)
                if not events:
                    return done
                if len(events) == self.batch_size:  # more may follow: plan and write side by side
                    return done + self._pipelined(events, progress)
                self.process(events)
                done += len(events)
                if progress:
                    progress(len(events))

    def _pipelined(self, events: list[RawEvent], progress: Callable[[int], None] | None) -> int:
        """Catch up from ``events`` on: batch N+1 is read and planned here while batch N
        is written by a thread of its own. Commits stay one at a time and in log order.
        When reading or planning a batch fails, the batch before it still commits (as it
        would have one at a time) before the error is raised; when a write fails, nothing
        after it is written."""
        done = 0
        writing: tuple[Future[None], int] | None = None

        def finish() -> None:
            nonlocal done, writing
            assert writing is not None
            (future, count), writing = writing, None
            future.result()  # raises the write's error
            done += count
            if progress:
                progress(count)

        try:
            with ThreadPoolExecutor(1, thread_name_prefix="projector-write") as writer:
                try:
                    while events:
                        try:
                            steps = plan(events, self._keys(events))
                        finally:
                            if writing is not None:
                                finish()  # the batch before commits (or fails) first
                        writing = writer.submit(self._write, steps, events[-1].position, _erases(events), events), len(events)
                        events = self.store.read(events[-1].position, self.batch_size)
                finally:
                    if writing is not None:
                        finish()
        finally:
            self._release()
        return done

    def wait_for(self, position: int, timeout: float) -> bool:
        """Block until the read side has reached ``position`` (read-your-writes)."""
        self._wanted.set()
        self.wake()
        with self._advanced:
            return self._advanced.wait_for(lambda: self._position >= position, timeout)

    def wake(self, _position: int | None = None) -> None:
        self._wake.set()

    def _gather(self) -> None:
        """Saves come in bursts (32 clients, a thousand commands a second): woken again
        within ``GATHER_SECONDS`` of the last batch, wait out the rest of it, so the read
        side takes one transaction for the saves of that moment rather than one each — a
        DuckDB transaction costs a millisecond or two of a core, and the commands share
        it. A lone save is projected at once; a reader waiting for a position
        (``?after=``) ends the wait."""
        left = self._last_batch + GATHER_SECONDS - time.monotonic()
        if left > 0:
            self._wanted.wait(left)

    def run(self, stop: threading.Event, poll_seconds: float) -> None:
        """Follow the log until ``stop``: woken by saves in this process, by NOTIFY on
        PostgreSQL, and by polling for writers elsewhere."""
        while not stop.is_set():
            self._wake.wait(poll_seconds)
            self._gather()
            self._wake.clear()
            self._wanted.clear()
            try:
                if self.catch_up():
                    self._last_batch = time.monotonic()
                self.last_error = None
            except Exception as error:  # keep following; /health shows the error
                failure = f"{type(error).__name__}: {error}"
                if is_outage(error):
                    STORE.failed(error)  # one line for the whole outage (store/outage.py)
                elif failure != self.last_error:  # once, not at every poll
                    log.warning("projector: failed after position %s (%s); retrying", self._position, one_line(failure))
                self.last_error = failure
                stop.wait(poll_seconds)
