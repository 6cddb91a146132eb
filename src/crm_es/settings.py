"""Settings from the environment, in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from crm_es.auth.roles import Reach


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str | None = None  # postgresql://… puts the event store on PostgreSQL
    postgres_schema: str | None = None
    read_wait_seconds: float = 5.0  # how long ?after=P waits before a 503
    max_body_bytes: int = 1_000_000
    max_import_bytes: int = 20_000_000  # CSV uploads (POST /imports/contacts, /imports/deals) only: ~100,000 rows
    max_batch_bytes: int = 16_000_000  # POST /interactions:batch only: 10,000 items of ~1.5 KB
    projector_batch: int = 10_000
    poll_seconds: float = 0.5
    rep_reads: Reach = Reach.TEAM  # a rep reads their team's contacts and deals, or (own) only theirs
    session_gap_minutes: int = 30  # a page visit after this long without one starts a new session
    sql_timeout_seconds: float = 10.0  # POST /sql: a query running longer is interrupted (422 sql-timeout)
    sql_max_rows: int = 10_000  # POST /sql: rows beyond these are left out (truncated: true)
    sql_max_answer_bytes: int = 16_000_000  # POST /sql: an answer whose JSON would be larger is refused (422)
    sql_max_cell_bytes: int = 1_000_000  # POST /sql: so is one holding a value whose JSON is larger
    smtp_url: str | None = None  # smtp://[user:password@]host:port — where the outbox sends e-mails
    smtp_from: str = "crm-es@localhost"  # the From of automated e-mails
    sms_url: str | None = None  # an HTTP SMS gateway: POST {to, body} (CRM_ES_SMS_URL)
    run_policies: bool = True  # `crm-es serve` runs the automations too (CRM_ES_POLICIES=off: only `crm-es policies` does)
    pdf_font: Path | None = None  # a TTF for documents' PDFs (CRM_ES_PDF_FONT); default DejaVu Sans (crm_es.documents.render)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            data_dir=Path(env.get("CRM_ES_DATA_DIR") or Path.cwd() / "var"),
            database_url=env.get("CRM_ES_DATABASE_URL") or None,
            postgres_schema=env.get("CRM_ES_POSTGRES_SCHEMA") or None,
            projector_batch=int(env.get("CRM_ES_PROJECTOR_BATCH") or 10_000),
            smtp_url=env.get("CRM_ES_SMTP_URL") or None,
            smtp_from=env.get("CRM_ES_SMTP_FROM") or "crm-es@localhost",
            sms_url=env.get("CRM_ES_SMS_URL") or None,
            run_policies=(env.get("CRM_ES_POLICIES") or "on").lower() not in ("off", "0", "false", "no"),
            rep_reads=_rep_reads(env.get("CRM_ES_REP_READS") or "team"),
            max_import_bytes=int(env.get("CRM_ES_MAX_IMPORT_BYTES") or 20_000_000),
            max_batch_bytes=int(env.get("CRM_ES_MAX_BATCH_BYTES") or 16_000_000),
            session_gap_minutes=_positive("CRM_ES_SESSION_GAP_MINUTES", env.get("CRM_ES_SESSION_GAP_MINUTES") or "30"),
            sql_timeout_seconds=_seconds("CRM_ES_SQL_TIMEOUT_SECONDS", env.get("CRM_ES_SQL_TIMEOUT_SECONDS") or "10"),
            sql_max_rows=_count("CRM_ES_SQL_MAX_ROWS", env.get("CRM_ES_SQL_MAX_ROWS") or "10000"),
            sql_max_answer_bytes=_count("CRM_ES_SQL_MAX_ANSWER_BYTES", env.get("CRM_ES_SQL_MAX_ANSWER_BYTES") or "16000000"),
            sql_max_cell_bytes=_count("CRM_ES_SQL_MAX_CELL_BYTES", env.get("CRM_ES_SQL_MAX_CELL_BYTES") or "1000000"),
            pdf_font=Path(env["CRM_ES_PDF_FONT"]) if env.get("CRM_ES_PDF_FONT") else None,
        )

    @property
    def session_gap(self) -> timedelta:
        return timedelta(minutes=self.session_gap_minutes)

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


def _positive(name: str, value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{name} must be a whole number of minutes, at least 1, not {value!r}")
    return int(value)


def _seconds(name: str, value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise ValueError(f"{name} must be a number of seconds above 0, not {value!r}")
    return seconds


def _count(name: str, value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{name} must be a whole number, at least 1, not {value!r}")
    return int(value)
