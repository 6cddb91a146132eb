"""`crm-es export` (SQLite and PostgreSQL): every read-side table to CSV or Parquet files
that read back equal to the read side, a manifest, forgotten people staying forgotten —
and files that pandas, polars and DuckDB open with their defaults, with real types."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from crm_es.entrypoints.http.app import create_app
from crm_es.bootstrap import service
from crm_es.entrypoints.cli.main import main
from crm_es.clock import FrozenClock
from crm_es.projections.schema import TABLES, Table
from crm_es.queries import export as export_module
from crm_es.queries.export import exported_columns, exported_type
from crm_es.settings import Settings

FORGOTTEN = ("Jeanne", "Oubliette", "jeanne.forget-me@acme.example", "+33 6 12 34 56 78", "allergic-to-cats")


def ok(response: Any, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture
def recorded(settings: Settings) -> int:
    """A few records through the API, one contact forgotten. The projector is never
    started, so the read side is behind: the export must catch up first. Returns the
    store's position."""
    services = service(settings)
    try:
        with TestClient(create_app(services)) as client:
            company = ok(client.post("/companies", json={"name": "Acme, Inc.", "annual_revenue": "1200000.50",
                                                         "properties": {"tier": 1}}))
            kept = ok(client.post("/contacts", json={
                "first_name": "Zoé", "last_name": 'O"Brien', "email": "zoe@acme.example", "company_id": company["id"],
                "tags": ["Gold", "a, b"], "properties": {"note": "line one\nline two"}}))
            gone = ok(client.post("/contacts", json={
                "first_name": FORGOTTEN[0], "last_name": FORGOTTEN[1], "email": FORGOTTEN[2], "phone": FORGOTTEN[3],
                "city": "Lyon", "tags": ["Silver"], "properties": {"note": FORGOTTEN[4]}}))
            stages = [{"name": "Contact", "probability": "0.1"}, {"name": "Demo", "probability": "0.5"}]
            p = ok(client.post("/pipelines", json={"name": "New business", "stages": stages}))
            d = ok(client.post("/deals", json={
                "title": "Fleet renewal", "pipeline_id": p["id"], "stage": "Contact", "amount": "12000.00",
                "currency": "EUR", "contact_ids": [kept["id"], gone["id"]], "company_id": company["id"]}))
            ok(client.post(f"/deals/{d['id']}/stage", json={"stage": "Demo"}), 200)
            # Forgotten once the deal names her (a deal may not name a forgotten contact anew).
            ok(client.post(f"/contacts/{gone['id']}/forget", json={"reason": "ticket 4711"}), 200)
        assert services.projector.position < services.store.max_position()
        return services.store.max_position()
    finally:
        services.close()


def read_side_rows(settings: Settings, table: Table) -> list[tuple]:
    """The table's rows in the read side itself, each column cast to the type it is exported as."""
    columns = ", ".join(f'CAST("{name}" AS {type_}) AS "{name}"' for name, type_ in exported_columns(table).items())
    with duckdb.connect(str(settings.read_side_path), read_only=True) as db:
        return db.execute(f"SELECT {columns} FROM {table.name} ORDER BY ALL").fetchall()


def csv_rows(path: Path, columns: dict[str, str]) -> list[tuple]:
    """A CSV file read back as text, each column cast to the type the manifest gives it (lists
    were written as JSON arrays)."""
    casts = ", ".join(
        f'CAST(CAST("{name}" AS JSON) AS {type_})' if type_.endswith("]") else f'CAST("{name}" AS {type_})'
        for name, type_ in columns.items()
    )
    with duckdb.connect() as db:
        header = db.execute(f"SELECT * FROM read_csv('{path}', header = true, all_varchar = true) LIMIT 0").description
        assert [d[0] for d in header] == list(columns), path.name
        return db.execute(f"SELECT {casts} FROM read_csv('{path}', header = true, all_varchar = true) ORDER BY ALL").fetchall()


def parquet_rows(path: Path, table: Table) -> list[tuple]:
    with duckdb.connect() as db:
        result = db.execute(f"SELECT * FROM read_parquet('{path}') ORDER BY ALL")
        assert [d[0] for d in result.description] == [name for name, _ in table.columns], table.name
        return result.fetchall()


