"""`crm-es import deals` (SQLite and PostgreSQL): the report as text or JSON, the progress
on stderr, exit codes, a second file of stage changes, dry runs and re-runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner

from crm_es.aggregates.pipeline import StageSpec
from crm_es.bootstrap import service
from crm_es.entrypoints.cli.main import main
from crm_es.commands import execute
from crm_es.commands.people import AddRep, add_rep
from crm_es.commands.pipelines import CreatePipeline, create_pipeline
from crm_es.settings import Settings

SINCE = datetime(2024, 1, 1, tzinfo=UTC)
# A Salesforce-like export, month first.
DEALS = ("Opportunity ID,Opportunity Name,Account Name,Stage,Opportunity Owner,Amount,Opportunity Currency,"
         "Created Date,Close Date,Status\n"
         "006A,Fleet,Acme,Proposal,Ann Lee,1200,USD,01/15/2025 09:00,02/03/2025,won\n"
         "006B,Parts,Acme,Demo,nobody@example.com,300,USD,01/16/2025 09:00,,open\n"
         "006C,Tyres,Initech,,ann@example.com,50,USD,01/17/2025 09:00,,open\n")
HISTORY = "Opportunity ID,Stage,Changed at\n006C,Contact,01/17/2025 09:00\n006C,Demo,01/20/2025 14:00\n"
OPTIONS = ["--pipeline", "New business", "--date-order", "mdy", "--timezone", "America/New_York"]


def files(settings: Settings, tmp_path: Path) -> tuple[Path, Path]:
    services = service(settings)
    try:
        ctx = services.context()
        stages = [StageSpec(name, Decimal(p)) for name, p in [("Contact", "0.1"), ("Demo", "0.5"), ("Proposal", "0.8")]]
        execute(create_pipeline, CreatePipeline("New business", stages, SINCE), ctx)
        execute(add_rep, AddRep("Ann Lee", "ann@example.com", None, SINCE), ctx)
    finally:
        services.close()
    deals, history = tmp_path / "opportunities.csv", tmp_path / "history.csv"
    deals.write_text(DEALS)
    history.write_text(HISTORY)
    return deals, history


def test_import_deals_has_help() -> None:
    result = CliRunner().invoke(main, ["import", "deals", "--help"])
    assert result.exit_code == 0 and "--stages" in result.output and "--dry-run" in result.output


def test_a_file_with_failed_rows_exits_3_and_says_which(run, settings: Settings, tmp_path: Path) -> None:
    deals, history = files(settings, tmp_path)
    result = run("import", "deals", str(deals), "--stages", str(history), *OPTIONS)
    assert result.exit_code == 3, result.output
    assert "importing rows" in result.stderr  # the progress bar's label
    assert "opportunities.csv row 3 (line 3): column 'Opportunity Owner': no rep has this e-mail" in result.stdout
    assert "company 'Acme' registered, dated 2025-01-15T09:00:00-05:00" in result.stdout
    assert "deals: 2 imported, 0 updated, 0 skipped, 1 failed" in result.stdout
    assert "stage changes: 2 imported, 0 updated, 0 skipped, 0 failed" in result.stdout


def test_json_report_dry_run_and_rerun(run, settings: Settings, tmp_path: Path) -> None:
    deals, history = files(settings, tmp_path)
    status = json.loads(run("status", "--json").stdout)
    dry = run("import", "deals", str(deals), "--stages", str(history), *OPTIONS, "--dry-run", "--json")
    assert dry.exit_code == 3 and dry.stderr == ""  # --json: no progress bar
    report = json.loads(dry.stdout)
    assert report["dry_run"] and report["counts"] == {"imported": 4, "updated": 0, "skipped": 0, "failed": 1}
    assert json.loads(run("status", "--json").stdout)["store_position"] == status["store_position"]

    real = json.loads(run("import", "deals", str(deals), "--stages", str(history), *OPTIONS, "--json").stdout)
    assert [r["status"] for r in real["rows"]] == ["imported", "failed", "imported", "imported", "imported"]
    again = json.loads(run("import", "deals", str(deals), "--stages", str(history), *OPTIONS, "--json").stdout)
    assert again["counts"] == {"imported": 0, "updated": 0, "skipped": 4, "failed": 1}
    after = json.loads(run("status", "--json").stdout)
    assert after["store_position"] == real["position"] and after["lag"] == 0


def test_a_clean_file_exits_0_and_a_bad_mapping_exits_1(run, settings: Settings, tmp_path: Path) -> None:
    deals, _ = files(settings, tmp_path)
    deals.write_text("id,title,stage,amount,currency,created\nX,Solo,Demo,5,EUR,2025-01-02\n")
    assert run("import", "deals", str(deals), "--pipeline", "New business").exit_code == 0
    bad = run("import", "deals", str(deals), "--map", "Nowhere=title")
    assert bad.exit_code == 1 and "map: no column 'Nowhere'" in bad.stderr
