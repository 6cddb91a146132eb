"""Outages and bursts, seen from outside a real `crm-es serve` (issue 16).

PostgreSQL: the service reaches the shared server through a TCP proxy this test controls
(tcp_proxy.py), so an outage is a cut of the proxy — every connection closed, new ones
refused — and the server keeps running for the other tests. Under load, during a cut:
/health answers within a second and says unreachable, /readyz says not ready, /livez
answers; commands answer 503 with Retry-After. After the restore, commands succeed within
2 s, nothing acknowledged is lost, and the log holds one line for the outage and one for
the return — no traceback.

Both stores: a burst of 2,000 commands leaves the log quiet (no APScheduler "maximum
number of running instances"), the automations still read the log to its end, and
/livez and /readyz answer.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from eventsourcing.persistence import PersistenceError

from crm_es.aggregates.rep import Rep
from crm_es.settings import Settings
from crm_es.store import EventStore
from crm_es.store.event_store import postgres_env
from crm_es.store.probe import StoreProbe
from tests.conftest import PG_URL, pg_schema, require_postgres
from tests.integration.processes import child_env
from tests.integration.tcp_proxy import TcpProxy

CRM_ES = Path(sys.executable).parent / "crm-es"
START_SECONDS = 60
CUT_SECONDS = 10  # long enough for the pool's old backoff (1, 2, 4, 8 s …) to leave the next try seconds away
BURST, CLIENTS = 2_000, 8


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Service:
    """A `crm-es serve` child process, its URL and its log."""

    process: subprocess.Popen
    url: str
    log: Path

    def mark(self) -> int:
        return self.log.stat().st_size

    def lines_since(self, mark: int) -> list[str]:
        """What the service logged since ``mark``, but the access log (uvicorn's INFO lines)."""
        with self.log.open() as f:
            f.seek(mark)
            return [line for line in f.read().splitlines() if line.strip() and not line.startswith("INFO:")]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator:
    started: list[Service] = []

    def start(settings: Settings) -> Service:
        port, log = free_port(), tmp_path / f"serve-{len(started)}.log"
        with log.open("w") as out:
            process = subprocess.Popen([str(CRM_ES), "serve", "--port", str(port)], env=child_env(settings),
                                       stdout=out, stderr=subprocess.STDOUT)
        service = Service(process, f"http://127.0.0.1:{port}", log)
        started.append(service)
        deadline = time.monotonic() + START_SECONDS
        while True:  # ready: the store reached, the read side caught up, the automations' runner known
            assert process.poll() is None, f"crm-es serve exited: {log.read_text()}"
            assert time.monotonic() < deadline, f"crm-es serve is not ready: {log.read_text()}"
            try:
                if httpx.get(f"{service.url}/readyz", timeout=2).status_code == 200:
                    return service
            except httpx.TransportError:
                pass
            time.sleep(0.2)

    yield start
    for service in started:
        if service.process.poll() is None:
            service.process.kill()
            service.process.wait(10)


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple[Settings, TcpProxy]]:
    """Settings whose store is the test's PostgreSQL schema, reached through a proxy."""
    require_postgres()
    assert PG_URL is not None
    parts = urlsplit(PG_URL)
    proxy = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    try:
        for schema in pg_schema():
            url = parts._replace(netloc=f"{parts.username or 'postgres'}@127.0.0.1:{proxy.port}").geturl()
            yield Settings(data_dir=tmp_path / "var", database_url=url, postgres_schema=schema), proxy
    finally:
        proxy.close()


