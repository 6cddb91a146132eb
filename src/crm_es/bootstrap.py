"""The composition root: the one place that wires the store, the read side, the projector,
the automations and the command context from settings. Every entry point (the HTTP app,
each `crm-es` command) and the tests start from one of its named assemblies, each of
which closes what it opened (``close()``, or ``with``):

- `service()`: the whole service (``crm-es serve``, the HTTP app, the commands that need
  the read side);
- `store_tools()`: the event store alone, usable while ``crm-es serve`` runs (which owns the
  read side's file): ``crm-es keys``, ``audit``, ``generate``, ``policies --status``;
- `policy_worker()`: the automations on their own (``crm-es policies``), with a read side
  of their own.

Only the entry points and the sample data import this module (pyproject.toml's contracts).
"""

from __future__ import annotations

import logging
import threading
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Self

from crm_es.auth.api_keys import ApiKeys
from crm_es.channels import configured
from crm_es.clock import Clock, SystemClock
from crm_es.commands import CommandContext
from crm_es.policies.catalogue import POLICIES
from crm_es.policies.leader import Leadership
from crm_es.policies.runtime import PolicyRunner
from crm_es.policies.service import Automations, dispatcher_for
from crm_es.projections.read_side import ReadSide
from crm_es.projections.rebuild import BlueGreen
from crm_es.projections.runner import Projector
from crm_es.queries.lookups import ReadSideLookups
from crm_es.settings import Settings
from crm_es.store import EventStore

log = logging.getLogger("crm_es")


class _ClosedOnExit:
    """``with assembly: …`` closes it at the end."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


@dataclass
class Services(_ClosedOnExit):
    """The whole service; `start` follows the log in the background, `close` stops and closes all."""

    settings: Settings
    store: EventStore
    read_side: ReadSide
    projector: Projector
    clock: Clock
    api_keys: ApiKeys
    policies: PolicyRunner
    automations: Automations
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    rebuilds: BlueGreen = field(init=False)  # blue-green rebuilds of the read side, beside the projector

    def __post_init__(self) -> None:
        self.rebuilds = BlueGreen(self.projector, self.clock)

    def context(self, **kwargs: Any) -> CommandContext:
        kwargs.setdefault("channels", configured(self.settings))  # what this process's outbox can send on
        return CommandContext(store=self.store, clock=self.clock, lookups=ReadSideLookups(self.projector), **kwargs)

    def start(self) -> None:
        """Follow the log in the background (inside `crm-es serve`)."""
        self._stop.clear()
        self._spawn("projector", self.projector.run, self._stop, self.settings.poll_seconds)
        if self.settings.run_policies:
            self.start_policies()
        if self.store.channel:  # PostgreSQL: woken on each insert, by any process
            self._spawn("pg-listener", self.store.follow_inserts, self._stop, self._wake_followers)

    def start_policies(self) -> None:
        """Run the automations in the background, while this process holds the lead."""
        self.automations.leadership = Leadership(self.store, self.settings.data_dir / "policies.lock")
        self._spawn("automations", self.automations.run, self._stop, self.settings.poll_seconds)

    def _spawn(self, name: str, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _wake_followers(self) -> None:
        self.projector.wake()
        self.automations.wake()

    def stop(self) -> None:
        """Stop following the log (the store and the read side stay open)."""
        self._stop.set()
        self.rebuilds.cancel()
        self.projector.wake()
        self.automations.wake()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()

    def close(self) -> None:
        self.stop()
        self.store.close()
        self.read_side.close()



def service(settings: Settings | None = None, *, clock: Clock | None = None) -> Services:
    """The whole service: the store, the read side and its projector, the automations
    (run by `Services.start` when the settings say so) and the API keys."""
    settings = settings or Settings.from_env()
    with ExitStack() as opened:  # a part that fails to open closes those opened before it
        store = opened.enter_context(closing(EventStore(settings.store_env())))
        read_side = opened.enter_context(closing(ReadSide(settings.read_side_path)))
        projector = Projector(store, read_side, batch_size=settings.projector_batch)
        store.on_saved(projector.wake)
        clock = clock or SystemClock()
        policies = PolicyRunner(store, clock, POLICIES, projector=projector)
        automations = Automations(policies, dispatcher_for(store, clock, settings), None, settings.data_dir)
        store.on_saved(automations.wake)
        services = Services(settings, store, read_side, projector, clock, ApiKeys(store, clock), policies, automations)
        opened.pop_all()  # the services close them from now on
    return services


@dataclass
class StoreTools(_ClosedOnExit):
    """The event store alone, with a clock: what works beside a running `crm-es serve`."""

    settings: Settings
    store: EventStore
    clock: Clock

    @cached_property
    def api_keys(self) -> ApiKeys:
        """Made when first asked: it creates its table, a write the other tools never need
        (an auditor may reach the store read-only)."""
        return ApiKeys(self.store, self.clock)

    def close(self) -> None:
        self.store.close()


def store_tools(settings: Settings | None = None) -> StoreTools:
    settings = settings or Settings.from_env()
    return StoreTools(settings, EventStore(settings.store_env()), SystemClock())


@dataclass
class PolicyWorker(_ClosedOnExit):
    """The automations on their own, beside (or instead of) `crm-es serve`: the runner
    acts while `leadership` holds the lead, reading agendas and teams from a read side
    of its own (``policies-read.duckdb``: the service's process owns its file)."""

    settings: Settings
    store: EventStore
    clock: Clock
    leadership: Leadership
    runner: PolicyRunner
    automations: Automations
    read_sides: list[ReadSide]  # the ones the runner opened, closed with the worker

    def close(self) -> None:
        for read_side in self.read_sides:
            read_side.close()
        self.store.close()


def policy_worker(settings: Settings | None = None, *, clock: Clock | None = None) -> PolicyWorker:
    settings = settings or Settings.from_env()
    with ExitStack() as opened:
        store = opened.enter_context(closing(EventStore(settings.store_env())))
        clock = clock or SystemClock()
        leadership = Leadership(store, settings.data_dir / "policies.lock")
        read_sides: list[ReadSide] = []

        def projector() -> Projector:
            """Opened by the active runner when a policy first reads agendas or teams (a
            standby runner never does)."""
            read_sides.append(ReadSide(settings.data_dir / "policies-read.duckdb"))
            return Projector(store, read_sides[-1], batch_size=settings.projector_batch)

        runner = PolicyRunner(store, clock, POLICIES, projector=projector)
        automations = Automations(runner, dispatcher_for(store, clock, settings), leadership, settings.data_dir)
        worker = PolicyWorker(settings, store, clock, leadership, runner, automations, read_sides)
        opened.pop_all()  # the worker closes the store from now on
    return worker
