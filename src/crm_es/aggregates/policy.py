"""An automation's switch and settings (F18–F22, F35, F37): one record per policy, with a
fixed id from its name. ``Configured`` carries the whole of what was set, so the log says
under which settings each automation acted — and a policy reads its settings from the log
in order, as of each event it reacts to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from crm_es.aggregates.base import Aggregate, Event, Meta, new_event


def policy_id(name: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"urn:crm-es:policy:{name}")


@dataclass(frozen=True)
class PolicySettings(Aggregate):
    name: str
    enabled: bool
    settings: dict[str, Any]

    class Configured(Event):
        name: str
        enabled: bool
        settings: dict[str, Any]

    @classmethod
    def evolve(cls, state: PolicySettings | None, event: Event) -> PolicySettings:
        if isinstance(event, PolicySettings.Configured):
            return PolicySettings(event.originator_id, event.originator_version, event.name, event.enabled,
                                  dict(event.settings))
        raise TypeError(f"PolicySettings cannot apply {type(event).__qualname__}")


def configure(state: PolicySettings | None, name: str, enabled: bool, settings: dict[str, Any], meta: Meta) -> list[Event]:
    """Switch a policy and set its settings (already checked against the policy's own
    model); setting what is already set records nothing."""
    if state is not None and (state.enabled, state.settings) == (enabled, settings):
        return []
    return [new_event(PolicySettings.Configured, policy_id(name), (state.version if state else 0) + 1, meta,
                      name=name, enabled=enabled, settings=settings)]
