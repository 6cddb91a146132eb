#!/usr/bin/env python
"""Batch ingest of tracking events (page visits), each figure beside a baseline of the same run.

1. ``record_batch()`` — the command behind ``POST /interactions:batch`` — with batches of
   10,000 page visits over a few thousand contacts (a fifth named by e-mail, every item
   with the sender's ``event_id``): contacts loaded, each visit decided (sessions),
   personal fields sealed, hash-chained and saved in one transaction per batch.
   Baseline: a binary ``COPY`` of the very rows those batches stored into a plain table
   of the events table's shape (PostgreSQL; ``executemany`` in one transaction on SQLite).
2. The same through HTTP (``POST /interactions:batch`` in process, the body sent as bytes:
   the JSON guard, parsing and per-item validation included), for the cost of the edge.
3. End to end, on a service of its own with the projector and the automations running (as
   under ``crm-es serve``) and lead scoring on: from sending a batch of page visits to its
   events on the read side, lead scoring's place past them, and their scores on the read
   side. Each batch is sent once the previous one has settled.

Examples::

    .venv/bin/python bench/bench_ingest.py                     # PostgreSQL, 10 batches of 10,000
    .venv/bin/python bench/bench_ingest.py --backend both --batches 5
    .venv/bin/python bench/bench_ingest.py --write             # rewrite BENCHMARKS.md's section
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
from bench_core import (
    Backend,
    PostgresBackend,
    Results,
    Row,
    SQLiteBackend,
    finish,
    log,
    machine,
    pct,
    rate,
    run_options,
    stored_rows,
)

from crm_es.aggregates.contact import ContactDetails
from crm_es.aggregates.interactions import InteractionSpec
from crm_es.bootstrap import service
from crm_es.clock import FrozenClock
from crm_es.commands import execute
from crm_es.commands.interactions import BatchItem, RecordBatch, record_batch
from crm_es.commands.records import RegisterContact, register_contact

TARGET_RATE = 20_000  # events/s (issue 5; over HTTP too: issue 18)
TARGET_END_TO_END = 3.0  # s: 10,000 visits accepted, projected and scored (issue 18)
LEAD = "lead-scoring"
# What lead scoring counts here (as in bench_policies.py): pages, behaviours, a threshold.
LEAD_SCORING = {
    "pages": [{"pattern": "*/pricing*", "points": 10}, {"pattern": "*/customers*", "points": 5},
              {"match": "regex", "pattern": r"/blog/[a-z-]+$", "points": 2}],
    "behaviours": {"email_opened": 1, "email_clicked": 5, "quote_opened": 15, "return_visit": 3},
    "threshold": 60,
}
TARGET_SHARE = 0.20  # of the COPY baseline
JSON = {"content-type": "application/json"}
PAGES = ["/", "/pricing", "/features", "/blog/event-sourcing", "/contact", "/customers", "/docs/api", "/careers"]


class Feed:
    """A tracking feed: page visits of known contacts, in time order, each with its id."""

    def __init__(self, contacts: list[tuple[UUID, str]], start: dt.datetime, seed: int = 7) -> None:
        self.contacts, self.at, self.rng, self.sent = contacts, start, random.Random(seed), 0

    def item(self, index: int) -> BatchItem:
        contact_id, email = self.rng.choice(self.contacts)
        self.at += timedelta(seconds=self.rng.randint(1, 120))
        self.sent += 1
        fields = {"url": f"https://example.com{self.rng.choice(PAGES)}", "title": None, "seconds_on_page": self.rng.randint(1, 300),
                  "referrer": None, "visitor_id": f"v-{contact_id.hex[:8]}", "session_id": None}
        by_email = self.rng.random() < 0.2
        return BatchItem(index, InteractionSpec("page_visited", fields), None if by_email else contact_id,
                         email if by_email else None, self.at, f"feed-{self.sent}")

    def batch(self, size: int) -> list[BatchItem]:
        return [self.item(i) for i in range(size)]

    def body(self, size: int) -> dict[str, Any]:
        items = []
        for item in self.batch(size):
            raw = {"type": "page_visited", "occurred_at": item.occurred_at.isoformat(), "event_id": item.event_id,
                   **{k: v for k, v in item.spec.fields.items() if v is not None}}
            raw["contact_id" if item.contact_id else "email"] = str(item.contact_id) if item.contact_id else item.email
            items.append(raw)
        return {"items": items}


def part_ingest(backend: Backend, n_contacts: int, batches: int, size: int, http_batches: int, results: Results) -> None:
    start = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.timezone.utc)
    clock = FrozenClock(start + timedelta(days=400))  # every visit has happened by then
    services = service(backend.settings("ingest"), clock=clock)
    try:
        feed = Feed(register(services, n_contacts, backend.name), start)
        record_batch(RecordBatch(feed.batch(size)), services.context())  # warm-up: caches, prepared statements
        store = services.store
        before = store.max_position()
        seconds, accepted = [], 0
        for _ in range(batches):
            items = feed.batch(size)
            t0 = time.perf_counter()
            answers = record_batch(RecordBatch(items), services.context())
            seconds.append(time.perf_counter() - t0)
            accepted += sum(a.status == "accepted" for a in answers)
        assert accepted == batches * size, f"only {accepted} of {batches * size} items were accepted"
        ours = rate(accepted, sum(seconds))
        rows = stored_rows(store, before, accepted)
        plain = backend.plain("ingest_copy")
        try:
            baseline = rate(len(rows), plain.insert_all(rows))
        finally:
            plain.close()
        how = "binary COPY" if backend.name == "postgres" else "executemany, one transaction"
        share = ours / baseline
        results.add(Row("1", backend.name, f"record_batch() of {size:,} page visits ({batches} batches, "
                        f"{n_contacts:,} contacts, event ids, 20% named by e-mail)", ours, "events/s",
                        f"the same stored rows, {how}, into a plain table", baseline,
                        f">= {TARGET_RATE:,} events/s and >= {TARGET_SHARE:.0%} of the baseline" if backend.name == "postgres" else "",
                        (ours >= TARGET_RATE and share >= TARGET_SHARE) if backend.name == "postgres" else None,
                        f"{share:.0%} of the baseline"))
        results.note(f"{backend.name}: a batch of {size:,} took p50 {pct(seconds, 0.5) * 1000:,.0f} ms, "
                     f"p95 {pct(seconds, 0.95) * 1000:,.0f} ms")
        if http_batches:
            part_http(services, feed, size, http_batches, backend.name, results)
    finally:
        services.close()


def register(services: Any, n_contacts: int, name: str) -> list[tuple[UUID, str]]:
    log(f"{name}: registering {n_contacts:,} contacts …")
    contacts = []
    for i in range(n_contacts):
        email = f"visitor{i}@example.com"
        details = ContactDetails("Visitor", str(i), email, city="Lyon")
        contacts.append((execute(register_contact, RegisterContact(details), services.context()).id, email))
    return contacts


def part_http(services: Any, feed: Feed, size: int, batches: int, name: str, results: Results) -> None:
    from fastapi.testclient import TestClient

    from crm_es.entrypoints.http.app import create_app

    with TestClient(create_app(services)) as client:
        client.post("/interactions:batch", content=orjson.dumps(feed.body(size)), headers=JSON)  # warm-up, as in part 1
        seconds = []
        for _ in range(batches):
            body = orjson.dumps(feed.body(size))  # the sender's bytes: encoding them is the client's work
            t0 = time.perf_counter()
            answer = client.post("/interactions:batch", content=body, headers=JSON)
            seconds.append(time.perf_counter() - t0)
            assert answer.status_code == 200 and answer.json()["accepted"] == size, answer.text[:300]
    figure = rate(batches * size, sum(seconds))
    results.add(Row("2", name, f"POST /interactions:batch of {size:,} page visits, in process ({batches} requests)",
                    figure, "events/s", target=f">= {TARGET_RATE:,} events/s", ok=figure >= TARGET_RATE,
                    note=f"p50 {pct(seconds, 0.5) * 1000:,.0f} ms a request"))


def part_end_to_end(backend: Backend, n_contacts: int, size: int, runs: int, results: Results) -> None:
    """A batch of page visits as the service lives it: accepted over HTTP, projected, then
    scored by lead scoring (its reactions projected too), the projector and the automations
    running in the background as under `crm-es serve` (its settings: the automations woken
    by PostgreSQL's NOTIFY, on SQLite every poll_seconds)."""
    from fastapi.testclient import TestClient

    from crm_es.entrypoints.http.app import create_app

    start = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.timezone.utc)
    services = service(backend.settings("end_to_end"), clock=FrozenClock(start + timedelta(days=400)))
    try:
        feed = Feed(register(services, n_contacts, backend.name), start, seed=11)
        services.start()
        store, projector = services.store, services.projector
        with TestClient(create_app(services)) as client:
            answer = client.put("/policies/lead-scoring", json={"enabled": True, "settings": LEAD_SCORING})
            assert answer.status_code == 200, answer.text
            settled(lambda: projector.position >= store.max_position() and store.tracked_position(LEAD) >= store.max_position())
            laps: list[tuple[float, float, float, float]] = []
            for _ in range(runs):
                body = orjson.dumps(feed.body(size))
                t0 = time.perf_counter()
                answer = client.post("/interactions:batch", content=body, headers=JSON)
                accepted = time.perf_counter() - t0
                assert answer.status_code == 200 and answer.json()["accepted"] == size, answer.text[:300]
                end = store.max_position()
                projected = settled(lambda end=end: projector.position >= end) - t0
                scored = settled(lambda end=end: store.tracked_position(LEAD) >= end) - t0
                head = store.max_position()  # the scores' events: LeadScoreChanged, hand-overs, tasks
                visible = settled(lambda head=head: projector.position >= head) - t0
                laps.append((accepted, projected, scored, visible))
                log(f"{backend.name}: accepted {accepted:.2f} s, projected {projected:.2f} s, scored {scored:.2f} s, "
                    f"scores on the read side {visible:.2f} s ({head - end:,} events of lead scoring)")
        p50 = [pct([lap[i] for lap in laps], 0.5) for i in range(4)]
        results.add(Row("3", backend.name, f"{size:,} page visits end to end: POST /interactions:batch, on the read side, "
                        f"scored by lead-scoring, its scores on the read side ({runs} batches, p50)", p50[3], "s",
                        target=f"< {TARGET_END_TO_END:g} s", ok=p50[3] < TARGET_END_TO_END,
                        note=f"accepted {p50[0]:.2f} s, projected {p50[1]:.2f} s, scored {p50[2]:.2f} s"))
    finally:
        services.close()


