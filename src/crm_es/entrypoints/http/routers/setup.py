"""/settings: the record configuration — custom properties per record type, statuses,
sources, lifecycle stages, tag categories and contact roles (F04, F08, F10–F12, F16).
Admins change it; what records may hold is checked against it on every command."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Response
from pydantic import Field, model_validator

from crm_es.aggregates.setup import RECORD_TYPES, PropertyDefinition, Setup
from crm_es.entrypoints.http.answers import Answer
from crm_es.entrypoints.http.deps import Ctx, ServicesDep
from crm_es.entrypoints.http.respond import answer
from crm_es.entrypoints.http.schemas import CommandAnswer
from crm_es.inputs.fields import Body, Currency, Instant, Name
from crm_es.commands import execute
from crm_es.commands.setup import (
    ChangeList,
    DefineProperty,
    RemoveTagCategory,
    RetireProperty,
    SetTagCategory,
    change_list,
    current_setup,
    define_property,
    remove_tag_category,
    retire_property,
    set_tag_category,
)

router = APIRouter(tags=["settings"])

RecordType = Annotated[Literal["contact", "company", "deal"], Path(description="the record type the property is on")]
PropertyName = Annotated[str, Path(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$",
                                   description="the key in the records' `properties` (letters, digits, _)")]
Category = Annotated[str, Path(min_length=1, max_length=100)]
Values = Annotated[list[Name], Field(max_length=200)]
When = Annotated[Instant | None, Field(description="when the change takes effect in the business; default now")]


class PropertyIn(Body):
    type: Literal["text", "number", "money", "date", "boolean", "choice", "multi_choice"]
    required: bool = Field(default=False, description="a record of this type cannot be created without it")
    choices: list[Name] = Field(default_factory=list, max_length=500, description="choice and multi_choice only")
    default_currency: Currency | None = Field(default=None, description="money only: the currency of an amount given alone")
    occurred_at: When = None


class StatusesIn(Body):
    statuses: Annotated[Values, Field(min_length=1)]
    occurred_at: When = None


class SourcesIn(Body):
    sources: Values
    occurred_at: When = None


class LifecycleStagesIn(Body):
    stages: Annotated[Values, Field(min_length=1)]
    occurred_at: When = None


class ContactRolesIn(Body):
    roles: Values
    occurred_at: When = None


class TagsIn(Body):
    tags: Annotated[list[Annotated[str, Field(min_length=1, max_length=100)]], Field(max_length=200)]
    occurred_at: When = None


class Change(Body):
    occurred_at: When = None


class PropertyOut(Answer):
    name: str
    type: str
    required: bool
    choices: list[str]
    default_currency: str | None


class SettingsOut(Answer):
    id: UUID
    version: int = Field(description="0 until the configuration is first changed: the defaults hold")
    properties: dict[str, list[PropertyOut]] = Field(description="the live properties by record type")
    statuses: list[str]
    sources: list[str]
    lifecycle_stages: list[str]
    contact_roles: list[str]
    tag_categories: dict[str, list[str]]

    @model_validator(mode="before")
    @classmethod
    def _from_setup(cls, value: Any) -> Any:
        if not isinstance(value, Setup):
            return value
        return {
            "id": value.id, "version": value.version,
            "properties": {t: [p.__dict__ for p in value.properties_of(t)] for t in RECORD_TYPES},
            "statuses": value.statuses, "sources": value.sources, "lifecycle_stages": value.lifecycle_stages,
            "contact_roles": value.contact_roles, "tag_categories": {c.name: list(c.tags) for c in value.tag_categories},
        }


@router.get("/settings", response_model=SettingsOut)
def get_settings(services: ServicesDep, response: Response) -> Any:
    """The configuration in force, read from the event store (never behind a write)."""
    [setup] = current_setup(services.store)
    response.headers["ETag"] = f'"{setup.version}"'
    return setup


@router.put("/settings/properties/{record_type}/{name}", response_model=CommandAnswer)
def put_property(record_type: RecordType, name: PropertyName, body: PropertyIn, ctx: Ctx, response: Response) -> dict[str, Any]:
    """Define a custom property, or change its definition. Records created from now on
    must hold a required one; values are checked against the type on every write."""
    definition = PropertyDefinition(record_type, name, body.type, body.required, tuple(body.choices), body.default_currency)
    return answer(response, execute(define_property, DefineProperty(definition, body.occurred_at), ctx))


@router.delete("/settings/properties/{record_type}/{name}", response_model=CommandAnswer)
def delete_property(record_type: RecordType, name: PropertyName, ctx: Ctx, response: Response,
                    body: Change | None = None) -> dict[str, Any]:
    """Retire a property: no longer required nor checked; the values records hold stay."""
    command = RetireProperty(record_type, name, body.occurred_at if body else None)
    return answer(response, execute(retire_property, command, ctx))


def _list(name: str, field: str, values: list[str], occurred_at: Any, ctx: Ctx, response: Response) -> dict[str, Any]:
    return answer(response, execute(change_list, ChangeList(name, tuple(values), field, occurred_at), ctx))


@router.put("/settings/statuses", response_model=CommandAnswer)
def put_statuses(body: StatusesIn, ctx: Ctx, response: Response) -> dict[str, Any]:
    """The contact statuses, in order. Contacts keep a status that is removed; new values must be in the list."""
    return _list("statuses", "statuses", body.statuses, body.occurred_at, ctx, response)


@router.put("/settings/sources", response_model=CommandAnswer)
def put_sources(body: SourcesIn, ctx: Ctx, response: Response) -> dict[str, Any]:
    """Where contacts and deals come from (trade show, referral, web form …), in order."""
    return _list("sources", "sources", body.sources, body.occurred_at, ctx, response)


@router.put("/settings/lifecycle-stages", response_model=CommandAnswer)
def put_lifecycle_stages(body: LifecycleStagesIn, ctx: Ctx, response: Response) -> dict[str, Any]:
    """The customer lifecycle stages, in order (potential → active → loyal → lost)."""
    return _list("lifecycle_stages", "stages", body.stages, body.occurred_at, ctx, response)


@router.put("/settings/contact-roles", response_model=CommandAnswer)
def put_contact_roles(body: ContactRolesIn, ctx: Ctx, response: Response) -> dict[str, Any]:
    """The roles a contact may hold at its company (billing contact, decision maker …)."""
    return _list("contact_roles", "roles", body.roles, body.occurred_at, ctx, response)


@router.put("/settings/tag-categories/{category}", response_model=CommandAnswer)
def put_tag_category(category: Category, body: TagsIn, ctx: Ctx, response: Response) -> dict[str, Any]:
    """A category's tags, in order (potential: Gold, Silver, Bronze). A tag is in one category at most."""
    return answer(response, execute(set_tag_category, SetTagCategory(category, tuple(body.tags), body.occurred_at), ctx))


@router.delete("/settings/tag-categories/{category}", response_model=CommandAnswer)
def delete_tag_category(category: Category, ctx: Ctx, response: Response, body: Change | None = None) -> dict[str, Any]:
    """The category goes; contacts keep their tags."""
    command = RemoveTagCategory(category, body.occurred_at if body else None)
    return answer(response, execute(remove_tag_category, command, ctx))
