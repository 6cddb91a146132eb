"""Issue 16: the free text of interactions — a call's outcome, notes, e-mails' subjects and
Message-IDs, a clicked link, a page's address, title and referrer, a bounce's reason, a
note's or an SMS's text — goes when the person is forgotten, on SQLite and PostgreSQL:
from both timelines, every read-side column, `crm-es export`, the audit export, a rebuilt
DuckDB file and the store's bytes; while the parts analytics need (a call's outcome kind,
hosts, a page's path) stay, and so does the lead score they gave. An old page visit,
stored in clear before its fields were sealed, gets those parts when read."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import duckdb
import orjson
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic
from helpers import STAGES, ok, read
from test_erasure import duckdb_text, store_text, store_text_live

from crm_es.aggregates.base import Meta, new_event
from crm_es.aggregates.interactions import PageVisited
from crm_es.audit.export import export_record, verify_export
from crm_es.projections.schema import TABLES
from crm_es.queries.export import FORMATS, export_read_side
from crm_es.store.codec import dumps, is_token

MARK = "Wenceslava"  # in every value the person is to lose, in no clear part
VALUES = {  # what a rep or a tracker typed, by where it goes
    "call outcome": f"{MARK} says her husband decides",
    "call notes": f"{MARK} asked for the fleet price",
    "email_sent subject": f"Your quote, {MARK}",
    "email_sent message_id": f"<{MARK}.sent@mail.acme.example>",
    "email_received subject": f"Re: Your quote, {MARK}",
    "email_received message_id": f"<{MARK}.reply@home.example>",
    "email_opened message_id": f"<{MARK}.opened@mail.acme.example>",
    "email_clicked message_id": f"<{MARK}.clicked@mail.acme.example>",
    "email_clicked link": f"https://links.acme.example/offer?u={MARK}.k@home.example",
    "email_bounced message_id": f"<{MARK}.bounced@mail.acme.example>",
    "email_bounced reason": f"550 5.1.1 <{MARK}.k@home.example>: user unknown",
    "voicemail notes": f"left {MARK} a message",
    "meeting_held notes": f"{MARK} signs next week",
    "meeting_missed notes": f"{MARK} was ill",
    "demo notes": f"showed {MARK} the fleet module",
    "visit notes": f"met {MARK} at her office",
    "page url": f"https://www.acme.example/pricing?email={MARK}.k%40home.example#{MARK}",
    "page title": f"Welcome back, {MARK}",
    "page referrer": f"https://search.example/?q={MARK}+crm",
    "page visitor_id": f"{MARK}-visitor",
    "page session_id": f"{MARK}-session",
    "note text": f"{MARK} prefers calls in the morning",
    "sms text": f"See you at 10, {MARK}",
}
QUOTE = "Q-2026-0042"  # the seller's reference: stays in clear

# Each interaction with its own fields, as a client sends them.
INTERACTIONS: list[dict[str, Any]] = [
    {"type": "call", "direction": "inbound", "duration_seconds": 60, "outcome": VALUES["call outcome"]},
    {"type": "call", "outcome": "Left voicemail", "notes": VALUES["call notes"]},
    {"type": "email_sent", "subject": VALUES["email_sent subject"], "message_id": VALUES["email_sent message_id"]},
    {"type": "email_received", "subject": VALUES["email_received subject"],
     "message_id": VALUES["email_received message_id"]},
    {"type": "email_opened", "message_id": VALUES["email_opened message_id"]},
    {"type": "email_clicked", "message_id": VALUES["email_clicked message_id"], "link": VALUES["email_clicked link"]},
    {"type": "email_bounced", "bounce": "hard", "message_id": VALUES["email_bounced message_id"],
     "reason": VALUES["email_bounced reason"]},
    {"type": "voicemail", "duration_seconds": 20, "notes": VALUES["voicemail notes"]},
    {"type": "meeting_held", "mode": "video", "duration_minutes": 30, "notes": VALUES["meeting_held notes"]},
    {"type": "meeting_missed", "mode": "on_site", "notes": VALUES["meeting_missed notes"]},
    {"type": "demo", "duration_minutes": 45, "notes": VALUES["demo notes"]},
    {"type": "visit", "duration_minutes": 90, "notes": VALUES["visit notes"]},
    {"type": "page_visited", "url": VALUES["page url"], "title": VALUES["page title"], "seconds_on_page": 42,
     "referrer": VALUES["page referrer"], "visitor_id": VALUES["page visitor_id"],
     "session_id": VALUES["page session_id"]},
    {"type": "quote_opened", "quote_id": QUOTE},
    {"type": "note", "text": VALUES["note text"]},
    {"type": "sms_sent", "text": VALUES["sms text"]},
]

# What stays in clear of them, by type: worked out when they were recorded.
DERIVED = ("outcome_kind", "link_host", "url_host", "url_path", "referrer_host")
CLEAR_PARTS = {
    ("call", "other", None, None, None, None),  # an outcome out of the vocabulary
    ("call", "left_voicemail", None, None, None, None),
    ("email_clicked", None, "links.acme.example", None, None, None),
    ("page_visited", None, None, "www.acme.example", "/pricing", "search.example"),
}
INTERACTIONS_TABLE = next(t for t in TABLES if t.name == "interactions")

# Lead scoring by pages only: a pattern on the query string would score 500 if the policy
# read the sealed address; on its host and path the pricing page scores 10.
SCORING = {
    "enabled": True,
    "settings": {"pages": [{"pattern": "*email=*", "points": 500}, {"pattern": "*/pricing*", "points": 10}],
                 "behaviours": {"email_opened": 0, "email_clicked": 0, "quote_opened": 0, "return_visit": 0},
                 "threshold": 1000},
}


def found(text: str) -> list[str]:
    """The marked values in the text (by where they went), or the mark alone if only a piece is left."""
    labels = [label for label, value in VALUES.items() if value in text]
    return labels or ([MARK] if MARK in text else [])


def timeline_text(client, record: str, position: int) -> tuple[str, list[dict[str, Any]]]:
    items = read(client, f"/{record}/timeline?limit=1000", position)["items"]
    return json.dumps(items), items


def clear_parts(items: list[dict[str, Any]]) -> set[tuple]:
    return {(i["type"], *(i["data"].get(name) for name in DERIVED)) for i in items if i["type"] in ("call",
            "email_clicked", "page_visited")}


def interaction_rows(services, contact_id: str, position: int) -> list[dict[str, Any]]:
    assert services.projector.wait_for(position, 10)
    with services.read_side.cursor() as cur:
        result = cur.execute("SELECT * FROM interactions WHERE contact_id = ? ORDER BY position", [contact_id])
        names = [d[0] for d in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def exported_text(directory: Path, fmt: str) -> str:
    """Every exported file read back (Parquet through DuckDB: its pages may be compressed),
    and the files' bytes beside."""
    files = sorted(p for p in directory.iterdir() if p.suffix == f".{fmt}")
    assert files, directory
    raw = b"".join(p.read_bytes() for p in files).decode("latin-1")
    if fmt == "csv":
        return raw
    with duckdb.connect() as db:
        rows = [db.execute("SELECT * FROM read_parquet(?)", [str(p)]).fetchall() for p in files]
    return f"{rows!r}\n{raw}"


