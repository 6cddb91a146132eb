#!/usr/bin/env python
"""The outside probe of issue 16, repeated: a real `crm-es serve` poked as a client would.

Starts `crm-es serve` on a fresh data directory (SQLite, or PostgreSQL in a schema of its
own reached through a TCP proxy this script can cut), then measures, from outside:

- idempotent twins: 8 clients send the same ``Idempotency-Key`` at once, for a new contact and
  for a deal's stage move with ``If-Match``; how many twins heard something other than the
  first answer, byte for byte, and how many events each round wrote;
- bounded answers: ``POST /sql`` asking for 400 rows of 1 MB (answer size, the server's memory);
- the contract's edges: an integer ``occurred_at``, ``known_at=-1094``, ``?after=`` far beyond
  the head, a 405's ``Allow``, an empty ``If-Match``;
- an outage (PostgreSQL only): the proxy cut for ``--outage`` seconds under 4 writers;
  ``/health`` and ``/readyz`` latency and answers during the cut, the seconds from the
  restore to the first command that succeeds again, and acknowledged commands vs the log.

Examples::

    .venv/bin/python bench/probe_edges.py                        # SQLite
    .venv/bin/python bench/probe_edges.py --backend postgres --outage 35
    .venv/bin/python bench/probe_edges.py --json                 # the figures as JSON
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' TCP proxy
from tests.integration.tcp_proxy import TcpProxy

PG_HOST, PG_PORT = "127.0.0.1", 5432
TWINS, ROUNDS = 8, 20
CRM_ES = Path(sys.executable).with_name("crm-es")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response | None, float]:
    start = time.perf_counter()
    try:
        answer: httpx.Response | None = call()
    except httpx.HTTPError:
        answer = None
    return answer, time.perf_counter() - start


def twins(client: httpx.Client, method: str, url: str, body: dict[str, Any], headers: dict[str, str]) -> list[tuple[int, bytes]]:
    """The same request sent by TWINS threads at once; their answers (status, body)."""
    barrier, answers = threading.Barrier(TWINS), [None] * TWINS

    def send(i: int) -> None:
        barrier.wait()
        r = client.request(method, url, json=body, headers=headers)
        answers[i] = (r.status_code, r.content)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(TWINS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers  # type: ignore[return-value]


def events_of(store: Callable[[str, tuple[Any, ...]], int], topic: str) -> int:
    return store("SELECT count(*) FROM {events} WHERE topic LIKE ?", (f"%{topic}",))


def probe_twins(client: httpx.Client, store: Callable[[str, tuple[Any, ...]], int]) -> dict[str, Any]:
    pipeline = client.post("/pipelines", json={"name": f"Probe {uuid.uuid4().hex[:6]}", "stages": [
        {"name": f"S{i}", "probability": round(i / (ROUNDS + 1), 2)} for i in range(ROUNDS + 1)]}).json()["id"]
    deal = client.post("/deals", json={"title": "Probe", "pipeline_id": pipeline, "stage": "S0", "amount": "100",
                                       "currency": "EUR"}).json()
    version, figures = deal["version"], {"contact": [0, 0, 0], "stage move with If-Match": [0, 0, 0]}
    for n in range(ROUNDS):
        before = events_of(store, "Contact.Registered")
        answers = twins(client, "POST", "/contacts", {"first_name": "Twin", "last_name": str(n),
                                                      "email": f"twin-{uuid.uuid4().hex}@probe.example"},
                        {"Idempotency-Key": uuid.uuid4().hex})
        figures["contact"][0] += sum(a != answers[0] for a in answers) + (answers[0][0] >= 400)
        figures["contact"][1] += events_of(store, "Contact.Registered") - before
        figures["contact"][2] += len(answers)
        before = events_of(store, "Deal.StageChanged")
        answers = twins(client, "POST", f"/deals/{deal['id']}/stage", {"stage": f"S{n + 1}"},
                        {"Idempotency-Key": uuid.uuid4().hex, "If-Match": f'"{version}"'})
        figures["stage move with If-Match"][0] += sum(a != answers[0] for a in answers) + (answers[0][0] >= 400)
        figures["stage move with If-Match"][1] += events_of(store, "Deal.StageChanged") - before
        figures["stage move with If-Match"][2] += len(answers)
        version += 1
    return {what: {"twins": sent, "not the first answer": differ, "events written": written, "rounds": ROUNDS}
            for what, (differ, written, sent) in figures.items()}


def probe_contract(client: httpx.Client, pid: int) -> dict[str, Any]:
    contact = client.post("/contacts", json={"first_name": "Edge", "last_name": "Probe",
                                             "email": f"edge-{uuid.uuid4().hex}@probe.example"}).json()["id"]
    pipeline = client.post("/pipelines", json={"name": f"Edges {uuid.uuid4().hex[:6]}", "stages": [
        {"name": "A", "probability": 0.5}]}).json()["id"]
    before = rss_mb(pid)
    sql, sql_s = timed(lambda: client.post("/sql", json={"sql": "SELECT rpad('x', 1000000, 'x') AS x FROM range(400)"}))
    after_far, after_s = timed(lambda: client.get(f"/contacts/{contact}", params={"after": 10**12}))
    not_allowed = client.delete("/contacts")
    figures = {
        "POST /sql 400 rows x 1 MB": {"status": sql and sql.status_code, "answer bytes": sql and len(sql.content),
                                       "seconds": round(sql_s, 2), "server RSS grew MB": round(rss_mb(pid) - before),
                                       "problem": sql.json() if sql is not None and sql.status_code >= 400 else None},
        "integer occurred_at": client.post(f"/contacts/{contact}/interactions", json={
            "type": "call", "direction": "outbound", "occurred_at": 1700000000}).status_code,
        "known_at=-1094": client.get(f"/pipelines/{pipeline}/board", params={"known_at": -1094}).status_code,
        "?after= beyond the head": {"status": after_far and after_far.status_code, "seconds": round(after_s, 2)},
        "405 Allow": {"status": not_allowed.status_code, "Allow": not_allowed.headers.get("allow")},
        "empty If-Match": client.patch(f"/contacts/{contact}", json={"first_name": "E"},
                                       headers={"If-Match": ""}).status_code,
    }
    health = [timed(lambda: client.get("/health"))[1] for _ in range(50)]
    figures["GET /health p50 ms"] = round(sorted(health)[25] * 1000, 1)
    return figures


def probe_outage(client: httpx.Client, proxy: TcpProxy, seconds: float, schema: str) -> dict[str, Any]:
    contact = client.post("/contacts", json={"first_name": "Load", "last_name": "Probe",
                                             "email": f"load-{uuid.uuid4().hex}@probe.example"}).json()["id"]
    acknowledged, failures, stop = [0], [0], threading.Event()
    last_ok = [0.0]

    def writer() -> None:
        with httpx.Client(base_url=str(client.base_url), timeout=30) as c:
            while not stop.is_set():
                try:
                    r = c.post(f"/contacts/{contact}/interactions", json={"type": "note", "text": "x"})
                except httpx.HTTPError:
                    failures[0] += 1
                    continue
                if r.status_code < 300:
                    acknowledged[0] += 1
                    last_ok[0] = time.monotonic()
                else:
                    failures[0] += 1
                    time.sleep(0.05)

    writers = [threading.Thread(target=writer) for _ in range(4)]
    for w in writers:
        w.start()
    time.sleep(2)
    proxy.cut()
    cut_at = time.monotonic()
    during: list[tuple[float, int | None, Any]] = []
    while time.monotonic() - cut_at < seconds:
        health, took = timed(lambda: client.get("/health", timeout=60))
        ready, _ = timed(lambda: client.get("/readyz", timeout=60))
        during.append((took, health and health.status_code, health and health.json().get("store", {}).get("reachable")))
        during[-1] += (ready and ready.status_code,)  # type: ignore[assignment]
        time.sleep(1)
    proxy.restore()
    restored = time.monotonic()
    while last_ok[0] < restored and time.monotonic() - restored < 120:
        time.sleep(0.05)
    recovery = last_ok[0] - restored if last_ok[0] >= restored else None
    time.sleep(2)
    stop.set()
    for w in writers:
        w.join()
    with psycopg.connect(f"postgresql://postgres@{PG_HOST}:{PG_PORT}/test", autocommit=True) as conn:
        stored = conn.execute(f'SELECT count(*) FROM "{schema}".crm_events WHERE originator_id = %s '
                              "AND topic LIKE %s", (contact, "%NoteAdded%")).fetchone()[0]
    return {
        "outage seconds": seconds,
        "/health during the cut, slowest seconds": round(max(d[0] for d in during), 2),
        "/health during the cut, said reachable": sorted({str(d[2]) for d in during}),
        "/health statuses": sorted({str(d[1]) for d in during}),
        "/readyz statuses": sorted({str(d[3]) for d in during}),  # type: ignore[misc]
        "seconds from restore to the first command answered 2xx": recovery and round(recovery, 2),
        "commands acknowledged": acknowledged[0], "notes in the log": stored, "refused or failed": failures[0],
    }


def store_counter(data_dir: Path, schema: str | None) -> Callable[[str, tuple[Any, ...]], int]:
    """A count read straight from the store's events table (SQLite file or PostgreSQL schema)."""
    def count(sql: str, params: tuple[Any, ...]) -> int:
        if schema is None:
            import sqlite3
            with sqlite3.connect(data_dir / "events.sqlite3") as conn:
                return conn.execute(sql.format(events="stored_events"), params).fetchone()[0]
        with psycopg.connect(f"postgresql://postgres@{PG_HOST}:{PG_PORT}/test", autocommit=True) as conn:
            return conn.execute(sql.format(events=f'"{schema}".crm_events').replace("?", "%s"), params).fetchone()[0]
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--outage", type=float, default=10, help="seconds PostgreSQL is cut off (postgres only)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="probe-"))
    port, proxy, schema = free_port(), None, None
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_ES_")}
    env["CRM_ES_DATA_DIR"] = str(data_dir)
    if args.backend == "postgres":
        proxy, schema = TcpProxy((PG_HOST, PG_PORT)), f"probe_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(f"postgresql://postgres@{PG_HOST}:{PG_PORT}/test", autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        env["CRM_ES_DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:{proxy.port}/test"
        env["CRM_ES_POSTGRES_SCHEMA"] = schema
    log = open(data_dir / "serve.log", "wb")
    serve = subprocess.Popen([str(CRM_ES), "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                             stdout=log, stderr=subprocess.STDOUT)
    figures: dict[str, Any] = {"backend": args.backend}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            for _ in range(300):
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            figures["twins"] = probe_twins(client, store_counter(data_dir, schema))
            figures["contract"] = probe_contract(client, serve.pid)
            if proxy is not None and schema is not None:
                figures["outage"] = probe_outage(client, proxy, args.outage, schema)
        serve.terminate()
        serve.wait(30)
        text = (data_dir / "serve.log").read_text(errors="replace")
        figures["log"] = {"lines": len(text.splitlines()), "tracebacks": text.count("Traceback"),
                          "APScheduler 'maximum number of running instances'": text.count("maximum number of running")}
    finally:
        if serve.poll() is None:
            serve.kill()
        if schema is not None:
            with psycopg.connect(f"postgresql://postgres@{PG_HOST}:{PG_PORT}/test", autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        shutil.rmtree(data_dir, ignore_errors=True)
    print(json.dumps(figures, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
