"""Writing a plan into the event store: every record's stream on the timeline, the events
saved thousands at a time.

The set-up comes first, the day before the CRM's first day (the record configuration,
reps, teams, pipelines — by an admin); then each company, contact and deal starts its
stream when its first fact is due. The timeline hands out facts in recorded order; each
is decided at once (``Records``) and its events wait until ``SAVE_EVENTS`` of them are
ready, then go through one ``UnitOfWork`` — the one door every writer commits through —
in one transaction, with the e-mail claims they make; personal fields are sealed by the
store as it saves.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from operator import attrgetter
from uuid import UUID

from crm_es.aggregates.base import DomainError
from crm_es.aggregates.company import CompanyDetails
from crm_es.aggregates.contact import ContactDetails
from crm_es.aggregates.interactions import DEFAULT_SESSION_GAP, KINDS
from crm_es.aggregates.pipeline import StageSpec
from crm_es.clock import FrozenClock
from crm_es.commands.unit_of_work import UnitOfWork, cycle_collector_paused
from crm_es.store import EventStore
from crm_es_samples.generate.activities import Activities
from crm_es_samples.generate.deals import DealStories
from crm_es_samples.generate.people import NEWSLETTER_TAG, PlannedCompany, PlannedContact
from crm_es_samples.generate.plan import Plan, new_ids
from crm_es_samples.generate.records import Records
from crm_es_samples.generate.timeline import Fact, Timeline
from crm_es_samples.world import NAME_POOL, PIPELINES, PROPERTIES

SAVE_EVENTS = 5_000  # events per store transaction
FIRST_NOTE = 0.5  # new contacts with a note from the rep who met them


class StoreNotEmpty(DomainError):
    rule = "store-not-empty"


@dataclass
class Summary:
    """What was written, and how fast."""

    reps: int
    teams: int
    pipelines: int
    companies: int
    contacts: int
    deals: int
    moves: int
    won: int
    lost: int
    reopened: int
    interactions: int
    facts: int  # every fact the streams gave (some change nothing: a contact already a customer)
    late: int  # facts recorded hours or days after they happened
    events: int
    seconds: float
    events_per_second: float
    first_day: str
    last_day: str
    events_by_class: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def require_empty(store: EventStore) -> None:
    """Generated ids and e-mails must not meet a store's own: only an empty one is written."""
    position = store.max_position()
    if position > 0:
        raise StoreNotEmpty(f"the event store already holds events (up to position {position}); "
                            "generate only writes into an empty store")


def write(store: EventStore, plan: Plan, *, session_gap: timedelta = DEFAULT_SESSION_GAP,
          progress: Callable[[int], None] | None = None) -> Summary:
    """Write the planned history into an empty store; ``progress(n)`` is called with the
    number of facts just saved (the bar's length is ``plan.facts``)."""
    require_empty(store)
    began = time.perf_counter()
    clock = FrozenClock(plan.start - timedelta(days=1))
    records = Records(clock, plan.sizes.seed, session_gap)
    activities = Activities(plan.rng, records, plan.end)
    timeline = Timeline(clock, plan.end, plan.rng)
    set_up, pipelines = _set_up(plan, records, clock.now())
    timeline.start(clock.now(), lambda: iter(set_up))
    for company in plan.companies:
        timeline.start(company.registered_at, partial(_company, records, company))
    for contact in plan.contacts:
        timeline.start(contact.registered_at, partial(_contact, records, activities, plan, contact))
    stories = DealStories(plan.rng, records, activities, pipelines)
    for deal in plan.deals:
        timeline.start(deal.opened_at, partial(stories.stream, deal))
    facts = unsaved = 0
    with cycle_collector_paused():  # millions of objects live, none in a cycle: its passes would cost minutes
        for fact in timeline:
            fact.do(fact.at)
            unsaved += 1
            if len(records.pending) >= SAVE_EVENTS:
                facts += _save(store, records, unsaved, progress)
                unsaved = 0
        facts += _save(store, records, unsaved, progress)
    return _summary(records, timeline, facts, time.perf_counter() - began, plan)


def _save(store: EventStore, records: Records, facts: int, progress: Callable[[int], None] | None) -> int:
    events, claims, releases = records.take()
    if events:  # decided already (``Records``): the unit of work writes them in one transaction
        work = UnitOfWork(store)
        work.save(events, claims=claims, releases=releases)
        work.commit()
    if progress:
        progress(facts)
    return facts


