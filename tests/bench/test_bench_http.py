"""bench/bench_http.py: its arithmetic on known inputs, and a --quick run end to end on SQLite
(a real `crm-es serve` under wrk). Figures are not checked here: the bench judges them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import bench_http  # noqa: E402


def test_a_quantile_is_interpolated_within_the_bucket_holding_its_rank() -> None:
    buckets = [(0.001, 0.0), (0.002, 50.0), (0.005, 90.0), (0.01, 100.0), (float("inf"), 100.0)]
    assert bench_http.quantile(buckets, 0.5) == pytest.approx(0.002)
    assert bench_http.quantile(buckets, 0.25) == pytest.approx(0.0015)
    assert bench_http.quantile(buckets, 0.95) == pytest.approx(0.0075)


def test_a_rank_beyond_the_last_bound_reads_as_that_bound_and_no_samples_as_none() -> None:
    assert bench_http.quantile([(0.1, 1.0), (float("inf"), 10.0)], 0.99) == pytest.approx(0.1)
    assert bench_http.quantile([(0.1, 0.0), (float("inf"), 0.0)], 0.5) is None


def test_histogram_deltas_are_grouped_by_the_labels_asked_for() -> None:
    before = bench_http.parse_metrics('x_bucket{route="/a",le="0.1"} 1\nx_bucket{route="/a",le="+Inf"} 2\n')
    after = bench_http.parse_metrics(
        '# TYPE x histogram\nx_bucket{route="/a",le="0.1"} 4\nx_bucket{route="/a",le="+Inf"} 8\n'
        'x_bucket{route="/b",le="0.1"} 1\nx_bucket{route="/b",le="+Inf"} 1\nx_count{route="/a"} 8\n')
    assert bench_http.histograms(before, after, "x", ("route",)) == {
        ("/a",): [(0.1, 3.0), (float("inf"), 6.0)],
        ("/b",): [(0.1, 1.0), (float("inf"), 1.0)],
    }


def test_the_profile_counts_a_function_once_per_stack_and_leaves_idle_workers_out() -> None:
    stacks = [
        ("process 1:x;Thread.run (threading.py:1);handle (crm_es/a.py:3);helper (crm_es/a.py:9);handle (crm_es/a.py:4)", 3),
        ("process 1:x;Thread.run (threading.py:1);handle (crm_es/a.py:3)", 1),
        ("process 1:x;WorkerThread.run (anyio/x.py:1);Queue.get (queue.py:171);Condition.wait (threading.py:336)", 6),
    ]
    table = bench_http.profile_table(stacks, "t")
    assert "4 samples at work (6 more of threads waiting for work" in table
    assert "| `handle (crm_es/a.py)` | 100.0% | 100.0% |" in table
    assert "| `helper (crm_es/a.py)` | 75.0% | 0.0% |" in table
    assert "Thread.run" not in table and "Queue.get" not in table


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk (the Debian package) is not installed")
def test_a_quick_run_measures_every_part_and_writes_its_section(tmp_path: Path) -> None:
    output = tmp_path / "BENCHMARKS.md"
    output.write_text("# Benchmarks\n\nabove\n")
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_http.py"), "--quick", "--backend", "sqlite", "--write",
         "--output", str(output)],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )
    assert done.returncode in (0, 1), done.stderr[-3000:]  # 1: a target missed, which the table shows
    section = output.read_text()
    begin, end = bench_http.marks("bench_http.py")
    assert section.startswith("# Benchmarks\n\nabove\n") and begin in section and end in section
    rows = [line for line in section.splitlines() if line.startswith("| ") and " | sqlite | " in line]
    assert sorted({row.split(" | ")[0].strip("| ") for row in rows}) == ["1", "2", "3", "4", "5", "6"]
    commands = [row for row in rows if "POST /contacts/{id}/interactions (a call)" in row]
    assert len(commands) == 2 and all("req/s (p50" in row and ", 0 not 2xx" in row for row in commands)
    assert "POST /bench/noop, 32 clients" in section
    mix = [line for line in section.splitlines() if line.startswith("| `POST /contacts/{contact_id}/interactions` |")]
    assert len(mix) == 1 and mix[0].endswith("| 0 |")  # served by /metrics, no errors
