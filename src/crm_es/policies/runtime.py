"""The policy runtime: each policy follows the global log from its own place, and saves
what it reacts with together with its new place, in one transaction of the event store.

Exactly once, across crashes and restarts: a policy's place moves only with its
reaction (``Tracking`` in ``EventStore.save``), and only from where it was read — so a
crash before the commit loses nothing (the event is read again), a crash after it
doubles nothing (the place has moved), and a second runner that read the same place
fails its save (IntegrityError) instead of acting twice.

Settings are read from the log in order too: ``PolicySettings.Configured`` events are
met as the policy reads on, so each event is reacted to under the settings of its
moment, and a policy switched off reacts to nothing from then on (it keeps its place).
A policy that lists ``PolicySettings.Configured`` among its events also reacts to being
switched on or set (a recurring job sets its first timer then).

Events a policy passes over (not its kind, or while it is off) move its place in memory;
the store learns it with the next reaction, or at the end of the round (one small write,
so GET /policies shows the true lag and a restart need not read them again). Reading them
again after a crash is harmless: they are passed over again.

A policy that fails on an event stays on it (``last_error``, shown by GET /policies) and
tries again at the next round; the other policies keep running.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import duckdb
from eventsourcing.utils import get_topic

from crm_es.aggregates.policy import PolicySettings, policy_id
from crm_es.channels import LABEL, SETTING
from crm_es.clock import Clock
from crm_es.commands.context import TooMuchContention
from crm_es.commands.pipeline import LostRace, decide_and_append
from crm_es.commands.unit_of_work import UnitOfWork
from crm_es.policies.base import Policy, PolicyContext
from crm_es.projections.runner import Projector
from crm_es.store import EventStore, RawEvent
from crm_es.store.event_store import IntegrityError, SubjectForgotten, Tracking

log = logging.getLogger("crm_es.policies")

CONFIGURED = get_topic(PolicySettings.Configured)
RETRIES = 5  # a reaction saved against records another writer just changed is worked out again


@dataclass
class Follower:
    """One policy's place in the log (``saved``: as the store has it; ``position``: read
    up to, the events between passed over) and its settings as of ``position``."""

    policy: Policy
    saved: int
    enabled: bool
    settings: Any
    topics: frozenset[str]
    position: int = 0
    last_error: str | None = None

    def __post_init__(self) -> None:
        self.position = self.saved


class PolicyRunner:
    def __init__(self, store: EventStore, clock: Clock, policies: Sequence[Policy], page: int = 10_000,
                 projector: Projector | Callable[[], Projector] | None = None) -> None:
        """``projector``: the read side the policies may query, kept up to date — or what
        opens one when a policy first asks (a standby runner never does)."""
        self.store, self.clock, self.page = store, clock, page
        self._projector = projector
        self.policies = {p.name: p for p in policies}
        self._followers: dict[str, Follower] = {}
        self._round = threading.Lock()  # one round at a time in this process (the thread, a test, the CLI)
        for name in self.policies:  # installed from now on (see EventStore.tracked_position)
            store.tracked_position(name)

    # --- following the log --------------------------------------------------------------

    def run_once(self) -> int:
        """Every policy reads the log to its end once; returns how many events were reacted to."""
        with self._round:
            return sum(self._follow(self._follower(name)) for name in self.policies)

    def _read(self, at_least: int) -> duckdb.DuckDBPyConnection:
        """A cursor on the read side, caught up at least to ``at_least`` (the event reacted
        to): not further on each query, as a catch-up that projects the reactions just
        written costs a DuckDB transaction every time."""
        if callable(self._projector) and not isinstance(self._projector, Projector):
            self._projector = self._projector()
        assert isinstance(self._projector, Projector)
        if self._projector.position < at_least:
            self._projector.catch_up()
        return self._projector.read_side.cursor()

    def _follower(self, name: str) -> Follower:
        """The policy's place as the store has it (another runner may have moved it since),
        and its settings as of that place."""
        position = self.store.tracked_position(name)
        known = self._followers.get(name)
        if known is not None and known.saved == position:
            return known
        policy = self.policies[name]
        follower = Follower(policy, position, False, policy.Settings(), frozenset(get_topic(c) for c in policy.reacts_to))
        for row in self.store.record_events(policy_id(name), 0, 100_000):
            if row.position <= position:
                self._configure(follower, row)
        self._followers[name] = follower
        return follower

    def _configure(self, follower: Follower, row: RawEvent) -> None:
        [event] = self.store.decode([row])
        follower.enabled = event.enabled
        follower.settings = follower.policy.Settings(**event.settings)

    def _follow(self, follower: Follower) -> int:
        reacted = 0
        me = str(policy_id(follower.policy.name))
        while rows := self.store.read(follower.position, self.page):
            switches = [r for r in rows if r.topic == CONFIGURED and r.originator_id == me]
            # Off for the whole page, only its switch is read: decoding is most of reading.
            wanted = [r for r in rows if r.topic in follower.topics or r in switches] \
                if follower.enabled or switches else []
            events = dict(zip((r.position for r in wanted), self.store.decode(wanted), strict=True))
            for row in wanted:
                if row.topic == CONFIGURED and row.originator_id == me:
                    self._configure(follower, row)  # a policy that reacts to it too sees its new settings
                if follower.enabled and row.topic in follower.topics:
                    try:
                        if not self._react(follower, row, events[row.position]):
                            return reacted  # another runner has moved on: follow it next round
                    except Exception as error:  # stay on this event; the others keep running
                        self._failed(follower, row.position, f"{type(error).__name__}: {error}")
                        return reacted
                    reacted += 1
                follower.position = row.position
            follower.position = rows[-1].position
        if follower.position > follower.saved:
            self._advance(follower, follower.position)
        return reacted

    def _react(self, follower: Follower, row: RawEvent, event: Any) -> bool:
        """React to one event and save the reaction with the new place, through the write
        pipeline (a record changed under the reaction: it is worked out again); False when
        another runner moved the place meanwhile."""

        def decide(work: UnitOfWork) -> bool:
            ctx = PolicyContext(self.store, follower.policy.name, follower.settings, self.clock.now(), event,
                                None if self._projector is None else partial(self._read, at_least=row.position))
            reaction = follower.policy.react(event, ctx)
            work.save(reaction.events, outbox=reaction.outbox)
            work.follow(Tracking(follower.policy.name, follower.saved, row.position))
            return True

        reacted, _ = decide_and_append(
            self.store, decide, attempts=RETRIES, after_lost_race=partial(self._lost_race, follower),
            on_contention=lambda: TooMuchContention("the records kept changing while the reaction was worked out"),
        )
        if reacted:
            self._advanced(follower, row.position)
        return reacted

    def _advance(self, follower: Follower, position: int) -> bool:
        """Move the place over events passed over (no reaction); False when another runner
        moved it meanwhile."""
        work = UnitOfWork(self.store)
        work.follow(Tracking(follower.policy.name, follower.saved, position))
        try:
            work.commit()
        except IntegrityError as error:
            if self._lost_race(follower, error) is False:
                return False
            raise
        self._advanced(follower, position)
        return True

    def _lost_race(self, follower: Follower, error: LostRace) -> bool | None:
        """False when another runner moved the place (followed next round); None when a
        record changed under the reaction (worked out again)."""
        if isinstance(error, SubjectForgotten):
            raise error  # a person forgotten under the reaction: the policy stays on the event
        if self.store.tracked_position(follower.policy.name) != follower.saved:
            self._followers.pop(follower.policy.name, None)
            return False
        return None

    def _advanced(self, follower: Follower, position: int) -> None:
        follower.saved = follower.position = position
        if follower.last_error is not None:
            follower.last_error = None
            self._record_error(follower.policy.name, None, None)

    def _failed(self, follower: Follower, position: int, error: str) -> None:
        log.warning("policy %s failed on event %s: %s", follower.policy.name, position, error)
        if follower.position > follower.saved:  # what was passed over before it stays passed
            with contextlib.suppress(IntegrityError):
                self._advance(follower, follower.position)
        follower.last_error = error
        self._record_error(follower.policy.name, position, error)

    def _record_error(self, name: str, position: int | None, error: str | None) -> None:
        at = None if error is None else self.clock.now().isoformat()
        self.store.tracking.record_error(name, position, error, at)


def status(store: EventStore, policies: Sequence[Policy], channels: Collection[str] | None = None) -> list[dict[str, Any]]:
    """Each policy: on or off, its settings, its place in the log, how far behind, its
    last error (from the store: the runner may be another process). ``channels``: those
    configured (crm_es.channels); each policy's ``warning`` then names the messages it
    queued that wait for another one."""
    end = store.max_position()
    rows = {r["name"]: r for r in store.tracking.rows()}
    warnings = _waiting(store, channels)
    answer = []
    for policy in policies:
        state = store.load(PolicySettings, policy_id(policy.name))
        settings = policy.Settings(**state.settings) if state is not None else policy.Settings()
        row = rows.get(policy.name) or {"position": end, "last_error": None, "last_error_at": None, "failed_position": None}
        answer.append({
            "name": policy.name, "description": policy.description, "enabled": bool(state and state.enabled),
            "settings": settings.model_dump(mode="json"), "position": int(row["position"]),
            "lag": max(0, end - int(row["position"])), "last_error": row["last_error"],
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
