"""Documents (F25) end to end, on SQLite and PostgreSQL: templates defined and refused,
quotes, contracts and invoices issued through HTTP (numbered, rendered, stored sealed),
read back as metadata, PDF and HTML, sent by e-mail through the outbox to a real SMTP
server with the PDF attached and recorded on the timeline, paid and voided; retries that
write nothing, and a forgotten contact whose documents are shredded."""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from helpers import assert_problem, ok, pipeline

from crm_es.aggregates.contact import Contact
from crm_es.aggregates.document import Document
from crm_es.auth.roles import Role
from crm_es.bootstrap import Services
from crm_es.clock import FrozenClock
from crm_es.commands import execute
from crm_es.commands.documents import SetSignature, set_signature
from crm_es.outbox.dispatcher import Dispatcher
from crm_es.outbox.senders import SmtpSender
from crm_es.queries import timeline as timelines
from tests.policies.conftest import Inbox, configure_smtp
from tests.policies import conftest as policy_fixtures

smtp = policy_fixtures.smtp  # the real SMTP server in the test process, as tests/policies has it

LINE = {"description": "Fleet maintenance, 12 months", "quantity": "2", "unit_price": "1500.00"}


class World:
    """Alice, a rep with a signature; Zoë, her contact at Acme & Co; a deal for her."""

    def __init__(self, client: TestClient, services: Services, port: int) -> None:
        self.client, self.services = client, services
        configure_smtp(services, port)
        self.dispatcher = Dispatcher(services.store, services.clock, {
            "email": SmtpSender(f"smtp://127.0.0.1:{port}", "billing@seller.example")})
        self.alice = ok(client.post("/reps", json={"name": "Alice Martin", "email": "alice@seller.example"}))["id"]
        execute(set_signature, SetSignature(UUID(self.alice), "Alice Martin\nAccount manager, Seller Ltd"),
                services.context())
        company = ok(client.post("/companies", json={"name": "Acme & Co"}))["id"]
        self.zoe = ok(client.post("/contacts", json={"first_name": "Zoë", "last_name": "Łukasz", "owner_id": self.alice,
                                                     "email": "zoe@acme.example", "company_id": company}))["id"]
        p = pipeline(client)
        self.deal = ok(client.post("/deals", json={"title": "Fleet renewal", "pipeline_id": p["id"], "stage": "Demo",
                                                   "amount": "12000.00", "currency": "EUR", "owner_id": self.alice,
                                                   "contact_ids": [self.zoe]}))["id"]

    def issue(self, kind: str = "invoice", status: int = 201, headers: dict[str, str] | None = None,
              **fields: Any) -> dict[str, Any]:
        body = {"kind": kind, "contact_id": self.zoe, "currency": "EUR", "lines": [LINE],
                **({"due_on": "2026-03-31"} if kind == "invoice" else {}), **fields}
        return ok(self.client.post("/documents", json=body, headers=headers or {}), status)

    def get(self, path: str, status: int = 200) -> Any:
        response = self.client.get(path)
        assert response.status_code == status, response.text
        return response


@pytest.fixture
def world(client: TestClient, services: Services, smtp: tuple[Inbox, int]) -> World:
    return World(client, services, smtp[1])


def attachments(inbox: Inbox, index: int = -1) -> list[Any]:
    return [part for part in inbox.parsed(index).walk() if part.get_filename()]