def _set_up(plan: Plan, records: Records, at: datetime) -> tuple[list[Fact], dict[str, UUID]]:
    """The record configuration, the reps, their teams and the pipelines, a minute apart."""
    org, new_id = plan.organisation, new_ids(plan.rng)
    steps: list[Callable[[datetime], None]] = [partial(records.define_property, d) for d in PROPERTIES]
    steps += [partial(records.add_rep, rep_id, name, email) for rep_id, name, email in org.reps]
    steps += [partial(records.form_team, team.id, team.name, team.members[0]) for team in org.teams]
    steps += [partial(records.join_team, rep_id, team.id) for team in org.teams for rep_id in team.members]
    pipelines = {}
    for name, stages in PIPELINES.items():
        pipelines[name] = new_id()
        specs = [StageSpec(stage, Decimal(probability)) for stage, probability in stages]
        steps.append(partial(records.create_pipeline, pipelines[name], name, specs, new_id))
    return [Fact(at + timedelta(minutes=k), step) for k, step in enumerate(steps)], pipelines


def _company(records: Records, company: PlannedCompany) -> Iterator[Fact]:
    properties = {"country": company.country, "employees": max(2, company.revenue // 150_000),
                  "billing_currency": company.currency, "website": f"https://www.{company.domain}"}
    details = CompanyDetails(company.name, company.sector, Decimal(company.revenue), properties)
    yield Fact(company.registered_at, partial(records.register_company, company.id, details), ordered=True)


def _contact(records: Records, activities: Activities, plan: Plan, contact: PlannedContact) -> Iterator[Fact]:
    """The contact's registration, then its own life: a first note or a welcome e-mail
    that bounces (the address corrected later, or not), then what ``contact_life`` makes."""
    rng, company, at = plan.rng, contact.company, contact.registered_at
    tags = (company.potential, NEWSLETTER_TAG) if contact.newsletter else (company.potential,)
    details = ContactDetails(
        contact.first_name, contact.last_name, contact.email, contact.phone, contact.job_title, company.id,
        contact.city, contact.source, tags, {"language": NAME_POOL[company.country].lower()},
    )
    lifecycle = "active" if contact.status == "customer" else "potential"
    yield Fact(at, partial(records.register_contact, contact.id, details, contact.status, contact.owner, lifecycle,
                           contact.role), ordered=True)
    first: list[Fact] = []
    count = contact.interactions
    if contact.bounces:
        first = activities.bounce(at + timedelta(hours=rng.uniform(2, 20)), contact.id)
        count -= len(first)
        if contact.corrected_email is not None:
            corrected = first[-1].at + timedelta(days=rng.uniform(3, 20))
            first.append(Fact(min(corrected, plan.end), partial(records.change_contact, contact.id,
                                                                 email=contact.corrected_email)))
    elif count and rng.random() < FIRST_NOTE:
        first = [activities.first_note(at + timedelta(minutes=rng.uniform(5, 90)), contact.id, contact.source)]
        count -= 1
    own = activities.contact_life(contact.id, at + timedelta(minutes=10), count, company.customer_since,
                                  contact.source, contact.newsletter)
    yield from heapq.merge(first, own, key=attrgetter("at"))


INTERACTION_CLASSES = {cls.__qualname__ for cls in KINDS.values()}


def _summary(records: Records, timeline: Timeline, facts: int, seconds: float, plan: Plan) -> Summary:
    counts = records.counts
    events = sum(counts.values())
    return Summary(
        reps=counts["Rep.Added"], teams=counts["Team.Formed"], pipelines=counts["Pipeline.Created"],
        companies=counts["Company.Registered"], contacts=counts["Contact.Registered"], deals=counts["Deal.Opened"],
        moves=counts["Deal.StageChanged"], won=counts["Deal.Won"], lost=counts["Deal.Lost"],
        reopened=counts["Deal.Reopened"], interactions=sum(counts[name] for name in INTERACTION_CLASSES),
        facts=facts, late=timeline.late, events=events, seconds=round(seconds, 1),
        events_per_second=round(events / seconds) if seconds else 0,
        first_day=plan.start.date().isoformat(), last_day=plan.end.date().isoformat(),
        events_by_class=dict(sorted(counts.items())),
    )
