#!/usr/bin/env python
"""The service over HTTP, measured from outside with wrk, beside a trivial route of the same app.

For each store (SQLite, then PostgreSQL in a schema of its own), a fresh data directory
gets a realistic data set (``crm-es generate``: thousands of contacts with two years of
history; then open deals added through the API until one pipeline's board holds 500) and
an admin API key (``crm-es keys create``); then ``crm-es serve`` runs, unchanged but for one
more route, ``POST /bench/noop`` (bench/http/serve_with_noop.py: same uvicorn, same
middleware, same key check), and wrk (bench/http/load.lua) measures, in one run:

1. ``POST /contacts/{id}/interactions`` (a call, on random contacts) at 1 and 32 clients,
   beside ``POST /bench/noop`` with the same body at 1 and 32 clients: req/s, p50/p95/p99
   (client side, wrk), answers that were not 2xx;
2. reads at 32 clients: the board with 500 open deals, a contact card, a timeline page,
   the funnel;
3. a mix at 32 clients (70 % interactions, 20 % reads of boards, cards, timelines and
   the funnel, 10 % deal moves): wrk's overall percentiles, and per route the server's own
   (``/metrics``: ``crm_es_http_request_duration_seconds`` deltas over the run — wrk's Lua
   has no clock per request) with the errors (``crm_es_http_requests_total``);
4. command → visible on the read side during the mix: ``crm_es_read_side_delay_seconds``
   deltas (server side), and a probe from outside (a command, then a GET ``?after=`` its
   position: an upper bound, the GET's own time included);
5. ``POST /interactions:batch`` of 10,000 page visits (a few requests): events/s over HTTP;
   then once more with lead scoring on: accepted, projected and scored, end to end.

``--profile`` runs py-spy against the service during one more 32-client command run and
prints its 25 heaviest functions (inclusive). Missing ``/metrics`` figures print "n/a".

Examples::

    .venv/bin/python bench/bench_http.py                       # both stores, 10 s a run (~6 min)
    .venv/bin/python bench/bench_http.py --backend sqlite --duration 5 --profile
    .venv/bin/python bench/bench_http.py --quick --backend sqlite   # a smoke test, under a minute
    .venv/bin/python bench/bench_http.py --write               # rewrite BENCHMARKS.md's section
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from bench_core import (
    compared,
    fmt,
    log,
    machine,
    marks,
    pct,
    run_options,
    write_section,
)
from psycopg import sql

HERE = Path(__file__).resolve().parent
LUA = HERE / "http" / "load.lua"
LAUNCHER = HERE / "http" / "serve_with_noop.py"
CRM_ES = Path(sys.executable).with_name("crm-es")
PY_SPY = Path(sys.executable).with_name("py-spy")
WRK = shutil.which("wrk") or "/usr/bin/wrk"
PORTS = range(8680, 8700)  # this bench's ports on the shared machine
SCRIPT = "bench_http.py"

# The targets (issue 18), on this 2-core machine.
COMMANDS_PER_S = {"sqlite": 1_200, "postgres": 800}  # 32 clients
P99_MS = 50
SHARE_OF_TRIVIAL = 0.25
ONE_CLIENT_P50_MS = 2
READS_PER_S = 1_500
LAG_P95_MS = 50
TRACKING_PER_S = 20_000
TRACKING_END_TO_END_S = 3

HTTP_DURATION = "crm_es_http_request_duration_seconds"
HTTP_REQUESTS = "crm_es_http_requests_total"
READ_DELAY = "crm_es_read_side_delay_seconds"


# --- results (bench_core's table, with "n/a" for a figure the service does not give) ----


@dataclass
class Figure:
    part: str
    backend: str
    what: str
    value: float | None  # None: not measurable here (n/a)
    unit: str
    baseline_what: str = ""
    baseline: float | None = None
    target: str = ""
    ok: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """How many times slower than the baseline (a rate: higher is better; ms: lower)."""
        if self.baseline is None or not self.value:
            return None
        return self.value / self.baseline if self.unit in ("ms", "s") else self.baseline / self.value


@dataclass
class Report:
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)  # markdown blocks after the notes

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        log(f"{figure.backend:8} {figure.what}: {shown(figure.value, figure.unit)}"
            + (f" ({figure.note})" if figure.note else "")
            + (f"  | {figure.baseline_what} {fmt(figure.baseline)} ({compared(figure.ratio)})" if figure.baseline else ""))
        return figure

    def note(self, line: str) -> None:
        self.notes.append(line)
        log(line)

    def table(self, block: str) -> None:
        self.tables.append(block)
        log("\n" + block)


def shown(value: float | None, unit: str) -> str:
    return "n/a" if value is None else f"{fmt(value)} {unit}"


def ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f}"


# --- wrk -------------------------------------------------------------------------------


@dataclass
class Run:
    """One wrk run's figures (client side)."""

    workload: str
    clients: int
    requests: int
    seconds: float
    failed: int  # answers 4xx/5xx (wrk counts status > 399)
    socket_errors: int
    p50: float  # ms
    p95: float
    p99: float

    @property
    def per_s(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        errors = f", {self.failed:,} not 2xx" + (f", {self.socket_errors} socket errors" if self.socket_errors else "")
        return f"p50 {self.p50:,.1f} ms, p95 {self.p95:,.1f} ms, p99 {self.p99:,.1f} ms{errors}"


LOADS: list[float] = []  # the machine's 1-min load average at each wrk run's end: how shared it was


def wrk(url: str, workload: str, clients: int, seconds: float, env: dict[str, str], threads: int) -> Run:
    command = [WRK, f"-t{max(1, min(threads, clients))}", f"-c{clients}", f"-d{max(1, round(seconds))}s",
               "--timeout", "30s", "-s", str(LUA), url]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **env,
                                                                         "BENCH_HTTP_WORKLOAD": workload}, check=False)
    LOADS.append(os.getloadavg()[0])
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_HTTP ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout[-2000:]} {done.stderr[-2000:]}")
    f = json.loads(line.removeprefix("BENCH_HTTP "))
    errors = f["connect"] + f["read"] + f["write"] + f["timeout"]
    return Run(workload, clients, f["requests"], f["duration_us"] / 1e6, f["non2xx"], errors,
               f["p50_us"] / 1e3, f["p95_us"] / 1e3, f["p99_us"] / 1e3)


