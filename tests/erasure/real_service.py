"""What the proof runs against: `crm-es serve` as a real process on a store of the test's,
an SMTP server in the test that really receives its e-mails, and the `crm-es` commands
an operator runs once it is stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from crm_es.entrypoints.cli.main import main

CRM_ES = Path(sys.prefix) / "bin" / "crm-es"
STORE_SETTINGS = ("CRM_ES_DATA_DIR", "CRM_ES_DATABASE_URL", "CRM_ES_POSTGRES_SCHEMA", "CRM_ES_SMTP_URL")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Inbox:
    """An aiosmtpd handler keeping what it accepts; it refuses the ``refused`` addresses,
    quoting them as mail servers do ("550 5.1.1 <address>: … unknown")."""

    refused: set[str] = field(default_factory=set)
    mails: list[Any] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd's name)
        if address.lower() in self.refused:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.mails.append(envelope)
        return "250 Message accepted for delivery"


@dataclass
class Store:
    data_dir: Path
    env: dict[str, str]  # the environment of every `crm-es` run on it
    schema: str | None  # PostgreSQL's schema, or None: SQLite in data_dir


class Service:
    """`crm-es serve` on a free port, its stdout and stderr in its data folder's serve.log.
    ``serve_args``: more of serve's options (``--demo``)."""

    def __init__(self, store: Store, *serve_args: str) -> None:
        store.data_dir.mkdir(parents=True, exist_ok=True)
        self.log = store.data_dir / "serve.log"
        for _attempt in range(3):  # another process may take the free port first
            self.port = free_port()
            with self.log.open("a") as out:
                self.process = subprocess.Popen(
                    [str(CRM_ES), "serve", *serve_args, "--host", "127.0.0.1", "--port", str(self.port)], env=store.env,
                    cwd=store.data_dir.parent, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True)
            if self._up():
                break
            self.stop()
        else:
            pytest.fail(f"crm-es serve {' '.join(serve_args)} did not start:\n{self.log.read_text()[-3000:]}")
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30)

    def _up(self) -> bool:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).status_code == 200:
                    return True
            except httpx.HTTPError:
                time.sleep(0.2)
        return False

    def stop(self) -> int | None:
        """SIGTERM, as an operator stops it; its exit status."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode

    def send(self, method: str, path: str, status: int = 201, **kwargs: Any) -> dict[str, Any]:
        response = self.http.request(method, path, **kwargs)
        assert response.status_code == status, f"{method} {path}: {response.status_code} {response.text}"
        return response.json()

    def post(self, path: str, body: Any = None, status: int = 201, **kwargs: Any) -> dict[str, Any]:
        return self.send("POST", path, status, json=body, **kwargs)

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        return self.send("GET", path, 200, params=params)


def crm_es(store: Store, *args: str) -> bytes:
    """A `crm-es` command on the store (the service stopped), run in this process (a process
    of its own costs seconds of imports); what it said, stdout and stderr."""
    env = {k: store.env.get(k, "") for k in (*(k for k in os.environ if k.startswith("CRM_ES_")), *STORE_SETTINGS)}
    done = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert done.exit_code == 0, f"crm-es {' '.join(args)}: exit {done.exit_code}\n{done.output[-3000:]}"
    return done.output.encode()


def until(what: str, check: Callable[[], Any], seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while not (result := check()):
        if time.monotonic() > deadline:
            pytest.fail(f"still waiting after {seconds} s: {what}")
        time.sleep(0.2)
    return result
