"""The outbox's dispatcher: delivers the messages policies queued, and records what
became of each (crm_es.aggregates.message), its events and its outbox row in one save.
It also fires the policies' timers when they are due (crm_es.aggregates.timer).

At least once: a message is sent, then recorded as sent; a crash in between sends it
again at the next round, with the same delivery id for the receiver to drop the copy.
A failed delivery is tried again after a growing wait, and given up on (dead) after
``max_attempts``. A message about a person forgotten meanwhile is not sent: cancelled.
One failing receiver delays only its own messages. A message over the contact-frequency
cap (caps.py, when switched on) is held back until the window frees a place.

An e-mail carrying documents (F25) gets their PDFs, opened with the contact's key: a
document whose contact was forgotten cancels the message (nothing left to send), as does
a document voided meanwhile. Once it has gone, each document records ``Document.Sent``
and the contact's timeline shows ``document_sent`` beside the ``email_sent``, named after
whoever queued the message (a rep, or the policy) and caused by the message it asked for.

A message on a channel this dispatcher has no sender for (no SMTP server configured, say)
is left as it is: not tried, not failed, not given up on, nothing written; it goes once
the channel is configured. Its automation's status says it waits (policies/runtime.status);
a person's send on such a channel is refused before it is queued (crm_es.channels).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from uuid import UUID

from crm_es.aggregates import document as documents
from crm_es.aggregates import timer as timers
from crm_es.aggregates.base import Event, Meta, new_event
from crm_es.aggregates.contact import Contact
from crm_es.aggregates.document import VOID, Document
from crm_es.aggregates.interactions import DocumentSent, EmailSent, SmsSent
from crm_es.aggregates.message import (
    OPEN,
    PENDING,
    Message,
    OutboxRow,
    cancel,
    exponential_backoff,
    failed,
    header_message_id,
    hold_back,
    outbox_row,
    redacted,
    sent,
    utc_text,
)
from crm_es.aggregates.policy import PolicySettings, policy_id
from crm_es.aggregates.timer import Timer
from crm_es.clock import Clock
from crm_es.commands.unit_of_work import UnitOfWork
from crm_es.outbox import caps
from crm_es.outbox.senders import Attachment, Sender
from crm_es.store import EventStore
from crm_es.store.event_store import IntegrityError, SubjectForgotten

log = logging.getLogger("crm_es.outbox")

ACTOR = "outbox"
FORGOTTEN = "the contact was forgotten"
RETRIES = 5
PDF = "application/pdf"


class Undeliverable(Exception):
    """What the message carries cannot go any more (its document was shredded or voided)."""


class Dispatcher:
    def __init__(self, store: EventStore, clock: Clock, senders: Mapping[str, Sender], max_attempts: int = 8,
                 backoff: Callable[[int], timedelta] = exponential_backoff, page: int = 100) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts is at least 1")
        self.store, self.clock, self.senders = store, clock, senders
        # What this dispatcher looks at: the timers, and the messages it has a sender for.
        self._channels = (timers.CHANNEL, *senders)
        self.max_attempts, self.backoff, self.page = max_attempts, backoff, page

    def run_once(self) -> int:
        """Deliver every message due now; returns how many were sent."""
        now, done, sent_count = self.clock.now(), set(), 0
        paused = self._paused()
        while True:
            # Due as of the round's start: a message failing now is due later, not again here.
            rows = self.store.outbox.due(utc_text(now), self._channels, paused, self.page + len(done))
            due = [(delivery_id, channel) for delivery_id, channel in rows if delivery_id not in done]
            if not due:
                return sent_count
            for delivery_id, channel in due:
                done.add(delivery_id)
                try:
                    sent_count += self._fire(delivery_id) if channel == timers.CHANNEL else self._deliver(delivery_id)
                except Exception:  # this message stays due; the others go on
                    log.exception("outbox: delivering %s failed", delivery_id)

    def next_due(self) -> datetime | None:
        """When the next message is due (perhaps already), or None when none waits."""
        at = self.store.outbox.next_due(self._channels, self._paused())
        return None if at is None else datetime.fromisoformat(at)

    def _paused(self) -> tuple[str, ...]:
        """The automations switched off, whose timers are not looked at (nor are the messages
        of the channels with no sender here: they wait, see the module). Such a timer waits
        and fires once its automation is on again: fired now, it would be passed over, and
        what waited on it (a sequence's next step) would wait for ever."""
        names = self.store.outbox.policies_with_timers()
        states = self.store.load_many([(PolicySettings, policy_id(name)) for name in names]) if names else []
        return tuple(name for name, state in zip(names, states, strict=True) if state is not None and not state.enabled)

    def _fire(self, timer_id: str) -> int:
        """A timer's time has come: ``Timer.Fired`` and its row, saved together (the
        policy that set it reacts to the event). Not a message: counts for nothing sent."""
        timer = self.store.load(Timer, UUID(timer_id))
        if timer is None:
            log.error("outbox: timer row %s has no timer in the log", timer_id)
            return 0
        now = self.clock.now()
        if timer.status != PENDING:  # the row lags its events (not expected: saved together)
            self._append([], [timers.outbox_row(timer)])
            return 0
        events, rows = timers.fire(timer, Meta(now, now, ACTOR, timer.correlation_id, f"{timer.id}:{timer.version}"))
        try:
            self._append(events, rows)
        except IntegrityError:  # another dispatcher fired it first, or the policy cancelled it meanwhile
            log.warning("outbox: timer %s was recorded elsewhere first", timer.id)
        return 0

    def _deliver(self, delivery_id: str) -> int:
        message = self.store.load(Message, UUID(delivery_id))
        if message is None:
            log.error("outbox: row %s has no message in the log", delivery_id)
            return 0
        if message.status not in OPEN:  # the row lags its events (not expected: saved together)
            self._append([], [outbox_row(message)])
            return 0
        now = self.clock.now()
        meta = Meta(now, now, ACTOR, message.correlation_id, f"{message.id}:{message.version}")
        if self._forgotten(message):
            return self._save(message, *cancel(message, FORGOTTEN, meta))
        try:
            attachments = self._attachments(message)
        except Undeliverable as why:
            return self._save(message, *cancel(message, str(why), meta))
        if (held := self._held_back(message, now)) is not None:
            return self._save(message, *hold_back(message, *held, meta))
        sender = self.senders.get(message.channel)
        try:
            if sender is None:
                # Not expected: such messages are not picked (self._channels); kept as a guard.
                raise LookupError(f"no sender is configured for {message.channel} messages")
            sender.send(message, delivery_id, attachments)
        except Exception as error:
            # Not the error as it came: a server's refusal quotes the address (the log is kept in clear).
            log.warning("outbox: %s message %s not delivered: %s", message.channel, delivery_id,
                        redacted(str(error), message))
            return self._save(message, *failed(message, str(error), self.max_attempts, meta, self.backoff))
        for _ in range(RETRIES):  # the contact may be changed by another writer meanwhile: read it again
            events, row = sent(message, meta)
            try:
                return self._save(message, [*events, *self._on_timeline(message, now)], row, conflicts=True)
            except IntegrityError:
                continue
        return self._save(message, *sent(message, meta))  # sent, if not on the card

    def _attachments(self, message: Message) -> list[Attachment]:
        """The PDFs of the documents the message carries, as issued (opened with their
        contact's key). Undeliverable when one is shredded (its contact forgotten) or voided."""
        files = []
        for document_id in message.attachments:
            events = self.store.events(document_id)
            if not events or not isinstance(events[0], Document.Issued):
                raise Undeliverable(f"the attached document {document_id} does not exist")
            issued, document = events[0], Document.fold(events)
            if issued.pdf is None:
                raise Undeliverable(FORGOTTEN)
            if document.status == VOID:
                raise Undeliverable(f"the attached document {document.number} was voided")
            files.append(Attachment(f"{document.number}.pdf", PDF, base64.b64decode(issued.pdf)))
        return files

    def _on_timeline(self, message: Message, now: datetime) -> list[Event]:
        """What went out, on the contact's card as an interaction: who queued it as its actor
        (the automation, or the rep who sent a document), the message as its cause (e-mails
        and SMS; a webhook is not about a person); and on each document it carried."""
        meta = Meta(now, now, message.actor or f"policy:{message.policy}", message.correlation_id, f"{message.id}:1")
        carried = [d for d in self.store.load_many([(Document, i) for i in message.attachments]) if d is not None] \
            if message.attachments else []
        on_documents = [e for d in carried for e in documents.record_sent(d, message.id, meta)]
        contact = self.store.load(Contact, message.contact_id) if message.contact_id else None
        if contact is None or contact.forgotten or message.channel not in ("email", "sms"):
            return on_documents
        if message.channel == "sms":
            return [new_event(SmsSent, contact.id, contact.version + 1, meta, rep_id=None, deal_id=None, text=message.body),
                    *on_documents]
        message_id = header_message_id(message.id)
        on_card: list[Event] = [new_event(EmailSent, contact.id, contact.version + 1, meta, rep_id=None, deal_id=None,
                                          subject=message.subject, message_id=message_id)]
        for document in carried:
            on_card.append(new_event(DocumentSent, contact.id, contact.version + len(on_card) + 1, meta, rep_id=None,
                                     deal_id=None, document_id=document.id, document_kind=document.kind,
                                     number=document.number, message_id=message_id))
        return [*on_card, *on_documents]

    def _held_back(self, message: Message, now: datetime) -> tuple[str, datetime] | None:
        """Why and until when the contact-frequency cap holds this message back (None: it
        may go). The cap is read from the log at each delivery: set or lifted, it applies at once."""
        if message.contact_id is None or message.channel not in caps.CAPPED_CHANNELS:
            return None
        if message.actor and not message.actor.startswith("policy:"):
            return None  # a person sent it (a rep's document): the cap is on automated messages
        cap = caps.current_cap(self.store.load)
        if cap is None:
            return None
        until = cap.held_until(caps.sent_in_window(self.store.outbox, str(message.contact_id), cap, now))
        return None if until is None else (cap.reason(), until)

    def _forgotten(self, message: Message) -> bool:
        """Also asks the key table: a state remembered by the store from before the
        person was forgotten still holds the fields in clear."""
        if message.contact_id is None:
            return False
        return message.forgotten or not self.store.keys.for_reading({str(message.contact_id)})

    def _append(self, events: list[Event], rows: list[OutboxRow]) -> None:
        """The events and their messages' rows in one transaction, through the write
        pipeline's unit of work (rows alone when the row lags its events)."""
        work = UnitOfWork(self.store)
        work.save(events, outbox=rows)
        work.commit()

    def _save(self, message: Message, events: list[Event], row: OutboxRow, conflicts: bool = False) -> int:
        """``conflicts``: an IntegrityError is the caller's to handle (it retries)."""
        try:
            self._append(events, [row])
        except IntegrityError:  # another dispatcher recorded this message first
            if conflicts and self.store.load(Message, message.id) == message:
                raise  # not the message: the contact changed under us

            log.warning("outbox: message %s was recorded by another dispatcher", message.id)
            return 0
        except SubjectForgotten:  # forgotten between the check and the save (an error quoting them)
            meta = Meta(events[0].timestamp, events[0].timestamp, ACTOR, message.correlation_id,
                        f"{message.id}:{message.version}")
            cancelled, row = cancel(message, FORGOTTEN, meta)
            self._append(cancelled, [row])
            return 0
        return int(any(isinstance(e, Message.Sent) for e in events))

