"""The DuckDB file of the read side. One process owns it (DuckDB allows one writer per
file): the projector writes through one cursor, queries read through their own.

A rebuild builds a new file beside the live one (`beside`) and swaps it in (`replace_with`,
projections/rebuild.py): the new file takes the live one's name, and every cursor asked for
from then on reads it, while those already open finish on the old one.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
from pathlib import Path

import duckdb

from crm_es.projections.schema import POSITIONS_DDL, TABLES, Table

READ_SIDE = "read_side"  # the projector's name in projection_positions
# What the tables look like: a read side made by another version of the code is rebuilt.
SCHEMA = hashlib.sha256("\n".join([*(table.ddl() for table in TABLES), POSITIONS_DDL]).encode()).hexdigest()[:16]

log = logging.getLogger("crm_es")

BESIDE = ".rebuild-"  # <read side>.rebuild-<pid>-<n>: a new read side being built beside the live one
OLD = ".old"  # <read side>.old: the one a rebuild replaced, when asked to keep it
_built = itertools.count(1)

# What analysts' SQL reads (queries/analyst_sql.py): a view of each table, its personal
# columns null. Made again at every opening, so a change of ``Table.personal`` needs no rebuild.
ANALYST_SCHEMA = "analyst"


def analyst_view(table: Table) -> str:
    nulls = ", ".join(f"NULL::{table.type_of(column)} AS {column}" for column in table.personal)
    columns = f"* REPLACE ({nulls})" if nulls else "*"
    return f"CREATE OR REPLACE VIEW {ANALYST_SCHEMA}.{table.name} AS SELECT {columns} FROM main.{table.name}"


class ReadSide:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = duckdb.connect(str(self.path))
        # The name DuckDB opened the file under, and so names its WAL after: a read side
        # swapped in keeps the name it was built under until the process ends.
        self.opened_as = self.path
        self._remove_leftovers()  # this process holds the file now: no other builds beside it
        if self.schema() not in (None, SCHEMA):
            # Tables of another shape (a column added since): it is a cache of the events,
            # so it starts over in a new file and the projector rebuilds it from position 0.
            log.warning("the read side %s was made for other tables; rebuilding it from the events", self.path)
            self.recreate()
        else:
            self.create_tables()

    def schema(self) -> str | None:
        """The tables' fingerprint this file was made with; None for a new file (or one
        made before fingerprints, which holds no position table either way)."""
        with self.db.cursor() as c:
            found = c.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = 'read_side_schema'"
            ).fetchone()
            if not found or not found[0]:
                made = c.execute(
                    "SELECT count(*) FROM information_schema.tables WHERE table_name = 'projection_positions'"
                ).fetchone()
                return "unknown" if made and made[0] else None
            row = c.execute("SELECT fingerprint FROM read_side_schema").fetchone()
            return row[0] if row else "unknown"

    def create_tables(self) -> None:
        with self.db.cursor() as c:
            c.execute("BEGIN")
            for table in TABLES:
                c.execute(table.ddl())
            c.execute(POSITIONS_DDL)
            c.execute("INSERT INTO projection_positions VALUES (?, 0) ON CONFLICT DO NOTHING", [READ_SIDE])
            c.execute("CREATE TABLE IF NOT EXISTS read_side_schema (fingerprint VARCHAR NOT NULL)")
            c.execute("DELETE FROM read_side_schema")
            c.execute("INSERT INTO read_side_schema VALUES (?)", [SCHEMA])
            c.execute(f"CREATE SCHEMA IF NOT EXISTS {ANALYST_SCHEMA}")
            for table in TABLES:
                c.execute(analyst_view(table))
            c.execute("COMMIT")

    def recreate(self) -> None:
        """Start over in a new, empty file (for a rebuild). Dropping the tables would
        leave their old bytes in the file's free blocks — a forgotten person's name too;
        a new file holds only what the events say today."""
        self.db.close()
        for path in (self.path, Path(f"{self.path}.wal"), Path(f"{self.opened_as}.wal")):
            path.unlink(missing_ok=True)
        self.db, self.opened_as = duckdb.connect(str(self.path)), self.path
        self.create_tables()

    def beside(self) -> ReadSide:
        """A new, empty read side in a file next to this one, to be built from the events
        and swapped in with `replace_with`."""
        self._remove_leftovers()
        return ReadSide(self.path.with_name(f"{self.path.name}{BESIDE}{os.getpid()}-{next(_built)}"))

    def replace_with(self, built: ReadSide, keep_old: bool = False) -> duckdb.DuckDBPyConnection:
        """``built`` (made by `beside`) becomes this read side: its file takes this one's
        name in one rename, and every cursor asked for from now on reads it. Cursors open
        on the old side finish there: its connection is returned, not closed, and DuckDB
        closes it with the last reference (the old file, unlinked, goes then; or it stays
        as ``<name>.old``). The caller makes sure that nothing writes to either meanwhile.

        Before the rename, the old side's WAL goes (what it holds is in memory, and is
        written into the old file when DuckDB closes it): left there, DuckDB would find it
        beside the new file at the next start and refuse to open it. The new side keeps its
        own WAL under the name it was built under: after a crash that WAL is not found, and
        the read side is as of its last checkpoint — rows and position alike, so the
        projector carries on from there."""
        Path(f"{self.opened_as}.wal").unlink(missing_ok=True)
        if keep_old:
            old = self.path.with_name(self.path.name + OLD)
            for stale in (old, Path(f"{old}.wal")):
                stale.unlink(missing_ok=True)
            os.link(self.path, old)
        os.replace(built.path, self.path)
        old_db, self.db, self.opened_as = self.db, built.db, built.opened_as
        built.path = self.path
        return old_db

    def checkpoint(self) -> None:
        """The WAL written into the file (FORCE: waits for running queries rather than give up)."""
        with self.db.cursor() as c:
            c.execute("FORCE CHECKPOINT")

    def discard(self) -> None:
        """Close and remove a read side built beside the live one and not swapped in."""
        self.db.close()
        for path in (self.path, Path(f"{self.path}.wal")):
            path.unlink(missing_ok=True)

    def _remove_leftovers(self) -> None:
        """Files of a rebuild that did not finish (its process died): never the WAL of
        the side this process reads, which may carry a rebuild's name."""
        mine = self.opened_as.name if self.opened_as != self.path else None
        for path in self.path.parent.glob(f"{self.path.name}{BESIDE}*"):
            if mine is None or not (path.name == mine or path.name.startswith(f"{mine}.")):
                path.unlink(missing_ok=True)

    def drop_tables(self) -> None:
        with self.db.cursor() as c:
            c.execute("BEGIN")
            for table in TABLES:
                c.execute(f"DROP TABLE IF EXISTS {table.name}")
            c.execute("DROP TABLE IF EXISTS projection_positions")
            c.execute("DROP TABLE IF EXISTS read_side_schema")
            c.execute(f"DROP SCHEMA IF EXISTS {ANALYST_SCHEMA} CASCADE")
            c.execute("COMMIT")

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A connection of its own for one thread (DuckDB connections are not shared)."""
        return self.db.cursor()

    def position(self) -> int:
        with self.db.cursor() as c:
            row = c.execute("SELECT position FROM projection_positions WHERE name = ?", [READ_SIDE]).fetchone()
            return row[0] if row else 0

    def dump(self) -> dict[str, list[tuple]]:
        """Every table's rows in a stable order: for comparing a live read side with a rebuild."""
        out = {}
        with self.db.cursor() as c:
            for table in TABLES:
                cols = ", ".join(name for name, _ in table.columns)
                out[table.name] = c.execute(f"SELECT {cols} FROM {table.name} ORDER BY ALL").fetchall()
        return out

    def close(self) -> None:
        self.db.close()
