"""The policy runtime: each policy follows the global log from its own place, and saves
what it reacts with together with its new place, in one transaction of the event store.

Exactly once, across crashes and restarts: a policy's place moves only with its
reactions (``Tracking`` in ``EventStore.save``), and only from where it was read — so a
crash before the commit loses nothing (the events are read again), a crash after it
doubles nothing (the place has moved), and a second runner that read the same place
fails its save (IntegrityError) instead of acting twice.

Reactions are saved in batches: the reactions to up to ``BATCH`` events of a page of the
log, decided one after the other on one unit of work (each sees what the ones before it
staged: a lead's score, a round-robin's turn), commit together with the place after the
last of them — one transaction instead of one each, which is what kept a policy 20x behind
its own reading of the log. If the batch loses a race (a record changed under one of its
reactions, a person forgotten meanwhile), nothing of it was written: its events are
reacted to again one at a time, as before batches, so the others still land once and the
one refused is worked out again (or fails) alone.

Settings are read from the log in order too: ``PolicySettings.Configured`` events are
met as the policy reads on, so each event is reacted to under the settings of its
moment, and a policy switched off reacts to nothing from then on (it keeps its place).
A policy that lists ``PolicySettings.Configured`` among its events also reacts to being
switched on or set (a recurring job sets its first timer then).

A round reads the log once for every policy (one query when nothing is new; each page
decoded once for all the policies that want its rows) and asks the store nothing else:
each policy's place is kept in memory between rounds, and a runner that another one
overtook learns it from the refusal of its next save (then reads its place again).

Events a policy passes over (not its kind, or while it is off) move its place in memory;
the store learns it with the next reaction, or at most every ``SAVE_PASSED_EVERY`` seconds
and when the runner stops (``flush``): a write after every command would cost a
transaction each. Reading them again after a crash is harmless: they are passed over
again. GET /policies shows this process's runner's place from memory (policies/places.py),
so the lag it shows is the true one.

A policy that fails on an event stays on it (``last_error``, shown by GET /policies) and
tries again at the next round; the other policies keep running.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import duckdb
from eventsourcing.utils import get_topic

from crm_es.aggregates.base import Event
from crm_es.aggregates.policy import PolicySettings, policy_id
from crm_es.clock import Clock
from crm_es.commands.context import TooMuchContention
from crm_es.commands.pipeline import LostRace, decide_and_append
from crm_es.commands.unit_of_work import UnitOfWork
from crm_es.policies import places
from crm_es.policies.base import Policy, PolicyContext, Reaction
from crm_es.policies.places import status  # noqa: F401  (where the routes and the CLI find it)
from crm_es.projections.runner import Projector
from crm_es.store import EventStore, RawEvent
from crm_es.store.event_store import IntegrityError, SubjectForgotten, Tracking

log = logging.getLogger("crm_es.policies")

CONFIGURED = get_topic(PolicySettings.Configured)
RETRIES = 5  # a reaction saved against records another writer just changed is worked out again
BATCH = 500  # reactions saved in one transaction (a lost race costs that many reactions worked out again)
SAVE_PASSED_EVERY = 5.0  # seconds between writes of places moved over passed-over events only

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
    me: str = ""  # the policy's settings record, as the log's rows name it

    def __post_init__(self) -> None:
        self.position = self.saved
        self.me = str(policy_id(self.policy.name))


@dataclass(frozen=True)
class Job:
    """An event to react to, with the policy's settings for it, and where the policy is
    just before it (its place and settings if it stops there)."""

    row: RawEvent
    event: Event
    settings: Any
    before: int
    enabled_before: bool
    settings_before: Any


@dataclass
class Outcome:
    """What a batch did: reactions staged, the place it moves to, the job that failed."""

    reacted: int = 0
    place: int = 0
    failed: tuple[Job, str] | None = None


class Refused(Exception):
    """A batch lost a race: reacted to again one event at a time."""


MOVED = Outcome()  # another runner moved the place: this one follows it from the next round


class PolicyRunner:
    def __init__(self, store: EventStore, clock: Clock, policies: Sequence[Policy], page: int = 10_000,
                 projector: Projector | Callable[[], Projector] | None = None, batch: int = BATCH) -> None:
        """``projector``: the read side the policies may query, kept up to date — or what
        opens one when a policy first asks (a standby runner never does)."""
        self.store, self.clock, self.page, self.batch = store, clock, page, batch
        self._projector = projector
        self.policies = {p.name: p for p in policies}
        self._followers: dict[str, Follower] = {}
        self._round = threading.Lock()  # one round at a time in this process (the thread, a test, the CLI)
        self._passed_saved_at = time.monotonic()
        # What the last round read and did, for the outbox's dispatcher (policies/service.py):
        # the topics of the rows it read, and whether a reaction queued a message.
        self.read_topics: set[str] = set()
        self.queued = False
        for name in self.policies:  # installed from now on (see EventStore.tracked_position)
            store.tracked_position(name)
        places.running(self)

    # --- following the log --------------------------------------------------------------

    def run_once(self) -> int:
        """Every policy reads the log to its end once; returns how many events were reacted
        to. The places moved over passed-over events only are written every few seconds."""
        with self._round:
            self.read_topics, self.queued = set(), False
            followers = [self._follower(name) for name in self.policies]
            reacted = self._follow(followers)
            if time.monotonic() - self._passed_saved_at >= SAVE_PASSED_EVERY:
                self._save_passed()
            return reacted

    def flush(self) -> None:
        """Write the places moved over passed-over events (the runner stops, or a one-off
        run ends): a restart need not read them again."""
        with self._round:
            self._save_passed()

    def forget(self) -> None:
        """Read each place from the store again at the next round (this process just took
        the lead: another runner may have moved them meanwhile)."""
        with self._round:
            self._followers.clear()

    def places(self) -> dict[str, int]:
        """Where each policy has read up to in this process (reacted or passed over)."""
        return {name: follower.position for name, follower in list(self._followers.items())}

    def _save_passed(self) -> None:
        self._passed_saved_at = time.monotonic()
        for follower in list(self._followers.values()):
            if follower.position > follower.saved:
                self._advance(follower, follower.position)

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
        """The policy's place as this runner left it; as the store has it the first time,
        or after another runner moved it (``_lost_race``), with its settings as of then."""
        known = self._followers.get(name)
        if known is not None:
            return known
        position = self.store.tracked_position(name)
        policy = self.policies[name]
        follower = Follower(policy, position, False, policy.Settings(), frozenset(get_topic(c) for c in policy.reacts_to))
        # An error left by an earlier run: cleared once the policy gets past that event.
        follower.last_error = next((r["last_error"] for r in self.store.tracking.rows() if r["name"] == name), None)
        for row in self.store.record_events(policy_id(name), 0, 100_000):
            if row.position <= position:
                self._configure(follower, self.store.decode([row])[0])
        self._followers[name] = follower
        return follower

    @staticmethod
    def _configure(follower: Follower, event: Any) -> None:
        follower.enabled = event.enabled
        follower.settings = follower.policy.Settings(**event.settings)

    def _follow(self, followers: list[Follower]) -> int:
        """Read the log once for all the policies, page by page, from the place of the one
        furthest behind; each takes the rows after its own place. A policy that stops (a
        failure, another runner ahead of it) reads no further this round."""
        reacted = 0
        while followers and (rows := self.store.read(min(f.position for f in followers), self.page)):
            positions = [r.position for r in rows]
            self.read_topics.update(r.topic for r in rows)
            decoded: dict[int, Event] = {}  # each row decoded once, for every policy that wants it
            going_on, before = [], reacted
            for follower in followers:
                mine = rows[bisect.bisect_right(positions, follower.position):]
                if not mine:
                    going_on.append(follower)
                    continue
                count, goes_on = self._follow_page(follower, mine, decoded)
                reacted += count
                if goes_on:
                    going_on.append(follower)
            followers = going_on
            if len(rows) < self.page and reacted == before:
                break  # the log's end, and nothing written since: no need to ask again
        return reacted

    def _decoded(self, rows: Sequence[RawEvent], decoded: dict[int, Event]) -> None:
        missing = [r for r in rows if r.position not in decoded]
        if missing:
            decoded.update(zip((r.position for r in missing), self.store.decode(missing), strict=True))

    def _follow_page(self, follower: Follower, rows: Sequence[RawEvent], decoded: dict[int, Event]) -> tuple[int, bool]:
        """React to this policy's events of a page, in batches; (reacted, whether it goes on)."""
        jobs = self._jobs(follower, rows, decoded)
        end = rows[-1].position
        reacted = 0
        try:
            chunks = list(self._chunks(jobs))
            for i, chunk in enumerate(chunks):
                last = i == len(chunks) - 1
                count, stopped = self._react_all(follower, chunk, end if last else chunk[-1].row.position)
                reacted += count
                if stopped:
                    return reacted, False
        except BaseException:  # the store out of reach, say: its settings are the page end's, its place not
            self._followers.pop(follower.policy.name, None)  # read again from the store next round
            raise
        if not jobs:  # all passed over: the store learns it later (see the module's docstring)
            follower.position = max(follower.position, end)
        return reacted, True

    def _chunks(self, jobs: list[Job]) -> Iterator[list[Job]]:
        """The batches: up to ``batch`` events each, one settings throughout (a batch holds
        every event of the policy's kinds between its first and its last: PolicyContext.batch)."""
        chunk: list[Job] = []
        for job in jobs:
            if chunk and (len(chunk) >= self.batch or job.settings is not chunk[-1].settings):
                yield chunk
                chunk = []
            chunk.append(job)
        if chunk:
            yield chunk

    def _jobs(self, follower: Follower, rows: Sequence[RawEvent], decoded: dict[int, Event]) -> list[Job]:
        """The page's events this policy reacts to, each with its settings; the follower's
        settings move to the page's end (``_stop_at`` takes them back to where it stops)."""
        switches = {r.position for r in rows if r.topic == CONFIGURED and r.originator_id == follower.me}
        # Off for the whole page, only its switch is read: decoding is most of reading.
        wanted = [i for i, r in enumerate(rows) if r.topic in follower.topics or r.position in switches] \
            if follower.enabled or switches else []
        self._decoded([rows[i] for i in wanted], decoded)
        jobs = []
        for i in wanted:
            row = rows[i]
            enabled_before, settings_before = follower.enabled, follower.settings
            if row.position in switches:
                self._configure(follower, decoded[row.position])  # a policy that reacts to it too sees its new settings
            if follower.enabled and row.topic in follower.topics:
                before = rows[i - 1].position if i else follower.position  # the page starts after the place
                jobs.append(Job(row, decoded[row.position], follower.settings, before, enabled_before, settings_before))
        return jobs

    def _react_all(self, follower: Follower, jobs: Sequence[Job], upto: int) -> tuple[int, bool]:
        """React to these events in one batch and move the place to ``upto``; one at a time
        when the batch loses a race. (reacted, whether the policy stopped on one of them)."""
        try:
            outcome = self._react_batch(follower, jobs, upto)
        except Refused:
            return self._react_one_by_one(follower, jobs, upto)
        if outcome is MOVED:
            return 0, True
        if outcome.place > follower.saved:
            self._advanced(follower, outcome.place)
        if outcome.failed is not None:
            job, error = outcome.failed
            self._stop_at(follower, job)
            self._failed(follower, job.row.position, error)
            return outcome.reacted, True
        return outcome.reacted, False

    def _react_batch(self, follower: Follower, jobs: Sequence[Job], upto: int) -> Outcome:
        """One unit of work: the reactions to ``jobs`` (until one fails: the place stops
        before it) and the policy's new place, committed together."""

        events = [job.event for job in jobs]

        def decide(work: UnitOfWork) -> Outcome:
            outcome, memo = Outcome(place=upto), {}
            prefetched = self._prefetch(follower.policy, events, work)
            for job in jobs:
                try:
                    reaction = self._reaction(follower, job, work, events, memo, jobs[0].before)
                except Exception as error:  # the place stays before it; the ones before still land
                    outcome.failed, outcome.place = (job, f"{type(error).__name__}: {error}"), job.before
                    break
                work.save(reaction.events, outbox=reaction.outbox)
                outcome.reacted += 1
            if outcome.place > follower.saved:
                work.follow(Tracking(follower.policy.name, follower.saved, outcome.place))
            # The store remembers these records as the batch left them: the next batch's
            # reactions to the same people read nothing again (a lead's score, its contact).
            touched = {event.originator_id for event in work.staged}
            work.fold_states([s for s in work.load_many([r for r in prefetched if r[1] in touched]) if s is not None])
            return outcome

        def refused(error: LostRace) -> Outcome:
            if self._moved(follower):
                return MOVED
            raise Refused from error

        outcome, _ = decide_and_append(self.store, decide, attempts=1, after_lost_race=refused,
                                       on_contention=Refused)
        return outcome

    def _react_one_by_one(self, follower: Follower, jobs: Sequence[Job], upto: int) -> tuple[int, bool]:
        """A batch refused: each reaction saved on its own, as before batches."""
        reacted = 0
        for job in jobs:
            try:
                if not self._react(follower, job):
                    return reacted, True  # another runner has moved on: follow it next round
            except Exception as error:  # stay on this event; the others keep running
                self._stop_at(follower, job)
                self._failed(follower, job.row.position, f"{type(error).__name__}: {error}")
                return reacted, True
            reacted += 1
        follower.position = max(follower.position, upto)
        return reacted, False

    def _reaction(self, follower: Follower, job: Job, work: UnitOfWork, batch: Sequence[Event] = (),
                  memo: dict[str, Any] | None = None, before_batch: int | None = None) -> Reaction:
        """The policy's reaction, reading the records through ``work``: what the reactions
        before it in the batch staged included."""
        read_side = before = None
        if self._projector is not None:
            read_side = partial(self._read, at_least=job.row.position)
            before = partial(self._read, at_least=job.before if before_batch is None else before_batch)
        ctx = PolicyContext(work, follower.policy.name, job.settings, self.clock.now(), job.event, read_side,
                            batch or (job.event,), {} if memo is None else memo, before)
        reaction = follower.policy.react(job.event, ctx)
        self.queued = self.queued or bool(reaction.outbox)
        return reaction

    @staticmethod
    def _prefetch(policy: Policy, events: Sequence[Event], work: UnitOfWork) -> list[tuple[type, Any]]:
        """The records the batch's reactions will load, read in one query (only a saving:
        a policy that names them wrongly still reads the others one by one)."""
        try:
            wanted = list(policy.prefetch(events))
        except Exception:
            log.exception("policy %s: prefetch failed (its reactions load their records one by one)", policy.name)
            return []
        if wanted:
            work.load_many(wanted)
        return wanted

    def _react(self, follower: Follower, job: Job) -> bool:
        """React to one event and save the reaction with the new place, through the write
        pipeline (a record changed under the reaction: it is worked out again); False when
        another runner moved the place meanwhile."""

        def decide(work: UnitOfWork) -> bool:
            reaction = self._reaction(follower, job, work)
            work.save(reaction.events, outbox=reaction.outbox)
            work.follow(Tracking(follower.policy.name, follower.saved, job.row.position))
            return True

        reacted, _ = decide_and_append(
            self.store, decide, attempts=RETRIES, after_lost_race=partial(self._lost_race, follower),
            on_contention=lambda: TooMuchContention("the records kept changing while the reaction was worked out"),
        )
        if reacted:
            self._advanced(follower, job.row.position)
        return reacted

    def _stop_at(self, follower: Follower, job: Job) -> None:
        """The policy stays just before this event: its place and settings as they were there."""
        follower.position = max(job.before, follower.saved)
        follower.enabled, follower.settings = job.enabled_before, job.settings_before

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

    def _moved(self, follower: Follower) -> bool:
        """Whether another runner moved the place (then followed from the next round)."""
        if self.store.tracked_position(follower.policy.name) != follower.saved:
            self._followers.pop(follower.policy.name, None)
            return True
        return False

    def _lost_race(self, follower: Follower, error: LostRace) -> bool | None:
        """False when another runner moved the place (followed next round); None when a
        record changed under the reaction (worked out again)."""
        if isinstance(error, SubjectForgotten):
            raise error  # a person forgotten under the reaction: the policy stays on the event
        return False if self._moved(follower) else None

    def _advanced(self, follower: Follower, position: int) -> None:
        """The store has the place: the policy is past the event it failed on, if any."""
        follower.saved = position
        follower.position = max(follower.position, position)
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
