"""What the reads answer, as pydantic models (full-stack-fastapi-template's `DealPublic`,
`ContactPublic` …): the OpenAPI document's response schemas, from what the queries in
crm_es/queries really return.

A body may grow new fields (API.md), and other parts add them as they go: every answer
model keeps the fields it does not declare (``extra="allow"``, `additionalProperties` in
the document), so a model never drops one. The field types are the JSON the queries
already make — times and money as text, checked but never re-spelt — so a model
describes an answer without changing it.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, WithJsonSchema


class Answer(BaseModel):
    model_config = ConfigDict(extra="allow")


def _as_text(value: Any) -> Any:
    """A value a query left as a Python object, written as FastAPI would have written it."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return _JSON.dump_python(value, mode="json")
    return value


_JSON: TypeAdapter[Any] = TypeAdapter(Any)


def absent(value: Any) -> bool:
    """For a field an answer carries only sometimes: left out of the body when it has none."""
    return value is None

# A time with its offset, as the store or the read side wrote it (ISO 8601 / RFC 3339).
Timestamp = Annotated[str, BeforeValidator(_as_text), WithJsonSchema({"type": "string", "format": "date-time"})]
Day = Annotated[str, BeforeValidator(_as_text), WithJsonSchema({"type": "string", "format": "date"})]
# Money, probabilities and quantities: exact decimals, as text ("12000.00").
DecimalText = Annotated[str, BeforeValidator(_as_text),
                        WithJsonSchema({"type": "string", "format": "decimal", "examples": ["12000.00"]})]
RepName = Annotated[str | None, Field(description="the rep's name now, beside their id (null: none)")]
Properties = Annotated[dict[str, Any] | None, Field(description="the custom properties (null once a person is forgotten)")]


class Page(Answer):
    """A page of a list: `next_cursor` names the next one (null: the last). Pages also
    come as CSV (`Accept: text/csv`)."""

    items: list[Any]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last one")


# What every record of the read side carries (declared in each model, where its table has
# them: a model's fields keep the table's order, which CSV pages show as their columns).
CreatedAt = Annotated[Timestamp, Field(description="business time of the record's first event")]
UpdatedAt = Annotated[Timestamp, Field(description="business time of its latest change")]
Version = Annotated[int, Field(description="the record's version: send it back as If-Match")]
Position = Annotated[int, Field(description="log position of its latest event: a read with ?after= it shows it")]


# --- the set-up ---------------------------------------------------------------------


class RepPublic(Answer):
    id: UUID
    name: str
    email: str | None
    team_id: UUID | None
    active: bool = Field(description="false once deactivated: the rep keeps their records and gets no new ones")
    deactivated_at: Timestamp | None
    created_at: CreatedAt
    updated_at: UpdatedAt
    version: Version
    position: Position


class RepPage(Page):
    items: list[RepPublic]


class TeamPublic(Answer):
    id: UUID
    name: str
    manager_id: UUID | None
    created_at: CreatedAt
    updated_at: UpdatedAt
    version: Version
    position: Position


class TeamDetail(TeamPublic):
    member_ids: list[UUID] = Field(description="the team's reps, by name")


class TeamPage(Page):
    items: list[TeamPublic]


class StagePublic(Answer):
    id: UUID
    name: str
    probability: DecimalText = Field(description="0 to 1")


class PipelinePublic(Answer):
    id: UUID
    name: str
    created_at: CreatedAt
    updated_at: UpdatedAt
    version: Version
    position: Position
    stages: list[StagePublic] = Field(description="in order")


class PipelinePage(Page):
    items: list[PipelinePublic]


# --- companies, contacts, deals, tasks ----------------------------------------------


class CompanyPublic(Answer):
    id: UUID
    name: str
    sector: str | None
    annual_revenue: DecimalText | None
    properties: Properties
    created_at: CreatedAt
    updated_at: UpdatedAt
    version: Version
    position: Position


class CompanyPage(Page):
    items: list[CompanyPublic]


class NextStep(Answer):
    """The earliest open task of a contact or a deal."""

    id: UUID
    type: str
    title: str | None
    due_at: Timestamp
    owner_id: UUID | None


