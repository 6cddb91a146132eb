"""Where each policy is in the log, as GET /policies, `crm-es policies --status` and
/metrics show it: the places the store has, and — for the runners of this process —
the places they have in memory, ahead of the store's by the events passed over since the
last write (policies/runtime.py writes those rarely: the lag shown stays the true one)."""

from __future__ import annotations

import weakref
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from crm_es.aggregates.policy import PolicySettings, policy_id
from crm_es.channels import LABEL, SETTING
from crm_es.policies.base import Policy
from crm_es.store import EventStore

if TYPE_CHECKING:
    from crm_es.policies.runtime import PolicyRunner

_RUNNERS: weakref.WeakSet[PolicyRunner] = weakref.WeakSet()


def running(runner: PolicyRunner) -> None:
    """A runner of this process: its places count from now on (until it is gone)."""
    _RUNNERS.add(runner)


def live_places(store: EventStore) -> dict[str, int]:
    """Each policy's place as the runners of this process on this store have it in memory
    (ahead of the store's by the events passed over since the last write)."""
    found: dict[str, int] = {}
    for runner in list(_RUNNERS):
        if runner.store is store or runner.store.address == store.address:
            for name, position in runner.places().items():
                found[name] = max(position, found.get(name, 0))
    return found


def status(store: EventStore, policies: Sequence[Policy], channels: Collection[str] | None = None) -> list[dict[str, Any]]:
    """Each policy: on or off, its settings, its place in the log, how far behind, its
    last error (from the store: the runner may be another process; the place from memory
    where this process runs it). ``channels``: those configured (crm_es.channels); each
    policy's ``warning`` then names the messages it queued that wait for another one."""
    end = store.max_position()
    rows = {r["name"]: r for r in store.tracking.rows()}
    live = live_places(store)
    warnings = _waiting(store, channels)
    answer = []
    for policy in policies:
        state = store.load(PolicySettings, policy_id(policy.name))
        settings = policy.Settings(**state.settings) if state is not None else policy.Settings()
        row = rows.get(policy.name) or {"position": end, "last_error": None, "last_error_at": None, "failed_position": None}
        position = max(int(row["position"]), live.get(policy.name, 0))
        answer.append({
            "name": policy.name, "description": policy.description, "enabled": bool(state and state.enabled),
            "settings": settings.model_dump(mode="json"), "position": position,
            "lag": max(0, end - position), "last_error": row["last_error"],
            "last_error_at": row["last_error_at"], "failed_position": row["failed_position"],
            "warning": warnings.get(policy.name),
        })
    return answer


def _waiting(store: EventStore, channels: Collection[str] | None) -> dict[str, str]:
    """{policy: what waits for which setting}, for the messages on channels not configured."""
    if channels is None:
        return {}
    found: dict[str, list[str]] = {}
    for policy, channel, n in store.outbox.waiting(channels):
        label, setting = LABEL.get(channel, channel), SETTING.get(channel, "?")
        found.setdefault(policy, []).append(
            f"{n} {label} message{'s wait' if n != 1 else ' waits'} in the outbox: {label} is not configured "
            f"(set {setting} and restart)")
    return {name: "; ".join(parts) for name, parts in found.items()}
