"""Interactions: every call, e-mail, visit and click, each its own event on the contact
it concerns — and, when it names a deal, mirrored on that deal (``Deal.InteractionRecorded``).

Each class has the fields of its kind; all share who (``rep_id``) and which deal
(``deal_id``). ``kind`` is the name clients use (``"call"``, ``"page_visited"`` …).
Free text and identifiers of a person are personal fields, sealed with the contact's key:
notes, texts, subjects, a call's outcome, Message-IDs (they often hold an address), links,
pages' addresses, titles and referrers, a bounce's reason. What analytics and automations
need of them stays in clear in fields worked out when the fact is recorded (``derived``:
a call's ``outcome_kind``, a page's host and path …, see clear_parts.py). Events stored
before a field was sealed keep it in clear (no re-sealing migration).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from crm_es.aggregates.base import Event
from crm_es.aggregates.clear_parts import host_of, outcome_kind, path_of, plain


class Interaction(Event):
    """What every interaction records besides its own fields."""

    recorded_on = "Contact"  # the aggregate whose stream holds it (see Aggregate.owns)
    kind = ""
    changes_state = False  # a call logged late is not a change of the contact's standing

    rep_id: UUID | None
    deal_id: UUID | None

    @classmethod
    def derived(cls, fields: dict[str, Any]) -> dict[str, Any]:
        """The clear fields worked out from the given ones (the sealed ones among them), at
        write time: what stays of them once the person is forgotten."""
        return {}


class CallLogged(Interaction):
    """v2 sealed ``outcome`` (a rep may type anything, a name too) and keeps its kind in clear."""

    kind = "call"
    personal_fields = ("outcome", "notes")
    class_version = 2

    direction: str  # inbound | outbound
    duration_seconds: int | None
    outcome: str | None  # connected, no_answer, busy, left_voicemail, wrong_number, … (free list)
    outcome_kind: str | None  # the outcome if one of clear_parts.CALL_OUTCOMES, else "other"; None: no outcome
    notes: str | None

    @classmethod
    def derived(cls, fields: dict[str, Any]) -> dict[str, Any]:
        return {"outcome_kind": outcome_kind(fields.get("outcome"))}

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["outcome_kind"] = outcome_kind(plain(state.get("outcome")))


class EmailSent(Interaction):
    kind = "email_sent"
    # A subject line often names the person; a Message-ID often holds an address.
    personal_fields = ("subject", "message_id")

    subject: str | None
    message_id: str | None


class EmailReceived(Interaction):
    kind = "email_received"
    personal_fields = ("subject", "message_id")

    subject: str | None
    message_id: str | None


class EmailOpened(Interaction):
    kind = "email_opened"
    personal_fields = ("message_id",)

    message_id: str | None


class EmailClicked(Interaction):
    """v2 sealed ``link`` (its query string may name the person) and keeps its host in clear."""

    kind = "email_clicked"
    personal_fields = ("message_id", "link")
    class_version = 2

    message_id: str | None
    link: str
    link_host: str | None  # None: the link is not an absolute address

    @classmethod
    def derived(cls, fields: dict[str, Any]) -> dict[str, Any]:
        return {"link_host": host_of(fields.get("link"))}

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["link_host"] = host_of(plain(state.get("link")))


class EmailBounced(Interaction):
    """A hard bounce (the address does not exist) also marks the e-mail invalid."""

    kind = "email_bounced"
    personal_fields = ("message_id", "reason")  # a server's reason often quotes the address

    message_id: str | None
    bounce: str  # hard | soft
    reason: str | None


class VoicemailLeft(Interaction):
    kind = "voicemail"
    personal_fields = ("notes",)

    duration_seconds: int | None
    notes: str | None


class MeetingHeld(Interaction):
    kind = "meeting_held"
    personal_fields = ("notes",)

    mode: str | None  # on_site | phone | video
    duration_minutes: int | None
    notes: str | None


class MeetingMissed(Interaction):
    kind = "meeting_missed"
    personal_fields = ("notes",)

    mode: str | None
    notes: str | None


class DemoGiven(Interaction):
    kind = "demo"
    personal_fields = ("notes",)

    duration_minutes: int | None
    notes: str | None


class CustomerVisited(Interaction):
    """A rep went to see the customer (a page visit is ``PageVisited``)."""

    kind = "visit"
    personal_fields = ("notes",)

    duration_minutes: int | None
    notes: str | None


class PageVisited(Interaction):
    """``new_session``: the first page after a gap (a return visit), decided when recorded.
    v2 sealed the address, title and referrer; their hosts and the path stay in clear."""

    kind = "page_visited"
    # Online identifiers are personal data (GDPR recital 30); an address's query string, a
    # page's title ("Welcome back, Jean") and a referrer may name the person.
    personal_fields = ("url", "title", "referrer", "visitor_id", "session_id")
    class_version = 2

    url: str
    url_host: str | None
    url_path: str | None  # without query string or fragment (see clear_parts.path_of)
    title: str | None
    seconds_on_page: int | None
    referrer: str | None
    referrer_host: str | None
    visitor_id: str | None
    session_id: str | None
    new_session: bool

    @classmethod
    def derived(cls, fields: dict[str, Any]) -> dict[str, Any]:
        url = fields.get("url")
        return {"url_host": host_of(url), "url_path": path_of(url), "referrer_host": host_of(fields.get("referrer"))}

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        url = plain(state.get("url"))
        state.update(url_host=host_of(url), url_path=path_of(url), referrer_host=host_of(plain(state.get("referrer"))))

    @property
    def page(self) -> str:
        """The page as automations match it: host and path (``acme.example/pricing``)."""
        return f"{self.url_host or ''}{self.url_path or ''}"


class QuoteOpened(Interaction):
    """``quote_id`` stays in clear: the seller's reference of its quote (as a document's
    number is), what opens are counted by."""

    kind = "quote_opened"

    quote_id: str


class NoteAdded(Interaction):
    """A note on the contact, visible to every user (F13)."""

    kind = "note"
    personal_fields = ("text",)

    text: str


class SmsSent(Interaction):
    kind = "sms_sent"
    personal_fields = ("text",)

    text: str


class DocumentSent(Interaction):
    """A document (F25) went out by e-mail: recorded by the outbox beside the ``email_sent``
    of the message that carried it, so the timeline says which document it was. The
    service records it, never a client: it is not one of ``KINDS`` (the types clients
    send), and the customer card counts the e-mail, not this."""

    kind = "document_sent"
    personal_fields = ("message_id",)

    document_id: UUID
    document_kind: str  # quote | contract | invoice (``kind`` is the interaction's type)
    number: str
    message_id: str  # the e-mail's Message-ID, as its email_sent has it


KINDS: dict[str, type[Interaction]] = {
    cls.kind: cls
    for cls in (
        CallLogged, EmailSent, EmailReceived, EmailOpened, EmailClicked, EmailBounced, VoicemailLeft, MeetingHeld,
        MeetingMissed, DemoGiven, CustomerVisited, PageVisited, QuoteOpened, NoteAdded, SmsSent,
    )
}

# A rep reaching out or answering: what "last contacted" means on the customer card.
TOUCHES = frozenset({"call", "email_sent", "email_received", "voicemail", "meeting_held", "demo", "visit", "sms_sent"})

DEFAULT_SESSION_GAP = timedelta(minutes=30)


@dataclass(frozen=True)
class InteractionSpec:
    """One interaction as a command asks for it: its kind and its own fields."""

    kind: str
    fields: dict[str, Any] = field(default_factory=dict)
    rep_id: UUID | None = None
    deal_id: UUID | None = None


def is_new_session(last_visit_at: datetime | None, occurred_at: datetime, gap: timedelta) -> bool:
    """A page visit starts a session when no visit came within ``gap`` before it. Judged
    against the latest visit known: a visit recorded late, before that one, is judged
    against it too (the contact keeps one time, not every visit)."""
    return last_visit_at is None or abs(occurred_at - last_visit_at) >= gap
