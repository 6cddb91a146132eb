"""The DuckDB file of the read side. One process owns it (DuckDB allows one writer per
file): the projector writes through one cursor, queries read through their own."""

from __future__ import annotations

from pathlib import Path

import duckdb

from crm_es.projections.schema import POSITIONS_DDL, TABLES

READ_SIDE = "read_side"  # the projector's name in projection_positions


class ReadSide:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = duckdb.connect(str(self.path))
        self.create_tables()

    def create_tables(self) -> None:
        with self.db.cursor() as c:
            c.execute("BEGIN")
            for table in TABLES:
                c.execute(table.ddl())
            c.execute(POSITIONS_DDL)
            c.execute("INSERT INTO projection_positions VALUES (?, 0) ON CONFLICT DO NOTHING", [READ_SIDE])
            c.execute("COMMIT")

    def recreate(self) -> None:
        """Start over in a new, empty file (for a rebuild). Dropping the tables would
        leave their old bytes in the file's free blocks — a forgotten person's name too;
        a new file holds only what the events say today."""
        self.db.close()
        for path in (self.path, Path(f"{self.path}.wal")):
            path.unlink(missing_ok=True)
        self.db = duckdb.connect(str(self.path))
        self.create_tables()

    def drop_tables(self) -> None:
        with self.db.cursor() as c:
            c.execute("BEGIN")
            for table in TABLES:
                c.execute(f"DROP TABLE IF EXISTS {table.name}")
            c.execute("DROP TABLE IF EXISTS projection_positions")
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
