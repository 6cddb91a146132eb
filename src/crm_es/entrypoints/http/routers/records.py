"""/companies and /contacts."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import TypeAdapter

from crm_es.entrypoints.http.auth import Visible, readable
from crm_es.entrypoints.http.deps import Ctx, Limit, ReadCursor, ServicesDep
from crm_es.entrypoints.http.answers import CompanyPage, CompanyPublic, ContactCard, ContactPage
from crm_es.entrypoints.http.respond import answer, found
from crm_es.entrypoints.http.schemas import (
    CommandAnswer,
    CompanyCreate,
    CompanyUpdate,
    ContactCreate,
    ContactForget,
    ContactLeftCompany,
)
from crm_es.inputs.records import ContactUpdate
from crm_es.aggregates.base import NotFound
from crm_es.aggregates.company import CompanyDetails
from crm_es.aggregates.contact import ContactDetails
from crm_es.commands import execute
from crm_es.commands.records import (
    ChangeCompany,
    ChangeContact,
    ForgetContact,
    LeaveCompany,
    RegisterCompany,
    RegisterContact,
    change_company,
    change_contact,
    forget_contact,
    leave_company,
    register_company,
    register_contact,
)
from crm_es.queries import answer_cache, records

router = APIRouter(tags=["companies and contacts"])
_CARD = TypeAdapter(ContactCard)  # what FastAPI writes a ContactCard answer with

CONTACT_DETAILS = set(ContactDetails.__dataclass_fields__)


@router.post("/companies", status_code=201, response_model=CommandAnswer)
def post_company(body: CompanyCreate, ctx: Ctx, response: Response) -> dict[str, Any]:
    details = CompanyDetails(body.name, body.sector, body.annual_revenue, body.properties)
    return answer(response, execute(register_company, RegisterCompany(details, body.occurred_at), ctx))


@router.patch("/companies/{company_id}", response_model=CommandAnswer)
def patch_company(company_id: UUID, body: CompanyUpdate, ctx: Ctx, response: Response) -> dict[str, Any]:
    """Fields present are changed (null clears an optional one); absent fields stay."""
    changes = body.model_dump(include=body.model_fields_set - {"occurred_at"})
    if "name" in changes and changes["name"] is None:
        changes.pop("name")
    if "properties" in changes and changes["properties"] is None:
        changes["properties"] = {}
    return answer(response, execute(change_company, ChangeCompany(company_id, changes, body.occurred_at), ctx))


@router.get("/companies", response_model=CompanyPage)
def get_companies(cur: ReadCursor, sector: str | None = None, q: str | None = None, limit: Limit = 50, cursor: str | None = None) -> Any:
    return records.list_companies(cur, sector=sector, q=q, limit=limit, cursor=cursor)


@router.get("/companies/{company_id}", response_model=CompanyPublic)
def get_company(company_id: UUID, cur: ReadCursor, response: Response) -> dict[str, Any]:
    return found(response, records.get_company(cur, company_id), "company", company_id)


@router.post("/contacts", status_code=201, response_model=CommandAnswer)
def post_contact(body: ContactCreate, ctx: Ctx, response: Response) -> dict[str, Any]:
    details = ContactDetails(**body.model_dump(include=CONTACT_DETAILS))
    details = ContactDetails(**{**details.__dict__, "tags": tuple(body.tags)})
    command = RegisterContact(
        details, body.status, body.owner_id or ctx.default_owner, body.occurred_at, body.lifecycle, tuple(body.roles)
    )
    return answer(response, execute(register_contact, command, ctx))


@router.patch("/contacts/{contact_id}", response_model=CommandAnswer)
def patch_contact(contact_id: UUID, body: ContactUpdate, ctx: Ctx, response: Response) -> dict[str, Any]:
    """Fields present are changed (null clears an optional one); absent fields stay."""
    present = body.model_fields_set
    changes = body.model_dump(include=present & CONTACT_DETAILS)
    for required in ("first_name", "last_name", "email"):
        if changes.get(required, "") is None:
            changes.pop(required)
    if "tags" in changes:
        changes["tags"] = tuple(changes["tags"] or ())
    if "properties" in changes:
        changes["properties"] = changes["properties"] or {}
    roles = tuple(body.roles or ()) if "roles" in present else None
    command = ChangeContact(
        contact_id, changes, body.status, body.owner_id, owner_given="owner_id" in present, occurred_at=body.occurred_at,
        lifecycle=body.lifecycle, roles=roles,
    )
    return answer(response, execute(change_contact, command, ctx))


@router.post("/contacts/{contact_id}/forget", response_model=CommandAnswer)
def post_forget_contact(contact_id: UUID, ctx: Ctx, response: Response, body: ContactForget | None = None) -> dict[str, Any]:
    """Right to erasure (GDPR art. 17): the contact's key is deleted, so its personal
    fields (names, e-mail, phone, properties) read as null everywhere from now on —
    events, read side, timelines, exports. Counts, amounts, stages and dates stay. The
    e-mail may be registered again: that is a new contact. Forgetting twice changes nothing."""
    command = ForgetContact(contact_id, body.reason if body else None)
    return answer(response, execute(forget_contact, command, ctx))


@router.post("/contacts/{contact_id}/left-company", response_model=CommandAnswer)
def post_left_company(
    contact_id: UUID, ctx: Ctx, response: Response, body: ContactLeftCompany | None = None
) -> dict[str, Any]:
    """The person left their company (F39): the roles they held there end (kept in
    `contact_roles` with their dates) and their company is cleared. 409 `no-company`
    when they are at none."""
    body = body or ContactLeftCompany()
    return answer(response, execute(leave_company, LeaveCompany(contact_id, body.note, body.occurred_at), ctx))


@router.get("/contacts", response_model=ContactPage)
def get_contacts(
    cur: ReadCursor,
    visible: Visible,
    status: str | None = None,
    owner: UUID | None = None,
    tag: str | None = None,
    source: str | None = None,
    company: UUID | None = None,
    q: str | None = None,
    limit: Limit = 50,
    cursor: str | None = None,
) -> Any:
    return records.list_contacts(
        cur, status=status, owner=owner, tag=tag, source=source, company=company, q=q, limit=limit, cursor=cursor,
        visible=visible,
    )


@router.get("/contacts/{contact_id}", response_model=ContactCard)
async def get_contact(request: Request, contact_id: UUID, _cursor: ReadCursor, services: ServicesDep,
                      visible: Visible) -> Response:
    key = ("card", contact_id, visible)
    db, position = services.read_side.db, request.state.read_position
    kept = answer_cache.kept(db, position, key)
    if kept is None:  # the query and the model on the thread pool, as a plain ``def`` route's
        kept = await answer_cache.once(db, position, key, lambda: run_in_threadpool(_card_answer, db, key, contact_id, visible))
    body, version = kept
    return Response(body, media_type="application/json", headers={"ETag": f'"{version}"'})


def _card_answer(db: Any, key: tuple[Any, ...], contact_id: UUID, visible: Any) -> tuple[bytes, int]:
    """The card's JSON as the response model writes it and its version (the ETag), kept at
    the position its one statement read (on a cursor of its own: its readers may be gone
    before it is done). 404 and 403 are raised, never kept."""
    with db.cursor() as cur:
        card, in_reach, position = records.get_contact_card(cur, contact_id, visible)
    if card is None:
        raise NotFound("contact", contact_id)
    kept = (_CARD.dump_json(_CARD.validate_python(card), by_alias=True), card["version"])
    if not in_reach:
        with db.cursor() as cur:
            readable(cur, visible, card)  # the 403, worded where every other read words it
        return kept  # in reach after all: a team changed since; read again at the next position
    answer_cache.keep(db, position, key, kept)
    return kept