def export_live(services, directory: Path) -> dict[str, str]:
    """What `crm-es export` writes (its `export_read_side`), from the running read side."""
    at = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    with services.read_side.cursor() as cur:
        for fmt in FORMATS:
            export_read_side(cur, directory / fmt, fmt, at)
    return {fmt: exported_text(directory / fmt, fmt) for fmt in FORMATS}


def audit_text(services, *records: str) -> str:
    """Each record's audit export (each still verifying offline), as one text."""
    texts = []
    for record in records:
        lines = [json.dumps(line) for line in export_record(services.store, UUID(record))]
        assert lines and verify_export(lines).ok, record
        texts.append("\n".join(lines))
    return "\n".join(texts)


def score(client, contact_id: str, position: int) -> tuple[int, list[tuple]]:
    answer = read(client, f"/contacts/{contact_id}/score", position)
    return answer["score"], [(c["reason"], c["rule"], c["points"]) for c in answer["changes"]]


def test_forgetting_a_contact_erases_the_free_text_of_its_interactions(client, services, run, tmp_path: Path):
    ok(client.put("/policies/lead-scoring", json=SCORING), 200)
    contact = ok(client.post("/contacts", json={"first_name": "Kasia", "last_name": "Nowak",
                                                "email": "kasia@home.example"}))["id"]
    p = ok(client.post("/pipelines", json={"name": "Fleet", "stages": STAGES}))["id"]
    deal = ok(client.post("/deals", json={"title": "Fleet renewal", "pipeline_id": p, "stage": "Contact",
                                          "amount": "1000.00", "currency": "EUR", "contact_ids": [contact]}))["id"]
    for body in INTERACTIONS:
        last = ok(client.post(f"/contacts/{contact}/interactions", json={**body, "deal_id": deal}))
    services.policies.run_once()
    at = services.store.max_position()

    # before: sealed in the store, opened everywhere the person's data is shown
    assert not found(store_text_live(services)), "the free text is stored sealed, never in clear"
    everything = sorted(VALUES)
    for record in (f"contacts/{contact}", f"deals/{deal}"):
        text, items = timeline_text(client, record, last["position"])
        assert sorted(found(text)) == everything, record
        assert clear_parts(items) == CLEAR_PARTS, record
    rows = interaction_rows(services, contact, at)
    assert len(rows) == len(INTERACTIONS)
    for column in INTERACTIONS_TABLE.personal:
        assert any(MARK in (r[column] or "") for r in rows), column  # every personal column held some of it
    assert {(r["type"], *(r[n] for n in DERIVED)) for r in rows if r["type"] in ("call", "email_clicked",
            "page_visited")} == CLEAR_PARTS
    assert sorted(found(str(services.read_side.dump()))) == everything
    for fmt, text in export_live(services, tmp_path / "before").items():
        assert sorted(found(text)) == everything, fmt
    assert sorted(found(audit_text(services, contact))) == everything
    assert score(client, contact, at) == (10, [("page", "*/pricing*", 10)])

    forgotten = ok(client.post(f"/contacts/{contact}/forget", json={"reason": "ticket 5120"}), 200)
    at = forgotten["position"]

    # the timelines: every sealed field null, the clear parts there
    for record in (f"contacts/{contact}", f"deals/{deal}"):
        text, items = timeline_text(client, record, at)
        assert not found(text), record
        assert clear_parts(items) == CLEAR_PARTS, record
        [quote] = [i for i in items if i["type"] == "quote_opened"]
        assert quote["data"]["quote_id"] == QUOTE
        [page] = [i for i in items if i["type"] == "page_visited"]
        assert all(page["data"][name] is None for name in ("url", "title", "referrer", "visitor_id", "session_id"))

    # the read side: every personal column null; the clear parts, the figures and the score stay
    rows = interaction_rows(services, contact, at)
    assert len(rows) == len(INTERACTIONS)
    assert all(r[column] is None for r in rows for column in INTERACTIONS_TABLE.personal)
    assert {(r["type"], *(r[n] for n in DERIVED)) for r in rows if r["type"] in ("call", "email_clicked",
            "page_visited")} == CLEAR_PARTS
    assert [r["quote_id"] for r in rows if r["type"] == "quote_opened"] == [QUOTE]
    card = read(client, f"/contacts/{contact}", at)
    assert (card["calls"], card["emails_clicked"], card["page_visits"], card["interactions"]) == (2, 1, 1, 16)
    assert score(client, contact, at) == (10, [("page", "*/pricing*", 10)])
    live = services.read_side.dump()
    assert not found(str(live))

    # the exports: the analysts' files and the auditors' (which still verifies)
    for fmt, text in export_live(services, tmp_path / "after").items():
        assert not found(text), fmt
        assert "www.acme.example" in text and "/pricing" in text and "links.acme.example" in text, fmt
    assert not found(audit_text(services, contact, deal))

    # a rebuild gives the same tables, and the new DuckDB file's bytes hold none of it; nor the store's
    services.stop()
    services.read_side.recreate()
    services.projector.reset()
    services.projector.catch_up()
    assert services.read_side.dump() == live
    assert not found(duckdb_text(services))
    assert not found(store_text(services))

    # `crm-es export` itself (the service stopped, as it wants)
    services.close()
    for fmt in FORMATS:
        result = run("export", "--json", "--format", fmt, str(tmp_path / "cli" / fmt))
        assert result.exit_code == 0, result.output
        text = exported_text(tmp_path / "cli" / fmt, fmt)
        assert not found(text) and "www.acme.example" in text, fmt


