"""Switching an automation on or off and setting its settings (PUT /policies/{name})."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crm_es.aggregates import policy as policies
from crm_es.aggregates.base import NotFound
from crm_es.aggregates.policy import PolicySettings, policy_id
from crm_es.commands.context import CommandContext, CommandResult
from crm_es.policies.catalogue import BY_NAME


@dataclass(frozen=True)
class ConfigurePolicy:
    name: str
    enabled: bool
    settings: dict[str, Any]  # checked against the policy's own model by the edge


def configure_policy(cmd: ConfigurePolicy, ctx: CommandContext) -> CommandResult:
    policy = BY_NAME.get(cmd.name)
    if policy is None:
        raise NotFound("policy", cmd.name)
    policy.check(policy.Settings(**cmd.settings), ctx.store.load)
    state = ctx.store.load(PolicySettings, policy_id(cmd.name))
    state = ctx.check_version(state) if state is not None else None
    events = policies.configure(state, cmd.name, cmd.enabled, cmd.settings, ctx.meta())
    return ctx.save(policy_id(cmd.name), events, current_version=state.version if state else 0)
