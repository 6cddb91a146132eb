"""Switching an automation on or off and setting its settings (PUT /policies/{name})."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from crm_es.aggregates import policy as policies
from crm_es.aggregates.policy import PolicySettings, policy_id
from crm_es.commands.context import CommandContext, CommandResult


class Configurable(Protocol):
    """An automation as this command sees it (``crm_es.policies.base.Policy``): the caller
    finds it in the catalogue, so the write side never imports the automations."""

    name: str
    Settings: Any  # its settings' pydantic model

    def check(self, settings: Any, load: Callable[..., Any]) -> None:
        """Refuse settings the records do not allow (a template that does not exist …)."""


@dataclass(frozen=True)
class ConfigurePolicy:
    policy: Configurable
    enabled: bool
    settings: dict[str, Any]  # checked against the policy's own model by the edge


def configure_policy(cmd: ConfigurePolicy, ctx: CommandContext) -> CommandResult:
    name = cmd.policy.name
    cmd.policy.check(cmd.policy.Settings(**cmd.settings), ctx.store.load)
    state = ctx.store.load(PolicySettings, policy_id(name))
    state = ctx.check_version(state) if state is not None else None
    events = policies.configure(state, name, cmd.enabled, cmd.settings, ctx.meta())
    return ctx.save(policy_id(name), events, current_version=state.version if state else 0)