class ContactPublic(Answer):
    id: UUID
    first_name: str | None = Field(description="null once the contact is forgotten (as every personal field)")
    last_name: str | None
    email: str | None
    phone: str | None
    job_title: str | None
    company_id: UUID | None
    city: str | None
    source: str | None
    status: str | None
    owner_id: UUID | None
    tags: list[str] | None
    properties: Properties
    forgotten_at: Timestamp | None
    created_at: CreatedAt
    updated_at: UpdatedAt
    version: Version
    position: Position
    calls: int | None
    emails_sent: int | None
    emails_received: int | None
    emails_opened: int | None
    emails_clicked: int | None
    page_visits: int | None
    sessions: int | None
    meetings_held: int | None
    meetings_missed: int | None
    interactions: int | None
    last_contacted_at: Timestamp | None = Field(description="the last call, e-mail, meeting, visit, demo, voicemail or SMS")
    last_activity_at: Timestamp | None
    email_invalid: bool | None = Field(description="a hard bounce said the address does not exist")
    lifecycle: str | None
    lifecycle_changed_at: Timestamp | None
    roles: list[str] | None = Field(description="the roles held at `company_id`")


class ContactCard(ContactPublic):
    """One contact, with what the customer card shows beside its record."""

    next_step: NextStep | None
    open_deals: int = Field(description="open deals it is a contact of")


class ContactPage(Page):
    items: list[ContactPublic]


class DealPublic(Answer):
    id: UUID
    title: str | None = Field(description="null once a contact the deal named is forgotten (it may name them)")
    pipeline_id: UUID
    stage_id: UUID | None
    stage: str | None
    status: str = Field(description="open, won or lost")
    amount: DecimalText
    currency: str
    owner_id: UUID | None
    owner_name: RepName
    contact_ids: list[UUID] | None
    company_id: UUID | None
    source: str | None
    expected_close: Day | None
    properties: Properties
    stage_entered_at: Timestamp | None
    closed_at: Timestamp | None
    lost_reason: str | None = Field(description="free text: null once a contact the deal named is forgotten")
    lost_to: str | None = Field(description="the competitor a lost deal went to")
    created_at: CreatedAt
    updated_at: UpdatedAt
    version: Version
    position: Position


class DealDetail(DealPublic):
    next_step: NextStep | None


class DealPage(Page):
    items: list[DealPublic]


class TaskPublic(Answer):
    id: UUID
    type: str
    title: str | None
    due_at: Timestamp
    duration_minutes: int | None
    owner_id: UUID | None = Field(description="the rep whose agenda holds it")
    contact_id: UUID | None
    deal_id: UUID | None
    status: str = Field(description="open, done or cancelled")
    done_at: Timestamp | None
    done_recorded_at: Timestamp | None
    done_by: str | None
    outcome: str | None
    notes: str | None
    created_at: CreatedAt
    updated_at: UpdatedAt
    version: Version
    position: Position
    colour: str | None = Field(description="its activity type's colour")


class TaskPage(Page):
    items: list[TaskPublic]


class ActivityTypePublic(Answer):
    name: str
    label: str
    colour: str


class ActivityTypeList(Answer):
    items: list[ActivityTypePublic]


class AgendaItem(Answer):
    id: UUID
    type: str
    colour: str | None
    title: str | None
    due_at: Timestamp = Field(description="in the agenda's time zone")
    duration_minutes: int | None
    owner_id: UUID
    contact_id: UUID | None
    deal_id: UUID | None
    status: str = Field(description="open or done")
    overdue: bool = Field(description="open and due before now")


class Agenda(Answer):
    rep_id: UUID
    date: Day
    tz: str
    items: list[AgendaItem] = Field(description="overdue open tasks first, then by due time")


# --- timelines, the feed, interactions ----------------------------------------------


class TimelineItem(Answer):
    position: int
    type: str = Field(description="an interaction's type (call, page_visited …) or what happened to the record "
                      "(contact_registered, deal_stage_changed …)")
    occurred_at: Timestamp
    recorded_at: Timestamp
    actor: str
    cause: str | None = Field(None, description="the event that caused it (`record:version`): what an automation "
                              "reacted to, the message an e-mail sent was")
    data: dict[str, Any]


class TimelinePage(Page):
    items: list[TimelineItem]


class FeedItem(TimelineItem):
    record_type: str = Field(description="contact or deal")
    record_id: UUID
    owner_id: UUID | None
    owner_name: RepName
    title: str | None = Field(description="the deal's title, the contact's name")


