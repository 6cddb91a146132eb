"""The record pages: a contact's (deals, next step, score and why, a note and a task from
the page, the timeline filtered by type and period), a deal's and a company's — each as the
JSON API reads it for the same key (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_pages import Element, World, bearer, csrf_of, dom, ok, sign_in, world

from crm_es.bootstrap import Services
from crm_es.clock import FrozenClock
from crm_es.outbox.dispatcher import Dispatcher
from crm_es.outbox.senders import SmtpSender
from tests.policies import conftest as policy_fixtures
from tests.policies.conftest import Inbox, configure_smtp


@pytest.fixture
def w(client: TestClient, services: Services, clock: FrozenClock) -> World:
    """The world of web_pages.py (1 March); a call on Rob's contact on 2 March, a note on the
    3rd, a task planned for the 5th; Rita's deal lost on the 4th."""
    w = world(client, services)
    rob = w.ids["rob_contact"]
    clock.advance(days=1)
    w.write("POST", f"/contacts/{rob}/interactions", {"type": "call", "notes": "Asked for a quote", "outcome": "connected",
                                                      "deal_id": w.ids["rob_deal"]})
    clock.advance(days=1)
    w.write("POST", f"/contacts/{rob}/interactions", {"type": "note", "text": "Prefers mornings"})
    w.ids["task"] = w.write("POST", "/tasks", {"type": "demo", "title": "Demo the fleet app", "contact_id": rob,
                                               "deal_id": w.ids["rob_deal"], "owner_id": w.ids["rob"],
                                               "due_at": "2026-03-05T10:00:00Z"})["id"]
    clock.advance(days=1)
    w.write("POST", f"/deals/{w.ids['rita_deal']}/lost", {"reason": "Went with a cheaper offer"}, 200)
    assert services.projector.wait_for(w.position, 10)
    return w


def api(w: World, who: str, path: str, **params: Any) -> Any:
    return ok(w.client.get(path, params=params, headers=bearer(w, who)), 200)


def positions(page: Element) -> list[int]:
    return [int(event.attrs["data-position"]) for event in page.one("#timeline").all("li.event")]


def newest_first(answer: dict[str, Any]) -> list[int]:
    return [item["position"] for item in answer["items"]][::-1]


# --- a contact's page ----------------------------------------------------------------------

def test_a_contacts_page_shows_its_open_deals_next_step_and_score_as_the_api(w: World) -> None:
    sign_in(w.client, w.tokens["rob"])
    contact = w.ids["rob_contact"]
    page = dom(w.client.get(f"/app/contacts/{contact}").text)
    card = api(w, "rob", f"/contacts/{contact}")
    assert [li.attrs["data-deal-id"] for li in page.one("#open-deals").all("li")] == [w.ids["rob_deal"]]
    assert card["next_step"]["id"] == w.ids["task"] and "Demo the fleet app" in page.one(".next-step").text
    score = api(w, "rob", f"/contacts/{contact}/score")
    assert page.one(".lead-score").text == str(score["score"])
    assert len(page.all("tr.score-change")) == len(score["changes"])
    assert page.one(".company").one("a").attrs["href"] == f"/app/companies/{w.ids['company']}"


@pytest.mark.parametrize("query", [{"type": "call"}, {"type": ["call", "note"]}, {"from": "2026-03-03"},
                                   {"from": "2026-03-02", "to": "2026-03-02"}, {"to": "2026-03-01", "type": "contact_registered"}],
                         ids=str)
def test_the_timeline_filtered_by_type_and_period_is_the_json_timelines(w: World, query: dict[str, Any]) -> None:
    contact = w.ids["rob_contact"]
    sign_in(w.client, w.tokens["rob"])
    page = dom(w.client.get(f"/app/contacts/{contact}", params=query).text)
    asked: dict[str, Any] = {"type": query["type"]} if "type" in query else {}
    if "from" in query:
        asked["from"] = f"{query['from']}T00:00:00Z"
    if "to" in query:  # the page's "to" is a whole day: up to the next day's start
        asked["to"] = f"{query['to'][:-2]}{int(query['to'][-2:]) + 1:02d}T00:00:00Z"
    expected = newest_first(api(w, "rob", f"/contacts/{contact}/timeline", **asked))
    assert positions(page) == expected and expected
    everything = dom(w.client.get(f"/app/contacts/{contact}").text)
    assert len(positions(everything)) > len(positions(page))
    offered = {box.attrs["value"] for box in page.one("#timeline-filters").all("input[name=type]")}
    assert {"call", "note", "contact_registered"} <= offered