OLD_URL = "https://old.acme.example/pricing/fleet?email=kasia%40home.example"
OLD_TITLE = "Fleet prices for Kasia"
OLD_REFERRER = "https://news.example/article?id=9"


def test_an_old_page_visit_stored_in_clear_gets_its_clear_parts_when_read(client, services):
    """A `PageVisited` as v1 stored it (no class_version, the address in clear, no host or
    path): read through today's class, it has them; it stays in clear (docs/erasure.md:
    no re-sealing), and the read side keeps its clear parts once the person is forgotten."""
    ok(client.put("/policies/lead-scoring", json=SCORING), 200)
    registered = ok(client.post("/contacts", json={"first_name": "Kasia", "last_name": "Nowak",
                                                   "email": "kasia@home.example"}))
    contact = registered["id"]
    visited = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
    event = new_event(PageVisited, UUID(contact), registered["version"] + 1, Meta(visited, visited, "tracker", "req-v1"),
                      rep_id=None, deal_id=None, url=OLD_URL, url_host=None, url_path=None, title=OLD_TITLE,
                      seconds_on_page=12, referrer=OLD_REFERRER, referrer_host=None, visitor_id=None, session_id=None,
                      new_session=True)
    state = orjson.loads(dumps({k: v for k, v in vars(event).items() if k not in ("originator_id", "originator_version")}))
    for name in ("url_host", "url_path", "referrer_host", "class_version"):
        state.pop(name, None)
    services.store.recorder.insert_events([
        StoredEvent(UUID(contact), registered["version"] + 1, get_topic(PageVisited), orjson.dumps(state))])
    at = services.store.max_position()
    [stored] = services.store.record_events(UUID(contact), registered["version"], 1)
    assert "class_version" not in orjson.loads(stored.state) and OLD_URL in stored.state.decode()

    # read through today's class: its clear parts worked out from the address in clear
    [*_, old] = services.store.events(UUID(contact))
    assert (old.url, old.url_host, old.url_path, old.referrer_host) == \
        (OLD_URL, "old.acme.example", "/pricing/fleet", "news.example")
    [*_, item] = read(client, f"/contacts/{contact}/timeline", at)["items"]
    assert item["type"] == "page_visited"
    assert {n: item["data"][n] for n in ("url", "title", "url_host", "url_path", "referrer_host")} == {
        "url": OLD_URL, "title": OLD_TITLE, "url_host": "old.acme.example", "url_path": "/pricing/fleet",
        "referrer_host": "news.example"}
    [row] = interaction_rows(services, contact, at)
    assert (row["url"], row["url_host"], row["url_path"], row["referrer_host"]) == \
        (OLD_URL, "old.acme.example", "/pricing/fleet", "news.example")
    services.policies.run_once()  # the policy reads the upcast event too: its path scores
    assert score(client, contact, services.store.max_position()) == (10, [("page", "*/pricing*", 10)])

    # a visit recorded today beside it is stored sealed, in the new shape
    new = ok(client.post(f"/contacts/{contact}/interactions",
                         json={"type": "page_visited", "url": "https://www.acme.example/demo?u=kasia"}))
    [stored_new] = services.store.record_events(UUID(contact), new["version"] - 1, 1)
    new_state = orjson.loads(stored_new.state)
    assert new_state["class_version"] == 2 and is_token(new_state["url"]) and new_state["url_path"] == "/demo"

    # forgotten: the read side nulls the old address and keeps its parts; the store keeps
    # the old event as it was written (no re-sealing migration), its timeline item with it
    forgotten = ok(client.post(f"/contacts/{contact}/forget"), 200)
    rows = interaction_rows(services, contact, forgotten["position"])
    assert [(r["url"], r["title"], r["url_host"], r["url_path"]) for r in rows] == [
        (None, None, "old.acme.example", "/pricing/fleet"), (None, None, "www.acme.example", "/demo")]
    assert OLD_URL not in str(services.read_side.dump())
    assert OLD_URL in store_text_live(services)
    pages = read(client, f"/contacts/{contact}/timeline?type=page_visited", forgotten["position"])["items"]
    assert [(i["data"]["url"], i["data"]["url_path"]) for i in pages] == [(OLD_URL, "/pricing/fleet"), (None, "/demo")]
