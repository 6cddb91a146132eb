"""The changes an HTTP route and the CSV import both check their input with: a contact's
or a deal's fields as a PATCH sends them (every field optional), and a deal's loss."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import Field

from crm_es.inputs.fields import Amount, Body, Currency, Email, Instant, IsoDate, Name, Properties, Tag


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


class DealLoss(Body):
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    competitor: Name | None = Field(default=None, description="the competitor the deal went to, if any")
    occurred_at: Instant | None = None
