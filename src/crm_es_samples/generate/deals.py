"""Deals: their stories planned from the seed, then told as streams of facts.

A new-business deal is opened with one or two contacts of a company (known by then), in
the first stage or the second (a warm lead), and climbs the pipeline step by step — days
to weeks apart, now and then skipping a stage or stepping back once — until it is lost
(more often early) or won at the last stage. Some lost ones come back months later
(reopened) and go on. Along the way an amount is discounted or raised, an owner hands
over, an expected close date is pushed. A won deal makes the company a customer, its
contacts customers looked after by an account manager; customers get renewal deals,
whose loss makes former customers. Deals opened lately are still open at the end.

Between two steps the owner works the deal (``Activities.deal_work``): calls, e-mails,
meetings, a demo, a proposal whose quote is opened… each naming the deal.
"""

from __future__ import annotations

import bisect
import heapq
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial
from operator import attrgetter
from typing import Any, NamedTuple
from uuid import UUID

from crm_es.aggregates.deal import DealDetails
from crm_es_samples.generate.activities import Activities
from crm_es_samples.generate.people import PlannedCompany, PlannedContact
from crm_es_samples.generate.records import Records
from crm_es_samples.generate.timeline import Fact
from crm_es_samples.world import (
    COMPETITOR_REASONS, COMPETITORS, DISCOUNT_STAGES, DISCOUNTS, LICENCE_PRICE, LOST_REASONS, NEW_BUSINESS, PIPELINES,
    PRODUCTS, RENEWAL_AMOUNTS, RENEWAL_LOST_REASONS, RENEWALS, RENEWED_CONTRACTS, REOPENED_REASONS,
)

# The chance of being lost in each stage (at the last one: instead of being won)
LOSS = {NEW_BUSINESS: [0.3, 0.25, 0.2, 0.2, 0.15, 0.12], RENEWALS: [0.08, 0.06, 0.06, 0.05]}
RENEWAL_SHARE = 0.3  # of the deals opened once there are customers
START_LATER, SECOND_CONTACT = 0.15, 0.4
SKIP, SET_BACK = 0.1, 0.06  # per move: a stage skipped; once per deal, a step back
REOPEN = 0.35  # a deal lost for one of REOPENED_REASONS comes back
DISCOUNT, UPSELL, HAND_OVER, PUSHED = 0.35, 0.08, 0.05, 0.12
STEP_DAYS = 8  # the mean gap between two steps, on top of a day
LATE_STEP, LATE_STEP_HOURS = 0.04, (3, 48)  # a move logged the next day


class Step(NamedTuple):
    at: datetime
    what: str  # move, win, lose, reopen, amount, owner, close
    argument: Any = None  # a stage, (reason, competitor), an amount, a rep, a date


class Segment(NamedTuple):
    """A stretch of the deal's life while open, in one stage: the owner works it then."""

    start: datetime
    end: datetime
    stage: str


@dataclass(slots=True)
class PlannedDeal:
    id: UUID
    pipeline: str
    company: PlannedCompany
    contacts: tuple[PlannedContact, ...]
    owner: UUID
    opened_at: datetime
    stage: str
    amount: Decimal
    title: str
    expected_close: date
    steps: list[Step] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    work: list[int] = field(default_factory=list)  # interactions in each segment, set once all is planned

    @property
    def facts(self) -> int:
        closing = sum(len(self.contacts) for s in self.steps if s.what in ("win", "lose"))
        return 1 + len(self.steps) + closing + sum(self.work)


