"""A contact unsubscribing from the automated sequences (POST /contacts/{id}/unsubscribe)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from crm_es.aggregates import unsubscription as unsubscriptions
from crm_es.aggregates.contact import Contact, forgotten_refusal
from crm_es.aggregates.unsubscription import Unsubscription, unsubscription_id
from crm_es.commands.context import CommandContext, CommandResult


@dataclass(frozen=True)
class Unsubscribe:
    contact_id: UUID
    reason: str | None = None


def unsubscribe(cmd: Unsubscribe, ctx: CommandContext) -> CommandResult:
    """Recorded on the contact's unsubscription record (the answer names it); whoever may
    change the contact may record it. Twice records nothing."""
    contact = ctx.check_reach(ctx.load(Contact, cmd.contact_id))
    if contact.forgotten:
        raise forgotten_refusal(contact.id)
    record_id = unsubscription_id(contact.id)
    state = ctx.store.load(Unsubscription, record_id)
    events = unsubscriptions.unsubscribe(state, contact.id, cmd.reason, ctx.meta())
    return ctx.save(record_id, events, current_version=state.version if state else 0)
