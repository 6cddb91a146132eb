"""No maintenance needs downtime (SQLite and PostgreSQL): `crm-es rebuild`, `export`,
`import` and `project` while a real `crm-es serve` runs and a client keeps writing and
reading — every answer a 2xx, the side swapped in equal to a fresh rebuild, the export
exactly the read side at its manifest's position — and a rebuild with no service that dies
half-way leaves the live side as it was."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import duckdb
import httpx
import pytest
from click.testing import CliRunner

from crm_es.bootstrap import service
from crm_es.entrypoints.cli.main import main
from crm_es.projections.read_side import ReadSide
from crm_es.projections.runner import Projector
from crm_es.projections.schema import TABLES
from crm_es.queries.board import get_board
from crm_es.queries.export import exported_columns
from crm_es.settings import Settings
from crm_es.store import EventStore
from tests.integration.processes import child_env

CRM_ES = Path(sys.executable).parent / "crm-es"
PORTS = range(8660, 8680)  # this suite's ports
BATCH = "1000"  # the service's projector batch: a rebuild of the data below shows progress batch by batch


def generate(settings: Settings, contacts: int, deals: int, interactions: int) -> int:
    """A generated sales history in the store (not projected); the log's last position."""
    env = {"CRM_ES_DATA_DIR": str(settings.data_dir), "CRM_ES_DATABASE_URL": settings.database_url or "",
           "CRM_ES_POSTGRES_SCHEMA": settings.postgres_schema or ""}
    done = CliRunner().invoke(main, ["generate", "--contacts", str(contacts), "--deals", str(deals),
                                     "--interactions", str(interactions), "--json"], env=env, catch_exceptions=False)
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout)["events"]


def port_in_range() -> int:
    for port in PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail(f"no free port in {PORTS}")


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str


