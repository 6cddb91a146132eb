"""The demo's scenario: the commands planned so far, the records they create, and the random
streams that decide them.

``plan_demo`` (``demo.py``) fills one ``Scenario`` in two passes: first the organisation,
the companies, their contacts and the deals (``demo.py``), then the daily life around them
(``demo_activity.py``), which reads what the first pass planned — the reps, the contacts
with their registration times, the deals' lives with the times and owners of their steps.
Each pass adds ``Step``s: a command handler, its command and the business time.

Pure data, no I/O; it imports nothing but the standard library.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

LATEST = timedelta(hours=1)  # nothing happens in the last hour before now


@dataclass(frozen=True)
class Step:
    """One command of the demo. ``at`` orders the steps (None: set-up, done first);
    ``new_id`` is the id the record created by this command takes."""

    at: datetime | None
    handler: Callable[[Any, Any], Any]
    command: Any
    counts: str | None = None  # the DemoSummary field this step adds to
    new_id: UUID | None = None
    amount: int = 1  # how many it adds (a batch: its items)


@dataclass
class Company:
    id: UUID
    name: str
    country: str
    city: str
    domain: str
    currency: str
    potential: str
    owner_id: UUID
    customer: bool
    registered_at: datetime


@dataclass
class Contact:
    id: UUID
    company: Company
    source: str
    status: str  # as planned so far: a won deal or a lost renewal changes it
    registered_at: datetime
    first_name: str = ""
    last_name: str = ""
    email: str = ""  # as planned so far: a corrected address changes it
    decision_maker: bool = False


@dataclass
class DealLife:
    """A deal as planned, with its times and owners: what the activity around it builds on."""

    id: UUID
    pipeline: str
    title: str
    contacts: list[Contact]
    opened: datetime
    opens_in: str
    owner: UUID  # at the opening
    steps: list[tuple[datetime, str, str, UUID]] = field(default_factory=list)  # (at, what, argument, owner after)


class Scenario:
    """What is planned so far, and the streams that plan it (the same seed, the same draws)."""

    def __init__(self, seed: int, now: datetime) -> None:
        self.rng = random.Random(seed)
        self._id_rng = random.Random(f"crm-es-demo-ids:{seed}")
        # What was added later draws from its own stream: the first one's draws (and so
        # the companies, contacts and deals they decide) stay as they were.
        self.more = random.Random(f"crm-es-demo-more:{seed}")
        self.now = now
        self.latest = now - LATEST  # no business time after this
        self.steps: list[Step] = []
        self.reps: dict[str, UUID] = {}  # name -> id
        self.managers: dict[str, UUID] = {}  # team name -> its manager's rep id, in the order the teams were formed
        self.companies: list[Company] = []
        self.contacts: list[Contact] = []
        self.emails: set[str] = set()  # every address given so far: a new one must differ
        self.lives: list[DealLife] = []

    def new_id(self) -> UUID:
        return UUID(int=self._id_rng.getrandbits(128), version=4)

    def add(self, at: datetime | None, handler: Callable[[Any, Any], Any], command: Any,
            counts: str | None = None, new_id: UUID | None = None, amount: int = 1) -> None:
        self.steps.append(Step(at, handler, command, counts, new_id, amount))

    def days_ago(self, days: float) -> datetime:
        return (self.now - timedelta(days=days)).replace(microsecond=0)