def export(run, *args: str) -> dict[str, Any]:
    result = run("export", "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_csv_export_reads_back_as_the_read_side(run, settings, recorded, tmp_path):
    out = tmp_path / "export"
    summary = export(run, str(out))  # the folder is made

    assert summary["format"] == "csv" and summary["position"] == recorded and summary["directory"] == str(out)
    assert [t["name"] for t in summary["tables"]] == [t.name for t in TABLES]
    assert json.loads((out / "manifest.json").read_text()) == {k: v for k, v in summary.items() if k != "directory"}
    counts = {t["name"]: t["rows"] for t in summary["tables"]}
    assert counts["contacts"] == 2 and counts["deals"] == 1 and counts["deal_stage_changes"] == 2
    for table, exported in zip(TABLES, summary["tables"], strict=True):
        expected = read_side_rows(settings, table)
        assert exported["columns"] == exported_columns(table)
        assert csv_rows(out / f"{table.name}.csv", exported["columns"]) == expected, table.name
        assert counts[table.name] == len(expected)

    # The forgotten contact: a row with its figures, its personal columns empty — in no file.
    with duckdb.connect() as db:
        gone = db.execute(f"SELECT first_name, last_name, email, phone, properties, tags, forgotten_at IS NOT NULL "
                          f"FROM read_csv('{out}/contacts.csv', all_varchar = true) WHERE city = 'Lyon'").fetchall()
    assert gone == [(None, None, None, None, None, '["Silver"]', True)]
    text = "".join(p.read_text() for p in out.iterdir())
    assert not [s for s in FORGOTTEN if s in text]
    assert "Zoé" in text and 'O""Brien' in text  # the kept contact is all there, quoted as CSV quotes


def test_parquet_export_reads_back_as_the_read_side(run, settings, recorded, tmp_path):
    summary = export(run, "--parquet", str(tmp_path))  # the short way to say --format parquet
    assert summary["format"] == "parquet" and summary["position"] == recorded
    for table in TABLES:
        assert parquet_rows(tmp_path / f"{table.name}.parquet", table) == read_side_rows(settings, table), table.name
    with duckdb.connect() as db:
        gone = db.execute(f"SELECT first_name, last_name, email, phone, properties, city, tags, forgotten_at IS NOT NULL "
                          f"FROM read_parquet('{tmp_path}/contacts.parquet') WHERE city = 'Lyon'").fetchall()
    assert gone == [(None, None, None, None, None, "Lyon", ["Silver"], True)]


def test_exporting_again_replaces_the_files(run, recorded, tmp_path):
    first = export(run, str(tmp_path))
    (tmp_path / "contacts.csv").write_text("stale")
    again = export(run, str(tmp_path))
    assert again["position"] == first["position"] and again["tables"] == first["tables"]
    assert (tmp_path / "contacts.csv").read_text().startswith("id,first_name,")


def test_bad_usage_and_failures(run, recorded, tmp_path):
    assert run("export", "--format", "xml", str(tmp_path)).exit_code == 2
    assert run("export").exit_code == 2
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    failed = run("export", str(a_file / "below"))
    assert failed.exit_code == 1 and "cannot export" in failed.stderr and failed.stdout == ""
    # With --json, a script reading stdout gets JSON for a failure too; the message stays on stderr.
    failed = run("export", "--json", "--parquet", str(a_file / "below"))
    assert failed.exit_code == 1 and "cannot export" in failed.stderr
    assert json.loads(failed.stdout)["error"].startswith(f"cannot export to {a_file / 'below'}")
    helped = CliRunner().invoke(main, ["export", "--help"])
    assert helped.exit_code == 0 and "DIRECTORY" in helped.stdout and "docs/export.md" in helped.stdout


def test_a_read_side_in_use_is_a_clear_failure(run, settings, tmp_path):
    """While another process holds the DuckDB file (as `crm-es serve` does), nothing is written."""
    settings.read_side_path.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys; db = duckdb.connect(sys.argv[1]); print('held', flush=True); sys.stdin.read()",
         str(settings.read_side_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout and holder.stdout.readline() == "held\n"
        result = run("export", str(tmp_path / "out"))
    finally:
        holder.communicate("")
    assert result.exit_code == 1 and "the read side is in use (is `crm-es serve` running?)" in result.stderr
    assert not (tmp_path / "out").exists()


# --- files that analysts' tools open as they are ---------------------------------------


def test_every_type_of_the_read_side_is_exported_as_a_portable_one():
    portable = {"VARCHAR", "BOOLEAN", "INTEGER", "BIGINT", "DATE", "TIMESTAMPTZ", "VARCHAR[]"}
    for table in TABLES:
        for name, exported in exported_columns(table).items():
            assert exported in portable or re.fullmatch(r"DECIMAL\(\d+,\d+\)", exported), (table.name, name, exported)
    assert [exported_type(t) for t in ("UUID", "UUID[]", "JSON", "DECIMAL(20,4)", "DECIMAL(5, 4)", "TIMESTAMPTZ")] == [
        "VARCHAR", "VARCHAR[]", "VARCHAR", "DECIMAL(20,4)", "DECIMAL(5,4)", "TIMESTAMPTZ"]
    for unknown in ("TIMESTAMP", "HUGEINT", "STRUCT(a INTEGER)", "MAP(VARCHAR, VARCHAR)"):
        with pytest.raises(ValueError, match="no exported type"):
            exported_type(unknown)


def test_a_type_without_a_portable_form_stops_the_export_before_any_file(monkeypatch, tmp_path):
    odd = Table("odd", None, [("n", "HUGEINT")], "a table of a type no entry covers")
    monkeypatch.setattr(export_module, "TABLES", [*TABLES[:1], odd])
    with duckdb.connect() as db, pytest.raises(ValueError, match="HUGEINT"):
        export_module.export_read_side(db.cursor(), tmp_path / "out", "parquet", datetime.now(timezone.utc))
    assert not (tmp_path / "out").exists()


@dataclass(frozen=True)
class Known:
    """What the read side was given, to find again in every file."""

    deal: str
    contact: str
    rep: str
    amount = Decimal("98765.4300")  # the deal's 98765.43, at the table's scale (DECIMAL(20,4)); no float holds it
    revenue = Decimal("1200000.5000")
    expected_close = date(2026, 6, 30)
    moved_at = datetime(2026, 3, 1, 10, 30, 15, 123456, tzinfo=timezone.utc)  # sent as 11:30:15.123456+01:00


@pytest.fixture
def every_table(settings: Settings) -> Known:
    """At least one row in every read-side table, through the API (the projector is not
    running: the export catches up). The clock stands at 2026-03-01 09:00 UTC, then a day later."""
    clock = FrozenClock(datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc))
    services = service(settings, clock=clock)
    try:
        with TestClient(create_app(services)) as client:
            manager = ok(client.post("/reps", json={"name": "Mia", "email": "mia@crm.example"}))["id"]
            team = ok(client.post("/teams", json={"name": "West", "manager_id": manager}))["id"]
            rep = ok(client.post("/reps", json={"name": "Rob", "email": "rob@crm.example", "team_id": team}))["id"]
            ok(client.post(f"/reps/{rep}/quotas", json={"period_start": "2026-01-01", "period_end": "2026-04-01",
                                                        "amount": "50000.00", "currency": "EUR"}))
            stages = [{"name": "Contact", "probability": "0.1"}, {"name": "Demo", "probability": "0.5"}]
            pipeline = ok(client.post("/pipelines", json={"name": "New business", "stages": stages}))["id"]
            company = ok(client.post("/companies", json={"name": "Acme, Inc.", "sector": "Retail",
                                                         "annual_revenue": "1200000.50", "properties": {"tier": 1}}))["id"]
            contact = ok(client.post("/contacts", json={
                "first_name": "Zoé", "last_name": "Martin", "email": "zoe@acme.example", "company_id": company,
                "owner_id": rep, "tags": ["Gold"], "roles": ["decision maker"], "lifecycle": "potential"}))["id"]
            ok(client.patch(f"/contacts/{contact}", json={"lifecycle": "active"}), 200)
            deal = ok(client.post("/deals", json={
                "title": "Fleet renewal", "pipeline_id": pipeline, "stage": "Contact", "amount": "98765.43",
                "currency": "EUR", "owner_id": rep, "contact_ids": [contact], "company_id": company,
                "expected_close": "2026-06-30"}))["id"]
            ok(client.put("/policies/lead-scoring", json={"enabled": True, "settings": {"behaviours": {"email_clicked": 5}}}),
               200)
            clock.advance(days=1)
            ok(client.post(f"/deals/{deal}/stage", json={"stage": "Demo", "occurred_at": "2026-03-01T11:30:15.123456+01:00"}),
               200)
            ok(client.post(f"/contacts/{contact}/interactions", json={
                "type": "email_clicked", "link": "https://acme.example/offer", "deal_id": deal}))
            ok(client.post("/tasks", json={"type": "call", "title": "Call Zoé", "due_at": "2026-03-03T10:00:00Z",
                                           "owner_id": rep, "contact_id": contact, "deal_id": deal}))
            ok(client.post("/dashboards", json={"name": "My week", "reports": [{"report": "board",
                                                                                  "params": {"pipeline": pipeline}}]}))
            ok(client.post("/views", json={"list": "deals", "name": "Open deals", "filters": {"status": "open"}}))
            ok(client.put("/settings/activity-types/webinar", json={"colour": "#ABCDEF"}), 200)
            ok(client.put("/settings/properties/contact/seats", json={"type": "number", "required": True}), 200)
            ok(client.put("/settings/statuses", json={"statuses": ["lead", "prospect", "customer"]}), 200)
            ok(client.put("/settings/sources", json={"sources": ["referral", "partner"]}), 200)
            ok(client.put("/settings/lifecycle-stages", json={"stages": ["potential", "active", "loyal", "lost"]}), 200)
            ok(client.put("/settings/contact-roles", json={"roles": ["decision maker", "user"]}), 200)
            ok(client.put("/settings/tag-categories/potential", json={"tags": ["Gold", "Silver"]}), 200)
        services.policies.run_once()  # the lead-scoring policy scores the click
        return Known(deal, contact, rep)
    finally:
        services.close()


def polars_type(exported: str, lists_as_text: bool = False) -> pl.DataType:
    if exported.endswith("[]"):
        return pl.String() if lists_as_text else pl.List(polars_type(exported[:-2]))
    if decimal := re.fullmatch(r"DECIMAL\((\d+),(\d+)\)", exported):
        return pl.Decimal(int(decimal[1]), int(decimal[2]))
    return {"VARCHAR": pl.String(), "BOOLEAN": pl.Boolean(), "INTEGER": pl.Int32(), "BIGINT": pl.Int64(),
            "DATE": pl.Date(), "TIMESTAMPTZ": pl.Datetime("us", "UTC")}[exported]


def pandas_csv_dtype(exported: str) -> Any:
    """The dtypes docs/export.md gives pandas for a CSV file (read with engine="pyarrow")."""
    if exported == "VARCHAR" or exported.endswith("[]"):
        return "str"
    if decimal := re.fullmatch(r"DECIMAL\((\d+),(\d+)\)", exported):
        return pd.ArrowDtype(pa.decimal128(int(decimal[1]), int(decimal[2])))
    return {"BOOLEAN": "boolean", "INTEGER": "Int32", "BIGINT": "Int64", "DATE": pd.ArrowDtype(pa.date32()),
            "TIMESTAMPTZ": pd.DatetimeTZDtype("us", "UTC")}[exported]


def assert_pandas_column(series: pd.Series, exported: str, lists_as_json: bool = False) -> bool:
    """The column's dtype and each value say the exported type; True if a value was there to check."""
    values = series.dropna().tolist()
    where = f"{series.name}: {series.dtype} for {exported}"
    assert not pd.api.types.is_float_dtype(series.dtype), where  # no integer, money or id became a float
    if exported.endswith("[]"):
        lists = [json.loads(v) for v in values] if lists_as_json else values
        assert all(all(isinstance(x, str) for x in v) for v in lists), where
    elif exported == "VARCHAR":
        assert pd.api.types.is_string_dtype(series.dtype) and all(isinstance(v, str) for v in values), where
    elif decimal := re.fullmatch(r"DECIMAL\((\d+),(\d+)\)", exported):
        assert all(isinstance(v, Decimal) and v.as_tuple().exponent == -int(decimal[2]) for v in values), where
    elif exported == "TIMESTAMPTZ":
        assert isinstance(series.dtype, pd.DatetimeTZDtype) and str(series.dtype.tz) == "UTC", where
    elif exported == "DATE":
        assert series.dtype == pd.ArrowDtype(pa.date32()) and all(type(v) is date for v in values), where
    elif exported == "BOOLEAN":
        assert pd.api.types.is_bool_dtype(series.dtype) and all(v in (True, False) for v in values), where
    else:
        assert pd.api.types.is_integer_dtype(series.dtype), where
    return bool(values)


def as_list(value: Any) -> list[Any]:
    return json.loads(value) if isinstance(value, str) else list(value)


def assert_known_values(rows: dict[str, list[dict[str, Any]]], known: Known) -> None:
    """What the read side was given comes back: an id, an amount, a list of ids, a date, an
    instant (given at +01:00, back in UTC), a boolean, an integer."""
    [deal] = [r for r in rows["deals"] if r["id"] == known.deal]
    assert deal["amount"] == known.amount and str(deal["amount"]) == "98765.4300"
    assert as_list(deal["contact_ids"]) == [known.contact] and deal["owner_id"] == known.rep
    assert deal["expected_close"] == known.expected_close and deal["stage"] == "Demo"
    assert {r["name"]: r["sort_order"] for r in rows["pipeline_stages"]} == {"Contact": 0, "Demo": 1}  # in the order given
    [moved] = [r for r in rows["deal_stage_changes"] if r["kind"] == "moved"]
    assert moved["occurred_at"] == known.moved_at and moved["occurred_at"].utcoffset().total_seconds() == 0
    [company] = rows["companies"]
    assert company["annual_revenue"] == known.revenue and json.loads(company["properties"]) == {"tier": 1}
    [seats] = rows["properties"]
    assert seats["required"] == True and seats["id"] == "contact:seats"  # numpy's and pandas' booleans compare equal too


def test_parquet_opens_with_pandas_polars_and_duckdb_defaults_with_real_types(run, settings, every_table, tmp_path):
    summary = export(run, "--parquet", str(tmp_path))
    assert all(t["rows"] > 0 for t in summary["tables"]), [t["name"] for t in summary["tables"] if not t["rows"]]
    with_values, frames, polars_rows = set(), {}, {}
    for table, exported in zip(TABLES, summary["tables"], strict=True):
        path, columns = tmp_path / exported["file"], exported["columns"]
        frame = pd.read_parquet(path)  # pandas' defaults
        assert list(frame.columns) == list(columns)
        with_values |= {type_ for name, type_ in columns.items() if assert_pandas_column(frame[name], type_)}
        frames[table.name] = frame.to_dict("records")

        data = pl.read_parquet(path)
        assert dict(data.schema) == {name: polars_type(type_) for name, type_ in columns.items()}, table.name
        polars_rows[table.name] = data.to_dicts()

        with duckdb.connect() as db:
            described = db.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()
        assert {n: t.replace("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ") for n, t, *_ in described} == columns
        assert parquet_rows(path, table) == read_side_rows(settings, table), table.name
    assert with_values == {type_ for t in summary["tables"] for type_ in t["columns"].values()}  # no type went unchecked
    assert_known_values(frames, every_table)
    assert_known_values(polars_rows, every_table)


def test_csv_opens_with_every_tool_and_reads_back_typed_with_the_manifests_types(run, settings, every_table, tmp_path):
    """CSV holds text: each tool opens it with its defaults (ids are text there already, money
    is a float to pandas' and polars' guesses); with the manifest's column types, as
    docs/export.md shows, every column comes back typed and exact."""
    summary = export(run, str(tmp_path))
    assert all(t["rows"] > 0 for t in summary["tables"])
    with_values, frames, polars_rows = set(), {}, {}
    for table, exported in zip(TABLES, summary["tables"], strict=True):
        path, columns = tmp_path / exported["file"], exported["columns"]
        ids = [name for name, type_ in table.columns if type_ == "UUID"]
        defaults = pd.read_csv(path)
        assert list(defaults.columns) == list(columns)
        # An id column that holds ids is text (one with none at all is pandas' all-NaN column).
        assert all(pd.api.types.is_string_dtype(defaults[i]) for i in ids if defaults[i].notna().any()), table.name
        assert pl.read_csv(path).columns == list(columns)
        with duckdb.connect() as db:
            assert len(db.execute(f"SELECT * FROM read_csv('{path}')").fetchall()) == exported["rows"]

        frame = pd.read_csv(path, engine="pyarrow", dtype={n: pandas_csv_dtype(t) for n, t in columns.items()})
        with_values |= {t for n, t in columns.items() if assert_pandas_column(frame[n], t, lists_as_json=True)}
        frames[table.name] = frame.to_dict("records")
        data = pl.read_csv(path, schema_overrides={n: polars_type(t, lists_as_text=True) for n, t in columns.items()})
        assert dict(data.schema) == {n: polars_type(t, lists_as_text=True) for n, t in columns.items()}, table.name
        polars_rows[table.name] = data.to_dicts()
        assert csv_rows(path, columns) == read_side_rows(settings, table), table.name
    assert with_values == {type_ for t in summary["tables"] for type_ in t["columns"].values()}
    assert_known_values(frames, every_table)
    assert_known_values(polars_rows, every_table)
    text = (tmp_path / "deal_stage_changes.csv").read_text()
    assert "2026-03-01T10:30:15.123456Z" in text  # ISO 8601, in UTC
