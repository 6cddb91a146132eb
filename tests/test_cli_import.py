"""`crm-es import contacts` (SQLite and PostgreSQL): the report as text or JSON, the
progress on stderr, exit codes, dry runs and re-runs."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from crm_es.entrypoints.cli.main import main

FILE = ("Mail;Vorname;Nachname;Stadt\r\n"
        "jurgen@example.com;Jürgen;Groß;München\r\n"
        "\r\n"
        "nope;No;Mail;Köln\r\n"
        "anna@example.com;Anna;Schäfer;Düsseldorf\r\n").encode("latin-1")
MAP = ["--map", "Mail=email", "--map", "Vorname=first_name", "--map", "Nachname=last_name", "--map", "Stadt=city"]


def test_import_has_help() -> None:
    result = CliRunner().invoke(main, ["import", "contacts", "--help"])
    assert result.exit_code == 0 and "--map" in result.output and "--dry-run" in result.output


def test_a_file_with_failed_rows_exits_3_and_says_which(run, tmp_path: Path) -> None:
    path = tmp_path / "kunden.csv"
    path.write_bytes(FILE)
    result = run("import", "contacts", str(path), *MAP)
    assert result.exit_code == 3, result.output
    assert "importing rows" in result.stderr  # the progress bar's label (a bar on a terminal)
    assert "row 4 (line 4): column 'Mail': not a valid e-mail address" in result.stdout
    assert "2 imported, 0 updated, 0 skipped, 1 failed" in result.stdout


def test_json_report_dry_run_and_rerun(run, tmp_path: Path) -> None:
    path = tmp_path / "kunden.csv"
    path.write_bytes(FILE)
    status = json.loads(run("status", "--json").stdout)

    dry = run("import", "contacts", str(path), *MAP, "--dry-run", "--json")
    assert dry.exit_code == 3 and dry.stderr == ""  # --json: no progress bar
    report = json.loads(dry.stdout)
    assert report["dry_run"] and report["counts"] == {"imported": 2, "updated": 0, "skipped": 0, "failed": 1}
    assert report["file"]["encoding"] == "cp1252" and report["file"]["delimiter"] == ";"
    assert json.loads(run("status", "--json").stdout)["store_position"] == status["store_position"]

    real = json.loads(run("import", "contacts", str(path), *MAP, "--json").stdout)
    assert [r["status"] for r in real["rows"]] == ["imported", "failed", "imported"]
    again = run("import", "contacts", str(path), *MAP, "--json")
    assert json.loads(again.stdout)["counts"] == {"imported": 0, "updated": 0, "skipped": 2, "failed": 1}
    after = json.loads(run("status", "--json").stdout)
    assert after["store_position"] == real["position"] and after["lag"] == 0  # the read side was brought up to date


def test_a_clean_file_exits_0_and_a_bad_mapping_exits_1(run, tmp_path: Path) -> None:
    path = tmp_path / "clean.csv"
    path.write_text("email,first_name,last_name\nada@example.com,Ada,Lovelace\n")
    assert run("import", "contacts", str(path)).exit_code == 0
    bad = run("import", "contacts", str(path), "--map", "Nowhere=email")
    assert bad.exit_code == 1 and "map: no column 'Nowhere'" in bad.stderr
