"""/views: a person's saved views of the console's lists (issue 19). Each view is its
saver's alone: listed for them only, and another person's view answers 404."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import Field, create_model

from crm_es.commands import execute
from crm_es.commands.saved_views import (
    ChangeView,
    RemoveView,
    SaveView,
    change_view,
    remove_view,
    save_view,
)
from crm_es.entrypoints.http.answers import (
    Answer,
    CreatedAt,
    Page,
    Position,
    UpdatedAt,
    Version,
)
from crm_es.entrypoints.http.auth import Caller
from crm_es.entrypoints.http.deps import Ctx, Limit, ReadCursor
from crm_es.entrypoints.http.respond import answer
from crm_es.entrypoints.http.schemas import CommandAnswer
from crm_es.inputs.fields import Body, Name
from crm_es.queries import saved_views

router = APIRouter(tags=["saved views"])

ListName = Literal["contacts", "companies", "deals"]
FilterText = Annotated[str, Field(max_length=200, description="an empty text is no filter")]


def _filters(kind: str) -> type[Body]:
    """A list's filters a view keeps (queries/saved_views.KEPT_IN_VIEWS), each of its type:
    the document says exactly what a view of that list takes."""
    fields: dict[str, Any] = {name: ((UUID | None) if what == "id" else (FilterText | None), None)
                              for name, what in saved_views.KEPT_IN_VIEWS[kind].items()}
    return create_model(f"{kind.title()}ViewFilters", __base__=Body, **fields)


ContactsViewFilters, CompaniesViewFilters, DealsViewFilters = (_filters(kind) for kind in ("contacts", "companies", "deals"))


class ContactsView(Body):
    list: Literal["contacts"]
    name: Name
    filters: ContactsViewFilters = Field(  # type: ignore[valid-type]
        default_factory=ContactsViewFilters, description="GET /contacts's filters, but its search text `q`: a view "
                                                          "is not erased with the person a search names")


class CompaniesView(Body):
    list: Literal["companies"]
    name: Name
    filters: CompaniesViewFilters = Field(default_factory=CompaniesViewFilters,  # type: ignore[valid-type]
                                          description="GET /companies's filters")


class DealsView(Body):
    list: Literal["deals"]
    name: Name
    filters: DealsViewFilters = Field(default_factory=DealsViewFilters,  # type: ignore[valid-type]
                                      description="GET /deals's filters")


ViewIn = Annotated[ContactsView | CompaniesView | DealsView, Field(discriminator="list")]


class ViewPublic(Answer):
    id: UUID
    list: ListName
    name: str
    filters: dict[str, str]
    saved_by: str = Field(description="whose view it is (an actor: rep:<id> or key:<id>)")
    created_at: CreatedAt
    updated_at: UpdatedAt
    version: Version
    position: Position


class ViewPage(Page):
    items: list[ViewPublic]


def _checked(body: ContactsView | CompaniesView | DealsView) -> dict[str, str]:
    """The filters given, as text; an empty one is no filter."""
    given = body.filters.model_dump(exclude_none=True)  # type: ignore[attr-defined]
    return {name: text for name, value in given.items() if (text := str(value).strip())}


@router.post("/views", status_code=201, response_model=CommandAnswer)
def post_view(body: ViewIn, ctx: Ctx, response: Response) -> dict[str, Any]:
    """Save a view for the caller (their own: nobody else lists, changes or removes it)."""
    return answer(response, execute(save_view, SaveView(body.list, body.name, _checked(body)), ctx))


@router.put("/views/{view_id}", response_model=CommandAnswer)
def put_view(view_id: UUID, body: ViewIn, ctx: Ctx, response: Response) -> dict[str, Any]:
    """Replace the caller's view (its list, name and filters). Another person's view: 404."""
    return answer(response, execute(change_view, ChangeView(view_id, body.list, body.name, _checked(body)), ctx))


@router.delete("/views/{view_id}", response_model=CommandAnswer)
def delete_view(view_id: UUID, ctx: Ctx, response: Response) -> dict[str, Any]:
    """Remove the caller's view. Another person's view, or one already removed: 404."""
    return answer(response, execute(remove_view, RemoveView(view_id), ctx))


@router.get("/views", response_model=ViewPage)
def get_views(cur: ReadCursor, caller: Caller,
              list: Annotated[ListName | None, Query(description="only the views of this list")] = None,
              limit: Limit = 50, cursor: str | None = None) -> Any:
    """The caller's own views, newest first."""
    return saved_views.list_views(cur, caller.actor, list, limit=limit, cursor=cursor)
