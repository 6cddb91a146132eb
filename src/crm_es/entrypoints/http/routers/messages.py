"""/contacts/{id}/messages and /messages/{id}: an e-mail or SMS a person sends a contact,
at once or at a set date and time (F22); what became of it; cancelling it before it goes."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Response
from pydantic import Field

from crm_es.aggregates.base import NotFound
from crm_es.aggregates.message import Message
from crm_es.entrypoints.http.auth import Visible, contact_in_reach
from crm_es.entrypoints.http.deps import Ctx, ReadCursor, ServicesDep
from crm_es.entrypoints.http.answers import MessagePublic
from crm_es.entrypoints.http.respond import answer
from crm_es.entrypoints.http.schemas import CommandAnswer
from crm_es.inputs.fields import Body, Instant
from crm_es.commands import execute
from crm_es.commands.messages import CancelMessage, SendMessage, cancel_message, send_message
from crm_es.queries.sql import jsonable

router = APIRouter(tags=["messages"])


class MessageIn(Body):
    channel: Literal["email", "sms"] = "email"
    subject: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        None, description="an e-mail's subject (an SMS has none)")
    body: Annotated[str, Field(min_length=1, max_length=20_000)]
    send_at: Instant | None = Field(None, description="when to send it, with its offset (default: at once)")
    document_ids: Annotated[list[UUID], Field(max_length=10)] = Field(
        default_factory=list, description="issued documents of this contact, attached as PDFs (e-mail only)")


class CancelIn(Body):
    reason: Annotated[str, Field(min_length=1, max_length=500)] | None = None


class MessageQueued(CommandAnswer):
    delivery_id: UUID = Field(description="the message's id, sent with it for the receiver to drop a second copy")


@router.post("/contacts/{contact_id}/messages", status_code=202, response_model=MessageQueued)
def post_contact_message(contact_id: UUID, body: MessageIn, ctx: Ctx, response: Response) -> dict[str, Any]:
    """An e-mail or SMS to the contact, queued in the outbox: it goes at `send_at` (or at
    once), and lands on the contact's timeline when it has. 409 when the contact has no
    address on that channel or their e-mail bounced. A person's message is not held back by
    the contact-frequency cap, nor stopped by an unsubscribe from the automated sequences."""
    cmd = SendMessage(contact_id, body.channel, body.body, body.subject, body.send_at, tuple(body.document_ids))
    result = execute(send_message, cmd, ctx)
    response.headers["Location"] = f"/messages/{result.id}"
    return {**answer(response, result), "delivery_id": str(result.id)}


@router.get("/messages/{message_id}", response_model=MessagePublic)
def get_message(message_id: UUID, cur: ReadCursor, visible: Visible, services: ServicesDep,
                response: Response) -> dict[str, Any]:
    """A message about a contact within the caller's reach: its text, when it goes, and
    what became of it (pending, held, sent, failed, dead, cancelled)."""
    message = services.store.load(Message, message_id)
    if message is None or message.contact_id is None:  # a webhook is the admins' (GET /outbox)
        raise NotFound("message", message_id)
    contact_in_reach(services.store, cur, visible, message.contact_id)
    response.headers["ETag"] = f'"{message.version}"'
    return jsonable({
        "id": message.id, "version": message.version, "contact_id": message.contact_id, "channel": message.channel,
        "subject": message.subject, "body": message.body, "attachments": list(message.attachments),
        "sent_by": message.actor, "policy": message.policy, "status": message.status, "send_at": message.send_at,
        "queued_at": message.queued_at, "next_attempt_at": message.next_attempt_at, "sent_at": message.sent_at,
        "attempts": message.attempts, "last_error": message.last_error,
    })


@router.post("/messages/{message_id}/cancel", response_model=CommandAnswer)
def post_message_cancel(message_id: UUID, ctx: Ctx, response: Response, body: CancelIn | None = None) -> dict[str, Any]:
    """Not sent after all: a message still waiting (for its time, the cap, or a retry) is
    cancelled. 409 once it has gone (or was given up on, or cancelled)."""
    reason = body.reason if body is not None else None
    return answer(response, execute(cancel_message, CancelMessage(message_id, reason), ctx))
