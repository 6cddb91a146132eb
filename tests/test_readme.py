"""The README stays true: its commands exist and it documents every table."""

from pathlib import Path

from crm_es.projections.schema import TABLES

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_documents_every_table_and_column():
    readme = (ROOT / "README.md").read_text()
    for table in TABLES:
        assert f"`{table.name}`" in readme, table.name
        for column, type_ in table.columns:
            assert f"| {column} | {type_} |" in readme, (table.name, column)


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "./dev test" in readme.split("\n\n")[2] and "./dev test" in ci
