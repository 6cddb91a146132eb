"""The DuckDB tables of the read side: one declaration serves the DDL, the casts of
the runner's bulk inserts and the data dictionary in the README."""

from __future__ import annotations

from dataclasses import dataclass

RECORD = [
    ("created_at", "TIMESTAMPTZ"),
    ("updated_at", "TIMESTAMPTZ"),
    ("version", "INTEGER"),
    ("position", "BIGINT"),
]


@dataclass(frozen=True)
class Table:
    name: str
    key: str | None  # None: rows are only ever appended
    columns: list[tuple[str, str]]
    doc: str
    # Columns holding personal data, and the column naming the person they are about:
    # set to null when that person is forgotten (see projections/erasure.py).
    personal: tuple[str, ...] = ()
    subject: str | None = None

    def ddl(self) -> str:
        cols = ", ".join(f"{name} {type_}" for name, type_ in self.columns)
        return f"CREATE TABLE IF NOT EXISTS {self.name} ({cols})"

    def type_of(self, column: str) -> str:
        return dict(self.columns)[column]


TABLES = [
    Table("reps", "id", [("id", "UUID"), ("name", "VARCHAR"), ("email", "VARCHAR"), ("team_id", "UUID"), *RECORD],
          "Sales reps; `team_id` is the team they belong to."),
    Table("teams", "id", [("id", "UUID"), ("name", "VARCHAR"), ("manager_id", "UUID"), *RECORD],
          "Teams of reps, with their manager (a rep)."),
    Table("pipelines", "id", [("id", "UUID"), ("name", "VARCHAR"), *RECORD], "Sales pipelines."),
    Table("pipeline_stages", "stage_id",
          [("stage_id", "UUID"), ("pipeline_id", "UUID"), ("name", "VARCHAR"),
           ("probability", "DECIMAL(5,4)"), ("sort_order", "INTEGER")],
          "The stages of each pipeline in order (`sort_order` from 0), with their win probability."),
    Table("companies", "id",
          [("id", "UUID"), ("name", "VARCHAR"), ("sector", "VARCHAR"), ("annual_revenue", "DECIMAL(20,4)"),
           ("properties", "JSON"), *RECORD],
          "Companies (accounts) with firmographics and custom properties."),
    Table("contacts", "id",
          [("id", "UUID"), ("first_name", "VARCHAR"), ("last_name", "VARCHAR"), ("email", "VARCHAR"),
           ("phone", "VARCHAR"), ("job_title", "VARCHAR"), ("company_id", "UUID"), ("city", "VARCHAR"),
           ("source", "VARCHAR"), ("status", "VARCHAR"), ("owner_id", "UUID"), ("tags", "VARCHAR[]"),
           ("properties", "JSON"), ("forgotten_at", "TIMESTAMPTZ"), *RECORD],
          "Contacts (people), current state. Once a contact is forgotten (`forgotten_at`), "
          "its personal columns (names, e-mail, phone, properties) are null.",
          personal=("first_name", "last_name", "email", "phone", "properties"), subject="id"),
    Table("deals", "id",
          [("id", "UUID"), ("title", "VARCHAR"), ("pipeline_id", "UUID"), ("stage_id", "UUID"), ("stage", "VARCHAR"),
           ("status", "VARCHAR"), ("amount", "DECIMAL(20,4)"), ("currency", "VARCHAR"), ("owner_id", "UUID"),
           ("contact_ids", "UUID[]"), ("company_id", "UUID"), ("source", "VARCHAR"), ("expected_close", "DATE"),
           ("stage_entered_at", "TIMESTAMPTZ"), ("closed_at", "TIMESTAMPTZ"), ("lost_reason", "VARCHAR"), ("lost_to", "VARCHAR"), *RECORD],
          "Deals, current state: `status` is open, won or lost; a lost deal's reason and the competitor it went to."),
    Table("deal_stage_changes", None,
          [("position", "BIGINT"), ("deal_id", "UUID"), ("pipeline_id", "UUID"), ("kind", "VARCHAR"),
           ("from_stage_id", "UUID"), ("from_stage", "VARCHAR"), ("to_stage_id", "UUID"), ("to_stage", "VARCHAR"),
           ("occurred_at", "TIMESTAMPTZ"), ("recorded_at", "TIMESTAMPTZ"), ("actor", "VARCHAR")],
          "One row per stage move of a deal (`kind`: opened, moved, reopened), with business and recorded time."),
]

TABLES_BY_NAME = {t.name: t for t in TABLES}

POSITIONS_DDL = "CREATE TABLE IF NOT EXISTS projection_positions (name VARCHAR PRIMARY KEY, position BIGINT NOT NULL)"