@dataclass
class Served:
    """`crm-es serve` as an operator runs it (automations off: the test's writes only)."""

    settings: Settings
    log: Path
    process: subprocess.Popen = field(init=False)
    url: str = field(init=False)

    def __post_init__(self) -> None:
        for _attempt in range(5):  # another test may take the port first
            port = port_in_range()
            with self.log.open("a") as out:
                self.process = subprocess.Popen(
                    [str(CRM_ES), "serve", "--port", str(port)], stdout=out, stderr=subprocess.STDOUT,
                    env=self.env(CRM_ES_POLICIES="off", CRM_ES_PROJECTOR_BATCH=BATCH), start_new_session=True)
            self.url = f"http://127.0.0.1:{port}"
            if self._up():
                return
            self.stop()
        pytest.fail(f"crm-es serve did not start:\n{self.log.read_text()[-3000:]}")

    def env(self, **extra: str) -> dict[str, str]:
        return child_env(self.settings, **extra)

    def _up(self) -> bool:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                return httpx.get(f"{self.url}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                time.sleep(0.2)
        return False

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def crm_es(self, *args: str) -> Ran:
        """A `crm-es` command on the same data directory, as an operator runs it beside the
        service: it finds the service by itself (no --url, no CRM_ES_URL). In this process
        (a process of its own costs seconds of imports): it reaches the service over HTTP all the same."""
        env = {"CRM_ES_DATA_DIR": str(self.settings.data_dir), "CRM_ES_DATABASE_URL": self.settings.database_url or "",
               "CRM_ES_POSTGRES_SCHEMA": self.settings.postgres_schema or "", "CRM_ES_URL": None,
               "CRM_ES_API_KEY": None}
        done = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
        return Ran(done.exit_code, done.stdout, done.stderr)

    def get(self, path: str, **params: Any) -> Any:
        answer = httpx.get(f"{self.url}{path}", params=params, timeout=30)
        assert answer.status_code == 200, f"GET {path}: {answer.status_code} {answer.text}"
        return answer.json()

    def caught_up(self) -> int:
        deadline = time.monotonic() + 60
        while (health := self.get("/health"))["read_side"]["lag"] != 0:
            assert time.monotonic() < deadline, health
            time.sleep(0.1)
        return health["read_side"]["position"]


@pytest.fixture
def serve(settings: Settings, tmp_path: Path) -> Iterator[Callable[[], Served]]:
    """Starts `crm-es serve` on the test's store when called (once the test has its data);
    stopped at the end."""
    started: list[Served] = []

    def start() -> Served:
        started.append(Served(settings, tmp_path / "serve.log"))
        return started[-1]

    try:
        yield start
    finally:
        for running in started:
            running.stop()


@dataclass
class Traffic:
    """A sales app's client in a thread of its own: records an interaction, registers a
    contact, then reads back what it wrote (?after=, through any swap), the board and the
    health, over and over. Every answer's status is kept."""

    url: str
    pipeline_id: str
    contact_ids: list[str]
    answers: list[tuple[float, str, int, str]] = field(default_factory=list)  # when, what, status, body
    last_position: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Self:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(60)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            n = 0
            while not self._stop.is_set():
                n += 1
                contact = self.contact_ids[n % len(self.contact_ids)]
                self._send(client, "POST", f"/contacts/{contact}/interactions",
                           json={"type": "note", "text": f"called back, round {n}"})
                self._send(client, "POST", "/contacts", json={"first_name": "Live", "last_name": f"Client {n}",
                                                              "email": f"live-{n}-{os.getpid()}@example.com"})
                self._send(client, "GET", f"/contacts/{contact}", params={"after": self.last_position})
                self._send(client, "GET", f"/pipelines/{self.pipeline_id}/board")
                self._send(client, "GET", "/contacts", params={"limit": 5})

    def _send(self, client: httpx.Client, method: str, path: str, **kwargs: Any) -> None:
        try:
            answer = client.request(method, path, **kwargs)
            status, body = answer.status_code, answer.text[:300]
        except httpx.HTTPError as error:
            status, body = 0, repr(error)
        self.answers.append((time.monotonic(), f"{method} {path.split('?')[0]}", status, body))
        if method == "POST" and status < 300:
            self.last_position = max(self.last_position, json.loads(body)["position"])

    def between(self, start: float, end: float) -> list[tuple[float, str, int, str]]:
        return [a for a in self.answers if start <= a[0] <= end]

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + 60
        while len(self.answers) < count:
            assert time.monotonic() < deadline, self.answers[-3:]
            time.sleep(0.05)


def traffic(served: Served) -> Traffic:
    pipeline = served.get("/pipelines")["items"][0]["id"]
    contacts = [c["id"] for c in served.get("/contacts", limit=20)["items"]]
    return Traffic(served.url, pipeline, contacts)


def rebuilt(settings: Settings, into: Path, until: int | None = None) -> ReadSide:
    """A fresh read side built from the store alone (to ``until``, or the whole log)."""
    store = EventStore(settings.store_env())
    side = ReadSide(into)
    projector = Projector(store, side)
    try:
        if until is None:
            projector.catch_up()
        while until is not None and (events := [e for e in store.read(projector.position, 10_000)
                                                if e.position <= until]):
            projector.process(events)
    finally:
        store.close()
    return side


def test_a_rebuild_runs_beside_the_service_and_swaps_in_a_side_equal_to_a_fresh_rebuild(
        settings: Settings, serve: Callable[[], Served], tmp_path: Path) -> None:
    head = generate(settings, contacts=400, deals=150, interactions=8_000)
    served = serve()
    assert served.caught_up() == head

    with traffic(served) as client:
        client.wait_for(20)
        # Over HTTP: 202 and where to follow it; a second one while it runs, 409.
        started_at = time.monotonic()
        started = httpx.post(f"{served.url}/read-side/rebuild", timeout=30)
        assert started.status_code == 202, started.text
        assert started.headers["location"] == "/read-side/rebuild" and started.json()["state"] == "building"
        again = httpx.post(f"{served.url}/read-side/rebuild", timeout=30)
        assert again.status_code == 409 and again.json()["rule"] == "rebuild-running", again.text
        assert again.headers["content-type"] == "application/problem+json"
        seen = [started.json()]
        while seen[-1]["state"] in ("building", "swapping"):
            time.sleep(0.02)
            seen.append(served.get("/read-side/rebuild"))
        over_http = time.monotonic()
        done = seen[-1]
        assert done["state"] == "done" and done["error"] is None, done
        assert done["position"] >= head and done["events"] >= head
        progress = [s["position"] for s in seen if s["state"] == "building"]
        assert any(0 < p < head for p in progress), f"no progress shown between 0 and {head}: {progress}"
        assert progress == sorted(progress)

        # From the command line, as an operator runs it: the service does it, the bar follows.
        by_cli = served.crm_es("rebuild")
        ended_at = time.monotonic()
        assert by_cli.returncode == 0, by_cli.stderr
        assert "rebuilding the read side" in by_cli.stderr and f"by the service at {served.url}" in by_cli.stdout
        client.wait_for(len(client.answers) + 10)  # writes and reads after the second swap too

    during = client.between(started_at, ended_at)
    assert len([a for a in client.between(started_at, over_http) if a[1].startswith("POST")]) >= 4
    failed = [a for a in client.answers if not 200 <= a[2] < 300]
    assert not failed, f"{len(failed)} of {len(client.answers)} answers were not 2xx: {failed[:5]}"
    assert len(during) >= 10, "the client was answered throughout the rebuilds"

    served.caught_up()
    board = served.get(f"/pipelines/{client.pipeline_id}/board")
    served.stop()
    leftovers = sorted(p.name for p in settings.data_dir.iterdir() if p.name.startswith("read.duckdb."))
    assert leftovers == [], "the new side took the old one's name; nothing else is left"

    fresh = rebuilt(settings, tmp_path / "fresh.duckdb")
    live = ReadSide(settings.read_side_path)
    try:
        assert live.position() == fresh.position() > head
        assert live.dump() == fresh.dump()
        with live.cursor() as mine, fresh.cursor() as theirs:
            stages = get_board(mine, client.pipeline_id)
            assert stages == get_board(theirs, client.pipeline_id)
        assert [s["count"] for s in board["stages"]] == [s["count"] for s in stages]
    finally:
        live.close()
        fresh.close()


def exported_rows(path: Path) -> list[tuple]:
    with duckdb.connect() as db:
        return db.execute(f"SELECT * FROM read_parquet('{path}') ORDER BY ALL").fetchall()


def side_rows(side: ReadSide, table: Any) -> list[tuple]:
    columns = ", ".join(f'CAST("{name}" AS {type_}) AS "{name}"' for name, type_ in exported_columns(table).items())
    with side.cursor() as cur:
        return cur.execute(f"SELECT {columns} FROM {table.name} ORDER BY ALL").fetchall()


def test_an_export_while_commands_run_is_the_read_side_at_its_manifests_position(
        settings: Settings, serve: Callable[[], Served], tmp_path: Path) -> None:
    head = generate(settings, contacts=200, deals=60, interactions=2_000)
    served = serve()
    served.caught_up()

    with traffic(served) as client:
        client.wait_for(20)
        exported = served.crm_es("export", "--parquet", str(tmp_path / "export"), "--json")
        assert exported.returncode == 0, exported.stderr
        zipped = httpx.get(f"{served.url}/export", params={"format": "csv"}, timeout=60)
        client.wait_for(len(client.answers) + 20)  # commands go on after the snapshots

    assert not [a for a in client.answers if not 200 <= a[2] < 300]
    manifest = json.loads(exported.stdout)
    position = manifest["position"]
    assert manifest["format"] == "parquet" and position >= head
    assert json.loads((tmp_path / "export" / "manifest.json").read_text())["position"] == position
    assert not list((tmp_path / "export").glob(".export-*")), "the download's staging is gone"

    # Over HTTP: a zip of the same files, the manifest last, X-Position its position.
    assert zipped.status_code == 200 and zipped.headers["content-type"] == "application/zip", zipped.text[:300]
    archive = zipfile.ZipFile(io.BytesIO(zipped.content))
    assert archive.namelist()[-1] == "manifest.json"
    in_zip = json.loads(archive.read("manifest.json"))
    assert int(zipped.headers["x-position"]) == in_zip["position"] >= position
    assert sorted(archive.namelist()) == sorted([f"{t.name}.csv" for t in TABLES] + ["manifest.json"])

    served.stop()
    store = EventStore(settings.store_env())
    try:
        assert store.max_position() > position, "commands were saved after the snapshot's position"
    finally:
        store.close()
    then = rebuilt(settings, tmp_path / "then.duckdb", until=position)
    try:
        assert then.position() == position
        for table in TABLES:
            files = {t["name"]: t for t in manifest["tables"]}
            rows = exported_rows(tmp_path / "export" / files[table.name]["file"])
            assert rows == side_rows(then, table), f"{table.name}: the export is not the read side at {position}"
            assert files[table.name]["rows"] == len(rows)
    finally:
        then.close()


CONTACTS = """E-mail;Prénom;Nom
ines@example.com;Inès;Garçon
oskar@example.com;Oskar;Müller
not-an-address;Bad;Row
"""
DEALS = """Record ID,Deal Name,Pipeline,Deal Stage,Deal owner,Associated Company,Amount,Currency,Create Date,Close Date,Status
HS-1,Fleet renewal,New business,Demo,ann@example.com,Acme,"12,000.50",EUR,03/01/2025 09:30,14/02/2025,won
HS-2,Tyres,New business,Contact,ann@example.com,Initech,300,EUR,15/01/2025 10:00,,open
"""


def test_imports_and_project_go_through_the_running_service(serve: Callable[[], Served], tmp_path: Path) -> None:
    served = serve()
    since = "2024-01-01T00:00:00+01:00"
    setup = httpx.Client(base_url=served.url, timeout=30)
    assert setup.post("/pipelines", json={"name": "New business", "occurred_at": since, "stages": [
        {"name": "Contact", "probability": "0.1"}, {"name": "Demo", "probability": "0.5"}]}).status_code == 201
    assert setup.post("/reps", json={"name": "Ann Lee", "email": "ann@example.com", "occurred_at": since}).status_code == 201
    (tmp_path / "contacts.csv").write_text(CONTACTS)
    (tmp_path / "deals.csv").write_text(DEALS)

    contacts = served.crm_es("import", "contacts", str(tmp_path / "contacts.csv"), "--map", "E-mail=email",
                             "--map", "Prénom=first_name", "--map", "Nom=last_name", "--json")
    assert contacts.returncode == 3, contacts.stderr  # one row failed, the others imported
    report = json.loads(contacts.stdout)
    assert report["counts"] == {"imported": 2, "updated": 0, "skipped": 0, "failed": 1}
    assert f"the service at {served.url} imports the file" in contacts.stderr
    found = served.get("/contacts", q="oskar@example.com", after=report["position"])["items"]
    assert [(c["first_name"], c["last_name"]) for c in found] == [("Oskar", "Müller")]

    deals = served.crm_es("import", "deals", str(tmp_path / "deals.csv"), "--timezone", "Europe/Paris", "--json")
    assert deals.returncode == 0, deals.stderr
    imported = json.loads(deals.stdout)
    assert imported["counts_by_kind"]["deal"]["imported"] == 2
    assert sorted(c["name"] for c in imported["companies_created"]) == ["Acme", "Initech"]
    again = served.crm_es("import", "deals", str(tmp_path / "deals.csv"), "--timezone", "Europe/Paris", "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["counts"]["imported"] == 0, again.stdout

    projected = served.crm_es("project", "--json")
    assert projected.returncode == 0, projected.stderr
    answer = json.loads(projected.stdout)
    assert answer["service"] == served.url and answer["position"] >= imported["position"]


def test_the_maintenance_routes_are_admins_only(services, client) -> None:
    from crm_es.auth.roles import Role

    _, admin = services.api_keys.create(Role.ADMIN, name="admin")
    for role in (Role.ANALYST, Role.AUDITOR):
        _, key = services.api_keys.create(role, name=role.value)
        for method, path in (("POST", "/read-side/rebuild"), ("GET", "/read-side/rebuild"), ("GET", "/export")):
            answer = client.request(method, path, headers={"Authorization": f"Bearer {key}"})
            assert answer.status_code == 403 and answer.json()["rule"] == "role-not-allowed", (role, path, answer.text)
    allowed = client.get("/read-side/rebuild", headers={"Authorization": f"Bearer {admin}"})
    assert allowed.status_code == 200 and allowed.json()["state"] == "idle"
    unknown = client.get("/export", params={"format": "xlsx"}, headers={"Authorization": f"Bearer {admin}"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "query.format"
    documented = client.get("/openapi.json").json()["paths"]
    assert {"202", "409"} <= documented["/read-side/rebuild"]["post"]["responses"].keys()
    assert "application/zip" in documented["/export"]["get"]["responses"]["200"]["content"]


CRASH = """
import os, sys
from crm_es.bootstrap import service

with service() as services:
    batches = []
    def crash(n):  # the process dies after the new side's second batch, as a SIGKILL would leave it
        batches.append(n)
        if len(batches) == 2:
            os._exit(9)
    services.rebuilds.run(progress=crash)
"""


def test_a_rebuild_without_a_service_that_dies_half_way_leaves_the_live_side_as_it_was(
        settings: Settings, tmp_path: Path) -> None:
    generate(settings, contacts=200, deals=60, interactions=3_000)
    with service(settings) as services:
        services.projector.catch_up()
        before = services.read_side.dump()

    died = subprocess.run([sys.executable, "-c", CRASH], env=child_env(settings, CRM_ES_PROJECTOR_BATCH="500"),
                          capture_output=True, text=True, timeout=120, check=False)
    assert died.returncode == 9, died.stderr
    half_built = [p.name for p in settings.data_dir.iterdir() if ".rebuild-" in p.name]
    assert half_built, "the new side was being built beside the live one"

    with service(settings) as services:
        assert services.read_side.dump() == before
        assert not [p for p in settings.data_dir.iterdir() if ".rebuild-" in p.name], "the half-built side is removed"
        done = services.rebuilds.run()
        assert done.state == "done" and services.read_side.dump() == before