# --- /metrics ---------------------------------------------------------------------------

Sample = tuple[str, frozenset[tuple[str, str]]]
_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str) -> dict[Sample, float]:
    """Prometheus text format → {(name, labels): value}; comments and timestamps left out."""
    out: dict[Sample, float] = {}
    for line in text.splitlines():
        m = _LINE.match(line)
        if m is None or line.startswith("#"):
            continue
        labels = frozenset(_LABEL.findall(m.group(2) or ""))
        try:
            out[(m.group(1), labels)] = float(m.group(3))
        except ValueError:
            continue
    return out


def scrape(client: httpx.Client) -> dict[Sample, float] | None:
    """The service's metrics now, or None when it serves none."""
    try:
        answer = client.get("/metrics")
    except httpx.HTTPError:
        return None
    if answer.status_code != 200 or "text/plain" not in answer.headers.get("content-type", ""):
        return None
    return parse_metrics(answer.text)


def delta(before: dict[Sample, float], after: dict[Sample, float], name: str) -> dict[frozenset, float]:
    """Each labelled sample of ``name``: after minus before (counters and histogram buckets)."""
    return {labels: value - before.get((n, labels), 0.0) for (n, labels), value in after.items() if n == name}


def histograms(before: dict[Sample, float], after: dict[Sample, float], name: str,
               by: tuple[str, ...] = ()) -> dict[tuple[str, ...], list[tuple[float, float]]]:
    """The histogram's bucket deltas grouped by the labels ``by``: {key: [(le, cumulative count)]}."""
    groups: dict[tuple[str, ...], list[tuple[float, float]]] = defaultdict(list)
    for labels, count in delta(before, after, f"{name}_bucket").items():
        d = dict(labels)
        groups[tuple(d.get(k, "") for k in by)].append((float(d["le"]), count))
    return {k: sorted(v) for k, v in groups.items()}