class FeedPage(Page):
    items: list[FeedItem]


class ItemError(Answer):
    status: int
    rule: str
    detail: str
    field: str | None = None
    errors: list[dict[str, str]] | None = None


class ItemOut(Answer):
    index: int
    status: Literal["accepted", "duplicate", "error"]
    id: UUID | None = Field(default=None, description="the contact")
    error: ItemError | None = None


class BatchOut(Answer):
    results: list[ItemOut]
    accepted: int
    duplicates: int
    errors: int


class ScoreChange(Answer):
    occurred_at: Timestamp
    recorded_at: Timestamp
    points: int
    score: int
    reason: str | None
    rule: str | None
    cause: str | None
    position: int


class LeadScore(Answer):
    contact_id: UUID
    score: int
    as_of: Timestamp | None
    changes: list[ScoreChange] = Field(description="the last 50, newest first")


# --- documents and messages ---------------------------------------------------------


class DocumentLine(Answer):
    description: str
    quantity: DecimalText
    unit_price: DecimalText
    amount: DecimalText


class DocumentSending(Answer):
    message_id: UUID
    sent_at: Timestamp


class DocumentPublic(Answer):
    id: UUID
    version: int
    kind: str = Field(description="quote, contract or invoice")
    number: str
    template: str
    template_version: int
    contact_id: UUID
    deal_id: UUID | None
    rep_id: UUID | None
    issued_on: Day
    due_on: Day | None
    total: DecimalText
    currency: str
    pdf_sha256: str
    status: str
    issued_at: Timestamp
    lines: list[DocumentLine] | None = Field(description="null once the contact is forgotten")
    paid: DecimalText
    balance: DecimalText
    sent: list[DocumentSending]


class DocumentPage(Page):
    items: list[DocumentPublic]


class DocumentTemplatePublic(Answer):
    name: str
    kind: str
    version: int = Field(description="0: the built-in one")
    built_in: bool
    subject: str
    body: str
    html: str


class DocumentTemplateList(Answer):
    items: list[DocumentTemplatePublic]
    variables: dict[str, list[str]] = Field(description="what a template may use: each object's attributes")


class MessagePublic(Answer):
    id: UUID
    version: int
    contact_id: UUID
    channel: str
    subject: str | None
    body: str | None
    attachments: list[UUID] = Field(description="the documents whose PDFs it carries")
    sent_by: str | None
    policy: str | None
    status: str = Field(description="pending, held, sent, failed, dead or cancelled")
    send_at: Timestamp | None
    queued_at: Timestamp | None
    next_attempt_at: Timestamp | None
    sent_at: Timestamp | None
    attempts: int
    last_error: str | None


# --- automations and the service ----------------------------------------------------


class PolicyStatus(Answer):
    name: str
    description: str
    enabled: bool
    settings: dict[str, Any]
    position: int = Field(description="how far in the log it has read")
    lag: int
    last_error: str | None
    last_error_at: Timestamp | None
    failed_position: int | None
    warning: str | None = Field(None, description="what its messages wait for (a channel not configured)")


class PolicyList(Answer):
    items: list[PolicyStatus]


class OutboxItem(Answer):
    delivery_id: UUID
    policy: str
    channel: str
    contact_id: UUID | None
    status: str
    attempts: int
    next_attempt_at: Timestamp
    last_error: str | None
    created_at: Timestamp
    sent_at: Timestamp | None


class OutboxPage(Answer):
    items: list[OutboxItem]
    next_cursor: str | None
    counts: dict[str, int] = Field(description="messages in each state")


class StoreHealth(Answer):
    reachable: bool
    backend: str = Field(description="sqlite or postgresql")
    position: int | None
    error: str | None = Field(None, exclude_if=absent, description="why it cannot be reached (only then)")


class ReadSideHealth(Answer):
    position: int
    lag: int | None
    last_error: str | None


class Health(Answer):
    status: str = Field(description="ok or degraded")
    store: StoreHealth
    read_side: ReadSideHealth


class Liveness(Answer):
    status: str = Field(description="always ok: the process answers")


class ReadyCheck(Answer):
    ok: bool
    detail: str


class Readiness(Answer):
    ready: bool
    checks: dict[str, ReadyCheck] = Field(description="store, read_side, and automations when this process runs them")
