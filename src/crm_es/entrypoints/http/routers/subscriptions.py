"""/contacts/{id}/unsubscribe: a contact's unsubscribe from the automated sequences —
what stops those messages at their source."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Response
from pydantic import Field

from crm_es.entrypoints.http.deps import Ctx
from crm_es.entrypoints.http.respond import answer
from crm_es.entrypoints.http.schemas import CommandAnswer
from crm_es.inputs.fields import Body
from crm_es.commands import execute
from crm_es.commands.subscriptions import Unsubscribe, unsubscribe

router = APIRouter(tags=["contacts"])


class UnsubscribeIn(Body):
    reason: Annotated[str, Field(max_length=500, description="free text (personal data: erased with the contact)")] | None = None


@router.post("/contacts/{contact_id}/unsubscribe", response_model=CommandAnswer)
def post_unsubscribe(contact_id: UUID, ctx: Ctx, response: Response, body: UnsubscribeIn | None = None) -> dict[str, Any]:
    """The person wants no more automated sequences: the drip sequences running for them
    stop, they are never enrolled again, and the lifecycle touches send them no e-mail. Answers with the contact's unsubscription
    record; sending it again records nothing."""
    body = body or UnsubscribeIn()
    return answer(response, execute(unsubscribe, Unsubscribe(contact_id, body.reason), ctx))