@pytest.mark.parametrize(("query", "field"), [({"type": "telepathy"}, "query.type"),
                                              ({"from": "2026-03-05", "to": "2026-03-01"}, "query.to"),
                                              ({"from": "March"}, "query.from")])
def test_a_bad_timeline_filter_gets_a_422_page_naming_it(w: World, query: dict[str, str], field: str) -> None:
    sign_in(w.client, w.tokens["rob"])
    answer = w.client.get(f"/app/contacts/{w.ids['rob_contact']}", params=query)
    assert answer.status_code == 422 and field in answer.text


def test_a_note_and_a_task_sent_as_the_page_sends_them_show_on_the_page(w: World) -> None:
    contact = w.ids["rob_contact"]
    sign_in(w.client, w.tokens["rob"])
    page = dom(w.client.get(f"/app/contacts/{contact}").text)
    assert page.all("form#add-note") and page.all("form#schedule-task")
    assert page.one("form#schedule-task").attrs["data-owner-id"] == w.ids["rob"]
    headers = {"X-CSRF-Token": csrf_of(page)}
    note = ok(w.client.post(f"/contacts/{contact}/interactions", json={"type": "note", "text": "Call back Friday"},
                            headers={**headers, "Idempotency-Key": "note-1"}))
    task = ok(w.client.post("/tasks", json={"type": "call", "title": "Call back", "due_at": "2026-03-04T08:00:00Z",
                                            "contact_id": contact, "owner_id": w.ids["rob"]},
                            headers={**headers, "Idempotency-Key": "task-1"}))
    again = dom(w.client.get(f"/app/contacts/{contact}", params={"after": max(note["position"], task["position"])}).text)
    newest = again.one("#timeline").all("li.event")[0]
    assert newest.attrs["data-type"] == "note" and "Call back Friday" in newest.text
    assert "Call back" in again.one(".next-step").text  # due on the 4th, before the demo on the 5th


def test_an_auditor_reads_a_contacts_page_with_no_form(w: World) -> None:
    sign_in(w.client, w.tokens["auditor"])
    page = dom(w.client.get(f"/app/contacts/{w.ids['rob_contact']}").text)
    assert page.one("#timeline").all("li.event") and not page.all(".write")


# --- a deal's page -------------------------------------------------------------------------

def test_a_deals_page_shows_the_deal_and_its_timeline_as_the_api(w: World) -> None:
    sign_in(w.client, w.tokens["mia"])
    for deal_id in (w.ids["rob_deal"], w.ids["rita_deal"]):
        page = dom(w.client.get(f"/app/deals/{deal_id}").text)
        deal = api(w, "mia", f"/deals/{deal_id}")
        assert page.one("h1.title").text == deal["title"]
        assert page.one(".stage").text == deal["stage"] and page.one(".status").attrs["data-status"] == deal["status"]
        assert page.one(".amount").attrs["data-amount"] == deal["amount"]
        assert [a.attrs["href"] for a in page.one(".contacts").all("a")] == [f"/app/contacts/{c}" for c in deal["contact_ids"]]
        assert positions(page) == newest_first(api(w, "mia", f"/deals/{deal_id}/timeline"))
    lost = dom(w.client.get(f"/app/deals/{w.ids['rita_deal']}").text)
    assert lost.one(".lost-reason").text == "Went with a cheaper offer"
    assert lost.one("#timeline").all("li.event")[0].attrs["data-type"] == "deal_lost"
    filtered = dom(w.client.get(f"/app/deals/{w.ids['rob_deal']}", params={"type": "call"}).text)
    assert positions(filtered) == newest_first(api(w, "mia", f"/deals/{w.ids['rob_deal']}/timeline", type="call"))
    assert len(positions(filtered)) == 1


@pytest.mark.parametrize(("who", "path", "status"), [("rob", "eve_deal", 403), ("analyst", "rob_deal", 403),
                                                     ("rob", None, 404)])
def test_a_deal_out_of_reach_or_unknown_gets_a_refusal_page(w: World, who: str, path: str | None, status: int) -> None:
    sign_in(w.client, w.tokens[who])
    deal_id = w.ids[path] if path else "00000000-0000-4000-8000-000000000000"
    answer = w.client.get(f"/app/deals/{deal_id}")
    assert answer.status_code == status and "text/html" in answer.headers["content-type"]
    assert "Eve's fleet" not in answer.text


# --- a company's page ----------------------------------------------------------------------

