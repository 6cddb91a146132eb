"""The outbox on SQLite AND PostgreSQL: messages queued as a policy queues them, delivered
by the dispatcher to a real SMTP server and real HTTP receivers in this process; refused
deliveries retried with backoff then given up on, a forgotten person's message cancelled,
nothing sent twice; documents attached to e-mails (and refused by SMS and webhooks), a
message held until its send_at, and a message stored in the v1 shape."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from uuid import UUID, uuid4

import orjson
import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from crm_es.aggregates import message as messages
from crm_es.aggregates.base import InvalidInput, Meta
from crm_es.aggregates.contact import ContactDetails
from crm_es.aggregates.document import Document
from crm_es.aggregates.message import Message, exponential_backoff, utc_text
from crm_es.bootstrap import Services
from crm_es.clock import FrozenClock
from crm_es.commands import execute
from crm_es.commands.documents import IssueDocument, issue_document
from crm_es.commands.records import (
    ForgetContact,
    RegisterContact,
    forget_contact,
    register_contact,
)
from crm_es.outbox.dispatcher import Dispatcher
from crm_es.outbox.senders import (
    DELIVERY_HEADER,
    SmsSender,
    SmtpSender,
    WebhookSender,
)
from crm_es.store.schema import OUTBOX_COLUMNS
from tests.policies.conftest import free_port

JEAN = "jean.dupont@example.com"
POLICY = "welcome-mail"


# --- receivers we don't own: a real SMTP server, a real HTTP server ------------------------


@dataclass
class Receiver:
    """An HTTP server keeping each POST; answers with the status set for its path (200)."""

    port: int
    requests: list[dict[str, Any]] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server_box: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            me = server_box[0]
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            me.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            self.send_response(me.statuses.get(self.path, 200))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_box.append(Receiver(server.server_address[1]))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_box[0]
    finally:
        server.shutdown()
        server.server_close()


# --- queuing as a policy does, reading what the store keeps -------------------------------


def meta(clock: FrozenClock) -> Meta:
    return Meta(clock.now(), clock.now(), f"policy:{POLICY}", "req-1", "some-event:1")


def queue(services: Services, clock: FrozenClock, channel: str = "email", to: str = JEAN, body: str = "Welcome aboard!",
          contact_id: UUID | None = None, subject: str | None = None) -> str:
    message_id = uuid4()
    if channel == "email" and subject is None:
        subject = "Welcome"
    events, row = messages.queue(message_id, channel, to, body, POLICY, meta(clock), contact_id=contact_id, subject=subject)
    services.store.save(events, outbox=[row])
    return str(message_id)


def row(services: Services, delivery_id: str) -> dict[str, Any]:
    [found] = services.store.side_tables.read(f"SELECT {', '.join(OUTBOX_COLUMNS)} FROM {{outbox}} WHERE delivery_id = ?",
                                              (delivery_id,))
    return {column: found[column] for column in OUTBOX_COLUMNS}


def history(services: Services, delivery_id: str) -> list[str]:
    return [type(e).__name__ for e in services.store.events(UUID(delivery_id))]


def contact(services: Services) -> UUID:
    return execute(register_contact, RegisterContact(ContactDetails("Jean", "Dupont", JEAN)), services.context()).id


def smtp_sender(port: int) -> SmtpSender:
    return SmtpSender(f"smtp://127.0.0.1:{port}", "crm@example.com")


# --- e-mail --------------------------------------------------------------------------------


def test_an_email_reaches_the_smtp_server_once_with_its_delivery_id(services, clock, smtp) -> None:
    inbox, port = smtp
    jean = contact(services)
    delivery_id = queue(services, clock, contact_id=jean, subject="Welcome, Jean")
    assert row(services, delivery_id)["status"] == "pending"
    dispatcher = Dispatcher(services.store, clock, {"email": smtp_sender(port)})

    assert dispatcher.run_once() == 1
    [mail] = inbox.mails
    assert (mail.mail_from, mail.rcpt_tos) == ("crm@example.com", [JEAN])
    sent = inbox.parsed()
    assert sent["Message-ID"] == f"<{delivery_id}@crm-es>"
    assert sent[DELIVERY_HEADER] == delivery_id
    assert (sent["Subject"], sent["To"]) == ("Welcome, Jean", JEAN)
    assert sent.get_payload(decode=True).decode().strip() == "Welcome aboard!"

    assert row(services, delivery_id) == {
        "delivery_id": delivery_id, "policy": POLICY, "channel": "email", "contact_id": str(jean), "status": "sent",
        "attempts": 1, "next_attempt_at": utc_text(clock.now()), "last_error": None,
        "created_at": utc_text(clock.now()), "sent_at": utc_text(clock.now()),
    }
    assert history(services, delivery_id) == ["Queued", "Sent"]
    assert dispatcher.next_due() is None

    # Again, and by a second dispatcher (after a restart): nothing is sent twice.
    clock.advance(hours=1)
    assert dispatcher.run_once() == 0
    assert Dispatcher(services.store, clock, {"email": smtp_sender(port)}).run_once() == 0
    assert len(inbox.mails) == 1 and history(services, delivery_id) == ["Queued", "Sent"]


def test_the_address_and_text_are_sealed_in_the_log(services, clock) -> None:
    delivery_id = queue(services, clock, contact_id=contact(services), body="Your secret offer")
    stored = b"".join(r.state for r in services.store.read(0, 1000) if r.originator_id == delivery_id)
    assert stored and JEAN.encode() not in stored and b"secret offer" not in stored
    assert services.store.load(Message, UUID(delivery_id)).to == JEAN  # the key opens them


def test_a_refused_recipient_is_retried_with_backoff_then_given_up_on(services, clock, smtp) -> None:
    inbox, port = smtp
    inbox.refused.add(JEAN)
    delivery_id = queue(services, clock, contact_id=contact(services))
    dispatcher = Dispatcher(services.store, clock, {"email": smtp_sender(port)}, max_attempts=3)
    start = clock.now()

    assert dispatcher.run_once() == 0
    first = row(services, delivery_id)
    assert (first["status"], first["attempts"]) == ("failed", 1)
    assert first["next_attempt_at"] == utc_text(start + timedelta(minutes=1))
    assert "550" in first["last_error"] and "refused the recipient" in first["last_error"]
    assert JEAN not in first["last_error"], "the server quoted the address: the row must not keep it"
    assert dispatcher.next_due() == start + timedelta(minutes=1)

    # Not due yet: not tried.
    clock.advance(seconds=59)
    assert dispatcher.run_once() == 0 and inbox.recipients_asked == 1
    # Due: tried again, then waits twice as long.
    clock.advance(seconds=1)
    dispatcher.run_once()
    second = row(services, delivery_id)
    assert (second["status"], second["attempts"], inbox.recipients_asked) == ("failed", 2, 2)
    assert second["next_attempt_at"] == utc_text(clock.now() + timedelta(minutes=2))
    # The last attempt allowed fails too: dead, never tried again.
    clock.advance(minutes=2)
    dispatcher.run_once()
    dead = row(services, delivery_id)
    assert (dead["status"], dead["attempts"]) == ("dead", 3) and "550" in dead["last_error"]
    assert dispatcher.next_due() is None
    clock.advance(days=30)
    assert dispatcher.run_once() == 0 and inbox.recipients_asked == 3 and inbox.mails == []
    assert history(services, delivery_id) == ["Queued", "Failed", "Failed", "DeadLettered"]
    stored = b"".join(r.state for r in services.store.read(0, 1000) if r.originator_id == delivery_id)
    assert JEAN.encode() not in stored


def test_a_server_that_cannot_be_reached_is_tried_again_until_it_answers(services, clock, smtp) -> None:
    inbox, port = smtp
    delivery_id = queue(services, clock)
    closed = Dispatcher(services.store, clock, {"email": smtp_sender(free_port())})  # nothing listens there
    assert closed.run_once() == 0
    failed = row(services, delivery_id)
    assert failed["status"] == "failed" and "could not be reached" in failed["last_error"]

    clock.advance(minutes=1)
    assert Dispatcher(services.store, clock, {"email": smtp_sender(port)}).run_once() == 1
    done = row(services, delivery_id)
    assert (done["status"], done["attempts"], done["sent_at"]) == ("sent", 2, utc_text(clock.now()))
    assert inbox.parsed()[DELIVERY_HEADER] == delivery_id


# --- webhooks and SMS over HTTP --------------------------------------------------------------


def test_webhooks_and_sms_are_posted_with_the_delivery_id(services, clock, receiver) -> None:
    hook = queue(services, clock, "webhook", receiver.url("/hooks/deal-won"), '{"deal": "Fleet renewal"}')
    sms = queue(services, clock, "sms", "+33612345678", "See you at 10", contact_id=contact(services))
    senders = {"webhook": WebhookSender(), "sms": SmsSender(receiver.url("/sms"))}

    assert Dispatcher(services.store, clock, senders).run_once() == 2
    by_path = {r["path"]: r for r in receiver.requests}
    assert json.loads(by_path["/hooks/deal-won"]["body"]) == {"deal": "Fleet renewal"}
    assert by_path["/hooks/deal-won"]["headers"][DELIVERY_HEADER] == hook
    assert by_path["/hooks/deal-won"]["headers"]["Content-Type"] == "application/json"
    assert json.loads(by_path["/sms"]["body"]) == {"to": "+33612345678", "body": "See you at 10"}
    assert by_path["/sms"]["headers"][DELIVERY_HEADER] == sms
    assert row(services, hook)["contact_id"] is None, "a webhook about no one"
    assert {row(services, hook)["status"], row(services, sms)["status"]} == {"sent"}


def test_one_failing_receiver_does_not_stop_the_others(services, clock, receiver) -> None:
    receiver.statuses["/down"] = 503
    down = queue(services, clock, "webhook", receiver.url("/down"), "{}")
    up = queue(services, clock, "webhook", receiver.url("/up"), "{}")
    unsendable = queue(services, clock, "sms", "+33612345678", "Hi")  # no SMS gateway configured: it waits

    assert Dispatcher(services.store, clock, {"webhook": WebhookSender()}).run_once() == 1
    assert row(services, up)["status"] == "sent"
    assert (row(services, down)["status"], row(services, down)["last_error"]) == (
        "failed", "webhook receiver answered 503 Service Unavailable")
    assert (row(services, unsendable)["status"], row(services, unsendable)["attempts"]) == ("pending", 0)
    assert [r["path"] for r in receiver.requests].count("/down") == 1


# --- the right to be forgotten ----------------------------------------------------------------


def test_a_forgotten_contacts_message_is_cancelled_not_sent(services, clock, smtp) -> None:
    inbox, port = smtp
    jean = contact(services)
    delivery_id = queue(services, clock, contact_id=jean)
    dispatcher = Dispatcher(services.store, clock, {"email": smtp_sender(port)})
    # Loaded before the forgetting: the store remembers the message with its address in clear.
    assert services.store.load(Message, UUID(delivery_id)).to == JEAN

    execute(forget_contact, ForgetContact(jean, "asked to"), services.context())
    assert dispatcher.run_once() == 0
    assert inbox.mails == [] and inbox.recipients_asked == 0
    cancelled = row(services, delivery_id)
    assert (cancelled["status"], cancelled["last_error"]) == ("cancelled", "the contact was forgotten")
    assert history(services, delivery_id) == ["Queued", "Cancelled"]
    opened = services.store.events(UUID(delivery_id))[0]
    assert (opened.to, opened.subject, opened.body) == (None, None, None)
    assert dispatcher.next_due() is None


# --- the decisions themselves (pure) ------------------------------------------------------------


def test_a_message_is_checked_before_it_is_queued(clock) -> None:
    def refused(channel: str, to: str, body: str = "{}", subject: str | None = None) -> str:
        with pytest.raises(InvalidInput) as error:
            messages.queue(uuid4(), channel, to, body, POLICY, meta(clock), subject=subject)
        return error.value.field

    assert refused("fax", JEAN) == "channel"
    assert refused("email", "not an address") == "to"
    assert refused("email", JEAN, subject="Hi\r\nBcc: everyone@example.com") == "subject"
    assert refused("webhook", "ftp://example.com") == "to"
    assert refused("webhook", "https://example.com/hook", body="not json") == "body"
    assert refused("sms", "+33612345678", subject="Hi") == "subject"


def test_the_backoff_doubles_and_is_capped() -> None:
    assert [exponential_backoff(n) for n in (1, 2, 3)] == [timedelta(minutes=m) for m in (1, 2, 4)]
    assert exponential_backoff(10) == exponential_backoff(1000) == timedelta(hours=6)


def test_outbox_times_are_fixed_width_utc_text() -> None:
    paris = timezone(timedelta(hours=1))
    assert utc_text(datetime(2026, 3, 1, 10, 0, tzinfo=paris)) == "2026-03-01T09:00:00.000000+00:00"
    assert utc_text(datetime(2026, 3, 1, 9, 0, 0, 5, tzinfo=timezone.utc)) == "2026-03-01T09:00:00.000005+00:00"
    with pytest.raises(ValueError):
        utc_text(datetime(2026, 3, 1))


def test_a_message_delivered_or_given_up_on_is_closed(clock) -> None:
    events, _ = messages.queue(uuid4(), "sms", "+33612345678", "Hi", POLICY, meta(clock))
    message = Message.fold(events)
    sent_events, sent_row = messages.sent(message, meta(clock))
    done = Message.fold([*events, *sent_events])
    assert sent_row[OUTBOX_COLUMNS.index("status")] == "sent"
    for decide in (lambda m: messages.sent(m, meta(clock)), lambda m: messages.cancel(m, "no", meta(clock)),
                   lambda m: messages.failed(m, "boom", 8, meta(clock))):
        with pytest.raises(Exception, match="message is sent"):
            decide(done)


# --- attachments (F25), send_at, and the stored v1 shape ----------------------------------------


def issued_invoice(services: Services, contact_id: UUID) -> UUID:
    command = IssueDocument("invoice", contact_id, (("Fleet maintenance", Decimal(2), Decimal("1500.00")),), "EUR",
                            due_on=date(2026, 3, 31))
    return execute(issue_document, command, services.context()).id


def test_an_email_carries_its_documents_as_pdf_files(services, clock, smtp) -> None:
    inbox, port = smtp
    jean = contact(services)
    invoice = issued_invoice(services, jean)
    message_id = uuid4()
    events, queued = messages.queue(message_id, "email", JEAN, "Your invoice", POLICY, meta(clock), contact_id=jean,
                                    subject="Invoice", attachments=(invoice,))
    services.store.save(events, outbox=[queued])

    assert Dispatcher(services.store, clock, {"email": smtp_sender(port)}).run_once() == 1
    mail = inbox.parsed()
    assert mail.is_multipart() and mail.get_payload(0).get_payload(decode=True).decode().strip() == "Your invoice"
    [pdf] = [part for part in mail.walk() if part.get_filename()]
    assert (pdf.get_content_type(), pdf.get_filename()) == ("application/pdf", "INV-2026-0001.pdf")
    content = pdf.get_payload(decode=True)
    assert content.startswith(b"%PDF-")
    document = services.store.load(Document, invoice)
    assert hashlib.sha256(content).hexdigest() == document.pdf_sha256
    # The document knows it went out, with which message.
    assert [(s.message_id, s.sent_at) for s in document.sent] == [(message_id, clock.now())]


@pytest.mark.parametrize("channel", ["sms", "webhook"])
def test_an_sms_or_a_webhook_refuses_attachments_saying_why(services, clock, receiver, channel) -> None:
    jean = contact(services)
    invoice = issued_invoice(services, jean)
    to, body = ("+33612345678", "Hi") if channel == "sms" else (receiver.url("/hook"), "{}")
    delivery_id = uuid4()
    events, queued = messages.queue(delivery_id, channel, to, body, POLICY, meta(clock), contact_id=jean,
                                    attachments=(invoice,))
    services.store.save(events, outbox=[queued])
    senders = {"webhook": WebhookSender(), "sms": SmsSender(receiver.url("/sms"))}

    assert Dispatcher(services.store, clock, senders).run_once() == 0
    failed = row(services, str(delivery_id))
    assert failed["status"] == "failed"
    assert failed["last_error"] == (f"{'an SMS' if channel == 'sms' else 'a webhook'} cannot carry attachments "
                                    "(INV-2026-0001.pdf): only an e-mail can")
    assert receiver.requests == []


def test_a_message_is_not_sent_before_its_send_at(services, clock, smtp) -> None:
    inbox, port = smtp
    send_at = clock.now() + timedelta(hours=2)
    delivery_id = uuid4()
    events, queued = messages.queue(delivery_id, "email", JEAN, "Later", POLICY, meta(clock), subject="Later",
                                    send_at=send_at)
    services.store.save(events, outbox=[queued])
    assert row(services, str(delivery_id))["next_attempt_at"] == utc_text(send_at)
    dispatcher = Dispatcher(services.store, clock, {"email": smtp_sender(port)})

    assert dispatcher.run_once() == 0 and inbox.mails == []
    assert dispatcher.next_due() == send_at
    clock.advance(hours=2)
    assert dispatcher.run_once() == 1 and len(inbox.mails) == 1
    assert services.store.load(Message, delivery_id).send_at == send_at
    with pytest.raises(InvalidInput) as refused:
        messages.queue(uuid4(), "email", JEAN, "x", POLICY, meta(clock), subject="x", send_at=datetime(2026, 3, 2))
    assert refused.value.field == "send_at"


def test_a_message_queued_in_the_v1_shape_still_loads_and_goes(services, clock, receiver) -> None:
    """Written as the code before v2 stored it: no attachments, no send_at, no class_version."""
    delivery_id = uuid4()
    v1 = {"timestamp": clock.now().isoformat(), "occurred_at": clock.now().isoformat(), "actor": f"policy:{POLICY}",
          "correlation_id": "req-1", "causation_id": "some-event:1", "channel": "webhook", "contact_id": None,
          "to": receiver.url("/hook"), "subject": None, "body": "{}", "policy": POLICY}
    services.store.recorder.insert_events([StoredEvent(delivery_id, 1, get_topic(Message.Queued), orjson.dumps(v1))])
    [queued] = services.store.events(delivery_id)
    assert (queued.attachments, queued.send_at, queued.body) == ((), None, "{}")
    message = services.store.load(Message, delivery_id)
    assert (message.attachments, message.next_attempt_at, message.actor) == ((), clock.now(), f"policy:{POLICY}")
    # Its outbox row, as the old code saved it beside the event: the dispatcher sends it.
    services.store.write_policy_rows(None, [messages.outbox_row(message)])
    assert Dispatcher(services.store, clock, {"webhook": WebhookSender()}).run_once() == 1
    assert [r["path"] for r in receiver.requests] == ["/hook"]
    # New messages are stored in the new shape beside it.
    new_id = queue(services, clock, "webhook", receiver.url("/hook"), "{}")
    stored = next(r for r in services.store.read(0, 100) if r.originator_id == new_id)
    assert orjson.loads(stored.state)["class_version"] == 2
