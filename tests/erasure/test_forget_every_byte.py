"""The proof of erasure (issue 16), on SQLite and PostgreSQL: a person is registered with a
distinct value in every field that can hold their data, every kind of event that can
mention them is written through a real `crm-es serve` (every interaction type, the
tracking batch, tasks, deals, documents and messages that really go out to an SMTP
server, contact and deal imports, searches, keyed commands), then they are forgotten. The
service is stopped and every byte it wrote is searched for them: the data folder's files
(the SQLite store with its WAL, DuckDB's WAL, the service's log), PostgreSQL's tables read
back and, when readable, the schema's files and the server's WAL, the read side value by
value, `crm-es export` in CSV and Parquet, the audit exports of every record about them,
and DuckDB's file byte by byte once `crm-es rebuild` has written it anew (until then it
keeps deleted rows: docs/erasure.md). None of their values may be found, a second
person's must be (the search can find things), and the board, funnel, activity and KPIs
give the same figures as before.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from conftest import PG_URL, pg_schema
from every_byte import (
    Markers, Place, audit_lines, described, duckdb_values, files_under, parquet_values, postgres_files, postgres_rows,
    search,
)
from real_service import Inbox, Service, Store, crm_es, free_port, until

STAGES = [{"name": "Contact", "probability": "0.1"}, {"name": "Demo", "probability": "0.5"},
          {"name": "Signature", "probability": "0.9"}]
# The automations that write about a person: a task and an e-mail after a meeting, naming them
# and the deal (the lifecycle touches), the follow-up of a missed meeting, the lead score.
TOUCHES = [{"name": "thanks", "trigger": "meeting_held", "subject": "Thank you {first_name} {last_name}",
            "body": "Hello {first_name}, about {deal_title}: …"},
           {"name": "call-back", "trigger": "meeting_held", "action": "task",
            "task_title": "Call {first_name} {last_name} about {deal_title}"}]
POLICIES = {"task-after-meeting": {}, "missed-meeting-follow-up": {}, "lead-scoring": {},
            "lifecycle-touches": {"touches": TOUCHES}}
CARD = {"first-name", "last-name", "email", "phone", "property"}  # the contact's own personal fields


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler, port = Inbox(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def store(backend: str, tmp_path: Path, inbox: tuple[Inbox, int]) -> Iterator[Store]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_ES_")}
    env.update(CRM_ES_DATA_DIR=str(tmp_path / "var"), CRM_ES_SMTP_URL=f"smtp://127.0.0.1:{inbox[1]}")
    if backend == "postgres":
        for schema in pg_schema():
            yield Store(tmp_path / "var", {**env, "CRM_ES_DATABASE_URL": PG_URL, "CRM_ES_POSTGRES_SCHEMA": schema}, schema)
    else:
        yield Store(tmp_path / "var", env, None)


class Person:
    def __init__(self, api: Service, m: Markers, rep: str, company: str, **headers: str) -> None:
        self.markers, self.email = m, m.email("email")
        self.id = api.post("/contacts", {
            "first_name": m("first-name"), "last_name": m("last-name"), "email": self.email, "phone": m("phone"),
            "job_title": "Buyer", "company_id": company, "city": "Lyon", "source": "website", "owner_id": rep,
            "tags": ["Gold"], "properties": {"note": m("property")}}, headers=headers)["id"]
        self.records: dict[str, str] = {}  # what else is about them, by a name: its id (for the audit exports)

    @property
    def second_email(self) -> str:
        """The address they move to (a marker once asked for)."""
        return self.markers.email("second-email")


def at(**delta: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(**delta)).isoformat()


def keyed(name: str) -> dict[str, str]:
    return {"Idempotency-Key": f"{name}-{uuid.uuid4()}"}


# --- everything that can mention the person ----------------------------------------------------


def deals(api: Service, p: Person, rep: str, company: str, pipeline: str) -> str:
    m = p.markers
    deal = api.post("/deals", {"title": m("deal-title"), "pipeline_id": pipeline, "stage": "Contact", "amount": "12000.00",
                               "currency": "EUR", "owner_id": rep, "contact_ids": [p.id], "company_id": company})
    api.send("PATCH", f"/deals/{deal['id']}", 200, json={"title": m("renamed-deal-title")})
    api.post(f"/deals/{deal['id']}/stage", {"stage": "Demo"}, 200)
    lost = api.post("/deals", {"title": m("lost-deal-title"), "pipeline_id": pipeline, "stage": "Contact",
                               "amount": "3000.00", "currency": "EUR", "owner_id": rep, "contact_ids": [p.id]})
    api.post(f"/deals/{lost['id']}/lost", {"reason": m("lost-reason"), "competitor": "Rival Tools"}, 200)
    p.records.update({"open deal": deal["id"], "lost deal": lost["id"]})
    return deal["id"]


def every_interaction(m: Markers, deal: str) -> list[dict[str, Any]]:
    """One of every type clients record, each free-text field holding a marker (in URLs, in the
    query string only: hosts and paths are what analytics keep)."""
    def message_id(name: str) -> str:
        return f"<{m(name)}@mail.example>"

    return [
        {"type": "call", "deal_id": deal, "outcome": m("call-outcome"), "notes": m("call-notes"), "duration_seconds": 90},
        {"type": "email_sent", "subject": m("sent-subject"), "message_id": message_id("sent-message-id")},
        {"type": "email_received", "subject": m("received-subject"), "message_id": message_id("received-message-id")},
        {"type": "email_opened", "message_id": message_id("opened-message-id")},
        {"type": "email_clicked", "message_id": message_id("clicked-message-id"),
         "link": f"https://shop.example/offer?who={m('clicked-link-query')}"},
        {"type": "email_bounced", "bounce": "soft", "reason": m("soft-bounce-reason"),
         "message_id": message_id("bounced-message-id")},
        {"type": "voicemail", "notes": m("voicemail-notes"), "duration_seconds": 30},
        {"type": "meeting_held", "deal_id": deal, "mode": "video", "duration_minutes": 30, "notes": m("meeting-notes")},
        {"type": "meeting_missed", "mode": "on_site", "notes": m("missed-notes")},
        {"type": "demo", "duration_minutes": 20, "notes": m("demo-notes")},
        {"type": "visit", "duration_minutes": 45, "notes": m("visit-notes")},
        {"type": "page_visited", "url": f"https://shop.example/pricing?utm_term={m('page-url-query')}",
         "title": m("page-title"), "referrer": f"https://search.example/?q={m('referrer-query')}",
         "visitor_id": m("visitor-id"), "session_id": m("session-id"), "seconds_on_page": 40},
        {"type": "quote_opened", "quote_id": "Q-2026-0042"},  # the seller's reference: in clear (docs/erasure.md)
        {"type": "note", "text": m("note-text")},
        {"type": "sms_sent", "text": m("sms-text"), "event_id": m("sms-event-id")},
    ]


def interactions(api: Service, p: Person, rep: str, deal: str) -> None:
    m = p.markers
    for body in every_interaction(m, deal):
        api.post(f"/contacts/{p.id}/interactions", {**body, "rep_id": rep})
    api.post(f"/contacts/{p.id}/interactions", {"type": "note", "text": m("keyed-note-text")}, headers=keyed("note"))
    batch = api.post("/interactions:batch", {"items": [
        {"email": p.email, "type": "page_visited", "event_id": m("batch-event-id"), "title": m("batch-title"),
         "url": f"https://shop.example/demo?ref={m('batch-url-query')}", "visitor_id": m("batch-visitor-id")},
        {"email": p.email.upper(), "type": "email_opened", "message_id": f"<{m('batch-message-id')}@mail.example>"},
        # a tracker's event for an address the CRM does not know yet (the person's next one)
        {"email": p.second_email, "type": "email_opened", "message_id": "<unknown@mail.example>"},
    ]}, 200, headers=keyed("batch"))
    assert [r["status"] for r in batch["results"]] == ["accepted", "accepted", "error"], batch


def tasks(api: Service, p: Person, rep: str, deal: str) -> None:
    m = p.markers
    task = api.post("/tasks", {"type": "call", "title": m("task-title"), "due_at": at(hours=2), "owner_id": rep,
                               "contact_id": p.id, "deal_id": deal, "notes": m("task-notes")})
    api.post(f"/tasks/{task['id']}/done", {"outcome": m("task-outcome")}, 200)
    deal_task = api.post("/tasks", {"type": "task", "title": m("deal-task-title"), "due_at": at(hours=3),
                                    "owner_id": rep, "deal_id": deal})
    p.records.update({"task": task["id"], "deal's task": deal_task["id"]})


def imports(api: Service, p: Person) -> None:
    m = p.markers
    contacts = f"E-mail;First;Last;Note\n{p.email};{m.values['first-name']};{m.values['last-name']};{m('import-note')}\n"
    report = api.send("POST", "/imports/contacts", 200, files={"file": ("old-crm.csv", contacts.encode(), "text/csv")},
                      data={"map": ["E-mail=email", "First=first_name", "Last=last_name", "Note=properties.import_note"]},
                      headers=keyed("contacts"))
    assert report["counts"]["updated"] == 1, report
    opened, closed = at(days=-10)[:10], at(days=-5)[:10]
    deals_file = (f"ID;Name;Stage;Amount;Currency;Contact Email;Created;Status;Close Date;Lost Reason\n"
                  f"old-{m.run}-1;{m('imported-deal-title')};Contact;2500;EUR;{p.email};{opened};lost;{closed};"
                  f"{m('imported-lost-reason')}\n"
                  f"old-{m.run}-2;Spare parts;Contact;100;EUR;{p.second_email};{opened};;;\n")  # not known yet: fails
    report = api.send("POST", "/imports/deals", 200, files={"file": ("old-deals.csv", deals_file.encode(), "text/csv")},
                      data={"pipeline": "New business"}, headers=keyed("deals"))
    assert [r["status"] for r in report["rows"]] == ["imported", "failed"], report
    p.records["imported deal"] = report["rows"][0]["id"]


def documents_and_messages(api: Service, p: Person, deal: str) -> None:
    """A quote and a message that really go out, an invoice voided, a message cancelled."""
    m = p.markers
    quote = api.post("/documents", {"kind": "quote", "contact_id": p.id, "deal_id": deal, "currency": "EUR",
                                    "lines": [{"description": m("quote-line"), "quantity": "2", "unit_price": "150.00"}]},
                     headers=keyed("quote"))
    quote_mail = api.post(f"/documents/{quote['id']}/send", None, 202)
    invoice = api.post("/documents", {"kind": "invoice", "contact_id": p.id, "currency": "EUR", "due_on": at(days=7)[:10],
                                      "lines": [{"description": m("invoice-line"), "quantity": "1", "unit_price": "90.00"}]})
    api.post(f"/documents/{invoice['id']}/void", {"reason": m("void-reason")}, 200)
    mail = api.post(f"/contacts/{p.id}/messages", {"subject": m("message-subject"), "body": m("message-body")}, 202)
    later = api.post(f"/contacts/{p.id}/messages", {"subject": m("later-subject"), "body": m("later-body"),
                                                    "send_at": at(days=1)}, 202)
    api.post(f"/messages/{later['id']}/cancel", {"reason": m("cancel-reason")}, 200)
    for sent in (mail["id"], quote_mail["delivery_id"]):
        until(f"message {sent} sent", lambda sent=sent: api.get(f"/messages/{sent}")["status"] == "sent")
    p.records.update({"quote": quote["id"], "invoice": invoice["id"], "message": mail["id"],
                      "quote's message": quote_mail["delivery_id"], "cancelled message": later["id"]})


def a_new_address(api: Service, p: Person, inbox: Inbox) -> int:
    """The person moves to an address the mail server refuses (quoting it), then bounces hard,
    leaves their company and unsubscribes; the last position written."""
    m = p.markers
    inbox.refused.add(p.second_email.lower())
    api.send("PATCH", f"/contacts/{p.id}", 200, json={"email": p.second_email, "phone": m("second-phone")})
    refused = api.post(f"/contacts/{p.id}/messages", {"subject": m("refused-subject"), "body": m("refused-body")}, 202)
    until("the refused message failed", lambda: api.get(f"/messages/{refused['id']}")["status"] == "failed")
    p.records["refused message"] = refused["id"]
    api.post(f"/contacts/{p.id}/interactions", {"type": "email_bounced", "bounce": "hard", "reason": m("hard-bounce-reason"),
                                                "message_id": f"<{m('hard-bounce-message-id')}@mail.example>"})
    api.post(f"/contacts/{p.id}/left-company", {"note": m("left-company-note")}, 200)
    return api.post(f"/contacts/{p.id}/unsubscribe", {"reason": m("unsubscribe-reason")}, 200)["position"]


def searches(api: Service, p: Person, position: int) -> None:
    """What the access log sees: searches by e-mail, old and new, and by name."""
    for q in (p.email, p.second_email, p.markers.values["last-name"]):
        api.get("/contacts", q=q, after=position)


def bystander(api: Service, p: Person, rep: str, pipeline: str) -> None:
    """The second person, never forgotten: their values must still be found."""
    m = p.markers
    api.post(f"/contacts/{p.id}/interactions", {"type": "call", "notes": m("call-notes"), "rep_id": rep})
    api.post("/deals", {"title": m("deal-title"), "pipeline_id": pipeline, "stage": "Contact", "amount": "5000.00",
                        "currency": "EUR", "owner_id": rep, "contact_ids": [p.id]})
    api.post("/tasks", {"type": "call", "title": m("task-title"), "due_at": at(hours=4), "owner_id": rep,
                        "contact_id": p.id, "notes": m("task-notes")})


# --- what is checked ---------------------------------------------------------------------------


def settled(api: Service) -> bool:
    """The automations have read the whole log and nothing is left to send (timers may wait)."""
    policies = api.get("/policies")["items"]
    pending = api.get("/outbox", status="pending", limit=500)["items"]
    return all(p["lag"] == 0 for p in policies if p["enabled"]) and all(i["channel"] == "timer" for i in pending)


def figures(api: Service, pipeline: str, now: datetime, position: int) -> dict[str, Any]:
    """The board, funnel, activity and KPIs of the month to ``now``, without what a forgotten
    person's erasure blanks (deal titles) or what moves with the clock (the board's as_of)."""
    period = {"from": (now - timedelta(days=30)).isoformat(), "to": (now + timedelta(days=1)).isoformat(),
              "after": position}
    answers = {
        "board": api.get(f"/pipelines/{pipeline}/board", after=position),
        "funnel": api.get("/analytics/funnel", pipeline=pipeline, **period),
        "activity": api.get("/analytics/activity", by="rep", **period),
        "kpis": api.get("/analytics/kpis", **period),
    }
    return _without(answers, {"as_of", "title"})


def _without(value: Any, keys: set[str]) -> Any:
    if isinstance(value, dict):
        return {k: _without(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [_without(v, keys) for v in value]
    return value


def everything_written(store: Store, person: Person, other: Person) -> tuple[list[Place], str | None]:
    """Every place the stopped service and the operator's commands wrote, and why a part could
    not be read (PostgreSQL's files), if so."""
    # First what serve left, before anything opens its files again (DuckDB replays its WAL
    # when opened); DuckDB's own file is read value by value, and byte by byte once rebuilt.
    places = [p for p in files_under(store.data_dir, "data folder, as serve left it:") if p[0].split()[-1] != "read.duckdb"]
    exports = store.data_dir.parent / "exports"
    said = crm_es(store, "export", str(exports / "csv")) + crm_es(store, "export", "--parquet", str(exports / "parquet"))
    (exports / "audit").mkdir()
    for name, record in {"contact": person.id, "bystander": other.id, **person.records}.items():
        said += crm_es(store, "audit", "export", record, "-o", str(exports / "audit" / f"{name.replace(' ', '-')}.jsonl"))
    places += [*files_under(exports / "csv", "export csv:"), *parquet_values(exports / "parquet"),
               *(p for f in sorted((exports / "audit").iterdir()) for p in audit_lines(f)),
               *duckdb_values(store.data_dir / "read.duckdb")]
    said += crm_es(store, "rebuild")
    places += [("the commands' output", said), *files_under(store.data_dir, "data folder, after `crm-es rebuild`:")]
    if store.schema is None:
        return places, None
    pg_files, unreadable = postgres_files(PG_URL, store.schema)
    return [*places, *postgres_rows(PG_URL, store.schema), *pg_files], unreadable


# --- the proof --------------------------------------------------------------------------------


def test_a_forgotten_person_leaves_no_byte_anywhere_and_the_figures_stay(store: Store, inbox: tuple[Inbox, int]):
    run, now = uuid.uuid4().hex[:8], datetime.now(timezone.utc)
    api = Service(store)
    try:
        rep = api.post("/reps", {"name": "Rita Ramos", "email": f"rita-{run}@seller.example"})["id"]
        company = api.post("/companies", {"name": "Harbour Tools"})["id"]
        pipeline = api.post("/pipelines", {"name": "New business", "stages": STAGES,
                                           "occurred_at": at(days=-30)})["id"]  # before the imported deals
        for name, settings in POLICIES.items():
            api.send("PUT", f"/policies/{name}", 200, json={"enabled": True, "settings": settings})
        person = Person(api, Markers(run, "p"), rep, company, **keyed("register"))
        other = Person(api, Markers(run, "q"), rep, company)
        bystander(api, other, rep, pipeline)
        deal = deals(api, person, rep, company, pipeline)
        interactions(api, person, rep, deal)
        tasks(api, person, rep, deal)
        imports(api, person)
        documents_and_messages(api, person, deal)
        position = a_new_address(api, person, inbox[0])
        searches(api, person, position)
        until("the automations settled", lambda: settled(api))

        before = figures(api, pipeline, now, position)
        forgotten = api.post(f"/contacts/{person.id}/forget", {"reason": "ticket 4711"}, 200)
        card = api.get(f"/contacts/{person.id}", after=forgotten["position"])
        assert card["forgotten_at"] is not None and card["email"] is None
        assert figures(api, pipeline, now, forgotten["position"]) == before
        until("the automations settled after the erasure", lambda: settled(api))
    finally:
        status = api.stop()
    assert status == 0, f"serve did not stop cleanly on SIGTERM (exit {status})"

    places, unreadable = everything_written(store, person, other)
    leaks, kept = search(places, person.markers), search(places, other.markers)
    for where, wanted in (("read side", set(other.markers.values)), ("export csv: contacts.csv", CARD),
                          ("export contacts.parquet", CARD), ("audit export bystander", CARD)):
        found = {f.field for f in kept if f.place.startswith(where)}
        assert found >= wanted, (f"the search does not find the bystander's {sorted(wanted - found)} in {where}: it "
                                 f"would not find the forgotten person's either. It found:\n{described(kept)}")
    assert not leaks, (f"{len({f.field for f in leaks})} of the forgotten person's {len(person.markers.values)} values "
                       f"are left in {len({f.place for f in leaks})} places" + (f" ({unreadable})" if unreadable else "")
                       + f":\n{described(leaks)}")
