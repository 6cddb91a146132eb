"""/policies: the automations, their switches and settings, and how far each has read."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.exceptions import RequestValidationError
from pydantic import Field, ValidationError

from crm_es.aggregates.base import NotFound
from crm_es.entrypoints.http.answers import PolicyList
from crm_es.entrypoints.http.deps import Ctx, ServicesDep
from crm_es.entrypoints.http.respond import answer
from crm_es.entrypoints.http.schemas import CommandAnswer
from crm_es.inputs.fields import Body
from crm_es.channels import configured
from crm_es.commands import execute
from crm_es.commands.policies import ConfigurePolicy, configure_policy
from crm_es.policies.catalogue import BY_NAME, POLICIES
from crm_es.policies.runtime import status

router = APIRouter(tags=["policies"])


class PolicyIn(Body):
    enabled: bool = Field(description="true: the automation acts on the events from now on")
    settings: dict[str, Any] = Field(default_factory=dict, description="the policy's settings; those left out take "
                                     "their defaults (GET /policies shows them)")


@router.get("/policies", response_model=PolicyList)
def get_policies(services: ServicesDep) -> dict[str, Any]:
    """Each automation: on or off, its settings, its place in the log, its lag behind the
    log's end, the last error it met (it stays on the event that failed), and a warning
    when messages it queued wait for a channel that is not configured (SMTP, say)."""
    return {"items": status(services.store, POLICIES, configured(services.settings))}


@router.put("/policies/{name}", response_model=CommandAnswer)
def put_policy(name: str, body: PolicyIn, ctx: Ctx, response: Response) -> dict[str, Any]:
    policy = BY_NAME.get(name)
    if policy is None:
        raise NotFound("policy", name, "name")
    try:
        settings = policy.Settings.model_validate(body.settings)
    except ValidationError as error:  # 422 naming settings.<field>
        raise RequestValidationError([{**e, "loc": ("body", "settings", *e["loc"])} for e in error.errors()]) from None
    command = ConfigurePolicy(policy, body.enabled, settings.model_dump(mode="json"))
    return answer(response, execute(configure_policy, command, ctx))