def quantile(buckets: list[tuple[float, float]], q: float) -> float | None:
    """Prometheus' histogram_quantile: linear within the bucket holding the rank; the
    largest finite bound when the rank falls in +Inf. Seconds; None without samples."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank, lower, below = q * buckets[-1][1], 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if math.isinf(le):
                return lower
            return lower + (le - lower) * ((rank - below) / (count - below) if count > below else 1.0)
        lower, below = le, count
    return lower


# --- the service ----------------------------------------------------------------------


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


class PgInfo:
    """What bench_core.machine() prints about PostgreSQL."""

    def __init__(self, url: str) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            self.server_version = conn.execute("SHOW server_version").fetchone()[0]
            self.settings_seen = {name: conn.execute(f"SHOW {name}").fetchone()[0]
                                  for name in ("shared_buffers", "synchronous_commit", "fsync", "wal_level")}


@dataclass
class Sizes:
    contacts: int
    deals: int
    interactions: int
    open_deals: int


class Service:
    """A fresh data directory with the data set and a key, and ``crm-es serve`` on it."""

    def __init__(self, backend: str, tmp: Path, pg_url: str) -> None:
        self.backend, self.pg_url = backend, pg_url
        self.data_dir = tmp / backend
        self.data_dir.mkdir()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_ES_")}
        self.env["CRM_ES_DATA_DIR"] = str(self.data_dir)
        self.schema: str | None = None
        if backend == "postgres":
            self.schema = f"bench_http_{uuid.uuid4().hex[:10]}"
            with psycopg.connect(pg_url, autocommit=True) as conn:
                conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self.schema)))
            self.env["CRM_ES_DATABASE_URL"] = pg_url
            self.env["CRM_ES_POSTGRES_SCHEMA"] = self.schema
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.key = ""

    def cli(self, *args: str) -> str:
        done = subprocess.run([str(CRM_ES), *args], env=self.env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"crm-es {' '.join(args)} failed: {done.stderr[-2000:]}")
        return done.stdout

    def prepare(self, sizes: Sizes) -> dict[str, Any]:
        """The data set (generated, not yet projected: serve catches up when it starts) and an admin key."""
        summary = json.loads(self.cli("generate", "--contacts", str(sizes.contacts), "--deals", str(sizes.deals),
                                      "--interactions", str(sizes.interactions), "--json"))
        self.key = json.loads(self.cli("keys", "create", "--role", "admin", "--name", "bench_http", "--json"))["key"]
        return summary

    def start(self) -> None:
        self.port = free_port()
        self.log_file = open(self.data_dir / "serve.log", "wb")
        self.process = subprocess.Popen([sys.executable, str(LAUNCHER), "--host", "127.0.0.1", "--port", str(self.port)],
                                        env=self.env, stdout=self.log_file, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 300
        with httpx.Client(base_url=self.url, timeout=5) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"serve stopped: {self.log_tail()}")
                try:
                    if client.get("/health").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        raise RuntimeError(f"serve did not answer within 300 s: {self.log_tail()}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, timeout: float = 60) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=timeout, headers={"Authorization": f"Bearer {self.key}"})

    def log_tail(self) -> str:
        try:
            return (self.data_dir / "serve.log").read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None:
            self.log_file.close()
            text = self.log_tail()
            if "Traceback" in text:
                log(f"{self.backend}: the service's log ends with a traceback:\n{text[-1500:]}")
        if self.schema is not None:
            with psycopg.connect(self.pg_url, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.schema)))
            self.schema = None


@contextmanager
def running(backend: str, tmp: Path, pg_url: str) -> Iterator[Service]:
    server = Service(backend, tmp, pg_url)
    try:
        yield server
    finally:
        server.stop()


# --- the data set as the load sees it --------------------------------------------------


@dataclass
class Dataset:
    pipeline: str
    stages: list[str]
    contacts: list[tuple[str, str | None]]  # (id, e-mail)
    deals: list[str]  # the board's open deals
    directory: Path


def load_data(server: Service, sizes: Sizes, directory: Path) -> Dataset:
    """Tops one pipeline's board up to ``open_deals`` open deals through the API, then
    writes the ids the Lua script picks from."""
    with server.client() as client:
        pipelines = client.get("/pipelines", params={"limit": 100}).raise_for_status().json()["items"]
        boards = {p["id"]: client.get(f"/pipelines/{p['id']}/board").raise_for_status().json() for p in pipelines}
        chosen = max(pipelines, key=lambda p: sum(s["count"] for s in boards[p["id"]]["stages"]))
        board = boards[chosen["id"]]
        have = sum(s["count"] for s in board["stages"])
        stages = [s["name"] for s in chosen["stages"]]
        missing = max(0, sizes.open_deals - have)
        log(f"{server.backend}: board '{chosen['name']}' holds {have} open deals; opening {missing} more through the API …")

        def open_deal(i: int) -> int:
            body = {"title": f"Bench deal {i}", "pipeline_id": chosen["id"], "stage": stages[i % len(stages)],
                    "amount": f"{1000 + 37 * i}.00", "currency": board["currency"]}
            answer = client.post("/deals", json=body)
            if answer.status_code != 201:
                raise RuntimeError(f"POST /deals answered {answer.status_code}: {answer.text[:500]}")
            return answer.json()["position"]

        with ThreadPoolExecutor(8) as pool:
            positions = list(pool.map(open_deal, range(missing)))
        after = {"after": max(positions)} if positions else {}
        board = client.get(f"/pipelines/{chosen['id']}/board", params=after).raise_for_status().json()
        deals = [d["id"] for s in board["stages"] for d in s["deals"]]
        contacts: list[tuple[str, str | None]] = []
        cursor = None
        while True:
            page = client.get("/contacts", params={"limit": 1000, **({"cursor": cursor} if cursor else {})})
            page = page.raise_for_status().json()
            contacts += [(c["id"], c.get("email")) for c in page["items"] if c.get("forgotten_at") is None]
            cursor = page.get("next_cursor")
            if not cursor:
                break
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "contacts.txt").write_text("\n".join(c for c, _ in contacts) + "\n")
    (directory / "deals.txt").write_text("\n".join(deals) + "\n")
    (directory / "stages.txt").write_text("\n".join(stages) + "\n")
    quoted = [urllib.parse.quote(t.isoformat(), safe="") for t in (now - dt.timedelta(days=365), now)]
    (directory / "params.txt").write_text("\n".join([chosen["id"], *quoted]) + "\n")
    log(f"{server.backend}: {len(contacts):,} contacts, a board of {len(deals)} open deals in {len(stages)} stages")
    return Dataset(chosen["id"], stages, contacts, deals, directory)


# --- the parts --------------------------------------------------------------------------


@dataclass
class Options:
    duration: float
    threads: int
    batch_size: int
    batches: int
    profile: str | None  # None, "threads" or "gil"


def load_env(server: Service, data: Dataset) -> dict[str, str]:
    return {"BENCH_HTTP_DATA": str(data.directory), "BENCH_HTTP_KEY": server.key}


def part_commands(server: Service, data: Dataset, opts: Options, report: Report) -> None:
    env, name = load_env(server, data), server.backend
    runs: dict[tuple[str, int], Run] = {}
    for clients in (1, 32):
        for workload in ("noop", "interaction"):
            log(f"{name}: {workload} at {clients} client(s), {opts.duration:g} s …")
            runs[(workload, clients)] = wrk(server.url, workload, clients, opts.duration, env, opts.threads)
    one, one_noop = runs[("interaction", 1)], runs[("noop", 1)]
    report.add(Figure("1", name, "POST /contacts/{id}/interactions (a call), 1 client", one.per_s, "req/s",
                      "POST /bench/noop, 1 client", one_noop.per_s, f"p50 < {ONE_CLIENT_P50_MS} ms",
                      one.p50 < ONE_CLIENT_P50_MS, one.summary()))
    many, many_noop = runs[("interaction", 32)], runs[("noop", 32)]
    share = many.per_s / many_noop.per_s if many_noop.per_s else 0.0
    floor = COMMANDS_PER_S[name]
    report.add(Figure("2", name, "POST /contacts/{id}/interactions (a call), 32 clients", many.per_s, "req/s",
                      "POST /bench/noop, 32 clients", many_noop.per_s,
                      f">= {floor:,}/s, p99 < {P99_MS} ms, >= {SHARE_OF_TRIVIAL:.0%} of the trivial route",
                      many.per_s >= floor and many.p99 < P99_MS and share >= SHARE_OF_TRIVIAL and many.failed == 0,
                      f"{many.summary()}; {share:.0%} of the trivial route"))
    report.note(f"{name}: the trivial route POST /bench/noop: 1 client {one_noop.per_s:,.0f}/s ({one_noop.summary()}); "
                f"32 clients {many_noop.per_s:,.0f}/s ({many_noop.summary()})")
    if opts.profile:
        profile_commands(server, data, opts, report)


def part_reads(server: Service, data: Dataset, opts: Options, report: Report) -> None:
    env, name = load_env(server, data), server.backend
    what = {
        "board": f"GET /pipelines/{{id}}/board ({len(data.deals)} open deals)",
        "card": "GET /contacts/{id} (a contact card)",
        "timeline": "GET /contacts/{id}/timeline?limit=50",
        "funnel": "GET /analytics/funnel (a year, one pipeline)",
    }
    for workload, title in what.items():
        log(f"{name}: {workload} at 32 clients, {opts.duration:g} s …")
        run = wrk(server.url, workload, 32, opts.duration, env, opts.threads)
        report.add(Figure("3", name, f"{title}, 32 clients", run.per_s, "req/s", target=f">= {READS_PER_S:,}/s, p99 < {P99_MS} ms",
                          ok=run.per_s >= READS_PER_S and run.p99 < P99_MS and run.failed == 0, note=run.summary()))


class LagProbe:
    """From outside, during the load: a command, then a GET ?after= its position; the time
    from the command's answer to the GET's (an upper bound of the lag: the GET's own time
    under load is in it). A few a second, so it adds nothing to the load."""

    def __init__(self, server: Service, data: Dataset, every: float = 0.2) -> None:
        self.server, self.data, self.every = server, data, every
        self.seconds: list[float] = []
        self.failures = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LagProbe:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join()

    def _run(self) -> None:
        with self.server.client() as client:
            i = 0
            while not self.stop.wait(self.every):
                contact = self.data.contacts[i % len(self.data.contacts)][0]
                i += 7
                try:
                    answer = client.post(f"/contacts/{contact}/interactions", json={"type": "note", "text": "lag probe"})
                    t0 = time.perf_counter()
                    read = client.get(f"/contacts/{contact}", params={"after": answer.json()["position"]})
                    if answer.status_code >= 300 or read.status_code != 200:
                        self.failures += 1
                        continue
                    self.seconds.append(time.perf_counter() - t0)
                except (httpx.HTTPError, KeyError, ValueError):
                    self.failures += 1


def part_mix(server: Service, data: Dataset, opts: Options, report: Report) -> None:
    name, seconds = server.backend, opts.duration * 2
    with server.client() as client:
        before = scrape(client)
        log(f"{name}: the mix at 32 clients, {seconds:g} s …")
        with LagProbe(server, data) as probe:
            run = wrk(server.url, "mix", 32, seconds, load_env(server, data), opts.threads)
        after = scrape(client)
    report.add(Figure("4", name, "mix, 32 clients: 70 % interactions, 20 % reads (board, card, timeline, funnel), "
                      "10 % deal moves", run.per_s, "req/s", note=f"client side: {run.summary()}"))
    mix_routes(before, after, name, report)

    delay = histograms(before, after, READ_DELAY) if before and after else {}
    buckets = delay.get((), [])
    p50, p95 = (quantile(buckets, q) for q in (0.5, 0.95))
    p95_ms = None if p95 is None else p95 * 1000
    report.add(Figure("5", name, f"command → visible on the read side, during the mix ({READ_DELAY}, server side)",
                      p95_ms, "ms", target=f"p95 < {LAG_P95_MS} ms", ok=None if p95_ms is None else p95_ms < LAG_P95_MS,
                      note="p95; p50 " + ("n/a" if p50 is None else f"{p50 * 1000:,.1f} ms")
                      + ("" if not buckets else f"; {buckets[-1][1]:,.0f} events sampled")
                      + ("" if before and after else "; /metrics not served")))
    if probe.seconds:
        report.add(Figure("5", name, "same, probed from outside: a command, then GET /contacts/{id}?after= its position",
                          pct(probe.seconds, 0.95) * 1000, "ms",
                          note=f"p95 (an upper bound: the GET's own time under load included); "
                               f"p50 {pct(probe.seconds, 0.5) * 1000:,.1f} ms over {len(probe.seconds)} probes"
                               + (f"; {probe.failures} probes failed" if probe.failures else "")))


def mix_routes(before: dict[Sample, float] | None, after: dict[Sample, float] | None, name: str, report: Report) -> None:
    """Per route during the mix, from the service's histograms: count, p50/p95/p99, errors."""
    if not before or not after:
        report.note(f"{name}: per-route latency of the mix: n/a (the service serves no /metrics)")
        return
    per_route = histograms(before, after, HTTP_DURATION, ("method", "route"))
    errors: Counter[tuple[str, str]] = Counter()
    for labels, count in delta(before, after, HTTP_REQUESTS).items():
        d = dict(labels)
        if not d.get("status", "").startswith("2") and count:
            errors[(d.get("method", ""), d.get("route", ""))] += int(count)
    lines = [f"Mix on {name}, per route (server side: `{HTTP_DURATION}` deltas over the run, each quantile interpolated "
             "within its histogram bucket, so as coarse as the buckets; time in the service, not on the wire):", "",
             "| route | requests | p50 ms | p95 ms | p99 ms | not 2xx |", "|---|---:|---:|---:|---:|---:|"]
    for (method, route), buckets in sorted(per_route.items(), key=lambda kv: -kv[1][-1][1]):
        count = buckets[-1][1] if buckets else 0
        if count <= 0 or route in ("/metrics",):
            continue
        q = [quantile(buckets, p) for p in (0.5, 0.95, 0.99)]
        lines.append(f"| `{method} {route}` | {count:,.0f} | " + " | ".join(ms(None if v is None else v * 1000) for v in q)
                     + f" | {errors.get((method, route), 0):,} |")
    report.table("\n".join(lines))


