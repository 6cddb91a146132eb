"""The HTTP contract as pydantic models (see shared/API.md): what clients send and get.
The field types, and the changes the CSV import checks its rows with too, are in crm_es.inputs."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import Field

from crm_es.entrypoints.http.answers import Answer
from crm_es.inputs.fields import Amount, Body, Currency, Email, Instant, IsoDate, Name, Probability, Properties, Tag, Text


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


class StageMove(Body):
    stage: Name
    occurred_at: Instant | None = None


class ContactForget(Body):
    reason: Annotated[str, Field(max_length=500, description="why (a ticket number; never the person's name)")] | None = None


class DealClose(Body):
    occurred_at: Instant | None = None


class DealReopen(Body):
    stage: Name | None = Field(default=None, description="the stage to reopen in; by default the one it closed in")
    occurred_at: Instant | None = None

