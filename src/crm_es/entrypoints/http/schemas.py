"""The HTTP contract as pydantic models (see shared/API.md): what clients send and get."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from crm_es.aggregates.money import CURRENCIES, amount_problem
from crm_es.entrypoints.http.answers import Answer


def _amount(value: Decimal) -> Decimal:
    problem = amount_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _currency(value: str) -> str:
    if value not in CURRENCIES:
        raise ValueError(f"{value!r} is not an ISO 4217 currency code")
    return value


# What API.md promises and nothing more: pydantic alone would also take a number as seconds
# since 1970 (1700000000, or "-1094" in a query) and, for a date, a midnight timestamp.
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:?\d{2})")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_instant(value: Any) -> Any:
    if isinstance(value, datetime):  # from Python (an import, a test), not from the wire
        return value
    if not (isinstance(value, str) and _INSTANT.fullmatch(value)):
        raise ValueError("an ISO 8601 time with its offset, like 2026-03-01T09:30:00+01:00 or 2026-03-01T08:30:00Z")
    return value


def _iso_day(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not (isinstance(value, str) and _DAY.fullmatch(value)):
        raise ValueError("an ISO 8601 date, like 2026-03-01")
    return value


# Every time a request carries, in a body or a query: a string, with an offset (OpenAPI:
# string, format date-time); a naive time, a number or a date alone is a 422 naming it.
Instant = Annotated[AwareDatetime, BeforeValidator(_iso_instant)]
# Every calendar date a request carries: YYYY-MM-DD only (OpenAPI: string, format date).
IsoDate = Annotated[date, BeforeValidator(_iso_day)]

Name = Annotated[str, Field(min_length=1, max_length=200)]
Text = Annotated[str, Field(max_length=2000)]
# Not \s alone: ECMA-262 (the document's regex dialect) counts U+FEFF as a space and the
# server's (pydantic's Rust engine) counts U+0085, so a client and the server would
# disagree on an address holding one. Both are named: both sides refuse them.
_NOT_AT_OR_SPACE = r"[^@\s\x85\ufeff]"
Email = Annotated[str, Field(max_length=320, pattern=f"^{_NOT_AT_OR_SPACE}+@{_NOT_AT_OR_SPACE}+\\.{_NOT_AT_OR_SPACE}+$")]
Amount = Annotated[Decimal, AfterValidator(_amount)]
Currency = Annotated[str, Field(min_length=3, max_length=3), AfterValidator(_currency)]
Probability = Annotated[Decimal, Field(ge=0, le=1, max_digits=5, decimal_places=4)]
Tag = Annotated[str, Field(min_length=1, max_length=100)]
Properties = Annotated[dict[str, Any], Field(max_length=200)]


class Body(BaseModel):
    # An unknown field is refused (422 naming it) rather than silently dropped: a
    # misspelt "ammount" must not look like success.
    model_config = ConfigDict(extra="forbid")


class CommandAnswer(Answer):
    id: UUID
    version: int = Field(description="the record's version after the command")
    position: int = Field(description="global log position of the last event written; use as ?after= to read your write")


# --- people -------------------------------------------------------------------------


class RepCreate(Body):
    name: Name
    email: Email
    team_id: UUID | None = None
    occurred_at: Instant | None = Field(None, description="when it happened in the business (default: now): date the set-up at the start of the history you record or import")


class TeamCreate(Body):
    name: Name
    manager_id: UUID | None = None
    occurred_at: Instant | None = Field(None, description="when it happened in the business (default: now): date the set-up at the start of the history you record or import")


class TeamMemberAdd(Body):
    rep_id: UUID
    occurred_at: Instant | None = None


class QuotaCreate(Body):
    period_start: IsoDate = Field(description="first day of the period")
    period_end: IsoDate = Field(description="the day after the period (excluded): the first quarter ends on 1 April")
    amount: Amount = Field(description="the target, above zero")
    currency: Currency
    occurred_at: Instant | None = None


# --- pipelines ----------------------------------------------------------------------


class StageIn(Body):
    name: Name
    probability: Probability
    id: UUID | None = Field(default=None, description="an existing stage's id (PATCH); by default stages match by name")


class PipelineCreate(Body):
    name: Name
    stages: list[StageIn] = Field(min_length=1, max_length=50)
    occurred_at: Instant | None = Field(
        None, description="when the pipeline came into use (default: now); no deal can be dated before it")


class PipelineUpdate(Body):
    name: Name | None = None
    stages: list[StageIn] | None = Field(default=None, min_length=1, max_length=50, description="the wanted stages, in order")
    occurred_at: Instant | None = Field(
        None, description="when the change took effect (default: now); a stage added then holds deals from then on")


# --- companies and contacts ---------------------------------------------------------


class CompanyCreate(Body):
    name: Name
    sector: Name | None = None
    annual_revenue: Amount | None = None
    properties: Properties = Field(default_factory=dict)
    occurred_at: Instant | None = None


class CompanyUpdate(Body):
    name: Name | None = None
    sector: Name | None = None
    annual_revenue: Amount | None = None
    properties: Properties | None = None
    occurred_at: Instant | None = None


class ContactCreate(Body):
    first_name: Name
    last_name: Name
    email: Email
    phone: Annotated[str, Field(max_length=50)] | None = None
    job_title: Name | None = None
    company_id: UUID | None = None
    city: Name | None = None
    source: Name | None = None
    status: Name | None = None
    owner_id: UUID | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=100)
    properties: Properties = Field(default_factory=dict)
    occurred_at: Instant | None = None
    lifecycle: Name | None = Field(default=None, description="the lifecycle stage (potential, active, loyal, lost …)")
    roles: list[Name] = Field(default_factory=list, max_length=50, description="roles at `company_id` (billing contact …)")


class ContactUpdate(Body):
    first_name: Name | None = None
    last_name: Name | None = None
    email: Email | None = None
    phone: Annotated[str, Field(max_length=50)] | None = None
    job_title: Name | None = None
    company_id: UUID | None = None
    city: Name | None = None
    source: Name | None = None
    status: Name | None = None
    owner_id: UUID | None = None
    tags: list[Tag] | None = Field(default=None, max_length=100)
    properties: Properties | None = None
    occurred_at: Instant | None = None
    lifecycle: Name | None = Field(default=None, description="the lifecycle stage; each change is kept with its date")
    roles: list[Name] | None = Field(
        default=None, max_length=50,
        description="the roles at the contact's company, as a whole (null or []: none); a company change ends the old ones",
    )


class ContactLeftCompany(Body):
    note: Text | None = Field(default=None, description="free text (personal data: erased with the contact)")
    occurred_at: Instant | None = None


# --- deals --------------------------------------------------------------------------


class DealCreate(Body):
    title: Name
    pipeline_id: UUID
    stage: Name
    amount: Amount
    currency: Currency
    owner_id: UUID | None = None
    contact_ids: list[UUID] = Field(default_factory=list, max_length=100)
    company_id: UUID | None = None
    source: Name | None = None
    expected_close: IsoDate | None = None
    occurred_at: Instant | None = None
    properties: Properties = Field(default_factory=dict)


class DealUpdate(Body):
    title: Name | None = None
    amount: Amount | None = None
    currency: Currency | None = None
    owner_id: UUID | None = None
    contact_ids: list[UUID] | None = Field(default=None, max_length=100)
    company_id: UUID | None = None
    source: Name | None = None
    expected_close: IsoDate | None = None
    occurred_at: Instant | None = None
    properties: Properties | None = None


class StageMove(Body):
    stage: Name
    occurred_at: Instant | None = None


class ContactForget(Body):
    reason: Annotated[str, Field(max_length=500, description="why (a ticket number; never the person's name)")] | None = None


class DealClose(Body):
    occurred_at: Instant | None = None


class DealLoss(Body):
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    competitor: Name | None = Field(default=None, description="the competitor the deal went to, if any")
    occurred_at: Instant | None = None


class DealReopen(Body):
    stage: Name | None = Field(default=None, description="the stage to reopen in; by default the one it closed in")
    occurred_at: Instant | None = None

