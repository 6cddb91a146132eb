"""Settings from the environment, in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from crm_es.auth.roles import Reach


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str | None = None  # postgresql://… puts the event store on PostgreSQL
    postgres_schema: str | None = None
    read_wait_seconds: float = 5.0  # how long ?after=P waits before a 503
    max_body_bytes: int = 1_000_000
    projector_batch: int = 10_000
    poll_seconds: float = 0.5
    rep_reads: Reach = Reach.TEAM  # a rep reads their team's contacts and deals, or (own) only theirs

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            data_dir=Path(env.get("CRM_ES_DATA_DIR") or Path.cwd() / "var"),
            database_url=env.get("CRM_ES_DATABASE_URL") or None,
            postgres_schema=env.get("CRM_ES_POSTGRES_SCHEMA") or None,
            projector_batch=int(env.get("CRM_ES_PROJECTOR_BATCH") or 10_000),
            rep_reads=_rep_reads(env.get("CRM_ES_REP_READS") or "team"),
        )

    @property
    def store_path(self) -> Path:
        return self.data_dir / "events.sqlite3"

    @property
    def read_side_path(self) -> Path:
        return self.data_dir / "read.duckdb"

    def store_env(self) -> dict[str, str]:
        from crm_es.store.event_store import postgres_env, sqlite_env

        if self.database_url:
            if not self.database_url.startswith(("postgresql://", "postgres://")):
                raise ValueError("CRM_ES_DATABASE_URL must start with postgresql://")
            return postgres_env(self.database_url, self.postgres_schema)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return sqlite_env(str(self.store_path))


def _rep_reads(value: str) -> Reach:
    if value not in (Reach.TEAM, Reach.OWN):
        raise ValueError(f"CRM_ES_REP_READS must be team or own, not {value!r}")
    return Reach(value)
