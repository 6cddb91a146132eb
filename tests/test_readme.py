"""The documentation stays true: the README's test command is CI's, every relative link of
the README and docs/ leads to a file of the repository (and a heading there, when it names
one), and docs/tables.md documents every table and column of the read side — with its type
and meaning — and nothing that does not exist. (tests/test_readme_runs.py runs their shell
blocks.)"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from crm_es.projections.read_side import ReadSide
from crm_es.projections.schema import TABLES

ROOT = Path(__file__).resolve().parents[1]
TABLES_MD = ROOT / "docs" / "tables.md"
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
CODE = re.compile(r"^(```|~~~).*?^\1[^\n]*$|`[^`\n]*`", re.MULTILINE | re.DOTALL)
SECTION = re.compile(r"^## `(\w+)`$", re.MULTILINE)
ROW = re.compile(r"^\| (\w+) \| ([^|]+?) \| ([^|]*?) \|$", re.MULTILINE)


def documented() -> dict[str, dict[str, tuple[str, str]]]:
    """docs/tables.md as {table: {column: (type, meaning)}}."""
    text = TABLES_MD.read_text()
    names = SECTION.findall(text)
    bodies = SECTION.split(text)[2::2]
    return {name: {c: (t, m) for c, t, m in ROW.findall(body) if c != "column"} for name, body in zip(names, bodies, strict=True)}


@pytest.fixture(scope="module")
def duckdb_tables(tmp_path_factory) -> dict[str, dict[str, str]]:
    """The tables of a new read side as DuckDB made them, bookkeeping ones included:
    {table: {column: type}}, each documented type read by DuckDB beside them (so
    TIMESTAMPTZ and TIMESTAMP WITH TIME ZONE are one type)."""
    side = ReadSide(tmp_path_factory.mktemp("read") / "read.duckdb")
    docs, tables = documented(), {}
    try:
        with side.cursor() as cur:
            rows = cur.execute("SELECT table_name, column_name, data_type FROM information_schema.columns "
                               "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position").fetchall()
            for table, column, type_ in rows:
                documented_type = docs.get(table, {}).get(column, (None, ""))[0]
                same = documented_type is None or cur.execute(
                    f"SELECT typeof(CAST(NULL AS {documented_type})) = ?", [type_]).fetchone()[0]
                tables.setdefault(table, {})[column] = type_ if same else f"{type_}, documented as {documented_type}"
    finally:
        side.close()
    return tables


def test_every_table_of_schema_py_is_documented_as_declared():
    docs = documented()
    undocumented = [table.name for table in TABLES if table.name not in docs]
    assert not undocumented, f"tables documented nowhere in docs/tables.md: {undocumented}"
    for table in TABLES:
        assert {c: t for c, (t, _) in docs[table.name].items()} == dict(table.columns), table.name
        assert all(meaning.strip() for _, meaning in docs[table.name].values()), table.name


def test_docs_hold_every_table_duckdb_has_and_nothing_else(duckdb_tables):
    docs = documented()
    assert not set(duckdb_tables) - set(docs), f"undocumented tables: {sorted(set(duckdb_tables) - set(docs))}"
    assert not set(docs) - set(duckdb_tables), f"documented tables that do not exist: {sorted(set(docs) - set(duckdb_tables))}"
    for table, columns in duckdb_tables.items():
        assert list(docs[table]) == list(columns), table
        assert not [t for t in columns.values() if "documented as" in t], (table, columns)
        assert all(meaning.strip() for _, meaning in docs[table].values()), table


def test_the_readme_links_the_tables():
    readme = (ROOT / "README.md").read_text()
    assert "[docs/tables.md](docs/tables.md)" in readme


def anchors(path: Path) -> set[str]:
    """The ids GitHub gives the file's headings: lower case, punctuation dropped, spaces as '-'."""
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*#*$", CODE.sub("", path.read_text()), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def broken_links(path: Path) -> list[str]:
    broken = []
    for target in LINK.findall(CODE.sub("", path.read_text())):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto: … : not the repository's
            continue
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        if not linked.is_relative_to(ROOT):
            broken.append(f"{target} (outside the repository)")
        elif not linked.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target} (no such heading)")
    return broken


def test_every_relative_link_leads_to_a_file_of_the_repository():
    broken = {str(path.relative_to(ROOT)): found for path in DOCUMENTS if (found := broken_links(path))}
    assert not broken, broken


def test_a_broken_link_is_found(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    page = tmp_path / "page.md"
    page.write_text("# Title here\n[ok](#title-here) [self](page.md) [web](https://example.com) `[code](nope.md)`\n"
                    "[gone](missing.md) [out](../elsewhere.md) [heading](page.md#no-such)\n")
    assert broken_links(page) == ["missing.md (no such file)", "../elsewhere.md (outside the repository)",
                                  "page.md#no-such (no such heading)"]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "./dev test" in readme.split("\n\n")[2] and "./dev test" in ci
