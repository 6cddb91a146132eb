"""The API keys' table (``api_keys`` on SQLite, ``crm_events_api_keys`` on PostgreSQL),
beside the events: a key's row holds the hash of its secret, never the secret
(crm_es.auth.api_keys makes and checks keys; here is only how they are kept)."""

from __future__ import annotations

from typing import Any

from anyio import to_thread  # the thread pool FastAPI's sync routes use: the store needs no web framework

from crm_es.store.side_tables import SideTables

COLUMNS = "id, name, role, rep_id, secret_hash, created_at, revoked_at"
FIND = "SELECT " + COLUMNS + " FROM {api_keys} WHERE id = ?"


class ApiKeyTable:
    """Rows read by column name: id, name, role, rep_id, secret_hash, created_at, revoked_at."""

    def __init__(self, tables: SideTables) -> None:
        self.tables = tables
        self._loop_reads: Any | None = None  # opened by the HTTP app's lifespan (store/loop_reads.py)

    def create(self) -> None:
        self.tables.write(
            "CREATE TABLE IF NOT EXISTS {api_keys} (id text PRIMARY KEY, name text NOT NULL, role text NOT NULL, "
            "rep_id text, secret_hash text NOT NULL, created_at text NOT NULL, revoked_at text)"
        )

    def insert(self, key_id: str, name: str, role: str, rep_id: str | None, secret_hash: str, created_at: str) -> None:
        self.tables.write("INSERT INTO {api_keys} (" + COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, NULL)",
                          (key_id, name, role, rep_id, secret_hash, created_at))

    def find(self, key_id: str) -> Any | None:
        rows = self.tables.read(FIND, (key_id,))
        return rows[0] if rows else None

    async def find_on_loop(self, key_id: str) -> Any | None:
        """As ``find``, awaited on the event loop: no thread-pool hop (store/loop_reads.py)
        once the app has opened its reads; on the thread pool before that."""
        reads = self._loop_reads
        if reads is None:
            return await to_thread.run_sync(self.find, key_id)
        rows = await reads.read(FIND, (key_id,))
        return rows[0] if rows else None

    async def open_loop_reads(self) -> None:
        """Called on the loop that will read (the app's lifespan)."""
        reads = self.tables.loop_reads()
        await reads.open()
        self._loop_reads = reads

    async def close_loop_reads(self) -> None:
        reads, self._loop_reads = self._loop_reads, None
        if reads is not None:
            await reads.close()

    def all(self) -> list[Any]:
        return self.tables.read("SELECT " + COLUMNS + " FROM {api_keys} ORDER BY created_at, id")

    def revoke(self, key_id: str, at: str) -> None:
        """Revoked at ``at``, unless revoked before (it keeps its time)."""
        self.tables.write("UPDATE {api_keys} SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (at, key_id))

    def any(self) -> bool:
        return bool(self.tables.read("SELECT id FROM {api_keys} LIMIT 1"))

    def read(self, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """Any query of the table (``{api_keys}``, ``?``): what is stored, as a test checks it."""
        return self.tables.read(statement, params)