def test_an_invoice_is_issued_numbered_rendered_and_stored(world: World, clock: FrozenClock) -> None:
    issued = world.issue(deal_id=world.deal)
    assert issued["number"] == "INV-2026-0001" and issued["version"] == 1
    assert (issued["kind"], issued["template"], issued["template_version"]) == ("invoice", "invoice", 0)
    assert (issued["total"], issued["currency"], issued["issued_on"], issued["due_on"]) == (
        "3000.00", "EUR", "2026-03-01", "2026-03-31")
    assert issued["rep_id"] == world.alice and issued["deal_id"] == world.deal

    response = world.get(f"/documents/{issued['id']}")
    assert response.headers["ETag"] == '"1"'
    document = response.json()
    assert document["status"] == "issued" and document["balance"] == "3000.00" and document["sent"] == []
    assert document["lines"] == [{**LINE, "amount": "3000.00"}]

    pdf = world.get(f"/documents/{issued['id']}/pdf")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")
    assert 'filename="INV-2026-0001.pdf"' in pdf.headers["content-disposition"]
    assert hashlib.sha256(pdf.content).hexdigest() == issued["pdf_sha256"] == document["pdf_sha256"]
    html = world.get(f"/documents/{issued['id']}/html")
    assert html.headers["content-type"].startswith("text/html") and html.headers["content-security-policy"] == "sandbox"
    for shown in ("Invoice INV-2026-0001", "Zoë Łukasz", "Acme &amp; Co", "Fleet renewal", "3000.00 EUR",
                  "Due on 2026-03-31", "Account manager, Seller Ltd"):
        assert shown in html.text, shown

    # Gapless, per kind and per year.
    assert world.issue()["number"] == "INV-2026-0002"
    assert world.issue("quote")["number"] == "Q-2026-0001"
    assert world.issue("contract", deal_id=world.deal)["number"] == "CTR-2026-0001"
    clock.advance(days=310)  # 2027
    assert world.issue(due_on="2027-01-31")["number"] == "INV-2027-0001"
    listed = ok(world.client.get(f"/contacts/{world.zoe}/documents?limit=3"), 200)
    assert [d["number"] for d in listed["items"]] == ["INV-2027-0001", "CTR-2026-0001", "Q-2026-0001"]
    rest = ok(world.client.get(f"/contacts/{world.zoe}/documents?limit=3&cursor={listed['next_cursor']}"), 200)
    assert [d["number"] for d in rest["items"]] == ["INV-2026-0002", "INV-2026-0001"] and rest["next_cursor"] is None


def test_a_template_is_defined_then_revised_and_documents_name_the_version_they_used(world: World) -> None:
    template = {"kind": "quote", "subject": "Our offer {{ document.number }}",
                "body": "Dear {{ contact.first_name }},\n{{ rep.signature }}",
                "html": "<h1>Offer {{ document.number }}</h1><p>For {{ contact.name }}{% if deal %} "
                        "({{ deal.title }}, {{ deal.stage }}){% endif %}</p>"
                        "{% for line in document.lines %}<p>{{ line.description }}: {{ line.amount }}</p>{% endfor %}"}
    assert ok(world.client.put("/document-templates/offer", json=template))["version"] == 1
    first = world.issue("quote", template="offer", deal_id=world.deal)
    assert (first["template"], first["template_version"]) == ("offer", 1)
    assert "For Zoë Łukasz (Fleet renewal, Demo)" in world.get(f"/documents/{first['id']}/html").text

    revised = {**template, "html": "<h1>Offer v2 {{ document.number }}</h1>"}
    assert ok(world.client.put("/document-templates/offer", json=revised), 200)["version"] == 2
    assert ok(world.client.put("/document-templates/offer", json=revised), 200)["version"] == 2  # the same: nothing
    second = world.issue("quote", template="offer")
    assert second["template_version"] == 2 and "Offer v2" in world.get(f"/documents/{second['id']}/html").text
    assert "Offer v2" not in world.get(f"/documents/{first['id']}/html").text  # an issued document stays as issued
    assert world.get("/document-templates/offer?version=1").json()["html"] == template["html"]
    assert world.get("/document-templates/offer").json()["version"] == 2
    world.get("/document-templates/offer?version=3", 404)

    listed = world.get("/document-templates").json()
    assert [(t["name"], t["version"], t["built_in"]) for t in listed["items"]] == [
        ("offer", 2, False), ("quote", 0, True), ("contract", 0, True), ("invoice", 0, True)]
    assert "signature" in listed["variables"]["rep"] and "unit_price" in listed["variables"]["document.lines[]"]

    # A template under a kind's name replaces that kind's default; it cannot make another kind.
    own = {"kind": "invoice", "subject": "Bill {{ document.number }}", "body": "{{ document.total }}",
           "html": "<p>Bill {{ document.number }} due {{ document.due_on }}</p>"}
    ok(world.client.put("/document-templates/invoice", json=own))
    assert world.issue()["template_version"] == 1
    assert_problem(world.client.put("/document-templates/contract", json=own), 422)
    wrong_kind = assert_problem(world.client.post("/documents", json={
        "kind": "invoice", "template": "offer", "contact_id": world.zoe, "currency": "EUR", "lines": [LINE],
        "due_on": "2026-03-31"}), 422)
    assert wrong_kind["errors"][0]["field"] == "template" and "makes a quote" in wrong_kind["detail"]


