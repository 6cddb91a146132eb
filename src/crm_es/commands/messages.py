"""A message a person sends a contact, at once or at a set date and time (F22): an e-mail
(with documents attached, if they like) or an SMS, queued in the outbox, which delivers it
when ``send_at`` comes; and cancelling one that has not gone yet.

Whoever may change the contact may write to them. A person's message is not an automated
one: the contact-frequency cap does not hold it back, and an unsubscribe (from the
automated sequences) does not stop it. It lands on the contact's timeline once sent, named
after its sender.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from crm_es.aggregates import Contact
from crm_es.aggregates import document as documents
from crm_es.aggregates import message as messages
from crm_es.aggregates.base import InvalidInput, RuleViolated
from crm_es.aggregates.contact import forgotten_refusal
from crm_es.aggregates.document import Document
from crm_es.aggregates.message import EMAIL, SMS, Message
from crm_es.channels import check_configured
from crm_es.commands.context import CommandContext, CommandResult, NotYours

SENDER = "messages"  # the outbox's `policy` column for the messages people write
LATE = timedelta(minutes=5)  # a send_at this far in the past is a mistake, not "at once"
FURTHEST = timedelta(days=366)
ACCEPTED = 202  # queued: the outbox delivers it


@dataclass(frozen=True)
class SendMessage:
    contact_id: UUID
    channel: str  # email | sms
    body: str
    subject: str | None = None
    send_at: datetime | None = None  # None: at once
    document_ids: tuple[UUID, ...] = ()


@dataclass(frozen=True)
class CancelMessage:
    message_id: UUID
    reason: str | None = None


def send_message(cmd: SendMessage, ctx: CommandContext) -> CommandResult:
    """Queued in the outbox (202); the answer names the message, whose id is the delivery id.
    Refused (409 channel-not-configured) when this service has no sender for the channel."""
    contact = ctx.load(Contact, cmd.contact_id)
    ctx.check_reach(contact)
    if contact.forgotten:
        raise forgotten_refusal(contact.id)
    now = ctx.clock.now()
    if cmd.send_at is not None:
        if cmd.send_at.tzinfo is None:
            raise InvalidInput("send_at", "send_at needs a time zone (an offset such as +01:00, or Z)")
        if cmd.send_at < now - LATE:
            raise InvalidInput("send_at", "send_at is in the past: leave it out to send at once")
        if cmd.send_at > now + FURTHEST:
            raise InvalidInput("send_at", "send_at is more than a year ahead")
    if cmd.document_ids and cmd.channel != EMAIL:
        raise InvalidInput("document_ids", "only an e-mail carries documents")
    to = _address(contact, cmd.channel)
    for i, document_id in enumerate(cmd.document_ids):
        document = ctx.referenced(Document, document_id, f"document_ids[{i}]")
        if document.contact_id != contact.id:
            raise InvalidInput(f"document_ids[{i}]", f"document {document_id} is not one of this contact's")
        documents.check_sendable(document)
    # At once or later, a message on a channel with no sender could only fail in the outbox.
    check_configured(ctx.channels, cmd.channel, "channel")
    message_id = ctx.new_id()
    events, row = messages.queue(message_id, cmd.channel, to, cmd.body, SENDER, ctx.meta(), contact_id=contact.id,
                                 subject=cmd.subject if cmd.channel == EMAIL else None,
                                 attachments=tuple(dict.fromkeys(cmd.document_ids)), send_at=cmd.send_at)
    return ctx.save(message_id, events, outbox=[row], status=ACCEPTED)


def cancel_message(cmd: CancelMessage, ctx: CommandContext) -> CommandResult:
    """A message not yet sent (waiting for its time, held back, or failing) is not sent."""
    message = ctx.load(Message, cmd.message_id)
    if message.contact_id is None:  # a webhook to a team's tool: the admins' business
        raise NotYours(f"message {message.id} is about no contact")
    ctx.check_reach(ctx.load(Contact, message.contact_id))
    ctx.check_version(message)
    # The canceller's words are about the contact: a sealed note, not the row's reason.
    events, row = messages.cancel(message, f"cancelled by {ctx.actor}", ctx.meta(), note=cmd.reason)
    return ctx.save(message.id, events, current_version=message.version, outbox=[row])


def _address(contact: Contact, channel: str) -> str:
    if channel == EMAIL:
        if not contact.details.email:
            raise RuleViolated("no-address", f"contact {contact.id} has no e-mail address", field="channel")
        if contact.email_invalid:
            raise RuleViolated("email-invalid", f"contact {contact.id}'s e-mail address bounced: give them a working "
                               "one first", field="channel")
        return contact.details.email
    if channel == SMS:
        if not contact.details.phone:
            raise RuleViolated("no-address", f"contact {contact.id} has no phone number", field="channel")
        return contact.details.phone
    raise InvalidInput("channel", f"a person writes an e-mail or an SMS, not {channel!r}")

