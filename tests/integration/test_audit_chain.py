"""Tamper evidence on SQLite AND PostgreSQL: every stored event is hash-chained at write
time; the log is tampered with plain SQL (as someone with database access would) and
the verifier names the first broken link. Also the auditor's HTTP routes and commands:
/audit/verify, records as they were, an export checked offline."""

from __future__ import annotations

import base64
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from click.testing import CliRunner

from crm_es.aggregates import company as companies
from crm_es.aggregates.base import Event, Meta
from crm_es.aggregates.company import Company, CompanyDetails
from crm_es.aggregates.contact import ContactDetails
from crm_es.audit.verify import verify_store
from crm_es.bootstrap import Services
from crm_es.entrypoints.cli.main import main
from crm_es.commands import execute
from crm_es.commands.records import ChangeContact, RegisterContact, change_contact, register_contact
from crm_es.settings import Settings
from crm_es.store import EventStore
from crm_es.store.chain import GENESIS

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
META = Meta(occurred_at=NOW, recorded_at=NOW, actor="rep:alice", correlation_id="req-1")


def registered(name: str) -> list[Event]:
    return companies.register(uuid4(), CompanyDetails(name, None, None, {}), META)


def renamed(events: list[Event], name: str) -> list[Event]:
    return companies.change(Company.fold(events), {"name": name}, META)  # type: ignore[arg-type]


@pytest.fixture
def store(services: Services) -> EventStore:
    return services.store


@pytest.fixture
def six_events(store: EventStore) -> None:
    """Positions 1-6: A1 B1 A2 C1 B2 D1 (record and version), one save each."""
    a, b = registered("Acme A"), registered("Acme B")
    for events in (a, b, renamed(a, "Acme A2"), registered("Acme C"), renamed(b, "Acme B2"), registered("Acme D")):
        store.save(events)


class PlainSQL:
    """The events table reached with plain SQL and no code of ours."""

    def __init__(self, settings: Settings) -> None:
        if settings.database_url:
            self.conn: Any = psycopg.connect(settings.database_url, autocommit=True)
            self.table, self.position, self.mark = f"{settings.postgres_schema}.crm_events", "notification_id", "%s"
        else:
            self.conn = sqlite3.connect(settings.store_path, isolation_level=None)
            self.table, self.position, self.mark = "stored_events", "rowid", "?"
        self.is_postgres = bool(settings.database_url)

    def run(self, statement: str, *params: Any) -> list[Any]:
        """``statement`` names the table {t} and the position column {pos}; ``?`` marks a parameter."""
        cursor = self.conn.execute(statement.format(t=self.table, pos=self.position).replace("?", self.mark), params)
        return cursor.fetchall() if cursor.description else []

    def stored_id(self, originator_id: UUID) -> Any:
        return originator_id if self.is_postgres else originator_id.hex

    def row(self, position: int) -> dict[str, Any]:
        [row] = self.run("SELECT originator_id, originator_version, topic, state, hash, prev_hash FROM {t} WHERE {pos} = ?", position)
        return dict(zip(("originator_id", "version", "topic", "state", "hash", "prev_hash"), row, strict=True))

    def move(self, source: int, target: int) -> None:
        self.run("UPDATE {t} SET {pos} = ? WHERE {pos} = ?", target, source)

    def make_room_at(self, position: int) -> None:
        """Shift the events from ``position`` on one place later (in two steps: no clash)."""
        self.run("UPDATE {t} SET {pos} = {pos} + 1000 WHERE {pos} >= ?", position)
        self.run("UPDATE {t} SET {pos} = {pos} - 999 WHERE {pos} >= ?", position + 1000)

    def insert(self, position: int, originator_id: UUID, row: dict[str, Any], **changes: Any) -> None:
        row = {**row, **changes}
        self.run(
            "INSERT INTO {t} ({pos}, originator_id, originator_version, topic, state, hash, prev_hash) VALUES (?,?,?,?,?,?,?)",
            position, self.stored_id(originator_id), row["version"], row["topic"], row["state"], row["hash"], row["prev_hash"],
        )


@pytest.fixture
def plain_sql(settings: Settings) -> Iterator[PlainSQL]:
    sql = PlainSQL(settings)
    yield sql
    sql.conn.close()


def edit_a_state(sql: PlainSQL) -> None:
    sql.run("UPDATE {t} SET state = ? WHERE {pos} = 3", bytes(sql.row(3)["state"]).replace(b"Acme A2", b"Evil A2"))