def page_visits(data: Dataset, size: int, run: str) -> dict[str, Any]:
    """A tracking feed's batch: page visits of known contacts, a fifth named by e-mail, each with its id."""
    pages = ["/", "/pricing", "/features", "/blog/event-sourcing", "/contact", "/customers", "/docs/api"]
    items = []
    for i in range(size):
        contact, email = data.contacts[(i * 7919) % len(data.contacts)]
        item = {"type": "page_visited", "url": f"https://example.com{pages[i % len(pages)]}", "event_id": f"{run}-{i}",
                "seconds_on_page": 1 + i % 300, "visitor_id": f"v-{contact[:8]}"}
        if email and i % 5 == 0:
            item["email"] = email
        else:
            item["contact_id"] = contact
        items.append(item)
    return {"items": items}


def part_tracking(server: Service, data: Dataset, opts: Options, report: Report) -> None:
    name, size = server.backend, opts.batch_size
    seconds: list[float] = []
    with server.client(timeout=300) as client:
        client.post("/interactions:batch", json=page_visits(data, min(size, 100), f"warm-{uuid.uuid4().hex[:6]}"))
        for _ in range(opts.batches):
            body = json.dumps(page_visits(data, size, uuid.uuid4().hex[:10])).encode()
            t0 = time.perf_counter()
            answer = client.post("/interactions:batch", content=body, headers={"Content-Type": "application/json"})
            seconds.append(time.perf_counter() - t0)
            if answer.status_code != 200 or answer.json().get("accepted") != size:
                raise RuntimeError(f"the batch was not accepted whole: {answer.status_code} {answer.text[:500]}")
        per_s = size * len(seconds) / sum(seconds)
        report.add(Figure("6", name, f"POST /interactions:batch of {size:,} page visits ({len(seconds)} request{'s' * (len(seconds) > 1)})",
                          per_s, "events/s", target=f">= {TRACKING_PER_S:,} events/s", ok=per_s >= TRACKING_PER_S,
                          note=f"p50 {pct(seconds, 0.5) * 1000:,.0f} ms a request"))
        end_to_end(client, server, data, size, report)


