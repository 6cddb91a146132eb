"""/views: a person's saved views of the console's lists (issue 19). Each view is its
saver's alone: listed for them only, and another person's view answers 404."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response
from fastapi.exceptions import RequestValidationError
from pydantic import Field

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
FilterValue = Annotated[str, Field(max_length=200)]


class ViewIn(Body):
    list: ListName = Field(description="the list the view filters")
    name: Name
    filters: dict[str, FilterValue] = Field(default_factory=dict, max_length=20, description=(
        "the list's query parameters, as GET /contacts, /companies or /deals take them (`status`, `owner`, `tag`, "
        "`stage`, `pipeline`, `source`, `company`, `sector`, `q` …; not the contacts' `q`: a view is not erased with "
        "the person a search names); an empty value is left out"))


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


def _checked(body: ViewIn) -> dict[str, str]:
    """The filters the list takes, each value of its kind (422 naming ``filters.<name>``)."""
    kinds = saved_views.KEPT_IN_VIEWS[body.list]
    errors, filters = [], {}
    for name, value in body.filters.items():
        where = ("body", "filters", name)
        if name not in kinds:
            errors.append({"type": "value_error", "loc": where, "msg": f"the {body.list} list has no filter {name!r}",
                           "input": name, "ctx": {"error": "unknown filter"}})
        elif value.strip() and kinds[name] == "id" and not _is_uuid(value.strip()):
            errors.append({"type": "uuid_parsing", "loc": where, "msg": "an id is a UUID", "input": value})
        elif value.strip():
            filters[name] = value.strip()
    if errors:
        raise RequestValidationError(errors)
    return filters


def _is_uuid(text: str) -> bool:
    try:
        UUID(text)
    except ValueError:
        return False
    return True


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
