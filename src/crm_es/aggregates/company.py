"""A company (account): many contacts and many deals; firmographics and custom properties."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any
from uuid import UUID

from crm_es.aggregates.base import Aggregate, Event, Meta, new_event


@dataclass(frozen=True)
class CompanyDetails:
    name: str
    sector: str | None = None
    annual_revenue: Decimal | None = None
    properties: dict[str, Any] | None = None


@dataclass(frozen=True)
class Company(Aggregate):
    details: CompanyDetails

    class Registered(Event):
        name: str
        sector: str | None
        annual_revenue: Decimal | None
        properties: dict[str, Any]

    class DetailsChanged(Event):
        """The editable fields after the change (a whole snapshot: simple to fold and to read)."""

        name: str
        sector: str | None
        annual_revenue: Decimal | None
        properties: dict[str, Any]

    @classmethod
    def evolve(cls, state: Company | None, event: Event) -> Company:
        match event:
            case Company.Registered() | Company.DetailsChanged():
                details = CompanyDetails(event.name, event.sector, event.annual_revenue, dict(event.properties))
                if state is None:
                    return Company(event.originator_id, event.originator_version, details)
                return replace(state, version=event.originator_version, details=details)
        raise TypeError(f"Company cannot apply {type(event).__qualname__}")


def register(company_id: UUID, details: CompanyDetails, meta: Meta) -> list[Event]:
    return [new_event(Company.Registered, company_id, 1, meta, **_fields(details))]


def change(company: Company, changes: dict[str, Any], meta: Meta) -> list[Event]:
    """Apply the given field changes; nothing is recorded when nothing changes."""
    details = replace(company.details, **changes)
    if details == company.details:
        return []
    return [company.then(Company.DetailsChanged, meta, **_fields(details))]


def _fields(details: CompanyDetails) -> dict[str, Any]:
    return {
        "name": details.name,
        "sector": details.sector,
        "annual_revenue": details.annual_revenue,
        "properties": dict(details.properties or {}),
    }
