"""The interactions' bodies: one model per type, told apart by ``type`` (API.md:
``{type, occurred_at?, rep_id?, deal_id?, then the type's own fields}``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union, get_args
from uuid import UUID

from pydantic import BaseModel, Field, TypeAdapter, create_model

from crm_es.aggregates.interactions import InteractionSpec
from crm_es.inputs.fields import Body, Email, Instant, Name, Text

Seconds = Annotated[int, Field(ge=0, le=7 * 86_400)]
Minutes = Annotated[int, Field(ge=0, le=7 * 1_440)]
Url = Annotated[str, Field(min_length=1, max_length=4000)]
Line = Annotated[str, Field(max_length=998)]  # an e-mail header line's limit (RFC 5322)
EventId = Annotated[str, Field(min_length=1, max_length=200, description="the sender's id: a re-sent item is a duplicate")]
MeetingMode = Literal["on_site", "phone", "video"]


class InteractionBase(Body):
    occurred_at: Instant | None = Field(default=None, description="when it happened (default: now)")
    rep_id: UUID | None = Field(default=None, description="who did it (default: the rep whose key this is)")
    deal_id: UUID | None = Field(default=None, description="the deal it concerns: the deal records it too")
    event_id: EventId | None = None


class Call(InteractionBase):
    type: Literal["call"]
    direction: Literal["inbound", "outbound"] = "outbound"
    duration_seconds: Seconds | None = None
    outcome: Name | None = Field(default=None, description="connected, no_answer, busy, left_voicemail, …")
    notes: Text | None = None


class EmailSent(InteractionBase):
    type: Literal["email_sent"]
    subject: Line | None = None
    message_id: Line | None = None


class EmailReceived(InteractionBase):
    type: Literal["email_received"]
    subject: Line | None = None
    message_id: Line | None = None


class EmailOpened(InteractionBase):
    type: Literal["email_opened"]
    message_id: Line | None = None


class EmailClicked(InteractionBase):
    type: Literal["email_clicked"]
    link: Url
    message_id: Line | None = None


class EmailBounced(InteractionBase):
    type: Literal["email_bounced"]
    bounce: Literal["hard", "soft"] = Field(description="hard: the address does not exist (it is marked invalid)")
    message_id: Line | None = None
    reason: Text | None = None


class Voicemail(InteractionBase):
    type: Literal["voicemail"]
    duration_seconds: Seconds | None = None
    notes: Text | None = None


class MeetingHeld(InteractionBase):
    type: Literal["meeting_held"]
    mode: MeetingMode | None = None
    duration_minutes: Minutes | None = None
    notes: Text | None = None


class MeetingMissed(InteractionBase):
    type: Literal["meeting_missed"]
    mode: MeetingMode | None = None
    notes: Text | None = None


class Demo(InteractionBase):
    type: Literal["demo"]
    duration_minutes: Minutes | None = None
    notes: Text | None = None


class Visit(InteractionBase):
    type: Literal["visit"]
    duration_minutes: Minutes | None = None
    notes: Text | None = None


class PageVisited(InteractionBase):
    type: Literal["page_visited"]
    url: Url
    title: Line | None = None
    seconds_on_page: Seconds | None = None
    referrer: Url | None = None
    visitor_id: EventId | None = None
    session_id: EventId | None = None


class QuoteOpened(InteractionBase):
    type: Literal["quote_opened"]
    quote_id: Name


class Note(InteractionBase):
    type: Literal["note"]
    text: Annotated[str, Field(min_length=1, max_length=10_000)]


class SmsSent(InteractionBase):
    type: Literal["sms_sent"]
    text: Annotated[str, Field(min_length=1, max_length=1_600)]


InteractionIn = Annotated[
    Call | EmailSent | EmailReceived | EmailOpened | EmailClicked | EmailBounced | Voicemail | MeetingHeld
    | MeetingMissed | Demo | Visit | PageVisited | QuoteOpened | Note | SmsSent,
    Field(discriminator="type"),
]
INTERACTION = TypeAdapter(InteractionIn)

COMMON = frozenset({"type", "occurred_at", "rep_id", "deal_id", "event_id"})


def own_fields(body: InteractionBase) -> dict[str, Any]:
    """The type's own fields (what its event records beside the common ones)."""
    return body.model_dump(exclude=set(COMMON))


def spec_of(body: InteractionBase) -> InteractionSpec:
    """The interaction as the command takes it."""
    return InteractionSpec(body.type, own_fields(body), body.rep_id, body.deal_id)  # type: ignore[attr-defined]


MAX_BATCH = 10_000


class BatchIn(BaseModel):
    items: list[dict[str, Any]] = Field(
        min_length=1, max_length=MAX_BATCH,
        description="each an interaction body plus `contact_id` or `email` naming its contact; "
        "checked one by one: a bad item is an error in its own answer",
    )


class BatchTarget(BaseModel):
    """How a batch item names its contact; the rest of the item is an interaction body."""

    contact_id: UUID | None = None
    email: Email | None = None


# --- the batch as its route reads it: one parse, one validation (batch_body.py) --------------
# BatchIn documents the body; the route reads it with BatchInOnePass, where pydantic-core
# parses and validates every item at once (in Rust). An item that is not a valid interaction
# naming its contact is kept as it came, and checked on its own as before (BatchTarget, then
# INTERACTION): its errors are named the same way, and it never fails the others.

_NOT_OWN = COMMON | {"contact_id", "email"}


def _naming_its_contact(kind: type[InteractionBase]) -> type[InteractionBase]:
    return create_model(f"{kind.__name__}Item", __base__=kind, contact_id=(UUID | None, None),  # type: ignore[call-overload]
                        email=(Email | None, None))


BatchItemIn = Annotated[
    Union[tuple(_naming_its_contact(kind) for kind in get_args(get_args(InteractionIn)[0]))],  # type: ignore[misc]  # noqa: UP007
    Field(discriminator="type"),
]


class BatchInOnePass(BaseModel):
    items: list[Annotated[BatchItemIn | dict[str, Any], Field(union_mode="left_to_right")]] = Field(
        min_length=1, max_length=MAX_BATCH)


def item_own_fields(item: InteractionBase) -> dict[str, Any]:
    """``own_fields`` of a batch item, read from the model as validated: every field of an
    interaction is a plain value (text, a number, a choice), so this is what ``model_dump``
    gives, without its cost on 10,000 items."""
    return {name: value for name, value in vars(item).items() if name not in _NOT_OWN}