def test_what_the_contact_wrote_is_escaped_in_the_html(world: World) -> None:
    sneaky = ok(world.client.post("/contacts", json={"first_name": "<script>alert(1)</script>", "last_name": "X",
                                                     "owner_id": world.alice, "email": "sneaky@acme.example"}))["id"]
    issued = world.issue("quote", contact_id=sneaky)
    html = world.get(f"/documents/{issued['id']}/html").text
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize(("field", "change", "says"), [
    ("html", {"html": "<p>\n{{ document.number }</p>"}, "line 2"),
    ("body", {"body": "Hello {{ customer.name }}"}, "'customer'"),
    ("subject", {"subject": "{{ contact.nickname }}"}, "contact.nickname"),
    ("html", {"html": "{% for line in document.lines %}{{ line.price }}{% endfor %}"}, "line.price"),
    ("html", {"html": "<p><img src=\"/etc/passwd\"></p>"}, "images are not supported"),
    ("html", {"html": "<table><tr><th width=\"50%\">a</th><th>b</th></tr></table>"}, "PDF"),
    ("subject", {"subject": "Two\n{{ document.number }}"}, "one line"),
    ("kind", {"kind": "quote"}, "its kind is invoice"),
    ("kind", {"kind": "receipt"}, ""),
])
def test_a_bad_template_is_refused_naming_the_field_and_nothing_is_written(
        world: World, field: str, change: dict[str, str], says: str) -> None:
    good = {"kind": "invoice", "subject": "Invoice {{ document.number }}", "body": "Hello", "html": "<p>Hi</p>"}
    before = world.services.store.max_position()
    problem = assert_problem(world.client.put("/document-templates/invoice", json={**good, **change}), 422)
    assert problem["errors"][0]["field"] == field and says in problem["errors"][0]["message"], problem
    if says == "line 2":
        assert problem["line"] == 2
    assert_problem(world.client.put("/document-templates/Not A Name", json=good), 422)
    assert world.services.store.max_position() == before


def test_a_bad_document_is_refused_naming_the_field_and_nothing_is_written(world: World) -> None:
    before = world.services.store.max_position()

    def refused(status: int, field: str, **body: Any) -> None:
        sent = {"kind": "invoice", "contact_id": world.zoe, "currency": "EUR", "lines": [LINE], "due_on": "2026-03-31",
                **body}
        problem = assert_problem(world.client.post("/documents", json={k: v for k, v in sent.items() if v is not None}),
                                 status)
        assert [e["field"] for e in problem["errors"]] == [field], problem

    refused(422, "due_on", due_on=None)
    refused(422, "due_on", kind="quote")
    refused(422, "due_on", due_on="2026-02-28")
    refused(422, "lines", lines=[])
    refused(422, "lines[0].quantity", lines=[{**LINE, "quantity": "0"}])
    refused(422, "currency", currency="EURO")
    refused(404, "contact_id", contact_id="00000000-0000-4000-8000-000000000000")
    refused(404, "deal_id", deal_id="00000000-0000-4000-8000-000000000000")
    refused(404, "template", template="nonesuch")
    ok(world.client.put("/document-templates/needs-deal", json={
        "kind": "invoice", "subject": "Invoice {{ document.number }}", "body": "x", "html": "<p>{{ deal.title }}</p>"}))
    before = world.services.store.max_position()
    refused(422, "template", template="needs-deal")  # no deal to fill it with
    assert world.services.store.max_position() == before


