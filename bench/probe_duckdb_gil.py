#!/usr/bin/env python
"""Why the read side falls behind under load (issue 18): DuckDB's Python client takes
Python's lock (the GIL) back after every task of every statement, to check for Ctrl-C
(`DuckDBPyConnection::CompletePendingQuery` calls `PyErr_CheckSignals` under
`gil_scoped_acquire` between tasks). A thread that wants the GIL waits for the holder to
give it up, up to the switch interval (5 ms by default) while another thread runs Python.
So a projector batch of a dozen one-row statements, ~6 ms alone, takes tens or hundreds of
milliseconds beside busy request threads, though DuckDB itself does no more work.

This probe shows it with nothing of ours: one DuckDB transaction of N one-row INSERTs
(the shape and count of a projector batch during bench_http's mix), timed alone, then
beside Python threads that keep the GIL busy — either all the time (`spin`) or giving it
up at each turn like an event loop waiting on sockets (`loop`) — at the default switch
interval and at 0.5 ms.

    .venv/bin/python bench/probe_duckdb_gil.py
    .venv/bin/python bench/probe_duckdb_gil.py --statements 12 --rounds 10 --json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import duckdb


def batch(cur: duckdb.DuckDBPyConnection, statements: int) -> None:
    """One transaction, one call: BEGIN, one-row INSERTs into as many tables, COMMIT."""
    body = [f"INSERT INTO t{i} VALUES (1, 'x', 1.5)" for i in range(statements)]
    cur.execute(";\n".join(["BEGIN", *body, "COMMIT"]))


def spin(stop: threading.Event) -> None:  # Python that never gives the GIL up by itself
    x = 0
    while not stop.is_set():
        x += 1


def loop(stop: threading.Event) -> None:  # Python that gives it up at each turn, like a loop doing I/O
    while not stop.is_set():
        for _ in range(2_000):
            pass
        time.sleep(0)


def timed(cur: duckdb.DuckDBPyConnection, statements: int, rounds: int) -> float:
    """Median milliseconds of one batch."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        batch(cur, statements)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def beside(work: Callable[[threading.Event], None] | None, threads: int, interval: float,
           cur: duckdb.DuckDBPyConnection, statements: int, rounds: int) -> float:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(interval)
    stop = threading.Event()
    busy = [threading.Thread(target=work, args=(stop,), daemon=True) for _ in range(threads if work else 0)]
    for thread in busy:
        thread.start()
    try:
        return timed(cur, statements, rounds)
    finally:
        stop.set()
        for thread in busy:
            thread.join()
        sys.setswitchinterval(previous)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--statements", type=int, default=12, help="one-row INSERTs per batch")
    parser.add_argument("--rounds", type=int, default=10, help="batches timed per case (the median is shown)")
    parser.add_argument("--json", action="store_true", help="the figures as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect(str(Path(tmp) / "probe.duckdb"))
        for i in range(args.statements):
            con.execute(f"CREATE TABLE t{i} (a INTEGER, b VARCHAR, c DOUBLE)")
        cur = con.cursor()
        batch(cur, args.statements)  # warm-up
        cases = [("alone", None, 0, 0.005)]
        for interval in (0.005, 0.0005):
            for work, threads in ((spin, 1), (loop, 8), (spin, 8)):
                cases.append((f"beside {threads} {work.__name__} thread(s)", work, threads, interval))
        rows = [{"case": name, "switch_interval_ms": interval * 1000,
                 "batch_ms": round(beside(work, threads, interval, cur, args.statements, args.rounds), 1)}
                for name, work, threads, interval in cases]
        con.close()
    alone = rows[0]["batch_ms"]
    if args.json:
        print(json.dumps({"statements": args.statements, "rows": rows}, indent=2))
        return 0
    print(f"one DuckDB transaction of {args.statements} one-row INSERTs (median of {args.rounds}), duckdb {duckdb.__version__}")
    print(f"{'case':32} {'switch interval':>16} {'batch ms':>9} {'vs alone':>9}")
    for row in rows:
        print(f"{row['case']:32} {row['switch_interval_ms']:>13.1f} ms {row['batch_ms']:>9.1f} "
              f"{row['batch_ms'] / alone:>8.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