@pytest.mark.parametrize("who", ["admin", "mia", "rob"])
def test_a_companys_page_lists_its_contacts_and_deals_in_the_callers_reach(w: World, who: str) -> None:
    company = w.ids["company"]
    sign_in(w.client, w.tokens[who])
    page = dom(w.client.get(f"/app/companies/{company}").text)
    assert page.one("h1.name").text == api(w, who, f"/companies/{company}")["name"]
    contacts = [c["id"] for c in api(w, who, "/contacts", company=company, limit=1000)["items"]]
    deals = [d["id"] for d in api(w, who, "/deals", company=company, limit=1000)["items"]]
    assert [li.attrs["data-contact-id"] for li in page.one("#company-contacts").all("li")] == contacts
    assert [li.attrs["data-deal-id"] for li in page.one("#company-deals").all("li")] == deals
    assert (w.ids["eve_deal"] in deals) == (who == "admin") and w.ids["rob_deal"] in deals  # East is out of West's reach


def test_a_french_browser_reads_a_deal_in_french(w: World) -> None:
    sign_in(w.client, w.tokens["rob"])
    page = dom(w.client.get(f"/app/deals/{w.ids['rob_deal']}", headers={"Accept-Language": "fr"}).text)
    assert page.one(".status").text == "en cours" and "Prochaine étape" in page.one("#record").text


def test_every_event_type_of_a_timeline_has_a_name_in_both_languages() -> None:
    from crm_es.entrypoints.web.i18n import LABELS
    from crm_es.queries.timeline import TOPICS_OF

    for lang in ("en", "fr"):
        assert [kind for kind in TOPICS_OF if f"type.{kind}" not in LABELS[lang]] == [], lang


smtp = policy_fixtures.smtp  # a real SMTP server in the test process, as tests/policies has it


def test_a_quote_issued_and_an_email_sent_from_a_contacts_page_reach_the_contact(
        w: World, services: Services, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    configure_smtp(services, port)
    dispatcher = Dispatcher(services.store, services.clock, {"email": SmtpSender(f"smtp://127.0.0.1:{port}", "sales@seller.example")})
    contact = w.ids["rob_contact"]
    sign_in(w.client, w.tokens["rob"])
    page = dom(w.client.get(f"/app/contacts/{contact}").text)
    assert page.all("form#send-email") and page.all("form#issue-document") and page.one("#documents").all("li.empty")
    headers = {"X-CSRF-Token": csrf_of(page)}
    issued = ok(w.client.post("/documents", json={  # as console.js sends the form
        "kind": "quote", "contact_id": contact, "currency": "EUR",
        "lines": [{"description": "Fleet app, 12 months", "quantity": "3", "unit_price": "250.00"}]},
        headers={**headers, "Idempotency-Key": "quote-1"}))
    page = dom(w.client.get(f"/app/contacts/{contact}", params={"after": issued["position"]}).text)
    [item] = page.one("#documents").all("li.document")
    assert item.attrs["data-document-id"] == issued["id"] and issued["number"] in item.text
    assert item.all("button.send-document")
    assert [box.attrs["value"] for box in page.one("form#send-email").all("input[name=document_ids]")] == [issued["id"]]

    queued = w.client.post(f"/contacts/{contact}/messages", json={
        "channel": "email", "subject": "Your quote", "body": "Here it is.", "document_ids": [issued["id"]]},
        headers={**headers, "Idempotency-Key": "mail-1"})
    assert queued.status_code == 202, queued.text
    assert dispatcher.run_once() == 1
    mail = inbox.parsed()
    assert (mail["To"], mail["Subject"]) == ("client.rob@example.com", "Your quote")
    assert services.projector.wait_for(services.store.max_position(), 10)
    page = dom(w.client.get(f"/app/contacts/{contact}").text)
    newest = page.one("#timeline").all("li.event")[:2]  # the e-mail, and the quote it carried
    assert {event.attrs["data-type"] for event in newest} == {"email_sent", "document_sent"}


def test_each_event_of_a_timeline_wears_an_icon_of_its_kind(w: World) -> None:
    from crm_es.entrypoints.web.timeline_part import icon
    from crm_es.queries.timeline import TOPICS_OF

    sign_in(w.client, w.tokens["rob"])
    page = dom(w.client.get(f"/app/contacts/{w.ids['rob_contact']}").text)
    for event in page.one("#timeline").all("li.event"):
        assert event.one(".icon").text == icon(event.attrs["data-type"]) != "•"
    assert icon("call") != icon("note") and icon("email_opened") == icon("email_sent")
    assert all(icon(kind) != "•" for kind in TOPICS_OF)  # every type of a timeline has one