def delete_one(position: int) -> Callable[[PlainSQL], None]:
    return lambda sql: sql.run("DELETE FROM {t} WHERE {pos} = ?", position)


def copy_a_row_to_the_end(sql: PlainSQL) -> None:
    sql.insert(7, uuid4(), sql.row(4), version=1)  # a copy of C1, links and all, under a new id


def forge_a_row_in_the_middle(sql: PlainSQL) -> None:
    """A well-linked row (after position 3) whose hash the forger could not make right."""
    sql.make_room_at(4)
    sql.insert(4, uuid4(), sql.row(5), version=1, prev_hash=sql.row(3)["hash"], hash=bytes(32))


def swap_two(sql: PlainSQL) -> None:
    sql.move(3, 100)
    sql.move(4, 3)
    sql.move(100, 4)


@pytest.mark.parametrize(
    ("tamper", "position", "reason"),
    [
        pytest.param(edit_a_state, 3, "edited", id="a state edited"),
        pytest.param(delete_one(3), 4, "deleted", id="an event deleted"),
        pytest.param(delete_one(1), 2, "deleted", id="the first event deleted"),
        pytest.param(copy_a_row_to_the_end, 7, "inserted", id="a copied row appended"),
        pytest.param(forge_a_row_in_the_middle, 4, "inserted", id="a forged row inserted"),
        pytest.param(swap_two, 3, "reordered", id="two events swapped"),
    ],
)
def test_tampering_with_plain_sql_is_found_at_the_first_broken_link(
    store: EventStore, six_events: None, plain_sql: PlainSQL, tamper: Callable[[PlainSQL], None], position: int, reason: str,
) -> None:
    assert verify_store(store).ok

    tamper(plain_sql)

    verdict = verify_store(store)
    assert not verdict.ok
    assert verdict.first_broken is not None
    assert (verdict.first_broken.position, verdict.first_broken.reason) == (position, reason), verdict.first_broken.detail
    [(before,)] = plain_sql.run("SELECT count(*) FROM {t} WHERE {pos} < ?", position)
    assert verdict.checked == before


def test_a_clean_log_verifies_and_names_its_head(store: EventStore, six_events: None, plain_sql: PlainSQL) -> None:
    verdict = verify_store(store)

    assert verdict.ok and verdict.checked == 6 and verdict.first_broken is None
    assert verdict.head is not None and verdict.head.position == 6
    assert verdict.head.hash == plain_sql.row(6)["hash"]
    assert plain_sql.row(1)["prev_hash"] == GENESIS
    assert all(plain_sql.row(p)["prev_hash"] == plain_sql.row(p - 1)["hash"] for p in range(2, 7))


def test_a_cut_tail_is_caught_only_against_a_kept_head(store: EventStore, six_events: None, plain_sql: PlainSQL) -> None:
    head = verify_store(store).head
    assert head is not None and head.hash is not None

    plain_sql.run("DELETE FROM {t} WHERE {pos} >= 5")

    assert verify_store(store).ok  # what is left is a sound chain...
    against_head = verify_store(store, expected_head=head.hash)
    assert not against_head.ok and against_head.expected_head_position is None  # ...but not the one anchored
    store.save(registered("Acme E"))
    assert verify_store(store, expected_head=verify_store(store).head.hash).ok  # type: ignore[union-attr]


def test_events_saved_together_chain_among_themselves(store: EventStore, plain_sql: PlainSQL) -> None:
    a = registered("Acme A")
    position = store.save([*a, *registered("Acme B"), *renamed(a, "Acme A2")])

    assert position == 3 and verify_store(store).checked == 3
    assert plain_sql.row(3)["prev_hash"] == plain_sql.row(2)["hash"]


def test_concurrent_writers_keep_one_chain(store: EventStore) -> None:
    """Two stores on one database (as two processes would be), saving at once."""
    other = EventStore(store.env)
    errors: list[Exception] = []

    def save_many(writer: EventStore) -> None:
        try:
            for i in range(40):
                writer.save(registered(f"Acme {i}") + registered(f"Acme {i}bis"))
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=save_many, args=(writer,)) for writer in (store, other, store)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other.close()

    assert errors == []
    verdict = verify_store(store)
    assert verdict.ok and verdict.checked == 240