def settled(done: Any, timeout: float = 120.0) -> float:
    """When ``done()`` first held (perf_counter), looked at every 5 ms."""
    deadline = time.perf_counter() + timeout
    while not done():
        if time.perf_counter() > deadline:
            raise TimeoutError("the service did not settle")
        time.sleep(0.005)
    return time.perf_counter()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                                     epilog="Exit status 1 when a figure misses its target, 0 otherwise.")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="postgres")
    parser.add_argument("--contacts", type=int, default=2_000, help="contacts the visits are spread over")
    parser.add_argument("--batches", type=int, default=10, help="batches timed")
    parser.add_argument("--size", type=int, default=10_000, help="items per batch (the API's maximum)")
    parser.add_argument("--http-batches", type=int, default=3, help="requests timed through HTTP (0: skip)")
    parser.add_argument("--end-to-end", type=int, default=3, help="batches followed to their lead scores (0: skip)")
    run_options(parser)
    args = parser.parse_args(argv)

    started, t_start = dt.datetime.now(dt.timezone.utc), time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="crm-es-ingest-"))
    results, pg = Results(), None
    try:
        for name in (["sqlite", "postgres"] if args.backend == "both" else [args.backend]):
            backend: Backend = SQLiteBackend(tmp) if name == "sqlite" else PostgresBackend(tmp, args.pg_url)
            pg = backend if isinstance(backend, PostgresBackend) else pg
            try:
                part_ingest(backend, args.contacts, args.batches, args.size, args.http_batches, results)
                if args.end_to_end:
                    part_end_to_end(backend, args.contacts, args.size, args.end_to_end, results)
            finally:
                backend.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return finish(results, args, machine(pg), started, t_start, script="bench_ingest.py")


if __name__ == "__main__":
    sys.exit(main())
