"""The records of the generated history, decided by the aggregates' own functions.

``Records`` keeps every record's state in memory (the generator is the store's only
writer: it never needs to read one back) and turns each fact into events with the same
decision functions the command handlers call, then folds them in. The events wait in
``pending`` (with the e-mail claims they need) until the writer saves them, thousands at
a time. Recorded times come from the timeline's clock; each fact is its own request
(correlation id ``generate:<seed>:<n>``).

A contact's changes of state may come from several streams (its own, and the deals it is
in): each is dated no earlier than the contact's last one, so business time never goes
backwards along a contact's changes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from crm_es.aggregates import Contact, Deal, Pipeline, Rep
from crm_es.aggregates import company as companies
from crm_es.aggregates import contact as contacts
from crm_es.aggregates import deal as deals
from crm_es.aggregates import pipeline as pipelines
from crm_es.aggregates import rep as reps
from crm_es.aggregates import setup
from crm_es.aggregates import team as teams
from crm_es.aggregates.base import Event, Meta
from crm_es.aggregates.company import CompanyDetails
from crm_es.aggregates.contact import ContactDetails
from crm_es.aggregates.deal import DealDetails
from crm_es.aggregates.interactions import InteractionSpec
from crm_es.aggregates.pipeline import StageSpec
from crm_es.aggregates.setup import PropertyDefinition, Setup
from crm_es.clock import Clock
from crm_es.commands.records import email_claim
from crm_es.store import Claim

SYSTEM = "system"  # the set-up, done by an admin
TRACKING = "key:tracking-feed"  # the website's and the mailer's tracking feed (an API key)

# Who records an interaction
REP_LOGGED = "rep"  # the rep who did it (the deal's owner then, else the contact's)
FEED_ABOUT_REP = "feed-rep"  # the feed, about a rep's e-mail or quote: it names the rep
FEED = "feed"  # the feed, about no rep's doing (a visit to the website, a newsletter)


def rep_actor(rep_id: UUID | None) -> str:
    return f"rep:{rep_id}" if rep_id else SYSTEM


class Records:
    def __init__(self, clock: Clock, seed: int, session_gap: timedelta) -> None:
        self.clock = clock
        self.session_gap = session_gap
        self._request = f"generate:{seed}:"
        self._facts = 0
        self.setup: Setup | None = None
        self.reps: dict[UUID, Rep] = {}
        self.pipelines: dict[UUID, Pipeline] = {}
        self.contacts: dict[UUID, Contact] = {}
        self.deals: dict[UUID, Deal] = {}
        self.changed_at: dict[UUID, datetime] = {}  # a contact's last change of state (business time)
        self.pending: list[Event] = []
        self.claims: list[Claim] = []
        self.releases: list[Claim] = []
        self.counts: Counter[str] = Counter()  # events by class (``Deal.Won``, ``CallLogged``)

    def meta(self, occurred_at: datetime, actor: str) -> Meta:
        self._facts += 1
        return Meta(occurred_at, self.clock.now(), actor, self._request + str(self._facts))

    def _keep(self, events: Sequence[Event]) -> None:
        self.pending += events
        counts = self.counts
        for event in events:
            counts[type(event).__qualname__] += 1

    def take(self) -> tuple[list[Event], list[Claim], list[Claim]]:
        """What waits to be saved (and no longer waits)."""
        taken = self.pending, self.claims, self.releases
        self.pending, self.claims, self.releases = [], [], []
        return taken

    # --- the set-up ------------------------------------------------------------------

    def define_property(self, definition: PropertyDefinition, at: datetime) -> None:
        events = setup.define_property(self.setup, definition, self.meta(at, SYSTEM))
        self.setup = _fold(self.setup, events, Setup)
        self._keep(events)

    def add_rep(self, rep_id: UUID, name: str, email: str, at: datetime) -> None:
        events = reps.add(rep_id, name, email, None, self.meta(at, SYSTEM))
        self.reps[rep_id] = _fold(None, events, Rep)
        self._keep(events)

    def form_team(self, team_id: UUID, name: str, manager_id: UUID, at: datetime) -> None:
        self._keep(teams.form(team_id, name, manager_id, self.meta(at, SYSTEM)))

    def join_team(self, rep_id: UUID, team_id: UUID, at: datetime) -> None:
        events = reps.join_team(self.reps[rep_id], team_id, self.meta(at, SYSTEM))
        self.reps[rep_id] = _fold(self.reps[rep_id], events)
        self._keep(events)

    def create_pipeline(self, pipeline_id: UUID, name: str, stages: Sequence[StageSpec], new_id: Callable[[], UUID],
                        at: datetime) -> None:
        events = pipelines.create(pipeline_id, name, stages, new_id, self.meta(at, SYSTEM))
        self.pipelines[pipeline_id] = _fold(None, events, Pipeline)
        self._keep(events)

    # --- companies and contacts ------------------------------------------------------

    def register_company(self, company_id: UUID, details: CompanyDetails, at: datetime) -> None:
        self._keep(companies.register(company_id, details, self.meta(at, SYSTEM)))  # companies are admins' records

    def register_contact(self, contact_id: UUID, details: ContactDetails, status: str, owner_id: UUID,
                         lifecycle: str, role: str, at: datetime) -> None:
        """As ``register_contact`` decides it: the contact, its lifecycle stage and its role,
        with the claim of its e-mail."""
        meta = self.meta(at, rep_actor(owner_id))
        events = contacts.register(contact_id, details, status, owner_id, meta)
        contact = contacts.fold_onto(None, events)
        more = contacts.change_lifecycle(contact, lifecycle, meta)
        contact = contacts.fold_onto(contact, more)
        roles = contacts.settle_roles(contact, (role,), meta)
        self.contacts[contact_id] = contacts.fold_onto(contact, roles)
        self.changed_at[contact_id] = at
        self.claims.append(email_claim(details.email, contact_id))
        self._keep([*events, *more, *roles])

    def change_contact(self, contact_id: UUID, at: datetime, *, status: str | None = None,
                       lifecycle: str | None = None, owner_id: UUID | None = None, email: str | None = None) -> None:
        """A change of status, lifecycle stage, owner or e-mail (each only if it differs);
        a new e-mail moves the contact's claim."""
        before = self.contacts[contact_id]
        at = max(at, self.changed_at[contact_id])
        meta = self.meta(at, rep_actor(owner_id or before.owner_id))
        details = {"email": email} if email is not None else {}
        events = contacts.change(before, details, status, owner_id, owner_id is not None, meta)
        contact = contacts.fold_onto(before, events)
        events += contacts.change_lifecycle(contact, lifecycle, meta)
        if not events:
            return
        self.contacts[contact_id] = contacts.fold_onto(before, events)
        self.changed_at[contact_id] = at
        if email is not None:
            old = email_claim(before.details.email, contact_id)
            if old in self.claims:  # not saved yet (a save releases before it claims): never made
                self.claims.remove(old)
            else:
                self.releases.append(old)
            self.claims.append(email_claim(email, contact_id))
        self._keep(events)

    # --- deals ------------------------------------------------------------------------

    def open_deal(self, deal_id: UUID, details: DealDetails, pipeline_id: UUID, stage: str, amount: Decimal,
                  currency: str, owner_id: UUID, at: datetime) -> None:
        meta = self.meta(at, rep_actor(owner_id))
        events = deals.open_deal(deal_id, details, self.pipelines[pipeline_id], stage, amount, currency, owner_id, meta)
        self.deals[deal_id] = _fold(None, events, Deal)
        self._keep(events)

    def _deal(self, deal_id: UUID, decide: Callable[[Deal, Meta], list[Event]], at: datetime) -> None:
        deal = self.deals[deal_id]
        events = decide(deal, self.meta(at, rep_actor(deal.owner_id)))
        self.deals[deal_id] = _fold(deal, events)
        self._keep(events)

    def move_deal(self, deal_id: UUID, stage: str, at: datetime) -> None:
        self._deal(deal_id, lambda deal, meta: deals.move(deal, self.pipelines[deal.pipeline_id], stage, meta), at)

    def win_deal(self, deal_id: UUID, at: datetime) -> None:
        self._deal(deal_id, deals.win, at)

    def lose_deal(self, deal_id: UUID, reason: str, competitor: str | None, at: datetime) -> None:
        self._deal(deal_id, lambda deal, meta: deals.lose(deal, reason, meta, competitor), at)

    def reopen_deal(self, deal_id: UUID, stage: str | None, at: datetime) -> None:
        self._deal(deal_id, lambda deal, meta: deals.reopen(deal, self.pipelines[deal.pipeline_id], stage, meta), at)

    def change_deal(self, deal_id: UUID, at: datetime, *, amount: Decimal | None = None, owner_id: UUID | None = None,
                    expected_close: date | None = None) -> None:
        details = {"expected_close": expected_close} if expected_close is not None else {}
        self._deal(deal_id, lambda deal, meta: deals.change(
            deal, details, amount, None, owner_id, owner_id is not None, meta), at)

    # --- interactions -----------------------------------------------------------------

    def interaction(self, contact_id: UUID, deal_id: UUID | None, kind: str, fields: dict[str, Any], by: str,
                    at: datetime) -> None:
        """One interaction on the contact, mirrored on the deal it is about; ``by``: who
        records it (``REP_LOGGED``, ``FEED_ABOUT_REP``, ``FEED``)."""
        contact = self.contacts[contact_id]
        deal = self.deals[deal_id] if deal_id is not None else None
        rep_id = None if by == FEED else deal.owner_id if deal is not None else contact.owner_id
        meta = self.meta(at, rep_actor(rep_id) if by == REP_LOGGED else TRACKING)
        events = contacts.record_interaction(contact, InteractionSpec(kind, fields, rep_id, deal_id), meta,
                                             self.session_gap)
        for event in events:
            contact = Contact.evolve(contact, event)
        self.contacts[contact_id] = contact
        if deal is not None:
            mirrored = deals.record_interaction(deal, events[0], meta)
            self.deals[deal.id] = Deal.evolve(deal, mirrored[0])
            events += mirrored
        self._keep(events)


def _fold(state: Any, events: Sequence[Event], cls: type | None = None) -> Any:
    kind = cls or type(state)
    for event in events:
        state = kind.evolve(state, event)
    return state