class DealPlanner:
    def __init__(self, rng: random.Random, new_id: Callable[[], UUID], managers: list[UUID], prospectors: list[UUID],
                 end: datetime) -> None:
        self.rng = rng
        self.new_id = new_id
        self.reps = {RENEWALS: managers, NEW_BUSINESS: prospectors}
        self.end = end - timedelta(hours=1)  # the last step's latest time

    def gap(self) -> timedelta:
        return timedelta(days=1 + min(60.0, self.rng.expovariate(1 / STEP_DAYS)))

    def deals(self, count: int, start: datetime, contacts: list[PlannedContact],
              companies: list[PlannedCompany]) -> list[PlannedDeal]:
        """``count`` deals opened evenly over the years, in time order."""
        contacts = sorted(contacts, key=attrgetter("registered_at"))
        registered = [c.registered_at for c in contacts]
        for company in companies:  # so that those known at a time are a prefix
            company.contacts.sort(key=attrgetter("registered_at"))
        # (since when, tie-break, company): customers as the years go by
        became = [(c.customer_since, k, c) for k, c in enumerate(companies) if c.customer_since is not None]
        heapq.heapify(became)
        customers: list[PlannedCompany] = []
        span = self.end - start - timedelta(days=3)
        planned: list[PlannedDeal] = []
        for opened in sorted(start + timedelta(days=2) + span * self.rng.random() for _ in range(count)):
            opened = max(opened, registered[0] + timedelta(hours=2)).replace(microsecond=0)
            while became and became[0][0] <= opened:
                since, _, company = heapq.heappop(became)
                if since == company.customer_since:  # not an older, later-corrected date
                    customers.append(company)
            known = bisect.bisect_left(registered, opened - timedelta(hours=1))
            deal = None
            if customers and self.rng.random() < RENEWAL_SHARE:
                deal = self.deal(RENEWALS, self.rng.choice(customers), opened)
            if deal is None:
                deal = self.deal(NEW_BUSINESS, contacts[self.rng.randrange(max(known, 1))].company, opened)
            assert deal is not None
            planned.append(deal)
            won = next((s.at for s in deal.steps if s.what == "win"), None)
            since = deal.company.customer_since
            if won is not None and deal.pipeline == NEW_BUSINESS and (since is None or won < since):
                deal.company.customer_since = won
                heapq.heappush(became, (won, len(companies) + len(planned), deal.company))
        return planned

    def deal(self, pipeline: str, company: PlannedCompany, opened: datetime) -> PlannedDeal | None:
        known = bisect.bisect_left(company.contacts, opened - timedelta(hours=1), key=attrgetter("registered_at"))
        if not known:
            return None
        people = [company.contacts[self.rng.randrange(known)]]
        if known > 1 and self.rng.random() < SECOND_CONTACT:
            other = company.contacts[self.rng.randrange(known - 1)]
            people.append(other if other is not people[0] else company.contacts[known - 1])
        team = self.reps[pipeline]
        owner = company.owner if pipeline == NEW_BUSINESS else company.account_manager
        owner = owner if owner in team else self.rng.choice(team)
        amount, title = self.price(pipeline, company, opened.year)
        stages = [name for name, _ in PIPELINES[pipeline]]
        first = 1 if self.rng.random() < START_LATER else 0
        deal = PlannedDeal(self.new_id(), pipeline, company, tuple(people), owner, opened, stages[first], amount, title,
                           (opened + timedelta(days=self.rng.uniform(30, 120))).date())
        self.story(deal, stages, first)
        return deal

    def price(self, pipeline: str, company: PlannedCompany, year: int) -> tuple[Decimal, str]:
        if pipeline == RENEWALS:
            contract = self.rng.choice(RENEWED_CONTRACTS)
            return Decimal(self.rng.randrange(*RENEWAL_AMOUNTS, 100)), f"{company.name} — {contract} renewal {year}"
        product, low, high = self.rng.choice(PRODUCTS)
        return Decimal(self.rng.randrange(low, high, 100)), f"{company.name} — {product}"

    def story(self, deal: PlannedDeal, stages: list[str], at_stage: int) -> None:
        """The deal's steps until it is won, lost for good, or the years run out."""
        rng, steps, loss = self.rng, deal.steps, LOSS[deal.pipeline]
        last, at, amount = len(stages) - 1, deal.opened_at, deal.amount
        set_back = reopened = False
        hand_over_at = rng.randrange(1, 6) if rng.random() < HAND_OVER else -1
        push_at = rng.randrange(1, 5) if rng.random() < PUSHED else -1
        for n in range(1, 100):
            at = (at + self.gap()).replace(microsecond=0)
            if at > self.end:
                break
            if n == hand_over_at:
                steps.append(Step(at, "owner", rng.choice([r for r in self.reps[deal.pipeline] if r != deal.owner]
                                                          or [deal.owner])))
                continue
            if n == push_at:
                steps.append(Step(at, "close", deal.expected_close + timedelta(days=rng.randint(20, 60))))
                continue
            if rng.random() < loss[at_stage]:
                reasons = RENEWAL_LOST_REASONS if deal.pipeline == RENEWALS else LOST_REASONS
                reason = rng.choice(reasons)
                competitor = rng.choice(COMPETITORS) if reason in COMPETITOR_REASONS else None
                steps.append(Step(at, "lose", (reason, competitor)))
                if reopened or reason not in REOPENED_REASONS or rng.random() >= REOPEN:
                    break
                at += timedelta(days=rng.uniform(30, 120))
                if at > self.end:
                    break
                reopened, at_stage = True, min(at_stage, 1)
                steps.append(Step(at, "reopen", stages[at_stage]))
            elif at_stage == last:
                steps.append(Step(at, "win"))
                break
            elif not set_back and at_stage >= 2 and rng.random() < SET_BACK:
                set_back, at_stage = True, at_stage - 1
                steps.append(Step(at, "move", stages[at_stage]))
            else:
                at_stage = min(last, at_stage + (2 if rng.random() < SKIP else 1))
                steps.append(Step(at, "move", stages[at_stage]))
                if stages[at_stage] in DISCOUNT_STAGES and rng.random() < DISCOUNT:
                    amount = (amount * (100 - rng.choice(DISCOUNTS)) / 100).quantize(Decimal("1"))
                    steps.append(Step(min(at + timedelta(hours=rng.uniform(1, 20)), self.end), "amount", amount))
                elif at_stage == 3 and rng.random() < UPSELL:  # the proposal: more seats than first said
                    amount = (amount * Decimal(rng.randint(110, 150)) / 100).quantize(Decimal("1"))
                    steps.append(Step(min(at + timedelta(hours=rng.uniform(1, 20)), self.end), "amount", amount))
        deal.segments = list(_segments(deal, self.end))


