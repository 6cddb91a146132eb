"""`crm-es status` while a real `crm-es serve` runs (a child process on a free port, on the
test's store: SQLite and PostgreSQL): asked of the service, since its process holds the
read side; read from the files once it has stopped; with --json, JSON every time, an error
too (exit code 1). The service's start-up output names the channels beside open mode."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from crm_es.entrypoints.cli.main import main
from crm_es.projections.read_side import ReadSide
from crm_es.entrypoints.cli.running import ADDRESS_FILE
from crm_es.settings import Settings
from tests.integration.processes import child_env

CRM_ES = Path(sys.executable).parent / "crm-es"
START_SECONDS = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Served:
    process: subprocess.Popen
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text()


@pytest.fixture
def served(settings: Settings, tmp_path: Path) -> Iterator[Served]:
    port, log = free_port(), tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen([str(CRM_ES), "serve", "--port", str(port)], env=child_env(settings),
                                   stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            assert process.poll() is None, f"crm-es serve exited: {log.read_text()}"
            assert time.monotonic() < deadline, f"crm-es serve did not answer: {log.read_text()}"
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        yield Served(process, url, log)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def status(settings: Settings, *args: str):
    """`crm-es status` in this process, on the test's data directory (no CRM_ES_URL of ours)."""
    env = {"CRM_ES_DATA_DIR": str(settings.data_dir), "CRM_ES_DATABASE_URL": settings.database_url or "",
           "CRM_ES_POSTGRES_SCHEMA": settings.postgres_schema or "", "CRM_ES_URL": None}
    return CliRunner().invoke(main, ["status", *args], env=env, catch_exceptions=False)


def test_status_asks_the_running_service_then_reads_the_files_once_it_stops(settings: Settings, served: Served) -> None:
    added = httpx.post(f"{served.url}/reps", json={"name": "Ada", "email": "ada@example.com"}, timeout=10)
    assert added.status_code == 201, added.text
    position = added.json()["position"]

    answer = status(settings, "--json")
    assert answer.exit_code == 0, answer.output
    shown = json.loads(answer.stdout)
    assert shown["service"] == served.url and shown["data_dir"] == str(settings.data_dir)
    assert shown["backend"] == ("postgresql" if settings.database_url else "sqlite")
    assert shown["store_position"] >= position and shown["lag"] == shown["store_position"] - shown["read_side_position"]
    text = status(settings)
    assert text.exit_code == 0 and f"service: {served.url}" in text.stdout and "store_position:" in text.stdout

    # The same from a process of its own, as a user runs it beside the service.
    child = subprocess.run([str(CRM_ES), "status", "--json"], env=child_env(settings), capture_output=True, text=True,
                           check=False, timeout=60)
    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout)["service"] == served.url

    # The start-up output: open development mode, and the channels beside it.
    output = served.output()
    assert "OPEN DEVELOPMENT MODE" in output and "outgoing channels:" in output
    assert "e-mail: not configured (set CRM_ES_SMTP_URL" in output and "webhooks: on" in output

    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(30) == 0, served.output()
    assert not (settings.data_dir / ADDRESS_FILE).exists(), "the address goes with the service"
    after = status(settings, "--json")
    assert after.exit_code == 0, after.output
    stopped = json.loads(after.stdout)
    assert stopped["service"] is None and stopped["store_position"] == shown["store_position"]


def test_with_json_an_unreachable_service_is_a_json_error(settings: Settings) -> None:
    nowhere = status(settings, "--json", "--url", f"http://127.0.0.1:{free_port()}")
    assert nowhere.exit_code == 1
    assert "cannot reach the service" in json.loads(nowhere.stdout)["error"]
    assert "cannot reach the service" in nowhere.stderr


def test_with_json_a_read_side_held_by_another_process_is_a_json_error(settings: Settings) -> None:
    """No service left its address, yet the DuckDB file is held (here by this test's process)."""
    held = ReadSide(settings.read_side_path)
    try:
        child = subprocess.run([str(CRM_ES), "status", "--json"], env=child_env(settings), capture_output=True,
                               text=True, check=False, timeout=60)
    finally:
        held.close()
    assert child.returncode == 1
    assert "--url" in json.loads(child.stdout)["error"] and "held by another process" in child.stderr
