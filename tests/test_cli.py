"""The `crm-es` command line, in-process with click's runner (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from crm_es.entrypoints.cli.main import main


@pytest.mark.parametrize("command", [[], ["serve"], ["demo"], ["rebuild"], ["project"], ["status"]])
def test_every_command_has_help(command):
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


def test_demo_then_rebuild_gives_the_same_read_side(run, settings):
    loaded = run("demo", "--json")
    assert loaded.exit_code == 0, loaded.output
    summary = json.loads(loaded.stdout)
    assert summary["deals"] > 0 and summary["contacts"] > 0 and summary["interactions"] > 0 and summary["tasks"] > 0

    status = json.loads(run("status", "--json").stdout)
    assert status["lag"] == 0 and status["store_position"] > 0

    from crm_es.projections.read_side import ReadSide

    read_side = ReadSide(settings.read_side_path)
    before = read_side.dump()
    read_side.close()
    rebuilt = run("rebuild", "--json")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert json.loads(rebuilt.stdout) == {"events": status["store_position"], "position": status["store_position"]}
    read_side = ReadSide(settings.read_side_path)
    assert read_side.dump() == before
    read_side.close()

    again = run("demo")
    assert again.exit_code == 1 and "crm-es:" in again.stderr
    assert json.loads(run("project", "--json").stdout)["events"] == 0


def test_a_bad_database_url_is_a_clear_failure(tmp_path):
    result = CliRunner().invoke(main, ["status"], env={"CRM_ES_DATA_DIR": str(tmp_path), "CRM_ES_DATABASE_URL": "mysql://x"})
    assert result.exit_code == 1 and "postgresql://" in result.stderr
