"""/audit/verify and the records' history: read from the event store itself, not the
read side, so an auditor sees what the log says."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import Field

from crm_es.aggregates import Contact, Deal
from crm_es.aggregates.base import Aggregate, NotFound
from crm_es.entrypoints.http.answers import Answer
from crm_es.entrypoints.http.deps import AsOf, KnownAt, ServicesDep
from crm_es.audit.history import record_then
from crm_es.audit.verify import verify_store
from crm_es.bootstrap import Services

router = APIRouter(tags=["audit"])



class BrokenLink(Answer):
    position: int
    reason: str = Field(description="edited, deleted, inserted or reordered")
    detail: str


class ChainHead(Answer):
    position: int
    hash: str = Field(description="SHA-256, hex: keep it elsewhere, and pass it back as expect_head later")


class ExpectedHead(Answer):
    hash: str
    position: int | None = Field(description="where the log holds it; null: the log was cut or rewritten since")


class Verification(Answer):
    ok: bool
    checked: int = Field(description="events found intact before the first broken one (all of them when ok)")
    first_broken: BrokenLink | None
    head: ChainHead | None = Field(description="the last intact event")
    expected_head: ExpectedHead | None = None


class HistoryEvent(Answer):
    version: int
    type: str
    occurred_at: str
    recorded_at: str
    actor: str
    correlation_id: str
    causation_id: str | None
    data: dict[str, Any]


class RecordThen(Answer):
    id: UUID
    as_of: str | None
    known_at: str | None
    version: int = Field(description="0 when the record did not exist yet")
    state: dict[str, Any] | None
    events: list[HistoryEvent] = Field(description="the events that made this state, in order")


@router.get("/audit/verify", response_model=Verification)
def get_verify(
    request: Request,
    services: ServicesDep,
    expect_head: Annotated[str | None, Query(pattern="^[0-9a-fA-F]{64}$", description="a head hash kept earlier")] = None,
) -> dict[str, Any]:
    """Walk the whole log and check its hash chain: the first broken link, and why."""
    request.state.read_position = services.projector.position
    expected = None if expect_head is None else bytes.fromhex(expect_head)
    return verify_store(services.store, expected_head=expected).as_dict()


@router.get("/contacts/{contact_id}/history", response_model=RecordThen)
def get_contact_history(
    contact_id: UUID, request: Request, services: ServicesDep, as_of: AsOf = None, known_at: KnownAt = None
) -> dict[str, Any]:
    """The contact as it was then (auditors), replayed from the event store."""
    return _history(request, services, Contact, "contact", contact_id, as_of, known_at)


@router.get("/deals/{deal_id}/history", response_model=RecordThen)
def get_deal_history(
    deal_id: UUID, request: Request, services: ServicesDep, as_of: AsOf = None, known_at: KnownAt = None
) -> dict[str, Any]:
    """The deal as it was then (auditors), replayed from the event store."""
    return _history(request, services, Deal, "deal", deal_id, as_of, known_at)


def _history(request: Request, services: Services, cls: type[Aggregate], kind: str, record_id: UUID, as_of: Any, known_at: Any) -> dict[str, Any]:
    request.state.read_position = services.projector.position
    answer = record_then(services.store, cls, record_id, as_of=as_of, known_at=known_at)
    if answer is None:
        raise NotFound(kind, record_id)
    return answer