def end_to_end(client: httpx.Client, server: Service, data: Dataset, size: int, report: Report) -> None:
    """One more batch with lead scoring on: accepted, then projected, then scored (its place
    in the log past the batch), from the request's start."""
    policy = "lead-scoring"
    if client.put(f"/policies/{policy}", json={"enabled": True}).status_code >= 300:
        report.note(f"{server.backend}: could not switch {policy} on: end to end n/a")
        return

    def head() -> int:
        return client.get("/health").json()["store"]["position"]

    def settled(position: int) -> None:  # every automation switched on has read up to here (or 60 s)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(p["enabled"] and p["position"] < position
                                                  for p in client.get("/policies").json()["items"]):
            time.sleep(0.01)

    settled(head())
    body = json.dumps(page_visits(data, size, uuid.uuid4().hex[:10])).encode()
    t0 = time.perf_counter()
    answer = client.post("/interactions:batch", content=body, headers={"Content-Type": "application/json"})
    accepted = time.perf_counter() - t0
    end = head()
    while client.get("/health").json()["read_side"]["position"] < end:
        time.sleep(0.005)
    projected = time.perf_counter() - t0
    deadline = t0 + 120  # a failing automation stays on its event: give up then
    while time.perf_counter() < deadline:
        row = next(p for p in client.get("/policies").json()["items"] if p["name"] == policy)
        if row["position"] >= end:
            break
        time.sleep(0.005)
    scored = time.perf_counter() - t0
    client.put(f"/policies/{policy}", json={"enabled": False})
    ok = answer.status_code == 200 and answer.json().get("accepted") == size and scored < TRACKING_END_TO_END_S
    report.add(Figure("6", server.backend, f"{size:,} page visits accepted, projected and scored by {policy}, end to end",
                      scored, "s", target=f"< {TRACKING_END_TO_END_S} s", ok=ok,
                      note=f"accepted after {accepted:.2f} s, projected after {projected:.2f} s"))