def _segments(deal: PlannedDeal, end: datetime) -> Iterator[Segment]:
    """The stretches between steps while the deal is open (the last one: until the end)."""
    stage, start, is_open = deal.stage, deal.opened_at, True
    for step in deal.steps:
        if is_open and step.at > start:
            yield Segment(start, step.at, stage)
        if step.what in ("move", "reopen"):
            stage = step.argument
        is_open = step.what not in ("win", "lose")
        start = step.at
    if is_open and end > start:
        yield Segment(start, end, stage)


class DealStories:
    """Tells planned deals as streams of facts for the timeline."""

    def __init__(self, rng: random.Random, records: Records, activities: Activities,
                 pipelines: dict[str, UUID]) -> None:
        self.rng = rng
        self.records = records
        self.activities = activities
        self.pipelines = pipelines

    def stream(self, deal: PlannedDeal) -> Iterator[Fact]:
        licences = {"licences": int(deal.amount // LICENCE_PRICE)} if "CRM licences" in deal.title else None
        details = DealDetails(deal.title, tuple(c.id for c in deal.contacts), deal.company.id, deal.contacts[0].source,
                              deal.expected_close, licences)
        yield Fact(deal.opened_at, partial(self.records.open_deal, deal.id, details, self.pipelines[deal.pipeline],
                                           deal.stage, deal.amount, deal.company.currency, deal.owner), ordered=True)
        contacts = tuple(c.id for c in deal.contacts)
        about = deal.title.partition(" — ")[2]
        work = [self.activities.deal_work(s.start, s.end, n, s.stage, contacts, deal.id, about)
                for s, n in zip(deal.segments, deal.work) if n]
        yield from heapq.merge(self.steps(deal), *work, key=attrgetter("at"))

    def steps(self, deal: PlannedDeal) -> Iterator[Fact]:
        records, rng = self.records, self.rng
        for step in deal.steps:
            late = timedelta(hours=rng.uniform(*LATE_STEP_HOURS)) if rng.random() < LATE_STEP else None
            match step.what:
                case "move":
                    do = partial(records.move_deal, deal.id, step.argument)
                case "win":
                    do = partial(records.win_deal, deal.id)
                case "lose":
                    do = partial(records.lose_deal, deal.id, *step.argument)
                case "reopen":
                    do = partial(records.reopen_deal, deal.id, step.argument)
                case "amount":
                    do = partial(records.change_deal, deal.id, amount=step.argument)
                case "owner":
                    do = partial(records.change_deal, deal.id, owner_id=step.argument)
                case _:
                    do = partial(records.change_deal, deal.id, expected_close=step.argument)
            yield Fact(step.at, do, late, ordered=True)
            if step.what in ("win", "lose"):
                for contact in deal.contacts:
                    after = step.at + timedelta(minutes=rng.uniform(5, 60))
                    yield Fact(after, partial(self.standing, contact.id, deal, step.what == "win"))

    def standing(self, contact_id: UUID, deal: PlannedDeal, won: bool, at: datetime) -> None:
        """What a deal's end makes of its contacts: customers (looked after by the account
        manager) once new business is won, loyal ones when a renewal is; former customers
        when a renewal is lost; a lost prospect goes cold."""
        status = self.records.contacts[contact_id].status
        if deal.pipeline == NEW_BUSINESS and won:
            self.records.change_contact(contact_id, at, status="customer", lifecycle="active",
                                        owner_id=deal.company.account_manager)
        elif won:
            self.records.change_contact(contact_id, at, status="customer", lifecycle="loyal")
        elif deal.pipeline == RENEWALS:
            self.records.change_contact(contact_id, at, status="former customer", lifecycle="lost")
        elif status != "customer":
            self.records.change_contact(contact_id, at, status="cold prospect")
