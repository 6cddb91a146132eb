"""The plan of a data set: everything decided from the seed before anything is written.

The sales organisation, the companies and their contacts (``people``), the deals and
their stories (``deals``), then the interactions shared out: about a third go to the
deals (the work between their steps, more for longer stretches), the rest to the contacts'
own lives (more for the lively ones and for those known longer). The shares add up to
exactly the number asked for. Planning holds no interaction itself — only how many each
record will have: streams make them as the timeline reaches them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from crm_es_samples.generate.deals import DealPlanner, PlannedDeal
from crm_es_samples.generate.people import (
    ACCOUNT_MANAGEMENT, NEW_BUSINESS, Organisation, PeoplePlanner, PlannedCompany, PlannedContact, apportion,
)
from crm_es_samples.world import PIPELINES, PROPERTIES

YEAR = timedelta(days=365)
DEAL_SHARE = 0.3  # of the interactions, about deals
DEAL_WORK_PER_SEGMENT = 6  # at most, on average: a deal is not worked more than that between two steps
LIVELY = 0.8  # spread of the contacts' liveliness (a log-normal's sigma): a few are very active
WEB_LIVELIER = 1.5  # contacts who came through the website browse it more
BOUNCED = 0.004  # contacts whose first e-mail bounces


@dataclass(frozen=True)
class Sizes:
    contacts: int = 100_000
    deals: int = 50_000
    interactions: int = 2_000_000
    years: int = 2
    seed: int = 42


@dataclass
class Plan:
    sizes: Sizes
    start: datetime  # the CRM's first day
    end: datetime  # now: nothing happens after it
    rng: random.Random  # the one random stream, drawn from again while the streams run
    organisation: Organisation
    companies: list[PlannedCompany]
    contacts: list[PlannedContact]
    deals: list[PlannedDeal]

    @property
    def facts(self) -> int:
        """How many facts the streams will give (a progress bar's length)."""
        set_up = len(PROPERTIES) + len(self.organisation.reps) * 2 + len(self.organisation.teams) + len(PIPELINES)
        people = sum(1 + c.interactions + (c.corrected_email is not None) for c in self.contacts)
        return set_up + len(self.companies) + people + sum(d.facts for d in self.deals)


def new_ids(rng: random.Random) -> Callable[[], UUID]:
    """Ids drawn from the run's random stream: the same seed, the same ids."""
    def new_id() -> UUID:
        return UUID(int=rng.getrandbits(128), version=4)

    return new_id


def plan(sizes: Sizes, now: datetime) -> Plan:
    rng = random.Random(sizes.seed)
    new_id = new_ids(rng)
    end = now.replace(microsecond=0) - timedelta(minutes=10)
    start = (end - sizes.years * YEAR).replace(hour=0, minute=0, second=0)
    people = PeoplePlanner(rng, new_id, start, end)
    organisation = people.organisation(sizes.contacts)
    companies = people.companies(sizes.contacts, organisation)
    contacts = people.contacts(sizes.contacts, companies)
    planner = DealPlanner(rng, new_id, organisation.of(ACCOUNT_MANAGEMENT), organisation.of(NEW_BUSINESS), end)
    deals = planner.deals(sizes.deals, start, contacts, companies)
    share_interactions(rng, people, sizes.interactions, contacts, deals, start, end)
    return Plan(sizes, start, end, rng, organisation, companies, contacts, deals)


def share_interactions(rng: random.Random, people: PeoplePlanner, total: int, contacts: list[PlannedContact],
                       deals: list[PlannedDeal], start: datetime, end: datetime) -> None:
    segments = [(deal, k, s) for deal in deals for k, s in enumerate(deal.segments)]
    to_deals = min(int(total * DEAL_SHARE), DEAL_WORK_PER_SEGMENT * len(segments))
    lengths = [min(30.0, (s.end - s.start) / timedelta(days=1)) + 0.5 for _, _, s in segments]
    for deal in deals:
        deal.work = [0] * len(deal.segments)
    for (deal, k, _), count in zip(segments, apportion(to_deals, lengths)):
        deal.work[k] = count
    span = end - start
    weights = [
        rng.lognormvariate(0, LIVELY) * (WEB_LIVELIER if c.source in ("web form", "website", "ads") else 1)
        * ((end - c.registered_at) / span + 0.05)
        for c in contacts
    ]
    for contact, count in zip(contacts, apportion(total - to_deals, weights)):
        contact.interactions = count
    # Welcome e-mails that bounce (one at least): the first address of each half is corrected later.
    can_bounce = [c for c in contacts if c.interactions >= 3]
    bounced = rng.sample(can_bounce, min(len(can_bounce), max(1, round(BOUNCED * len(contacts)))))
    for k, contact in enumerate(bounced):
        contact.bounces = True
        if k % 2 == 0:
            contact.corrected_email = people.email(contact.first_name[0], contact.last_name, contact.company.domain)