_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")
# Frames every stack of a thread passes through (thread start, the CLI, the event loop's
# own loop): always near 100 %, they say nothing about where the time goes.
PLUMBING = ("threading.py", "click/", "runpy.py", "serve_with_noop.py", "uvicorn/server.py", "uvicorn/main.py",
            "asyncio/runners.py", "asyncio/base_events.py")


def profile_commands(server: Service, data: Dataset, opts: Options, report: Report) -> None:
    """py-spy on the service during one more 32-client command run (apart from the
    measured one: sampling slows the process it samples)."""
    assert server.process is not None
    out = server.data_dir / "profile.txt"
    seconds = max(2.0, opts.duration)
    spy = subprocess.Popen([str(PY_SPY), "record", "--pid", str(server.process.pid), "--format", "raw",
                            "--output", str(out), "--duration", str(math.ceil(seconds)), "--rate", "200",
                            "--subprocesses", "--nonblocking", *(["--gil"] if opts.profile == "gil" else [])],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    time.sleep(0.5)
    run = wrk(server.url, "interaction", 32, seconds, load_env(server, data), opts.threads)
    spy_out = spy.communicate(timeout=seconds + 60)[0].decode(errors="replace")
    if spy.returncode != 0 or not out.exists():
        report.note(f"{server.backend}: py-spy failed ({spy.returncode}): {spy_out[-500:]}")
        return
    stacks = [(line.rsplit(" ", 1)[0], int(line.rsplit(" ", 1)[1])) for line in out.read_text().splitlines()
              if line.strip() and line.rsplit(" ", 1)[-1].isdigit()]
    what = "the thread holding the GIL" if opts.profile == "gil" else "every thread not idle"
    report.table(profile_table(stacks, f"Profile on {server.backend}: py-spy (200 samples/s, {what}) on the service "
                               f"during another 32-client run of `POST /contacts/{{id}}/interactions` ({run.per_s:,.0f} "
                               "req/s under sampling)"))


WAITING_FOR_WORK = ("Queue.get (", "SimpleQueue.get (", "BlockingScheduler._main_loop (")


def idle(frames: list[str]) -> bool:
    """A thread waiting for work: a pool's worker in ``Queue.get``, the scheduler between
    jobs, the event loop in ``select``. py-spy counts them as busy (they wait on a lock)."""
    leaf = frames[-1] if frames else ""
    if leaf.endswith("(selectors.py)"):
        return True
    if not leaf.endswith("(threading.py)"):
        return False
    waiter = next((f for f in reversed(frames) if not f.endswith("(threading.py)")), "")
    return waiter.startswith(WAITING_FOR_WORK)


def profile_table(stacks: list[tuple[str, int]], title: str, top: int = 25) -> str:
    """py-spy's raw stacks ("frame;frame;… count") → the heaviest functions, inclusive (on
    the stack) and self (on top), as shares of the samples of threads at work; threads
    waiting for work and plumbing frames left out."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = waiting = 0
    for stack, n in stacks:
        names = []
        for frame in stack.split(";"):
            m = _FRAME.match(frame.strip())
            if m is None:  # "process 123:…", "thread …": not a function
                continue
            path = m.group("file")
            for prefix in ("site-packages/", "src/", f"lib/python{sys.version_info[0]}.{sys.version_info[1]}/"):
                path = path.split(prefix, 1)[-1]
            names.append(f"{m.group('func')} ({path})")
        if not names or idle(names):
            waiting += n
            continue
        total += n
        own[names[-1]] += n
        for name in set(names):
            if not any(p in name for p in PLUMBING) or name == names[-1]:
                inclusive[name] += n
    total = total or 1
    lines = [f"{title}: {total:,} samples at work ({waiting:,} more of threads waiting for work, left out); the {top} "
             "heaviest functions by inclusive share (thread start, the CLI and the event loop's own frames left out):", "",
             "| function (file) | inclusive | self |", "|---|---:|---:|"]
    for name, n in inclusive.most_common(top):
        lines.append(f"| `{name}` | {n / total:.1%} | {own.get(name, 0) / total:.1%} |")
    return "\n".join(lines)


# --- the run ----------------------------------------------------------------------------


def measure(backend: str, tmp: Path, pg_url: str, sizes: Sizes, opts: Options, report: Report) -> None:
    with running(backend, tmp, pg_url) as server:
        log(f"{backend}: generating the data set ({sizes.contacts:,} contacts, {sizes.deals:,} deals, "
            f"{sizes.interactions:,} interactions) …")
        t0 = time.perf_counter()
        summary = server.prepare(sizes)
        server.start()
        data = load_data(server, sizes, tmp / f"lua-{backend}")
        report.note(f"{backend}: data set: `crm-es generate` ({summary['events']:,} events: {summary['contacts']:,} contacts, "
                    f"{summary['deals']:,} deals, {summary['interactions']:,} interactions over two years), the board topped up "
                    f"to {len(data.deals)} open deals through the API; ready in {time.perf_counter() - t0:.0f} s")
        with server.client() as client:
            if client.post("/bench/noop", json={}).status_code != 200:  # the route every figure stands beside
                raise RuntimeError("the service does not serve POST /bench/noop: `crm-es serve` no longer builds its app "
                                   "with create_app() in its own process? (bench/http/serve_with_noop.py)")
            if scrape(client) is None:
                report.note(f"{backend}: the service serves no /metrics: its figures are n/a")
        wrk(server.url, "mix", 32, min(3.0, opts.duration), load_env(server, data), opts.threads)  # warm-up
        part_commands(server, data, opts, report)
        part_reads(server, data, opts, report)
        part_mix(server, data, opts, report)
        part_tracking(server, data, opts, report)


def render(report: Report, info: list[tuple[str, str]], started: dt.datetime, took: float) -> str:
    command = f".venv/bin/python bench/{SCRIPT} " + " ".join(sys.argv[1:])
    lines = [f"Run {started:%Y-%m-%d %H:%M} UTC, {took / 60:.1f} min, with:", "", "```", command.strip(), "```", "",
             "| Machine | |", "|---|---|", *[f"| {k} | {v} |" for k, v in info], "",
             "| # | Backend | Measured | Figure | Beside (same run) | Its figure | Ours vs it | Target |",
             "|---|---|---|---:|---|---:|---:|---|"]
    for f in report.figures:
        target = f.target + ({True: " ✅", False: " ❌", None: " (n/a)"}[f.ok] if f.target else "")
        figure = shown(f.value, f.unit) + (f" ({f.note})" if f.note else "")
        lines.append(f"| {f.part} | {f.backend} | {f.what} | {figure} | {f.baseline_what or '—'} | "
                     f"{fmt(f.baseline)}{' ' + f.unit if f.baseline else ''} | {compared(f.ratio)} | {target or '—'} |")
    lines += ["", *[f"- {line}" for line in report.notes]]
    for block in report.tables:
        lines += ["", block]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] + " Parts: 1-2 commands at 1 and 32 clients beside a trivial POST, "
        "3 reads, 4 a mix, 5 command → read side lag, 6 tracking batches; see BENCHMARKS.md.",
        epilog="Exit status 1 when a figure misses its target (the table marks it), 0 otherwise. "
               f"Ports {PORTS.start}-{PORTS.stop - 1}; PostgreSQL schemas bench_http_<random>, dropped at the end.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of each wrk run (the mix runs twice as long)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test: 1 s runs, a small data set (100 open deals), one batch of 300")
    parser.add_argument("--contacts", type=int, default=5_000, help="contacts in the generated data set")
    parser.add_argument("--deals", type=int, default=3_000, help="deals in the generated data set (most closed)")
    parser.add_argument("--interactions", type=int, default=50_000, help="interactions in the generated data set")
    parser.add_argument("--open-deals", type=int, default=500, help="open deals on the measured board")
    parser.add_argument("--batch-size", type=int, default=10_000, help="page visits per POST /interactions:batch")
    parser.add_argument("--batches", type=int, default=3, help="tracking batches timed")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (the service shares the 2 cores with them)")
    parser.add_argument("--profile", nargs="?", const="threads", choices=("threads", "gil"),
                        help="py-spy on the service during one more 32-client command run; prints its top 25 "
                             "functions: of every thread not idle, or (gil) of the thread holding the GIL")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (data, serve.log, profile)")
    run_options(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.duration = min(args.duration, 1.0)
        args.contacts, args.deals, args.interactions = min(args.contacts, 1_000), min(args.deals, 200), min(args.interactions, 5_000)
        args.open_deals, args.batch_size, args.batches = min(args.open_deals, 100), min(args.batch_size, 300), 1
    for tool in (WRK, str(CRM_ES)):
        if not Path(tool).exists():
            parser.error(f"{tool} is missing (wrk: the Debian package)")
    if args.profile and not PY_SPY.exists():
        parser.error(f"{PY_SPY} is missing (pip install py-spy)")

    started, t_start = dt.datetime.now(dt.UTC), time.perf_counter()
    sizes = Sizes(args.contacts, args.deals, args.interactions, args.open_deals)
    opts = Options(args.duration, args.wrk_threads, args.batch_size, args.batches, args.profile)
    tmp = Path(tempfile.mkdtemp(prefix="crm-es-bench-http-"))
    log(f"temporary files in {tmp}")
    report, pg = Report(), None
    try:
        for backend in (["sqlite", "postgres"] if args.backend == "both" else [args.backend]):
            if backend == "postgres":
                pg = PgInfo(args.pg_url)
            measure(backend, tmp, args.pg_url, sizes, opts, report)
    finally:
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    info = machine(pg) + [
        ("Client", f"wrk {wrk_version()} ({args.wrk_threads} thread), on the same machine"),
        ("Load average", f"{min(LOADS, default=0):.1f}–{max(LOADS, default=0):.1f} (1 min, at the end of each wrk run; "
                         f"{os.cpu_count()} cores: above 2, other work shared the machine)"),
    ]
    section = render(report, info, started, time.perf_counter() - t_start)
    print(section)
    if args.write:
        write_section(args.output, section, script=SCRIPT)
        log(f"wrote {args.output} (between {marks(SCRIPT)[0][:30]}… and its end mark)")
    return 0 if all(f.ok is not False for f in report.figures) else 1


def wrk_version() -> str:
    done = subprocess.run([WRK, "-v"], capture_output=True, text=True, check=False)
    m = re.search(r"wrk (\S+)", done.stdout + done.stderr)
    return m.group(1) if m else "?"


if __name__ == "__main__":
    sys.exit(main())
