#!/usr/bin/env python
"""The console's pages (issue 19), measured from outside beside the JSON they show.

For each store (SQLite, then PostgreSQL in a schema of its own, dropped at the end), a real
``crm-es serve --demo`` loads the demo company into an empty data folder; an admin key is
made with ``crm-es keys create``, and each client signs in as a browser does (``GET
/app/sign-in`` for the CSRF cookie and field, ``POST /app/sign-in``, the session cookie
kept). Then, with one client (a page's own latency: the target) and with 8 at once
(threads, one session each), N requests of each page, alternating in rounds with its JSON
baseline so both see the same moments of a shared machine:

- ``GET /app/board`` (the default pipeline)  beside ``GET /pipelines/{id}/board`` (Bearer);
- ``GET /app/board?pipeline=..&as_of=<a past day>``  beside the JSON board ``?as_of=`` that
  day's last instant (the page's ``data-as-of-instant``);
- ``GET /app/contacts/{id}`` (the demo's contacts in turn)  beside ``GET /contacts/{id}`` then
  ``GET /contacts/{id}/timeline?limit=1000`` (the page shows every event);
- ``GET /app/deals/{id}`` (the default board's deals in turn)  beside ``GET /deals/{id}`` then
  its timeline;
- ``GET /app/companies/{id}``  beside ``GET /companies/{id}``, its contacts and its deals;
- ``GET /app/agenda?view=week&rep=`` (the reps in turn)  beside ``GET /agenda?rep=`` (a day);
- ``GET /app/dashboards`` (the standard dashboard: five charts)  beside the five
  ``GET /analytics/<report>`` it shows, for its default period;
- ``GET /app/contacts`` (the list's first page)  beside ``GET /contacts``;
- ``GET /app/sign-in``, a page with no data: the floor.

Latencies are the client's (request sent → body read). Before measuring, each page is checked
to show what its baseline answers (as many cards, as many events). ``--profile`` (and any page
missing its target) runs py-spy on the service during one more one-client run of the page.

Examples::

    .venv/bin/python bench/bench_console.py                      # both stores (~3 min here)
    .venv/bin/python bench/bench_console.py --backend sqlite --profile
    .venv/bin/python bench/bench_console.py --quick --backend sqlite   # a smoke test
    .venv/bin/python bench/bench_console.py --write               # rewrite BENCHMARKS.md's section
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from bench_core import log, machine, marks, pct, run_options, write_section
from bench_http import CRM_ES, PY_SPY, PgInfo, Service, free_port, profile_table

from crm_es.entrypoints.web import board_page

SCRIPT = "bench_console.py"
TARGET_P95_MS = 200  # issue 19: "Pages answer in under 200 ms on the demo data", one client
CLIENTS = 8
ROUNDS = 4  # a page and its baseline take turns this many times
SESSION_COOKIE = "crm_es_session"
_SIGN_IN_CSRF = re.compile(r'id="sign-in".*?name="csrf" value="([^"]*)"', re.DOTALL)
LOADS: list[float] = []  # the 1-min load average after each measurement: how shared the machine was


# --- the service ------------------------------------------------------------------------


class DemoConsole(Service):
    """bench_http's Service (its data folder, its PostgreSQL schema, its stop), started as
    `crm-es serve --demo` on the empty store, then given an admin key (which ends open mode)."""

    def start(self) -> None:
        for _attempt in range(3):  # another bench may take the free port first
            self.port = free_port()
            self.log_file = open(self.data_dir / "serve.log", "ab")  # noqa: SIM115 (Service.stop closes it)
            self.process = subprocess.Popen([str(CRM_ES), "serve", "--demo", "--host", "127.0.0.1", "--port",
                                             str(self.port)], env=self.env, stdout=self.log_file,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            if self._answers():
                break
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self.log_file.close()
        else:
            raise RuntimeError(f"crm-es serve --demo did not start: {self.log_tail()}")
        self.key = json.loads(self.cli("keys", "create", "--role", "admin", "--name", "bench_console", "--json"))["key"]
        with self.client() as client:  # the demo's year projected before anything is measured
            deadline = time.monotonic() + 300
            while (health := client.get("/health").json())["read_side"]["position"] < health["store"]["position"]:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the read side did not catch up with the demo: {health}")
                time.sleep(0.1)

    def _answers(self) -> bool:
        assert self.process is not None
        deadline = time.monotonic() + 300
        with httpx.Client(base_url=self.url, timeout=5) as client:
            while time.monotonic() < deadline and self.process.poll() is None:
                try:
                    if client.get("/health").status_code == 200:
                        return True
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        return False


def browser(url: str, key: str) -> httpx.Client:
    """A browser signed in with the key through the form: its CSRF cookie and field, then the
    session cookie, kept by the client like a browser's jar."""
    client = httpx.Client(base_url=url, timeout=60)
    form = client.get("/app/sign-in")
    token = _SIGN_IN_CSRF.search(form.text)
    if form.status_code != 200 or token is None:
        raise RuntimeError(f"GET /app/sign-in gave no form with a CSRF field: {form.status_code} {form.text[:300]}")
    answer = client.post("/app/sign-in", data={"api_key": key, "csrf": token.group(1), "next": ""})
    if answer.status_code != 303 or SESSION_COOKIE not in client.cookies:
        raise RuntimeError(f"POST /app/sign-in did not open a session: {answer.status_code} {answer.text[:300]}")
    return client


