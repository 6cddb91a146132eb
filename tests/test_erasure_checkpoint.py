"""Forgetting reaches the read side's files, on SQLite and PostgreSQL: once a real
`crm-es serve` has projected a `Contact.Forgotten` — while it runs (a SIGKILL would leave the
files so), then stopped with SIGTERM — neither DuckDB's WAL nor any value of any table of its
file holds the person's data: the projector checkpoints DuckDB after the batch that erases."""

from __future__ import annotations

import signal
from pathlib import Path

import duckdb
import httpx

from crm_es.settings import Settings
from tests.test_cli_status import Served, served  # noqa: F401 (a fixture: a real `crm-es serve` on a free port)

EMAIL = "odile.walprobe-8830@checkpoint-test.example"
FIRST, LAST = "Odilewalprobe", "Checkpointova"
PHONE = "+33 6 88 30 88 30"
NOTE = "prefers-calls-after-8830"
PERSONAL = (EMAIL, FIRST, LAST, PHONE, NOTE)


def ok(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def wal_holds(path: Path) -> list[str]:
    wal = Path(f"{path}.wal")
    held = wal.read_bytes() if wal.exists() else b""
    return [value for value in PERSONAL if value.encode() in held]


def test_a_forgotten_contact_leaves_no_value_in_the_read_side_files(settings: Settings, served: Served) -> None:  # noqa: F811
    url = served.url
    contact = ok(httpx.post(f"{url}/contacts", json={"first_name": FIRST, "last_name": LAST, "email": EMAIL,
                                                      "phone": PHONE, "city": "Nantes", "properties": {"note": NOTE}},
                            timeout=10), 201)
    shown = ok(httpx.get(f"{url}/contacts/{contact['id']}", params={"after": contact["position"]}, timeout=10), 200)
    assert shown["email"] == EMAIL  # projected: the read side has held her values
    forgotten = ok(httpx.post(f"{url}/contacts/{contact['id']}/forget", json={"reason": "ticket 8830"}, timeout=10), 200)
    erased = ok(httpx.get(f"{url}/contacts/{contact['id']}", params={"after": forgotten["position"]}, timeout=10), 200)
    assert erased["forgotten_at"] is not None and erased["email"] is None and erased["city"] == "Nantes"
    path = settings.read_side_path
    assert wal_holds(path) == [], "the WAL holds her values while the service runs"

    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(30) == 0, served.output()
    assert wal_holds(path) == [], "the WAL holds her values once the service stopped"  # read before DuckDB replays it
    found = []
    with duckdb.connect(str(path), read_only=True) as db:
        tables = db.execute("SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database()")
        for schema, table in tables.fetchall():
            for row in db.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall():
                found += [(table, value) for value in PERSONAL for cell in row if cell is not None and value in str(cell)]
    assert found == []
