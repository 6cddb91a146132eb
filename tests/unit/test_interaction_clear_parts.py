"""The free text of interactions sealed with the contact's key, and the clear parts kept
beside it (derived when recorded; upcast for events stored before). Pure: no I/O."""

from __future__ import annotations

from datetime import datetime, timezone
from uuid import UUID

import orjson
import pytest

from crm_es.aggregates import contact as contacts
from crm_es.aggregates.base import Meta, new_event
from crm_es.aggregates.clear_parts import host_of, outcome_kind, path_of
from crm_es.aggregates.contact import Contact, ContactDetails
from crm_es.aggregates.interactions import (
    DEFAULT_SESSION_GAP,
    CallLogged,
    DocumentSent,
    EmailBounced,
    EmailClicked,
    EmailOpened,
    EmailReceived,
    EmailSent,
    InteractionSpec,
    PageVisited,
)
from crm_es.policies.lead_scoring import PageRule
from crm_es.store import personal
from crm_es.store.codec import dumps, is_token, upcast

AT = datetime(2026, 1, 1, tzinfo=timezone.utc)
META = Meta(AT, AT, "dev", "req-1")
ADA = UUID(int=1)
KEYS = {str(ADA): personal.new_key()}
SECRET = "xq7-secret"  # in every personal value below, in no clear part


def ada() -> Contact:
    [registered] = contacts.register(ADA, ContactDetails("Ada", "Lovelace", "ada@example.com"), "prospect", None, META)
    return Contact.evolve(None, registered)


def recorded(kind: str, **fields: object):
    [event, *_] = contacts.record_interaction(ada(), InteractionSpec(kind, fields), META, DEFAULT_SESSION_GAP)
    return event


def stored(event) -> dict:
    """The event's JSON as the store keeps it (without the envelope columns)."""
    state = dict(vars(personal.seal_event(event, KEYS)))
    del state["originator_id"], state["originator_version"]
    return orjson.loads(dumps(state))


# --- the clear parts -----------------------------------------------------------------


@pytest.mark.parametrize(("url", "host", "path"), [
    ("https://jean:pw@Shop.Acme.Example.:8443/pricing;jsessionid=AB12?email=jean@x.example#top", "shop.acme.example",
     "/pricing"),
    ("https://acme.example", "acme.example", "/"),
    ("https://acme.example/unsubscribe/jean%40x.example/done", "acme.example", "/unsubscribe/@/done"),
    ("//cdn.acme.example/app.js", "cdn.acme.example", "/app.js"),
    ("/pricing?ref=jean", None, "/pricing"),  # a relative address: its path
    ("call Jean Dupont", None, None),  # free text is no address
    ("mailto:jean@x.example", None, None),
    ("http://[::1", None, None),  # not parsable
    (None, None, None),
])
def test_an_address_keeps_its_host_and_path_only(url: str | None, host: str | None, path: str | None) -> None:
    assert (host_of(url), path_of(url)) == (host, path)


@pytest.mark.parametrize(("outcome", "kind"), [
    ("connected", "connected"), ("No answer", "no_answer"), (" left-voicemail ", "left_voicemail"),
    ("INTERESTED", "interested"), ("Jean says his wife decides", "other"), (None, None),
])
def test_a_call_outcome_keeps_its_kind(outcome: str | None, kind: str | None) -> None:
    assert outcome_kind(outcome) == kind


# --- sealed when stored, the clear parts beside ----------------------------------------


def test_each_free_text_is_sealed_and_its_clear_parts_stay() -> None:
    cases = [
        (recorded("call", direction="outbound", duration_seconds=60, outcome=f"{SECRET} moved", notes=None),
         ("outcome",), {"outcome_kind": "other", "direction": "outbound"}),
        (recorded("email_sent", subject=SECRET, message_id=f"<{SECRET}@mail.example>"), ("subject", "message_id"), {}),
        (recorded("email_received", subject=None, message_id=f"<{SECRET}@mail.example>"), ("message_id",), {}),
        (recorded("email_opened", message_id=f"<{SECRET}@mail.example>"), ("message_id",), {}),
        (recorded("email_clicked", message_id=None, link=f"https://links.acme.example/o?u={SECRET}"), ("link",),
         {"link_host": "links.acme.example"}),
        (recorded("email_bounced", message_id=None, bounce="hard", reason=f"550 {SECRET} unknown"), ("reason",),
         {"bounce": "hard"}),
        (recorded("page_visited", url=f"https://www.acme.example/pricing?e={SECRET}#{SECRET}", title=SECRET,
                  seconds_on_page=5, referrer=f"https://search.example/?q={SECRET}", visitor_id=None, session_id=None),
         ("url", "title", "referrer"),
         {"url_host": "www.acme.example", "url_path": "/pricing", "referrer_host": "search.example",
          "new_session": True}),
    ]
    for event, sealed, clear in cases:
        state = stored(event)
        assert all(is_token(state[name]) for name in sealed), type(event).__name__
        assert {name: state[name] for name in clear} == clear, type(event).__name__
        assert SECRET.encode() not in dumps(state), type(event).__name__
        erased = personal.open_state(type(event), state, ADA, {})  # the key gone: null, the clear parts stay
        assert all(erased[name] is None for name in sealed) and {n: erased[n] for n in clear} == clear