def test_sending_a_document_emails_its_pdf_and_the_timeline_shows_who_sent_it(
        world: World, services: Services, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    issued = world.issue()
    _, admin = services.api_keys.create(Role.ADMIN, name="admin")
    _, alice = services.api_keys.create(Role.REP, UUID(world.alice), "alice")
    queued = world.client.post(f"/documents/{issued['id']}/send", headers={"Authorization": f"Bearer {alice}"})
    assert queued.status_code == 202, queued.text
    delivery_id = queued.json()["delivery_id"]
    assert queued.json()["id"] == delivery_id and queued.json()["document_id"] == issued["id"]
    headers = {"Authorization": f"Bearer {admin}"}
    [row] = world.client.get("/outbox", headers=headers).json()["items"]
    assert (row["delivery_id"], row["policy"], row["status"]) == (delivery_id, "documents", "pending")

    assert world.dispatcher.run_once() == 1
    mail = inbox.parsed()
    assert (mail["To"], mail["Subject"], mail["Message-ID"]) == ("zoe@acme.example", "Invoice INV-2026-0001",
                                                               f"<{delivery_id}@crm-es>")
    text = mail.get_payload(0).get_payload(decode=True).decode()
    assert text.startswith("Hello Zoë,") and "INV-2026-0001, for 3000.00 EUR, due on 2026-03-31" in text
    [pdf] = attachments(inbox)
    pdf_bytes = world.client.get(f"/documents/{issued['id']}/pdf", headers=headers).content
    assert pdf.get_content_type() == "application/pdf" and pdf.get_payload(decode=True) == pdf_bytes

    document = world.client.get(f"/documents/{issued['id']}", headers=headers).json()
    assert [s["message_id"] for s in document["sent"]] == [delivery_id] and document["version"] == 2
    timeline = world.client.get(f"/contacts/{world.zoe}/timeline?type=email_sent&type=document_sent",
                                headers=headers).json()["items"]
    assert [item["type"] for item in timeline] == ["email_sent", "document_sent"]
    assert {item["actor"] for item in timeline} == {f"rep:{world.alice}"}
    # The cause (the message queued), as the store's timeline has it (the HTTP schema leaves `cause` out).
    causes = timelines.timeline(services.store, UUID(world.zoe), types=["email_sent", "document_sent"]).items
    assert [item["cause"] for item in causes] == [f"{delivery_id}:1"] * 2
    assert timeline[1]["data"] | {"rep_id": None} == {
        "rep_id": None, "deal_id": None, "document_id": issued["id"], "document_kind": "invoice",
        "number": "INV-2026-0001", "message_id": f"<{delivery_id}@crm-es>"}
    # The card counts one e-mail sent, and its version follows the contact's stream.
    position = services.store.max_position()
    card = world.client.get(f"/contacts/{world.zoe}?after={position}", headers=headers).json()
    assert card["emails_sent"] == 1 and card["version"] == services.store.load(Contact, UUID(world.zoe)).version


def test_a_contact_whose_address_bounced_gets_no_document(world: World) -> None:
    issued = world.issue()
    ok(world.client.post(f"/contacts/{world.zoe}/interactions", json={"type": "email_bounced", "bounce": "hard"}))
    before = world.services.store.max_position()
    problem = assert_problem(world.client.post(f"/documents/{issued['id']}/send"), 409, "email-invalid")
    assert problem["field"] == "email"
    assert world.services.store.max_position() == before


def test_an_invoice_is_paid_in_parts_or_voided_and_refused_moves_are_409s(world: World) -> None:
    invoice = world.issue()["id"]
    paid = ok(world.client.post(f"/documents/{invoice}/payments", json={"amount": "1000.00"}), 200)
    assert paid["version"] == 2
    document = world.get(f"/documents/{invoice}").json()
    assert (document["paid"], document["balance"], document["status"]) == ("1000.00", "2000.00", "issued")
    before = world.services.store.max_position()
    overpaid = assert_problem(world.client.post(f"/documents/{invoice}/payments", json={"amount": "2000.01"}), 409,
                              "overpayment")
    assert (overpaid["field"], overpaid["balance"]) == ("amount", "2000.00")
    assert_problem(world.client.post(f"/documents/{invoice}/payments", json={"amount": "10", "currency": "USD"}), 422)
    assert_problem(world.client.post(f"/documents/{invoice}/payments",
                                     json={"amount": "10", "paid_on": "2026-03-05"}), 422)
    assert world.services.store.max_position() == before
    ok(world.client.post(f"/documents/{invoice}/payments", json={"amount": "2000.00", "paid_on": "2026-02-27"}), 200)
    assert world.get(f"/documents/{invoice}").json()["status"] == "paid"
    assert_problem(world.client.post(f"/documents/{invoice}/payments", json={"amount": "1"}), 409, "invoice-paid")
    assert_problem(world.client.post(f"/documents/{invoice}/void", json={"reason": "typo"}), 409, "invoice-paid")

    other = world.issue()["id"]
    voided = ok(world.client.post(f"/documents/{other}/void", json={"reason": "wrong customer"}), 200)
    again = ok(world.client.post(f"/documents/{other}/void", json={"reason": "wrong customer"}), 200)
    assert again["version"] == voided["version"]  # twice writes nothing
    quote = world.issue("quote")["id"]
    before = world.services.store.max_position()
    assert_problem(world.client.post(f"/documents/{other}/payments", json={"amount": "1"}), 409, "document-void")
    assert_problem(world.client.post(f"/documents/{other}/send"), 409, "document-void")
    assert_problem(world.client.post(f"/documents/{quote}/payments", json={"amount": "1"}), 409, "not-an-invoice")
    assert_problem(world.client.post(f"/documents/{quote}/void", json={"reason": "x"}), 409, "not-an-invoice")
    assert_problem(world.client.post("/documents/00000000-0000-4000-8000-000000000000/void", json={"reason": "x"}), 404)
    assert world.services.store.max_position() == before
    # The numbers stay gapless: a voided invoice keeps its number.
    assert world.issue()["number"] == "INV-2026-0003"


def test_retried_commands_write_nothing(world: World) -> None:
    key = {"Idempotency-Key": "issue-1"}
    first = world.issue(headers=key)
    position = world.services.store.max_position()
    again = world.client.post("/documents", headers=key, json={"kind": "invoice", "contact_id": world.zoe,
                                                                "currency": "EUR", "lines": [LINE], "due_on": "2026-03-31"})
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first and again.headers["Location"] == f"/documents/{first['id']}"
    send = world.client.post(f"/documents/{first['id']}/send", headers={"Idempotency-Key": "send-1"})
    position = world.services.store.max_position()
    resent = world.client.post(f"/documents/{first['id']}/send", headers={"Idempotency-Key": "send-1"})
    assert (resent.status_code, resent.json()) == (202, send.json())
    pay = {"Idempotency-Key": "pay-1"}
    paid = ok(world.client.post(f"/documents/{first['id']}/payments", headers=pay, json={"amount": "5"}), 200)
    position = world.services.store.max_position()
    assert ok(world.client.post(f"/documents/{first['id']}/payments", headers=pay, json={"amount": "5"}), 200) == paid
    assert world.services.store.max_position() == position
    assert world.get(f"/documents/{first['id']}").json()["paid"] == "5"
    assert world.issue()["number"] == "INV-2026-0002"
    # A stale If-Match is a 412, nothing written.
    assert_problem(world.client.post(f"/documents/{first['id']}/void", headers={"If-Match": '"1"'},
                                     json={"reason": "x"}), 412)


def test_forgetting_the_contact_shreds_its_documents(world: World, services: Services, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    issued = world.issue()
    ok(world.client.post(f"/documents/{issued['id']}/send"), 202)
    pdf = world.get(f"/documents/{issued['id']}/pdf").content
    stored = b"".join(r.state for r in services.store.read(0, 10_000) if r.originator_id == issued["id"])
    assert b"Zo\\u00eb" not in stored and "Zoë".encode() not in stored and b"Fleet maintenance" not in stored
    assert base64.b64encode(pdf)[:40] not in stored and issued["pdf_sha256"].encode() in stored  # the hash in clear

    ok(world.client.post(f"/contacts/{world.zoe}/forget", json={"reason": "ticket 4711"}), 200)
    assert world.dispatcher.run_once() == 0 and inbox.mails == []  # the queued e-mail is cancelled, not sent
    assert_problem(world.client.get(f"/documents/{issued['id']}/pdf"), 410, "document-erased")
    assert_problem(world.client.get(f"/documents/{issued['id']}/html"), 410, "document-erased")
    document = world.get(f"/documents/{issued['id']}").json()
    assert document["lines"] is None
    assert (document["number"], document["total"], document["pdf_sha256"]) == (
        "INV-2026-0001", "3000.00", hashlib.sha256(pdf).hexdigest())
    [issued_event] = services.store.events(UUID(issued["id"]), lte=1)
    assert isinstance(issued_event, Document.Issued) and (issued_event.pdf, issued_event.html) == (None, None)
    assert_problem(world.client.post(f"/documents/{issued['id']}/send"), 409, "contact-forgotten")
    assert_problem(world.client.post("/documents", json={"kind": "quote", "contact_id": world.zoe, "currency": "EUR",
                                                         "lines": [LINE]}), 409, "contact-forgotten")


def test_a_rep_reads_and_acts_on_the_documents_of_contacts_within_reach(world: World, services: Services) -> None:
    issued = world.issue()
    bob = ok(world.client.post("/reps", json={"name": "Bob", "email": "bob@seller.example"}))["id"]
    _, admin = services.api_keys.create(Role.ADMIN, name="admin")
    _, alice = services.api_keys.create(Role.REP, UUID(world.alice), "alice")
    _, bobs = services.api_keys.create(Role.REP, UUID(bob), "bob")
    position = services.store.max_position()

    def call(token: str, method: str, path: str, body: Any = None) -> Any:
        sep = "&" if "?" in path else "?"
        return world.client.request(method, f"{path}{sep}after={position}" if method == "GET" else path, json=body,
                                    headers={"Authorization": f"Bearer {token}"})

    for path in (f"/documents/{issued['id']}", f"/documents/{issued['id']}/pdf", f"/contacts/{world.zoe}/documents"):
        assert call(alice, "GET", path).status_code == 200, path
        assert_problem(call(bobs, "GET", path), 403, "not-your-record")
    assert_problem(call(bobs, "POST", f"/documents/{issued['id']}/payments", {"amount": "1"}), 403, "not-your-record")
    assert_problem(call(bobs, "POST", "/documents", {"kind": "quote", "contact_id": world.zoe, "currency": "EUR",
                                                     "lines": [LINE]}), 403, "not-your-record")
    # Alice issues for her contact, signed by herself; not in Bob's name.
    mine = ok(call(alice, "POST", "/documents", {"kind": "quote", "contact_id": world.zoe, "currency": "EUR",
                                                 "lines": [LINE]}))
    assert mine["rep_id"] == world.alice
    assert_problem(call(alice, "POST", "/documents", {"kind": "quote", "contact_id": world.zoe, "currency": "EUR",
                                                      "lines": [LINE], "rep_id": bob}), 403, "not-your-record")
    assert call(admin, "GET", f"/documents/{issued['id']}").status_code == 200
