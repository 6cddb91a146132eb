"""bench/probe_duckdb_gil.py runs end to end: one batch's statements are all committed, and every
case (alone, beside busy threads, two switch intervals) gets a time. Figures are not judged here."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import probe_duckdb_gil  # noqa: E402


def test_a_batch_commits_one_row_in_each_of_its_tables(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "probe.duckdb"))
    for i in range(3):
        con.execute(f"CREATE TABLE t{i} (a INTEGER, b VARCHAR, c DOUBLE)")
    probe_duckdb_gil.batch(con.cursor(), 3)
    assert [con.execute(f"SELECT count(*) FROM t{i}").fetchone()[0] for i in range(3)] == [1, 1, 1]


def test_the_probe_times_every_case_and_restores_the_switch_interval(capsys: pytest.CaptureFixture[str]) -> None:
    before = sys.getswitchinterval()
    assert probe_duckdb_gil.main(["--statements", "2", "--rounds", "1", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["statements"] == 2
    cases = [(row["case"], row["switch_interval_ms"]) for row in figures["rows"]]
    assert cases[0] == ("alone", 5.0)
    assert {interval for _, interval in cases[1:]} == {5.0, 0.5} and len(cases) == 7
    assert all(row["batch_ms"] > 0 for row in figures["rows"])
    assert sys.getswitchinterval() == before