# --- what is measured -------------------------------------------------------------------

Client = str  # which client a probe uses: "browser" (the session), "api" (Bearer), "visitor" (none)


@dataclass
class Probe:
    """One sample is the URLs ``urls(i)`` fetched one after the other by one client; each
    answer must be a 200 holding its text of ``holds`` (the first URL's the first …)."""

    what: str
    client: Client
    urls: Callable[[int], list[str]]
    holds: tuple[str, ...]


@dataclass
class Latencies:
    seconds: list[float] = field(default_factory=list)  # each sample's
    wall: float = 0.0  # the time the samples took, all clients together
    failed: int = 0  # samples with an answer that was not a 200 holding what it should

    def ms(self, q: float) -> float:
        return pct(self.seconds, q) * 1000 if self.seconds else math.nan

    @property
    def per_s(self) -> float:
        return len(self.seconds) / self.wall if self.wall else 0.0

    def extend(self, other: Latencies) -> None:
        self.seconds += other.seconds
        self.wall += other.wall
        self.failed += other.failed


def run(probe: Probe, clients: list[httpx.Client], count: int, start: int = 0) -> Latencies:
    """``count`` samples of the probe spread over the clients, each in a thread of its own."""
    shares = [count // len(clients) + (k < count % len(clients)) for k in range(len(clients))]
    lock, out = threading.Lock(), Latencies()

    def work(k: int) -> None:
        mine = Latencies()
        first = start + sum(shares[:k])
        for i in range(first, first + shares[k]):
            t0 = time.perf_counter()
            ok = all(_good(clients[k].get(url), text) for url, text in zip(probe.urls(i), probe.holds, strict=True))
            mine.seconds.append(time.perf_counter() - t0)
            mine.failed += not ok
        with lock:
            out.seconds += mine.seconds
            out.failed += mine.failed

    t0 = time.perf_counter()
    with ThreadPoolExecutor(len(clients)) as pool:
        list(pool.map(work, range(len(clients))))
    out.wall = time.perf_counter() - t0
    return out


def _good(answer: httpx.Response, holds: str) -> bool:
    return answer.status_code == 200 and holds in answer.text


def side_by_side(page: Probe, baseline: Probe | None, clients: dict[Client, list[httpx.Client]],
                 count: int) -> tuple[Latencies, Latencies | None]:
    """The page and its baseline in turns (ROUNDS each), after a few unmeasured requests."""
    probes = [p for p in (page, baseline) if p is not None]
    for probe in probes:
        run(probe, clients[probe.client], 2 * len(clients[probe.client]))
    measured = [Latencies() for _ in probes]
    done = 0
    for r in range(ROUNDS):
        chunk = count // ROUNDS + (r < count % ROUNDS)
        for probe, latencies in zip(probes, measured, strict=True):
            latencies.extend(run(probe, clients[probe.client], chunk, start=done))
        done += chunk
    LOADS.append(os.getloadavg()[0])
    return measured[0], (measured[1] if baseline is not None else None)


# --- the demo as the pages see it -------------------------------------------------------


@dataclass
class Demo:
    pipeline: str  # the board's default: the first pipeline
    past_day: dt.date
    past_instant: str  # the page's data-as-of-instant for that day
    contacts: list[str]
    events: int
    deals: int  # on the default board now
    deals_then: int
    deal_ids: list[str] = field(default_factory=list)  # the default board's, for the deals' pages
    companies: list[str] = field(default_factory=list)
    reps: list[str] = field(default_factory=list)


def end_of(day: dt.date) -> str:
    """The instant the board page shows for a day: the page's own reading of it."""
    return board_page.end_of(day).isoformat()


def deals_on(board: dict) -> int:
    return sum(len(stage["deals"]) for stage in board["stages"])


def look(api: httpx.Client) -> Demo:
    pipeline = api.get("/pipelines").raise_for_status().json()["items"][0]["id"]
    today = dt.datetime.now(dt.UTC).date()
    boards = {day: api.get(f"/pipelines/{pipeline}/board", params={"as_of": end_of(day)}).raise_for_status().json()
              for day in (today - dt.timedelta(days=n) for n in (30, 60, 90, 120, 180))}
    past_day = max(boards, key=lambda day: (deals_on(boards[day]), -day.toordinal()))  # the most deals then
    contacts = [c["id"] for c in every(api, "/contacts") if c.get("forgotten_at") is None]
    now = api.get(f"/pipelines/{pipeline}/board").raise_for_status().json()
    events = api.get("/health").json()["store"]["position"]
    return Demo(pipeline, past_day, end_of(past_day), contacts, events, deals_on(now), deals_on(boards[past_day]),
                [deal["id"] for stage in now["stages"] for deal in stage["deals"]],
                [c["id"] for c in every(api, "/companies")], [r["id"] for r in every(api, "/reps")])


def every(api: httpx.Client, path: str) -> list[dict]:
    """Every item of a JSON list, page after page."""
    items, cursor = [], None
    while True:
        found = api.get(path, params={"limit": 1000, **({"cursor": cursor} if cursor else {})}).raise_for_status().json()
        items += found["items"]
        if not (cursor := found.get("next_cursor")):
            return items


REPORTS = ("funnel", "velocity", "forecast", "sources", "activity")  # the standard dashboard's


def pairs(demo: Demo) -> list[tuple[Probe, Probe | None]]:
    board, json_board = f"/app/board?pipeline={demo.pipeline}", f"/pipelines/{demo.pipeline}/board"
    as_of = httpx.QueryParams({"as_of": demo.past_instant})
    contact, deal, company, rep = demo.contacts, demo.deal_ids, demo.companies, demo.reps

    def constant(url: str | list[str]) -> Callable[[int], list[str]]:
        return lambda _i: [url] if isinstance(url, str) else url

    today = dt.datetime.now(dt.UTC).date()  # the dashboards' default period: the 90 days to today
    period = httpx.QueryParams({"from": f"{today - dt.timedelta(days=89)}T00:00:00Z",
                                "to": f"{today + dt.timedelta(days=1)}T00:00:00Z", "pipeline": demo.pipeline})

    return [
        (Probe("GET /app/board", "browser", constant("/app/board"), ('id="board"',)),
         Probe("GET /pipelines/{id}/board", "api", constant(json_board), ('"stages"',))),
        (Probe(f"GET /app/board?as_of={demo.past_day}", "browser", constant(f"{board}&as_of={demo.past_day}"),
               (f'data-as-of-instant="{demo.past_instant}"',)),
         Probe("GET /pipelines/{id}/board?as_of=", "api", constant(f"{json_board}?{as_of}"), ('"stages"',))),
        (Probe("GET /app/contacts/{id}", "browser", lambda i: [f"/app/contacts/{contact[i % len(contact)]}"],
               ('id="record"',)),
         Probe("GET /contacts/{id} + /timeline", "api", lambda i: [f"/contacts/{contact[i % len(contact)]}",
                                                                    f"/contacts/{contact[i % len(contact)]}/timeline?limit=1000"],
               ('"version"', '"items"'))),
        (Probe("GET /app/deals/{id}", "browser", lambda i: [f"/app/deals/{deal[i % len(deal)]}"], ('id="record"',)),
         Probe("GET /deals/{id} + /timeline", "api", lambda i: [f"/deals/{deal[i % len(deal)]}",
                                                              f"/deals/{deal[i % len(deal)]}/timeline?limit=1000"],
               ('"version"', '"items"'))),
        (Probe("GET /app/companies/{id}", "browser", lambda i: [f"/app/companies/{company[i % len(company)]}"],
               ('id="record"',)),
         Probe("GET /companies/{id} + its contacts + deals", "api", lambda i: [
             f"/companies/{company[i % len(company)]}", f"/contacts?company={company[i % len(company)]}&limit=1000",
             f"/deals?company={company[i % len(company)]}&limit=1000"], ('"name"', '"items"', '"items"'))),
        (Probe("GET /app/agenda?rep= (a week)", "browser", lambda i: [f"/app/agenda?view=week&rep={rep[i % len(rep)]}"],
               ('id="agenda"',)),
         Probe("GET /agenda?rep=", "api", lambda i: [f"/agenda?rep={rep[i % len(rep)]}"], ('"items"',))),
        (Probe("GET /app/dashboards (five charts)", "browser", constant("/app/dashboards"), ('data-report="funnel"',)),
         Probe("GET /analytics/ funnel, velocity, forecast, sources, activity", "api",
               constant([f"/analytics/{report}?{period}" for report in REPORTS]), ('"from"',) * len(REPORTS))),
        (Probe("GET /app/contacts (a list)", "browser", constant("/app/contacts"), ('id="list"',)),
         Probe("GET /contacts", "api", constant("/contacts"), ('"items"',))),
        (Probe("GET /app/sign-in (no data: the floor)", "visitor", constant("/app/sign-in"), ('id="sign-in"',)), None),
    ]


def same_as_json(browser_: httpx.Client, api: httpx.Client, demo: Demo) -> list[str]:
    """What differs between a page and its baseline (cards, events), if anything."""
    differences = []
    for query, json_query in (("", ""), (f"&as_of={demo.past_day}", f"?{httpx.QueryParams({'as_of': demo.past_instant})}")):
        cards = len(re.findall(r'class="deal-card\b', browser_.get(f"/app/board?pipeline={demo.pipeline}{query}").text))
        deals = deals_on(api.get(f"/pipelines/{demo.pipeline}/board{json_query}").json())
        if cards != deals:
            differences.append(f"board{query or ' now'}: {cards} cards on the page, {deals} deals in the JSON")
    for contact in demo.contacts[:5]:
        shown = len(re.findall(r'<li class="event"', browser_.get(f"/app/contacts/{contact}").text))
        events = len(api.get(f"/contacts/{contact}/timeline", params={"limit": 1000}).json()["items"])
        if shown != events:
            differences.append(f"contact {contact}: {shown} events on the page, {events} in the timeline")
    return differences


# --- results ----------------------------------------------------------------------------


@dataclass
class Row:
    backend: str
    page: str
    clients: int
    latencies: Latencies
    baseline_what: str = ""
    baseline: Latencies | None = None

    @property
    def judged(self) -> bool:
        """The target is a page's own latency: one client."""
        return self.clients == 1

    @property
    def ok(self) -> bool | None:
        if not self.judged:
            return None
        return self.latencies.failed == 0 and self.latencies.ms(0.95) < TARGET_P95_MS

    def ratio(self, q: float) -> float | None:
        """How many times the page's latency is its baseline's, at quantile q."""
        if self.baseline is None or not self.baseline.seconds or not self.baseline.ms(q):
            return None
        return self.latencies.ms(q) / self.baseline.ms(q)


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        lat, base = row.latencies, row.baseline
        log(f"{row.backend:8} {row.page}, {row.clients} client{'s' * (row.clients > 1)}: p50 {lat.ms(0.5):.1f} ms, "
            f"p95 {lat.ms(0.95):.1f} ms, {lat.per_s:.0f} req/s"
            + (f" | {row.baseline_what}: p50 {base.ms(0.5):.1f} ms, p95 {base.ms(0.95):.1f} ms" if base else ""))

    def note(self, line: str) -> None:
        self.notes.append(line)
        log(line)


def times(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio:.1f}×"


def render(report: Report, info: list[tuple[str, str]], started: dt.datetime, took: float) -> str:
    command = f".venv/bin/python bench/{SCRIPT} " + shlex.join(sys.argv[1:])
    lines = [f"Run {started:%Y-%m-%d %H:%M} UTC, {took / 60:.1f} min, with:", "", "```", command.strip(), "```", "",
             "| Machine | |", "|---|---|", *[f"| {k} | {v} |" for k, v in info], "",
             ("| Backend | Page | Clients | p50 ms | p95 ms | p99 ms | req/s | Beside it (same run) | its p50 / p95 ms "
              "| page ÷ JSON, p50 / p95 | Target |"),
             "|---|---|---:|---:|---:|---:|---:|---|---:|---:|---|"]
    for r in report.rows:
        lat, base = r.latencies, r.baseline
        failed = f" ({lat.failed} failed)" if lat.failed else ""
        target = {True: f"p95 < {TARGET_P95_MS} ms ✅", False: f"p95 < {TARGET_P95_MS} ms ❌",
                  None: "— (shown, not judged)"}[r.ok]
        beside = f"{base.ms(0.5):.1f} / {base.ms(0.95):.1f}" + (f" ({base.failed} failed)" if base.failed else "") if base else "—"
        lines.append(f"| {r.backend} | `{r.page}` | {r.clients} | {lat.ms(0.5):.1f} | {lat.ms(0.95):.1f}{failed} | "
                     f"{lat.ms(0.99):.1f} | {lat.per_s:,.0f} | {f'`{r.baseline_what}`' if base else '—'} | {beside} | "
                     f"{times(r.ratio(0.5))} / {times(r.ratio(0.95))} | {target} |")
    lines += ["", *[f"- {line}" for line in report.notes]]
    for block in report.profiles:
        lines += ["", block]
    return "\n".join(lines)


# --- the run ----------------------------------------------------------------------------


# Frames on every stack of `crm-es serve` (the script, the CLI, the loop's start, a worker
# thread's run) that bench_http's table does not know: always near 100 %, they say nothing.
ALSO_PLUMBING = ("crm_es/entrypoints/cli/main.py", "uvicorn/_compat.py", "WorkerThread.run (")
_SCRIPT_FRAME = re.compile(r"crm-es(?::\d+)?\)$")  # <module> (/…/bin/crm-es:8)


def quiet(stack: str) -> str:
    """A py-spy stack without those frames (the frame on top is kept: its time is its own)."""
    frames = stack.split(";")
    kept = [f for f in frames[:-1] if not (any(p in f for p in ALSO_PLUMBING) or _SCRIPT_FRAME.search(f))]
    return ";".join(kept + frames[-1:])


def profile(server: Service, probe: Probe, clients: dict[Client, list[httpx.Client]], seconds: float,
            report: Report) -> None:
    """py-spy on the service while one client asks for the page again and again."""
    assert server.process is not None
    out = server.data_dir / f"profile-{len(report.profiles)}.txt"
    spy = subprocess.Popen([str(PY_SPY), "record", "--pid", str(server.process.pid), "--format", "raw", "--output",
                            str(out), "--duration", str(math.ceil(seconds)), "--rate", "200", "--nonblocking"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    time.sleep(0.5)
    sampled = Latencies()
    while spy.poll() is None:
        sampled.extend(run(probe, clients[probe.client][:1], 5, start=len(sampled.seconds)))
    spy_out = spy.communicate()[0].decode(errors="replace")
    if spy.returncode != 0 or not out.exists():
        report.note(f"{server.backend}: py-spy failed on `{probe.what}` ({spy.returncode}): {spy_out[-300:]}")
        return
    stacks = [(quiet(line.rsplit(" ", 1)[0]), int(line.rsplit(" ", 1)[1])) for line in out.read_text().splitlines()
              if line.strip() and line.rsplit(" ", 1)[-1].isdigit()]
    report.profiles.append(profile_table(stacks, f"Profile on {server.backend}: py-spy (200 samples/s, every thread "
                                         f"not idle) on the service while one client asked for `{probe.what}` "
                                         f"({len(sampled.seconds)} times, p50 {sampled.ms(0.5):.1f} ms under sampling)",
                                         top=15))
    log("\n" + report.profiles[-1])


def measure(backend: str, tmp: Path, pg_url: str, count: int, profile_all: bool, report: Report) -> None:
    server = DemoConsole(backend, tmp, pg_url)
    made: list[httpx.Client] = []
    try:
        t0 = time.perf_counter()
        server.start()
        api = server.client()
        made.append(api)
        demo = look(api)
        report.note(f"{backend}: the demo company (`crm-es serve --demo`: {demo.events:,} events, {len(demo.contacts)} "
                    f"contacts; {demo.deals} open deals on the default board now, {demo.deals_then} at the end of "
                    f"{demo.past_day}, the past day measured), ready in {time.perf_counter() - t0:.0f} s")
        sessions = {"browser": [browser(server.url, server.key) for _ in range(CLIENTS)],
                    "api": [server.client() for _ in range(CLIENTS)],
                    "visitor": [httpx.Client(base_url=server.url, timeout=60) for _ in range(CLIENTS)]}
        made += [c for group in sessions.values() for c in group]
        differences = same_as_json(sessions["browser"][0], api, demo)
        report.note(f"{backend}: the pages show what their baselines answer (cards per board, events per contact): "
                    + ("yes" if not differences else "NO — " + "; ".join(differences)))
        missed, measured = set(), pairs(demo)
        for clients in (1, CLIENTS):
            chosen = {kind: group[:clients] for kind, group in sessions.items()}
            for page, baseline in measured:
                latencies, base = side_by_side(page, baseline, chosen, count)
                row = Row(backend, page.what, clients, latencies, baseline.what if baseline else "", base)
                report.add(row)
                if row.ok is False:
                    missed.add(page.what)
        for page, baseline in measured:  # the floor has no data to look into, unless it missed too
            if (profile_all and baseline is not None) or page.what in missed:
                profile(server, page, sessions, 5.0, report)
    finally:
        for client in made:
            client.close()
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] + " See BENCHMARKS.md.",
        epilog=f"Exit status 1 when a page misses its target (p95 < {TARGET_P95_MS} ms with one client, every "
               "answer a 200), 0 otherwise. PostgreSQL: a schema bench_http_<random>, dropped at the end.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--requests", type=int, default=400, help="samples of each page and of its baseline, "
                        f"at 1 and at {CLIENTS} clients")
    parser.add_argument("--quick", action="store_true", help="a smoke test: 40 samples each")
    parser.add_argument("--profile", action="store_true",
                        help="py-spy on every page with data (else only on a page missing its target), 5 s each")
    parser.add_argument("--context", default="", help="a line said beside the figures (what else ran meanwhile)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (data, serve.log, profiles)")
    run_options(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.requests = min(args.requests, 40)
    if not CRM_ES.exists():
        parser.error(f"{CRM_ES} is missing (pip install -e .)")
    if args.profile and not PY_SPY.exists():
        parser.error(f"{PY_SPY} is missing (pip install py-spy)")

    started, t_start = dt.datetime.now(dt.UTC), time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="crm-es-bench-console-"))
    log(f"temporary files in {tmp}")
    report, pg = Report(), None
    if args.context:
        report.note(args.context)
    try:
        for backend in (["sqlite", "postgres"] if args.backend == "both" else [args.backend]):
            if backend == "postgres":
                pg = PgInfo(args.pg_url)
            measure(backend, tmp, args.pg_url, max(args.requests, ROUNDS), args.profile, report)
    finally:
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    info = machine(pg) + [
        ("Client", f"httpx {httpx.__version__}, 1 or {CLIENTS} threads with a connection each, on the same machine"),
        ("Load average", (f"{min(LOADS, default=0):.1f}–{max(LOADS, default=0):.1f} (1 min, after each measurement; "
                          f"{os.cpu_count()} cores: above {os.cpu_count()}, other work shared the machine)")),
    ]
    section = render(report, info, started, time.perf_counter() - t_start)
    print(section)
    if args.write:
        write_section(args.output, section, script=SCRIPT)
        log(f"wrote {args.output} (between {marks(SCRIPT)[0][:34]}… and its end mark)")
    return 0 if all(r.ok is not False for r in report.rows) else 1


if __name__ == "__main__":
    sys.exit(main())