def test_what_the_outbox_records_is_sealed_too() -> None:
    contact = ada()
    message_id = f"<{SECRET}@crm-es>"
    sent = new_event(EmailSent, contact.id, 2, META, rep_id=None, deal_id=None, subject=None, message_id=message_id)
    document = new_event(DocumentSent, contact.id, 3, META, rep_id=None, deal_id=None, document_id=UUID(int=9),
                         document_kind="quote", number="Q-2026-0001", message_id=message_id)
    for event in (sent, document):
        state = stored(event)
        assert is_token(state["message_id"]) and SECRET.encode() not in dumps(state)
    assert stored(document)["number"] == "Q-2026-0001"  # the seller's reference stays in clear


def test_every_interaction_that_names_a_message_seals_its_id() -> None:
    for cls in (EmailSent, EmailReceived, EmailOpened, EmailClicked, EmailBounced, DocumentSent):
        assert "message_id" in cls.personal_fields, cls.__name__


def test_lead_scoring_matches_a_page_by_its_host_and_path() -> None:
    visit = recorded("page_visited", url="https://www.acme.example/Pricing?email=jean@x.example", title=None,
                     seconds_on_page=None, referrer=None, visitor_id=None, session_id=None)
    assert visit.page == "www.acme.example/Pricing"
    assert PageRule(pattern="*/pricing*", points=10).matches(visit.page)
    assert PageRule(match="regex", pattern=r"acme\.example/pricing$", points=1).matches(visit.page)
    assert not PageRule(pattern="*email=*", points=10).matches(visit.page)  # the query string is not read


# --- events stored before the fields were sealed (v1) ----------------------------------


def v1(event) -> dict:
    """The event as v1 stored it: in clear, no class_version, no clear parts."""
    state = orjson.loads(dumps({k: v for k, v in vars(event).items() if k not in ("originator_id", "originator_version")}))
    for name in ("outcome_kind", "link_host", "url_host", "url_path", "referrer_host"):
        state.pop(name, None)
    return state


def test_a_v1_event_stored_in_clear_gets_its_clear_parts_and_stays_readable() -> None:
    call = v1(recorded("call", direction="inbound", duration_seconds=None, outcome="Busy", notes=None))
    click = v1(recorded("email_clicked", message_id="<m1@mail.example>", link="https://links.acme.example/x?u=1"))
    visit = v1(recorded("page_visited", url="https://www.acme.example/demo?u=1", title="Demo", seconds_on_page=None,
                        referrer="https://search.example/?q=crm", visitor_id=None, session_id=None))

    assert upcast(CallLogged, dict(call))["outcome_kind"] == "busy"
    assert upcast(EmailClicked, dict(click))["link_host"] == "links.acme.example"
    upcast_visit = upcast(PageVisited, dict(visit))
    assert (upcast_visit["url_host"], upcast_visit["url_path"], upcast_visit["referrer_host"]) == \
        ("www.acme.example", "/demo", "search.example")
    # old events stay in clear (no re-sealing): read as they were, with or without a key
    opened = personal.readable(PageVisited, dict(visit), ADA, {})
    assert (opened["url"], opened["title"], opened["url_path"]) == ("https://www.acme.example/demo?u=1", "Demo", "/demo")


def test_a_v1_event_whose_value_is_already_sealed_gets_null_clear_parts() -> None:
    token = personal.seal_value("https://www.acme.example/demo", KEYS[str(ADA)], str(ADA))
    call = {**v1(recorded("call", direction="inbound", duration_seconds=None, outcome="busy", notes=None)),
            "outcome": token}
    click = {**v1(recorded("email_clicked", message_id=None, link="https://x.example/")), "link": token}
    visit = {**v1(recorded("page_visited", url="https://x.example/", title=None, seconds_on_page=None,
                           referrer="https://y.example/", visitor_id=None, session_id=None)),
             "url": token, "referrer": token}

    assert upcast(CallLogged, call)["outcome_kind"] is None
    assert upcast(EmailClicked, click)["link_host"] is None
    visit = upcast(PageVisited, visit)
    assert (visit["url_host"], visit["url_path"], visit["referrer_host"]) == (None, None, None)


def test_a_v1_call_without_outcome_has_no_kind() -> None:
    call = v1(recorded("call", direction="inbound", duration_seconds=None, outcome=None, notes=None))
    assert upcast(CallLogged, call)["outcome_kind"] is None


def test_the_clear_parts_are_worked_out_from_what_was_given_not_what_a_caller_says() -> None:
    """A generator may pass every field of the class, the clear parts as None: they are derived anyway."""
    event = recorded("page_visited", url="https://www.acme.example/a", title=None, seconds_on_page=None, referrer=None,
                     visitor_id=None, session_id=None, url_host="spoofed.example", url_path=None, referrer_host=None)
    assert (event.url_host, event.url_path) == ("www.acme.example", "/a")
