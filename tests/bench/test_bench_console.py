"""bench/bench_console.py: its arithmetic on known inputs, and a --quick run end to end on
SQLite (a real `crm-es serve --demo`, signed in through the form). Figures are not checked
here: the bench judges them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import bench_console
from bench_console import Latencies, Row


def latencies(ms: list[float], wall: float = 1.0, failed: int = 0) -> Latencies:
    return Latencies([m / 1000 for m in ms], wall, failed)


def test_percentiles_and_rate_come_from_the_samples_and_the_wall_time() -> None:
    lat = latencies([float(n) for n in range(1, 101)], wall=2.0)
    assert lat.ms(0.5) == pytest.approx(51.0)  # bench_core.pct: the nearest rank
    assert lat.ms(0.95) == pytest.approx(95.0)
    assert lat.ms(0.99) == pytest.approx(99.0)
    assert lat.per_s == pytest.approx(50.0)


def test_rounds_add_up_into_one_measurement() -> None:
    lat = latencies([10.0, 20.0], wall=0.5, failed=1)
    lat.extend(latencies([30.0], wall=0.25))
    assert (len(lat.seconds), lat.wall, lat.failed) == (3, 0.75, 1)


def test_a_page_is_compared_with_its_baseline_quantile_by_quantile() -> None:
    row = Row("sqlite", "GET /app/board", 1, latencies([30.0] * 19 + [90.0]), "GET /pipelines/{id}/board",
              latencies([3.0] * 19 + [10.0]))
    assert row.ratio(0.5) == pytest.approx(10.0)
    assert row.ratio(0.99) == pytest.approx(9.0)
    assert Row("sqlite", "GET /app/sign-in", 1, latencies([1.0])).ratio(0.5) is None


def test_the_target_is_judged_on_one_client_and_a_failed_answer_misses_it() -> None:
    fast, slow = latencies([50.0] * 20), latencies([50.0] * 18 + [250.0] * 2)
    assert Row("sqlite", "p", 1, fast).ok is True
    assert Row("sqlite", "p", 1, slow).ok is False  # p95 at 250 ms
    assert Row("sqlite", "p", 1, latencies([50.0] * 20, failed=1)).ok is False
    assert Row("sqlite", "p", bench_console.CLIENTS, slow).ok is None  # shown, not judged


def test_the_profile_leaves_the_services_own_plumbing_out_but_keeps_the_frame_on_top() -> None:
    stack = ("<module> (/work/.venv/bin/crm-es:8);serve (crm_es/entrypoints/cli/main.py:60);WorkerThread.run (anyio/x.py:1);"
             "_board (crm_es/entrypoints/web/board_page.py:80);fetch (crm_es/queries/sql.py:27)")
    assert bench_console.quiet(stack) == ("_board (crm_es/entrypoints/web/board_page.py:80);"
                                          "fetch (crm_es/queries/sql.py:27)")
    assert bench_console.quiet("serve (crm_es/entrypoints/cli/main.py:60)") == "serve (crm_es/entrypoints/cli/main.py:60)"


def test_a_quick_run_measures_every_page_beside_its_baseline_and_writes_its_section(tmp_path: Path) -> None:
    output = tmp_path / "BENCHMARKS.md"
    output.write_text("# Benchmarks\n\nabove\n")
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_console.py"), "--quick", "--backend", "sqlite", "--write",
         "--output", str(output)],
        capture_output=True, text=True, timeout=600, cwd=ROOT, check=False,
    )
    assert done.returncode in (0, 1), done.stderr[-3000:]  # 1: a target missed, which the table shows
    section = output.read_text()
    begin, end = bench_console.marks("bench_console.py")
    assert section.startswith("# Benchmarks\n\nabove\n") and begin in section and end in section
    rows = [line.split(" | ") for line in section.splitlines() if line.startswith("| sqlite | ")]
    pages = {(row[1], row[2]) for row in rows}
    assert {page for page, _clients in pages} == {
        "`GET /app/board`", f"`GET /app/board?as_of={row_day(section)}`", "`GET /app/contacts/{id}`",
        "`GET /app/deals/{id}`", "`GET /app/companies/{id}`", "`GET /app/agenda?rep= (a week)`",
        "`GET /app/dashboards (five charts)`", "`GET /app/contacts (a list)`", "`GET /app/sign-in (no data: the floor)`"}
    assert {clients for _page, clients in pages} == {"1", str(bench_console.CLIENTS)}
    beside = {row[1]: row[7] for row in rows}
    assert beside["`GET /app/board`"] == "`GET /pipelines/{id}/board`"
    assert beside["`GET /app/contacts/{id}`"] == "`GET /contacts/{id} + /timeline`"
    assert beside["`GET /app/agenda?rep= (a week)`"] == "`GET /agenda?rep=`"
    assert not any("failed" in cell for row in rows for cell in row)  # every answer a 200 showing its page
    assert "the pages show what their baselines answer (cards per board, events per contact): yes" in section


def row_day(section: str) -> str:
    """The past day the run chose for the board (from its note)."""
    return section.split("at the end of ", 1)[1].split(",", 1)[0]
