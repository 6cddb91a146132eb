"""The composition root: the one place that wires the store, the read side, the
projector and the command context from settings. The HTTP app, the CLI and the
tests all start here."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from crm_es.auth.api_keys import ApiKeys
from crm_es.channels import configured
from crm_es.clock import Clock, SystemClock
from crm_es.commands import CommandContext
from crm_es.policies.catalogue import POLICIES
from crm_es.policies.leader import Leadership
from crm_es.policies.runtime import PolicyRunner
from crm_es.policies.service import Automations, dispatcher_for
from crm_es.projections.read_side import ReadSide
from crm_es.projections.runner import Projector
from crm_es.settings import Settings
from crm_es.store import EventStore
from crm_es.store.outage import STORE, is_outage

log = logging.getLogger("crm_es")


class ReadSideLookups:
    """Facts a command needs from the read side, read after catching up with the log."""

    def __init__(self, projector: Projector) -> None:
        self.projector = projector

    def open_deals_in_stage(self, stage_id: UUID) -> int:
        self.projector.catch_up()
        with self.projector.read_side.cursor() as c:
            row = c.execute("SELECT count(*) FROM deals WHERE stage_id = ? AND status = 'open'", [str(stage_id)]).fetchone()
            return row[0] if row else 0

    def deals_naming(self, contact_id: UUID) -> list[UUID]:
        self.projector.catch_up()
        with self.projector.read_side.cursor() as c:
            rows = c.execute("SELECT DISTINCT deal_id FROM deal_contacts WHERE contact_id = ? ORDER BY deal_id",
                             [str(contact_id)]).fetchall()
            return [row[0] for row in rows]


@dataclass
class Services:
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

    def context(self, **kwargs: Any) -> CommandContext:
        kwargs.setdefault("channels", configured(self.settings))  # what this process's outbox can send on
        return CommandContext(store=self.store, clock=self.clock, lookups=ReadSideLookups(self.projector), **kwargs)

    def start(self) -> None:
        """Follow the log in the background (inside `crm-es serve`)."""
        self._stop.clear()
        self._spawn("projector", self.projector.run, self._stop, self.settings.poll_seconds)
        if self.settings.run_policies:
            self.start_policies()
        if self.store.channel:
            self._spawn("pg-listener", self._listen)

    def start_policies(self) -> None:
        """Run the automations in the background, while this process holds the lead."""
        self.automations.leadership = Leadership(self.store, self.settings.data_dir / "policies.lock")
        self._spawn("automations", self.automations.run, self._stop, self.settings.poll_seconds)

    def _spawn(self, name: str, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _listen(self) -> None:
        """Wake the projector on each PostgreSQL NOTIFY the library sends on insert."""
        from psycopg.sql import SQL, Identifier

        from crm_es.store.pg_pool import side_connection

        env = self.store.env
        while not self._stop.is_set():
            try:
                with side_connection(env) as conn:
                    conn.execute(SQL("LISTEN {}").format(Identifier(self.store.channel or "")))
                    STORE.recovered()
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            self.projector.wake()
                            self.automations.wake()
            except Exception as error:  # the poll keeps the read side moving meanwhile
                if is_outage(error):
                    STORE.failed(error)  # one line for the whole outage, not one a second
                else:
                    log.warning("LISTEN failed (%s); retrying", error)
                self._stop.wait(1.0)

    def stop(self) -> None:
        """Stop following the log (the store and the read side stay open)."""
        self._stop.set()
        self.projector.wake()
        self.automations.wake()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()

    def close(self) -> None:
        self.stop()
        self.store.close()
        self.read_side.close()


def bootstrap(settings: Settings | None = None, *, clock: Clock | None = None) -> Services:
    settings = settings or Settings.from_env()
    store = EventStore(settings.store_env())
    read_side = ReadSide(settings.read_side_path)
    projector = Projector(store, read_side, batch_size=settings.projector_batch)
    store.on_saved(projector.wake)
    clock = clock or SystemClock()
    policies = PolicyRunner(store, clock, POLICIES, projector=projector)
    automations = Automations(policies, dispatcher_for(store, clock, settings), None, settings.data_dir)
    store.on_saved(automations.wake)
    return Services(settings, store, read_side, projector, clock, ApiKeys(store, clock), policies, automations)
