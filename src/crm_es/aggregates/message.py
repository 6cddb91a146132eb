"""A message to the outside world (an e-mail, an SMS, a webhook call) queued by a policy,
and what became of its delivery: sent, failed and retried later, given up on, or
cancelled (the person was forgotten before it went).

A policy never sends: it queues (``queue``), and the outbox's dispatcher delivers. Each
decision here gives the events AND the message's outbox row (store.schema.OUTBOX_COLUMNS),
saved in one transaction, so the row always says what the events say. The delivery id
the receiver dedups on is the message's id.

An e-mail may carry documents (``attachments``: their ids; the dispatcher attaches their
PDFs when it sends), and may be held until ``send_at`` (not sent before: its row is due then).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import orjson

from crm_es.aggregates.base import Aggregate, Event, InvalidInput, Meta, RuleViolated, new_event

EMAIL, SMS, WEBHOOK = "email", "sms", "webhook"
CHANNELS = (EMAIL, SMS, WEBHOOK)
PENDING, SENT, FAILED, DEAD, CANCELLED, HELD = "pending", "sent", "failed", "dead", "cancelled", "held"
STATUSES = (PENDING, SENT, FAILED, DEAD, CANCELLED, HELD)
OPEN = frozenset({PENDING, FAILED, HELD})  # still to be delivered
MAX_ERROR = 500  # characters of a delivery error kept: enough to tell what went wrong

OutboxRow = tuple[Any, ...]


def utc_text(moment: datetime) -> str:
    """A time as the outbox stores it: ISO-8601 in UTC, always with microseconds and
    "+00:00", so that the text's order is the time's order (the due query compares text)."""
    if moment.tzinfo is None:
        raise ValueError("an outbox time must be timezone-aware")
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Message(Aggregate):
    channel: str
    contact_id: UUID | None
    to: str | None  # None once the contact is forgotten (with subject and body)
    subject: str | None
    body: str | None
    policy: str
    correlation_id: str
    status: str
    attempts: int
    queued_at: datetime
    next_attempt_at: datetime
    last_error: str | None = None  # what went wrong, or why it was cancelled (a person's note: theirs)
    sent_at: datetime | None = None
    attachments: tuple[UUID, ...] = ()  # documents whose PDFs the e-mail carries
    send_at: datetime | None = None  # not to be sent before
    actor: str = ""  # who queued it: a policy (policy:<name>) or a person (a rep sending a document)
    cancelled_because: str | None = None  # the service's words for a cancel, never the canceller's note

    @property
    def forgotten(self) -> bool:
        """The person it is about was forgotten: its sealed fields opened as None."""
        return self.contact_id is not None and self.to is None

    class Queued(Event):
        # To whom and what: the person's, sealed with their key. A message about no
        # contact (a webhook to a team's tool) has no one to seal it for: kept in clear.
        personal_fields = ("to", "subject", "body")
        subject_field = "contact_id"
        # v2: ``attachments`` (document ids: which documents the e-mail carries, no personal
        # data in itself) and ``send_at`` (not to be sent before; None: at once).
        class_version = 2

        channel: str
        contact_id: UUID | None
        to: str
        subject: str | None
        body: str
        policy: str
        attachments: tuple[UUID, ...]
        send_at: datetime | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["attachments"] = []  # a v1 message carried nothing
            state["send_at"] = None  # and went at once

    class Sent(Event):
        attempt: int

    class Failed(Event):
        # A receiver's error may quote the person's address: sealed like the message.
        personal_fields = ("error",)
        subject_field = "contact_id"

        contact_id: UUID | None
        attempt: int
        error: str
        next_attempt_at: datetime

    class DeadLettered(Event):
        """Given up on after the last attempt failed."""

        personal_fields = ("error",)
        subject_field = "contact_id"

        contact_id: UUID | None
        attempt: int
        error: str

    class Cancelled(Event):
        """Not sent. ``reason`` is the service's words (who cancelled it, or why it could not go:
        the contact was forgotten, its document voided), kept in clear for the outbox row;
        ``note`` is the words of the person who cancelled it ("she called first"), free text
        about the contact, sealed with their key like the message itself."""

        personal_fields = ("note",)
        subject_field = "contact_id"
        # v2: ``note`` and ``contact_id`` (whose key seals it). A v1 reason was the person's
        # words or the service's, stored as given: it stays in clear.
        class_version = 2

        reason: str
        contact_id: UUID | None
        note: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["contact_id"] = None
            state["note"] = None

    class HeldBack(Event):
        """Not sent now: the contact-frequency cap (F37) is reached; due again ``until``,
        when the window frees a place. Not an attempt: delivery has not been tried."""

        personal_fields = ()  # the cap's figures, never the person's data
        subject_field = "contact_id"

        contact_id: UUID | None
        reason: str
        until: datetime

    @classmethod
    def evolve(cls, state: Message | None, event: Event) -> Message:
        if isinstance(event, Message.Queued):
            return Message(event.originator_id, event.originator_version, event.channel, event.contact_id, event.to,
                           event.subject, event.body, event.policy, event.correlation_id, PENDING, 0, event.timestamp,
                           event.send_at or event.timestamp, attachments=tuple(event.attachments),
                           send_at=event.send_at, actor=event.actor)
        assert state is not None
        state = state.moved_on(version=event.originator_version)
        match event:
            case Message.Sent():
                return state.moved_on(status=SENT, attempts=event.attempt, sent_at=event.timestamp,
                                      next_attempt_at=event.timestamp)
            case Message.Failed():
                return state.moved_on(status=FAILED, attempts=event.attempt, last_error=event.error,
                                      next_attempt_at=event.next_attempt_at)
            case Message.DeadLettered():
                return state.moved_on(status=DEAD, attempts=event.attempt, last_error=event.error,
                                      next_attempt_at=event.timestamp)
            case Message.Cancelled():
                return state.moved_on(status=CANCELLED, last_error=event.note or event.reason,
                                      cancelled_because=event.reason, next_attempt_at=event.timestamp)
            case Message.HeldBack():  # the row's last_error says why it waits (GET /outbox shows it)
                return state.moved_on(status=HELD, last_error=event.reason, next_attempt_at=event.until)
        raise TypeError(f"Message cannot apply {type(event).__qualname__}")


def outbox_row(message: Message) -> OutboxRow:
    """The message's row in the outbox, in OUTBOX_COLUMNS order: what the dispatcher
    selects on, and what GET /outbox shows (never the address, the text, or a canceller's note:
    the row is in clear and stays when the person is forgotten)."""
    error = message.cancelled_because if message.status == CANCELLED else message.last_error
    return (str(message.id), message.policy, message.channel,
            None if message.contact_id is None else str(message.contact_id), message.status, message.attempts,
            utc_text(message.next_attempt_at), error, utc_text(message.queued_at),
            None if message.sent_at is None else utc_text(message.sent_at))


def _decided(message: Message, events: list[Event]) -> tuple[list[Event], OutboxRow]:
    for event in events:
        message = Message.evolve(message, event)
    return events, outbox_row(message)


def _check(channel: str, to: str, subject: str | None, body: str) -> None:
    if channel not in CHANNELS:
        raise InvalidInput("channel", f"unknown channel {channel!r} (known: {', '.join(CHANNELS)})")
    if not to.strip():
        raise InvalidInput("to", "a message needs a recipient")
    if channel == EMAIL and "@" not in to:
        raise InvalidInput("to", "an e-mail goes to an address with an @")
    if channel == WEBHOOK:
        if not to.startswith(("http://", "https://")):
            raise InvalidInput("to", "a webhook goes to an http(s) URL")
        try:
            orjson.loads(body)
        except orjson.JSONDecodeError:
            raise InvalidInput("body", "a webhook's body is JSON text") from None
    if channel != EMAIL and subject is not None:
        raise InvalidInput("subject", "only an e-mail has a subject")
    # A line break in an address or a subject would add headers of its own.
    for field, value in (("to", to), ("subject", subject or "")):
        if "\r" in value or "\n" in value:
            raise InvalidInput(field, f"no line breaks in {'a recipient' if field == 'to' else 'a subject'}")


def queue(message_id: UUID, channel: str, to: str, body: str, policy: str, meta: Meta, *,
          contact_id: UUID | None = None, subject: str | None = None, attachments: tuple[UUID, ...] = (),
          send_at: datetime | None = None) -> tuple[list[Event], OutboxRow]:
    """A new message, due now (or at ``send_at``: its outbox row is due then). Give it an
    id derived from its cause (see policies.base.task_for): a policy reacting twice queues it once."""
    _check(channel, to, subject, body)
    if send_at is not None and send_at.tzinfo is None:
        raise InvalidInput("send_at", "send_at needs a time zone (an offset)")
    queued = new_event(Message.Queued, message_id, 1, meta, channel=channel, contact_id=contact_id, to=to,
                       subject=subject, body=body, policy=policy, attachments=tuple(attachments), send_at=send_at)
    return [queued], outbox_row(Message.evolve(None, queued))


def _require_open(message: Message, action: str) -> None:
    if message.status not in OPEN:
        raise RuleViolated("message-closed", f"message is {message.status}: it cannot be {action}",
                           message_status=message.status)


def sent(message: Message, meta: Meta) -> tuple[list[Event], OutboxRow]:
    _require_open(message, "sent")
    return _decided(message, [message.then(Message.Sent, meta, attempt=message.attempts + 1)])


def exponential_backoff(attempt: int) -> timedelta:
    """How long to wait after the ``attempt``-th failure: 1 min, 2, 4 … capped at 6 h."""
    return min(timedelta(minutes=1) * 2 ** min(attempt - 1, 20), timedelta(hours=6))


def failed(message: Message, error: str, max_attempts: int, meta: Meta,
           backoff: Callable[[int], timedelta] = exponential_backoff) -> tuple[list[Event], OutboxRow]:
    """A delivery attempt failed: tried again after the backoff, or, when it was the
    last one allowed, dead-lettered."""
    _require_open(message, "retried")
    attempt = message.attempts + 1
    error = redacted(error, message)
    if attempt >= max_attempts:
        event: Event = message.then(Message.DeadLettered, meta, contact_id=message.contact_id, attempt=attempt, error=error)
    else:
        event = message.then(Message.Failed, meta, contact_id=message.contact_id, attempt=attempt, error=error,
                             next_attempt_at=meta.recorded_at + backoff(attempt))
    return _decided(message, [event])


def hold_back(message: Message, reason: str, until: datetime, meta: Meta) -> tuple[list[Event], OutboxRow]:
    """Keep the message until ``until`` (the cap): it is sent then, not dropped."""
    _require_open(message, "held back")
    return _decided(message, [message.then(Message.HeldBack, meta, contact_id=message.contact_id, reason=reason,
                                           until=until)])


def header_message_id(message_id: UUID) -> str:
    """The e-mail's Message-ID header (RFC 5322, with its angle brackets): what a tracking
    client reports back as an open's or a click's ``message_id``, and what the EmailSent
    interaction records, so the three name the same message."""
    return f"<{message_id}@crm-es>"


def cancel(message: Message, reason: str, meta: Meta, note: str | None = None) -> tuple[list[Event], OutboxRow]:
    """``reason``: the service's words (kept in clear); ``note``: a person's own (sealed)."""
    _require_open(message, "cancelled")
    return _decided(message, [message.then(Message.Cancelled, meta, reason=reason, contact_id=message.contact_id,
                                           note=note)])


def redacted(error: str, message: Message) -> str:
    """The error without the recipient's address (a server's refusal often quotes it, in
    whatever case): the outbox row and the service's log keep it in clear."""
    if message.to:
        error = re.sub(re.escape(message.to), "<recipient>", error, flags=re.IGNORECASE)
    return error[:MAX_ERROR]