def test_a_store_from_before_the_chain_is_chained_when_opened(store: EventStore, six_events: None, plain_sql: PlainSQL) -> None:
    before = verify_store(store).head
    plain_sql.run("ALTER TABLE {t} DROP COLUMN hash")
    plain_sql.run("ALTER TABLE {t} DROP COLUMN prev_hash")

    upgraded = EventStore(store.env)
    try:
        upgraded.save(registered("Acme E"))
        verdict = verify_store(upgraded)
    finally:
        upgraded.close()

    assert verdict.ok and verdict.checked == 7
    assert plain_sql.row(6)["hash"] == before.hash  # type: ignore[union-attr]  # the same chain, recomputed


# --- HTTP ---------------------------------------------------------------------------


def test_get_audit_verify_reports_a_sound_log_then_the_broken_link(client: Any, plain_sql: PlainSQL) -> None:
    for name in ("Acme", "Globex", "Initech"):
        assert client.post("/companies", json={"name": name}).status_code == 201

    sound = client.get("/audit/verify")
    assert sound.status_code == 200 and "x-position" in sound.headers
    assert sound.json()["ok"] is True and sound.json()["checked"] == 3 and sound.json()["first_broken"] is None
    head = sound.json()["head"]
    assert head["position"] == 3 and len(head["hash"]) == 64
    assert client.get("/audit/verify", params={"expect_head": head["hash"]}).json()["ok"] is True

    plain_sql.run("UPDATE {t} SET state = ? WHERE {pos} = 2", bytes(plain_sql.row(2)["state"]).replace(b"Globex", b"Gl0bex"))

    broken = client.get("/audit/verify").json()
    assert broken["ok"] is False and broken["checked"] == 1
    assert broken["first_broken"]["position"] == 2 and broken["first_broken"]["reason"] == "edited"
    bad = client.get("/audit/verify", params={"expect_head": "xyz"})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")


