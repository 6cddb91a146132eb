"""`crm-es export` (SQLite and PostgreSQL): every read-side table to CSV or Parquet files
that read back equal to the read side, a manifest, forgotten people staying forgotten."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from crm_es.api.app import create_app
from crm_es.bootstrap import bootstrap
from crm_es.cli import main
from crm_es.projections.schema import TABLES, Table
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
    services = bootstrap(settings)
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
            ok(client.post(f"/contacts/{gone['id']}/forget", json={"reason": "ticket 4711"}), 200)
            stages = [{"name": "Contact", "probability": "0.1"}, {"name": "Demo", "probability": "0.5"}]
            p = ok(client.post("/pipelines", json={"name": "New business", "stages": stages}))
            d = ok(client.post("/deals", json={
                "title": "Fleet renewal", "pipeline_id": p["id"], "stage": "Contact", "amount": "12000.00",
                "currency": "EUR", "contact_ids": [kept["id"], gone["id"]], "company_id": company["id"]}))
            ok(client.post(f"/deals/{d['id']}/stage", json={"stage": "Demo"}), 200)
        assert services.projector.position < services.store.max_position()
        return services.store.max_position()
    finally:
        services.close()


def read_side_rows(settings: Settings, table: Table) -> list[tuple]:
    columns = ", ".join(f'"{name}"' for name, _ in table.columns)
    with duckdb.connect(str(settings.read_side_path), read_only=True) as db:
        return db.execute(f"SELECT {columns} FROM {table.name} ORDER BY ALL").fetchall()


def csv_rows(path: Path, table: Table) -> list[tuple]:
    """A CSV file read back as text, each column cast back to its read-side type (nested
    values were written as JSON)."""
    casts = ", ".join(
        f'CAST(CAST("{name}" AS JSON) AS {type_})' if type_.endswith("]") else f'CAST("{name}" AS {type_})'
        for name, type_ in table.columns
    )
    with duckdb.connect() as db:
        header = db.execute(f"SELECT * FROM read_csv('{path}', header = true, all_varchar = true) LIMIT 0").description
        assert [d[0] for d in header] == [name for name, _ in table.columns], table.name
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
    for table in TABLES:
        expected = read_side_rows(settings, table)
        assert csv_rows(out / f"{table.name}.csv", table) == expected, table.name
        assert counts[table.name] == len(expected)

    # The forgotten contact: a row with its figures, its personal columns empty — in no file.
    with duckdb.connect() as db:
        gone = db.execute(f"SELECT first_name, last_name, email, phone, properties, tags, forgotten_at IS NOT NULL "
                          f"FROM read_csv('{out}/contacts.csv', all_varchar = true) WHERE city = 'Lyon'").fetchall()
    assert gone == [(None, None, None, None, None, '["Silver"]', True)]
    text = "".join(p.read_text() for p in out.iterdir())
    assert not [s for s in FORGOTTEN if s in text]
    assert "Zoé" in text and 'O""Brien' in text  # the kept contact is all there, quoted as CSV quotes


def test_parquet_export_keeps_the_types(run, settings, recorded, tmp_path):
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
    assert failed.exit_code == 1 and "cannot export" in failed.stderr
    assert CliRunner().invoke(main, ["export", "--help"]).exit_code == 0


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