@dataclass
class Load:
    """Clients adding reps without pause; each answer kept with when it was asked and heard."""

    url: str
    clients: int = 4
    answers: list[tuple[float, float, int, str | None, str | None]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        self._threads = [threading.Thread(target=self._client, args=(k,), daemon=True) for k in range(self.clients)]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def _client(self, k: int) -> None:
        with httpx.Client(base_url=self.url, timeout=60) as client:
            while not self._stop.is_set():
                asked = time.monotonic()
                email = f"load-{k}-{uuid.uuid4().hex[:12]}@example.com"
                try:
                    answer = client.post("/reps", json={"name": f"Load {k}", "email": email})
                except httpx.TransportError:
                    continue
                rep_id = answer.json().get("id") if answer.status_code == 201 else None
                self.answers.append((asked, time.monotonic(), answer.status_code, answer.headers.get("retry-after"), rep_id))
                if answer.status_code == 503:
                    time.sleep(0.05)  # a client that honoured Retry-After would wait longer: this one presses on


def timed_get(url: str) -> tuple[httpx.Response, float]:
    began = time.monotonic()
    answer = httpx.get(url, timeout=30)
    return answer, time.monotonic() - began


def test_the_store_fails_fast_while_cut_and_is_back_within_two_seconds(proxied) -> None:
    """In process: the pool's 503 comes in seconds, not after the library's 10 waits of 5 s,
    and its next connection comes at once when the database is back, not after a backoff;
    the health probe says unreachable within its second."""
    settings, proxy = proxied
    store = EventStore(settings.store_env())
    probe = StoreProbe.of(store)
    try:
        assert store.max_position() == 0 and asyncio.run(probe.reach(0.8)).reachable
        proxy.cut()
        began = time.monotonic()
        with pytest.raises(PersistenceError):
            store.max_position()
        assert time.monotonic() - began < 8, "was 50 s"
        began = time.monotonic()
        reach = asyncio.run(probe.reach(0.8))
        assert time.monotonic() - began < 1.0 and not reach.reachable and reach.error
        time.sleep(CUT_SECONDS)
        restored_at = time.monotonic()
        proxy.restore()
        assert store.max_position() == 0
        assert time.monotonic() - restored_at < 2.0
        assert asyncio.run(probe.reach(0.8)).reachable
    finally:
        store.close()


def test_an_outage_answers_at_once_and_is_over_within_two_seconds_of_the_return(proxied, serve) -> None:
    settings, proxy = proxied
    service = serve(settings)
    load = Load(service.url)
    load.start()
    try:
        time.sleep(1.5)
        mark = service.mark()
        cut_at = time.monotonic()
        proxy.cut()
        time.sleep(1.0)

        health, took = timed_get(f"{service.url}/health")
        assert took < 1.0 and health.status_code == 503, (took, health.text)
        assert health.json()["store"]["reachable"] is False and health.json()["store"]["error"]
        ready, took = timed_get(f"{service.url}/readyz")
        assert took < 1.0 and ready.status_code == 503, (took, ready.text)
        assert ready.headers["content-type"] == "application/problem+json"
        assert ready.json()["rule"] == "not-ready" and ready.json()["checks"]["store"]["ok"] is False
        live, took = timed_get(f"{service.url}/livez")
        assert took < 1.0 and live.status_code == 200

        time.sleep(CUT_SECONDS - (time.monotonic() - cut_at))
        restored_at = time.monotonic()
        proxy.restore()
        time.sleep(4.0)
        # Ready again: the store, the read side and the automations' runner.
        deadline = time.monotonic() + 10
        while httpx.get(f"{service.url}/readyz", timeout=5).status_code != 200:
            assert time.monotonic() < deadline, httpx.get(f"{service.url}/readyz", timeout=5).text
            time.sleep(0.2)
    finally:
        load.stop()

    during = [a for a in load.answers if cut_at + 0.5 < a[0] and a[1] < restored_at]
    assert during, "no command was answered during the cut"
    assert {status for _, _, status, _, _ in during} == {503}
    assert all(retry == "1" for _, _, _, retry, _ in during)
    assert max(heard - asked for asked, heard, *_ in during) < 10, "a 503 must not take the library's 50 s"

    first_success = min(heard for asked, heard, status, *_ in load.answers if status == 201 and heard > restored_at)
    assert first_success - restored_at < 2.0, f"the first command succeeded {first_success - restored_at:.1f} s after the return"
    late_failures = [a for a in load.answers if a[0] > restored_at + 2.0 and a[2] != 201]
    assert not late_failures, late_failures[:5]

    # Nothing acknowledged is lost: every rep answered 201 is in the store (read past the proxy).
    acknowledged = [uuid.UUID(rep_id) for *_, status, _, rep_id in load.answers if status == 201]
    assert len(acknowledged) > 50
    store = EventStore(postgres_env(PG_URL or "", settings.postgres_schema))
    try:
        missing = [rep_id for rep_id, rep in zip(acknowledged, store.load_many([(Rep, r) for r in acknowledged]))
                   if rep is None]
    finally:
        store.close()
    assert not missing, f"{len(missing)} acknowledged reps are not in the store"

    lines = service.lines_since(mark)
    assert not [line for line in lines if "Traceback" in line or "Exception in thread" in line], "\n".join(lines)
    assert len(lines) <= 2, "an outage is one line, its end another:\n" + "\n".join(lines)
    assert "event store unavailable" in lines[0] and "retry" in lines[0]
    assert "event store available again" in lines[-1]


def test_a_burst_of_commands_leaves_the_log_quiet(settings: Settings, serve) -> None:
    service = serve(settings)  # as a user runs it: the automations on (child_env passes no CRM_ES_POLICIES)
    mark = service.mark()

    def add(k: int) -> list[int]:  # one client's share of the burst, on one kept-alive connection
        with httpx.Client(base_url=service.url, timeout=60) as client:
            return [client.post("/reps", json={"name": f"Rep {i}", "email": f"rep-{i}@example.com"}).status_code
                    for i in range(k, BURST, CLIENTS)]

    with ThreadPoolExecutor(CLIENTS) as pool:
        statuses = [status for share in pool.map(add, range(CLIENTS)) for status in share]
    assert statuses == [201] * BURST

    # The automations still read the whole burst: every policy reaches the log's end.
    deadline = time.monotonic() + 30
    while True:
        policies = httpx.get(f"{service.url}/policies", timeout=10).json()["items"]
        if all(p["lag"] == 0 for p in policies):
            break
        assert time.monotonic() < deadline, [(p["name"], p["lag"]) for p in policies]
        time.sleep(0.2)
    assert httpx.get(f"{service.url}/livez", timeout=5).status_code == 200
    assert httpx.get(f"{service.url}/readyz", timeout=5).status_code == 200

    lines = service.lines_since(mark)
    assert not [line for line in lines if "maximum number of running instances" in line]
    assert lines == [], "a healthy service's log is quiet:\n" + "\n".join(lines[:20])