def test_history_answers_the_record_as_it_was(client: Any, clock: Any) -> None:
    created = client.post("/contacts", json={"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
                                             "job_title": "Analyst", "occurred_at": "2026-01-10T10:00:00+01:00"}).json()
    clock.advance(hours=1)
    changed = client.patch(f"/contacts/{created['id']}", json={"job_title": "Engineer", "occurred_at": "2026-02-10T10:00:00+01:00"})
    assert changed.status_code == 200, changed.text

    def history(**params: str) -> dict[str, Any]:
        response = client.get(f"/contacts/{created['id']}/history", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    now = history()
    assert now["version"] == 2 and now["state"]["details"]["job_title"] == "Engineer"
    assert [e["type"] for e in now["events"]] == ["Contact.Registered", "Contact.DetailsChanged"]
    assert now["state"]["details"]["email"] == "ada@example.com"  # personal fields opened
    in_january = history(as_of="2026-01-31T00:00:00+00:00")
    assert in_january["version"] == 1 and in_january["state"]["details"]["job_title"] == "Analyst"
    known_first = history(known_at="2026-03-01T09:30:00+00:00")  # before the change was recorded
    assert known_first["version"] == 1 and len(known_first["events"]) == 1
    before = history(as_of="2025-12-31T00:00:00+00:00")
    assert before["version"] == 0 and before["state"] is None and before["events"] == []

    assert client.get(f"/contacts/{uuid4()}/history").status_code == 404
    assert client.get(f"/deals/{created['id']}/history").status_code == 404  # a contact is no deal
    naive = client.get(f"/contacts/{created['id']}/history", params={"as_of": "2026-01-31T00:00:00"})
    assert naive.status_code == 422 and naive.headers["content-type"].startswith("application/problem+json")


def test_deal_history_shows_the_stage_it_was_in(client: Any, clock: Any) -> None:
    stages = [{"name": "Lead", "probability": "0.1"}, {"name": "Demo", "probability": "0.5"}]
    pipeline = client.post("/pipelines", json={"name": "Sales", "stages": stages}).json()
    deal = client.post("/deals", json={"title": "Fleet", "pipeline_id": pipeline["id"], "stage": "Lead",
                                       "amount": "1200.50", "currency": "EUR"}).json()
    clock.advance(days=1)
    assert client.post(f"/deals/{deal['id']}/stage", json={"stage": "Demo"}).status_code == 200

    then = client.get(f"/deals/{deal['id']}/history", params={"known_at": NOW.isoformat()}).json()
    now = client.get(f"/deals/{deal['id']}/history").json()

    assert then["version"] == 1 and now["version"] == 2
    assert then["state"]["stage_id"] != now["state"]["stage_id"]
    assert then["state"]["amount"] == "1200.50"  # money stays an exact decimal string


# --- the command line ---------------------------------------------------------------


@pytest.mark.parametrize("command", [["audit"], ["audit", "verify"], ["audit", "history"], ["audit", "export"],
                                     ["audit", "verify-export"]])
def test_every_audit_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


def test_cli_verify_exits_1_at_a_broken_link(run: Callable[..., Any], store: EventStore, six_events: None, plain_sql: PlainSQL) -> None:
    sound = run("audit", "verify", "--json")
    assert sound.exit_code == 0, sound.output
    head = json.loads(sound.stdout)["head"]["hash"]
    assert run("audit", "verify", "--expect-head", head).exit_code == 0
    assert run("audit", "verify", "--expect-head", "abc").exit_code == 2

    delete_one(6)(plain_sql)

    cut = run("audit", "verify", "--expect-head", head)
    assert cut.exit_code == 1 and "not in the log" in cut.stdout
    delete_one(3)(plain_sql)
    broken = run("audit", "verify", "--json")
    assert broken.exit_code == 1
    assert json.loads(broken.stdout)["first_broken"]["position"] == 4


def a_contact_with_history(services: Services, clock: Any) -> UUID:
    context = services.context(actor="rep:alice")
    result = execute(register_contact, RegisterContact(ContactDetails("Ada", "Lovelace", "ada@example.com")), context)
    contact_id = UUID(result.body()["id"])
    for title in ("Analyst", "Engineer", "CTO"):
        clock.advance(days=1)
        execute(change_contact, ChangeContact(contact_id, {"job_title": title}), services.context(actor="rep:alice"))
    services.store.save(registered("Acme"))  # another record's event in between
    return contact_id


def test_cli_history_replays_a_contact(run: Callable[..., Any], services: Services, clock: Any) -> None:
    contact_id = a_contact_with_history(services, clock)

    then = run("audit", "history", str(contact_id), "--known-at", (NOW + timedelta(days=2, hours=1)).isoformat(), "--json")
    assert then.exit_code == 0, then.output
    assert json.loads(then.stdout)["version"] == 3 and json.loads(then.stdout)["state"]["details"]["job_title"] == "Engineer"
    assert run("audit", "history", str(uuid4())).exit_code == 1
    assert run("audit", "history", str(contact_id), "--as-of", "2026-03-01T09:00:00").exit_code == 2


def test_an_export_verifies_offline_and_an_edited_line_is_caught(
    run: Callable[..., Any], services: Services, clock: Any, tmp_path: Path
) -> None:
    contact_id = a_contact_with_history(services, clock)
    path = tmp_path / "ada.jsonl"
    exported = run("audit", "export", str(contact_id), "-o", str(path))
    assert exported.exit_code == 0, exported.output
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["version"] for line in lines] == [1, 2, 3, 4]
    assert lines[0]["data"]["email"] == "ada@example.com" and b"ada@example.com" not in _stored(lines[0])  # sealed in store
    assert lines[1]["actor"] == "rep:alice" and lines[1]["record_prev_hash"] == lines[0]["hash"]
    assert json.loads(run("audit", "verify-export", "--json", str(path)).stdout) == {"ok": True, "checked": 4, "first_bad": None}

    def verdict_on(edited: list[dict[str, Any]]) -> dict[str, Any]:
        path.write_text("".join(json.dumps(line) + "\n" for line in edited))
        result = run("audit", "verify-export", "--json", str(path))
        assert result.exit_code == 1
        return json.loads(result.stdout)["first_bad"]

    forged = {**lines[2], "stored": base64.b64encode(_stored(lines[2]).replace(b"Engineer", b"Engine3r")).decode()}
    assert verdict_on([lines[0], lines[1], forged, lines[3]])["line"] == 3
    assert verdict_on([lines[0], lines[1], forged, lines[3]])["reason"] == "edited"
    assert verdict_on([lines[0], lines[2], lines[3]]) == {"line": 2, "reason": "deleted", "detail": f"version 2 of {contact_id} is missing"}
    assert verdict_on([lines[0], lines[2], lines[1], lines[3]])["reason"] == "reordered"
    assert verdict_on([lines[0], lines[1], lines[1]])["reason"] == "inserted"
    assert verdict_on([lines[0], {**lines[1], "hash": "00" * 32}])["reason"] == "edited"
    assert verdict_on([lines[0], {"position": "x"}])["reason"] == "unreadable"


def _stored(line: dict[str, Any]) -> bytes:
    return base64.b64decode(line["stored"])
