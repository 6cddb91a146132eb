"""A realistic sample company, loaded through the command handlers like any client's data.

``load_demo`` fills an empty store with a year of a small B2B seller's life: reps in two
teams, a new-business and a renewals pipeline, companies, their contacts, and deals at
every stage — moved, discounted, handed over, won, lost and reopened. Every command runs
through ``crm_es.commands.execute`` as actor "system", so the demo obeys the same rules
(and produces the same events) as data entered over HTTP.

It works in two steps:

* ``plan_demo`` decides everything from the seed — pure data, no I/O: a list of
  ``Step``s (a handler, its command, the business time) in a ``Scenario``
  (``scenario.py``). Records get their ids in the plan, so later commands can name
  earlier records. This module plans the organisation, the companies, their contacts and
  the deals; ``demo_activity.py`` then plans the year's daily life around them — the
  calls, e-mails, meetings, page visits … on the contacts, and the reps' agendas as they
  stand now; the record configuration defines a few custom properties the records fill.
* ``load_demo`` runs the steps in business-time order (companies before their contacts,
  a deal's opening before its moves…), so the log reads like the year it describes.

The vocabulary (names, products, pipelines, reasons) is ``world.py``'s, shared with
``generate/``; what only the demo tells (its teams, its fifteen companies, how its deals
end) is here. Business times lie in the year before ``services.clock.now()``; the same
seed always gives the same data (and the same ids).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from crm_es.aggregates.base import DomainError
from crm_es.aggregates.company import CompanyDetails
from crm_es.aggregates.contact import ContactDetails
from crm_es.aggregates.deal import DealDetails
from crm_es.aggregates.pipeline import StageSpec
from crm_es.commands import execute
from crm_es.commands.deals import (
    ChangeDeal, LoseDeal, MoveDeal, OpenDeal, ReopenDeal, WinDeal,
    change_deal, lose_deal, move_deal, open_deal, reopen_deal, win_deal,
)
from crm_es.commands.interactions import ItemResult, RecordBatch, record_batch
from crm_es.commands.people import AddRep, AddTeamMember, FormTeam, add_rep, add_team_member, form_team
from crm_es.commands.pipelines import CreatePipeline, create_pipeline
from crm_es.commands.records import (
    ChangeContact, RegisterCompany, RegisterContact, change_contact, register_company, register_contact,
)
from crm_es.commands.setup import DefineProperty, define_property
from crm_es_samples.demo_activity import DemoActivity
from crm_es_samples.scenario import Company, Contact, DealLife, Scenario, Step
from crm_es_samples.world import (
    BILLING_CURRENCY, BILLING_TITLES, CITIES, COMPETITOR_REASONS, COMPETITORS, DECISION_MAKER_TITLES, DISCOUNT_STAGES,
    DISCOUNTS, FIRST_NAMES, INTERESTS, JOB_TITLES, LAST_NAMES, LICENCE_PRICE, LOST_REASONS, NAME_POOL, NEW_BUSINESS,
    PHONES, PIPELINES, POTENTIAL, PRODUCTS, PROPERTIES, RENEWAL_AMOUNTS, RENEWAL_LOST_REASONS, RENEWALS,
    RENEWED_CONTRACTS, REOPENED_REASONS, REP_EMAIL_DOMAIN, SOURCES, slug,
)

if TYPE_CHECKING:
    from crm_es.bootstrap import Services

ACTOR = "system"

# ==== the demo's own tables (the vocabulary is world.py's) ============================

# (team, manager's name)
TEAMS = [
    ("New business", "Claire Martin"),
    ("Account management", "Sophie Laurent"),
]

# (name, team): every rep, managers included, is a member of their team
REPS = [
    ("Claire Martin", "New business"),
    ("Hugo Bernard", "New business"),
    ("Léa Dubois", "New business"),
    ("Karim Haddad", "New business"),
    ("Sophie Laurent", "Account management"),
    ("Tom Evans", "Account management"),
]

# Which team works which pipeline (deal owners come from it).
PIPELINE_TEAMS = {NEW_BUSINESS: "New business", RENEWALS: "Account management"}

# How the deals of each pipeline end up: open ones per stage, then the closed ones.
DEAL_MIX: dict[str, dict[str, Any]] = {
    NEW_BUSINESS: {
        "open": {"Contact": 3, "Qualification": 3, "Demo": 2, "Proposal": 2, "Negotiation": 2, "Signature": 1},
        "won": 10,
        "lost": 8,
        "reopened-won": 1,  # lost, reopened where it stopped, then won
        "reopened-open": 1,  # lost, reopened back in an earlier stage, still open
    },
    RENEWALS: {
        "open": {"Renewal due": 1, "Account review": 1, "Offer sent": 2, "Awaiting signature": 1},
        "won": 8,
        "lost": 3,
        "reopened-won": 1,
    },
}

HANDED_OVER_DEALS = 3  # deals whose owner changes along the way (a holiday, a leave)

# (name, sector, annual revenue in EUR, country, city, employees, web domain, contacts, customer already)
COMPANIES = [
    ("Boulangeries Lemaire", "Food & beverage", 4_800_000, "FR", "Lyon", 62, "lemaire-boulangeries", 6, True),
    ("Atelier Marceau", "Furniture", 2_100_000, "FR", "Nantes", 24, "atelier-marceau", 4, False),
    ("Clinique Saint-Roch", "Healthcare", 18_500_000, "FR", "Montpellier", 210, "clinique-saint-roch", 5, True),
    ("Transports Girard", "Logistics", 27_000_000, "FR", "Lille", 340, "transports-girard", 5, True),
    ("Verdant Energy", "Energy", 56_000_000, "GB", "Manchester", 420, "verdant-energy", 4, True),
    ("Hollis & Grant", "Legal services", 9_300_000, "GB", "London", 75, "hollisgrant", 3, False),
    ("Brightline Analytics", "Software", 14_000_000, "US", "Boston", 120, "brightline-analytics", 4, True),
    ("Maison Fleury", "Retail", 7_600_000, "FR", "Bordeaux", 58, "maison-fleury", 4, False),
    ("Optique Vasseur", "Retail", 1_300_000, "BE", "Brussels", 14, "optique-vasseur", 3, False),
    ("Hôtel des Voyageurs", "Hospitality", 3_900_000, "FR", "Annecy", 45, "hotel-voyageurs", 3, False),
    ("Imprimerie Roux", "Printing", 5_200_000, "FR", "Toulouse", 38, "imprimerie-roux", 4, True),
    ("Agence Horizon", "Marketing", 2_700_000, "FR", "Paris", 22, "agence-horizon", 3, False),
    ("Kessler Maschinenbau", "Manufacturing", 88_000_000, "DE", "Stuttgart", 650, "kessler-maschinenbau", 5, True),
    ("Cooperativa Olivar", "Agriculture", 11_000_000, "ES", "Seville", 95, "cooperativa-olivar", 4, False),
    ("Studio Nuvola", "Architecture", 1_800_000, "IT", "Milan", 16, "studio-nuvola", 3, False),
]

STATUSES_AT_CUSTOMERS = [("customer", 7), ("prospect", 2), ("hot prospect", 1)]
STATUSES_AT_PROSPECTS = [("prospect", 8), ("hot prospect", 4), ("cold prospect", 5), ("former customer", 2)]
CUSTOMER, FORMER_CUSTOMER = "customer", "former customer"
# A contact's lifecycle stage follows its status; the first contacts of the customers
# the CRM started with are loyal ones.
LIFECYCLE = {CUSTOMER: "active", FORMER_CUSTOMER: "lost"}
POTENTIAL_STAGE, LOYAL_STAGE = "potential", "loyal"
NEWSLETTER_TAG, NEWSLETTER_SHARE = "Newsletter", 0.3
INTEREST_SOURCES = {"web form", "website", "e-shop", "ads"}  # leads who said what they came for

# The shape of time (in days before now, or between two facts of one record).
YEAR = 364
CUSTOMERS_IMPORTED = (YEAR, YEAR - 3)  # existing customers, entered when the CRM started
PROSPECTS_REGISTERED = (YEAR - 10, 150)  # prospect companies found along the year
FIRST_CONTACT_AFTER = (0.05, 2)  # a company's first contact comes with it
LAST_CONTACT_BEFORE_NOW = 15
CLOSED_DEALS_OPENED = (YEAR - 6, 20)  # closed deals open spread over this window
OPEN_DEALS_LAST_TOUCHED = (30, 1)  # an open deal's last step is recent
STEP_GAP = (2, 24)  # days between two steps of a deal
CONFIGURED = YEAR + 1  # the CRM was set up the day before the customers were imported

SKIP_CHANCE = 0.15  # a deal jumps a stage
SETBACK_CHANCE = 0.15  # a deal goes back one stage (once), then on again
START_LATER_CHANCE = 0.2  # a warm lead opens in the second stage
SECOND_CONTACT_CHANCE = 0.4
DISCOUNT_CHANCE = 0.4


# ==== what load_demo answers ==========================================================


class DemoAlreadyLoaded(DomainError):
    rule = "demo-already-loaded"


@dataclass
class DemoSummary:
    """How many of each were created (and how many commands it took)."""

    reps: int = 0
    teams: int = 0
    pipelines: int = 0
    companies: int = 0
    contacts: int = 0
    deals: int = 0
    moves: int = 0
    won: int = 0
    lost: int = 0
    reopened: int = 0
    properties: int = 0
    interactions: int = 0
    tasks: int = 0
    commands: int = 0

    def count(self, what: str | None, n: int = 1) -> None:
        self.commands += 1
        if what:
            setattr(self, what, getattr(self, what) + n)

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


# ==== the plan: pure data from the seed ===============================================


@dataclass
class _Deal:
    """A deal's story before it gets times: the opening stage, then its steps."""

    pipeline: str
    opens_in: str
    steps: list[tuple[str, str]]  # (what, argument): move/stage, win, lose/reason, reopen/stage, discount, hand-over

    @property
    def closed(self) -> bool:
        return bool(self.steps) and self.steps[-1][0] in ("win", "lose")


@dataclass
class DemoPlan:
    steps: list[Step] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.steps)


class _Planner:
    """Plans the organisation, the companies, their contacts and the deals into a scenario."""

    def __init__(self, scenario: Scenario) -> None:
        self.s = scenario
        self.rng, self.more = scenario.rng, scenario.more
        self.teams: dict[str, UUID] = {}
        self.team_of: dict[UUID, str] = {}
        self.pipelines: dict[str, UUID] = {}
        self.status_changes: list[tuple[datetime, Contact, str]] = []
        self.renewals: Counter[UUID] = Counter()  # renewal deals per company
        self.renewed: dict[tuple[UUID, int], list[str]] = {}  # (company, year) -> contracts renewed

    # --- helpers ----------------------------------------------------------------------

    def weighted(self, table: Sequence[tuple[str, int]]) -> str:
        values, weights = zip(*table)
        return self.rng.choices(values, weights)[0]

    def phone(self, country: str) -> str:
        return "".join(str(self.rng.randrange(10)) if c == "#" else c for c in PHONES[country])

    # --- the organisation -------------------------------------------------------------

    def people(self) -> None:
        # The set-up is dated when the CRM was set up, a year ago, like the history that
        # follows: the board and the reports of any past date find its reps and pipelines.
        since = self.s.days_ago(CONFIGURED)
        for name, team in REPS:
            rep_id = self.s.new_id()
            self.s.reps[name] = rep_id
            self.team_of[rep_id] = team
            command = AddRep(name, f"{slug(name)}@{REP_EMAIL_DOMAIN}", occurred_at=since)
            self.s.add(None, add_rep, command, "reps", rep_id)
        for team, manager in TEAMS:
            team_id = self.s.new_id()
            self.teams[team] = team_id
            self.s.managers[team] = self.s.reps[manager]
            self.s.add(None, form_team, FormTeam(team, self.s.reps[manager], since), "teams", team_id)
        for name, team in REPS:
            self.s.add(None, add_team_member, AddTeamMember(self.teams[team], self.s.reps[name], since))

    def team_reps(self, team: str) -> list[UUID]:
        return [rep_id for rep_id, t in self.team_of.items() if t == team]

    def sales_pipelines(self) -> None:
        for name, stages in PIPELINES.items():
            pipeline_id = self.s.new_id()
            self.pipelines[name] = pipeline_id
            specs = [StageSpec(stage, Decimal(probability)) for stage, probability in stages]
            command = CreatePipeline(name, specs, self.s.days_ago(CONFIGURED))
            self.s.add(None, create_pipeline, command, "pipelines", pipeline_id)

    def record_configuration(self) -> None:
        """The custom properties, defined before the first record fills them."""
        for definition in PROPERTIES:
            self.s.add(None, define_property, DefineProperty(definition, self.s.days_ago(CONFIGURED)), "properties")

    # --- companies and contacts -------------------------------------------------------

    def all_companies(self) -> None:
        prospects = sum(1 for row in COMPANIES if not row[-1])
        prospect_times = sorted(self.rng.uniform(*PROSPECTS_REGISTERED) for _ in range(prospects))
        for name, sector, revenue, country, city, employees, domain, contacts, customer in COMPANIES:
            days = self.rng.uniform(*CUSTOMERS_IMPORTED) if customer else prospect_times.pop()
            team = "Account management" if customer else "New business"
            company = Company(
                id=self.s.new_id(), name=name, country=country, city=city, domain=f"{domain}.example",
                currency=BILLING_CURRENCY.get(country, "EUR"),
                potential=next(tag for floor, tag in POTENTIAL if revenue >= floor),
                owner_id=self.rng.choice(self.team_reps(team)), customer=customer, registered_at=self.s.days_ago(days),
            )
            self.s.companies.append(company)
            properties = {"country": country, "employees": employees, "billing_currency": company.currency,
                          "website": f"https://www.{company.domain}"}
            details = CompanyDetails(name, sector, Decimal(revenue), properties)
            self.s.add(company.registered_at, register_company, RegisterCompany(details, company.registered_at),
                     "companies", company.id)
            for i in range(contacts):
                self.contact(company, decision_maker=(i == 0))

    def contact(self, company: Company, *, decision_maker: bool) -> None:
        pool = NAME_POOL[company.country]
        first, last = self.rng.choice(FIRST_NAMES[pool]), self.rng.choice(LAST_NAMES[pool])
        email = self.unique_email(first, last, company.domain)
        title = self.rng.choice(DECISION_MAKER_TITLES if decision_maker else JOB_TITLES)
        role = "decision maker" if decision_maker else "billing contact" if title in BILLING_TITLES else "user"
        city = company.city if self.rng.random() < 0.75 else self.rng.choice(CITIES[company.country])
        tags = (company.potential, NEWSLETTER_TAG) if self.rng.random() < NEWSLETTER_SHARE else (company.potential,)
        if decision_maker:  # arrives with the company
            at = company.registered_at + timedelta(days=self.rng.uniform(*FIRST_CONTACT_AFTER))
        else:
            latest = self.s.days_ago(LAST_CONTACT_BEFORE_NOW)
            at = company.registered_at + (latest - company.registered_at) * self.rng.random()
        at = at.replace(microsecond=0)
        status = self.weighted(STATUSES_AT_CUSTOMERS if company.customer else STATUSES_AT_PROSPECTS)
        contact = Contact(self.s.new_id(), company, self.weighted(SOURCES), status, at, first, last, email,
                          decision_maker)
        self.s.contacts.append(contact)
        properties: dict[str, Any] = {"language": pool.lower()}
        if contact.source in INTEREST_SOURCES and self.more.random() < 0.6:
            properties["interests"] = sorted(self.more.sample(INTERESTS, self.more.randint(1, 3)), key=INTERESTS.index)
        details = ContactDetails(
            first, last, email, self.phone(company.country), title, company.id, city, contact.source, tags, properties,
        )
        loyal = company.customer and decision_maker and status == CUSTOMER
        lifecycle = LOYAL_STAGE if loyal else LIFECYCLE.get(status, POTENTIAL_STAGE)
        command = RegisterContact(details, status, company.owner_id, at, lifecycle, (role,))
        self.s.add(at, register_contact, command, "contacts", contact.id)

    def unique_email(self, first: str, last: str, domain: str) -> str:
        base = f"{slug(first)}.{slug(last)}"
        email, n = f"{base}@{domain}", 1
        while email in self.s.emails:
            n += 1
            email = f"{base}{n}@{domain}"
        self.s.emails.add(email)
        return email

    # --- deals: first their stories, then their times ---------------------------------

    def all_deals(self) -> None:
        stories = [story for pipeline in PIPELINES for story in self.stories(pipeline)]
        self.hand_over(stories)
        closed = [s for s in stories if s.closed]
        self.rng.shuffle(closed)
        lo, hi = CLOSED_DEALS_OPENED
        slot = (lo - hi) / len(closed)
        for k, story in enumerate(closed):  # spread the closed deals evenly over the year
            opened = self.s.days_ago(lo - slot * (k + self.rng.random()))
            self.deal(story, opened, self.gaps(story))
        for story in (s for s in stories if not s.closed):  # open deals were touched lately
            gaps = self.gaps(story)
            last_step = self.s.days_ago(self.rng.uniform(*OPEN_DEALS_LAST_TOUCHED))
            self.deal(story, last_step - sum(gaps, timedelta()), gaps)
        self.contact_statuses()

    def stories(self, pipeline: str) -> list[_Deal]:
        mix, names = DEAL_MIX[pipeline], [name for name, _ in PIPELINES[pipeline]]
        stories = [self.story(pipeline, names, "open", stage)
                   for stage, n in mix["open"].items() for _ in range(n)]
        for outcome in ("won", "lost", "reopened-won", "reopened-open"):
            stories += [self.story(pipeline, names, outcome) for _ in range(mix.get(outcome, 0))]
        return stories

    def story(self, pipeline: str, stages: list[str], outcome: str, target: str | None = None) -> _Deal:
        last = len(stages) - 1
        reasons = RENEWAL_LOST_REASONS if pipeline == RENEWALS else LOST_REASONS
        if outcome == "open":
            end = stages.index(target or stages[0])
        elif outcome == "won":
            end = last
        elif outcome == "lost":
            end = self.rng.randint(0, last)
        else:  # lost, then reopened
            end = self.rng.randint(1, last - 1) if outcome == "reopened-won" else self.rng.randint(2, last)
        start = 1 if end >= 1 and self.rng.random() < START_LATER_CHANCE else 0
        steps = self.climb(stages, start, end)
        if outcome == "won":
            steps.append(("win", ""))
        elif outcome == "lost":
            steps.append(("lose", self.rng.choice(reasons)))
        elif outcome == "reopened-won":  # reopened where it stopped, then carried to the end
            steps += [("lose", self.rng.choice(REOPENED_REASONS)), ("reopen", "")]
            steps += self.climb(stages, end, last) + [("win", "")]
        elif outcome == "reopened-open":  # reopened back in qualification
            steps += [("lose", self.rng.choice(REOPENED_REASONS)), ("reopen", stages[1])]
        self.maybe_discount(steps)
        return _Deal(pipeline, stages[start], steps)

    def climb(self, stages: list[str], start: int, end: int) -> list[tuple[str, str]]:
        """The moves from stage ``start`` up to ``end``: now and then a stage skipped,
        at most once a step back (a demo to do again, a proposal to rewrite)."""
        moves: list[tuple[str, str]] = []
        at, set_back = start, False
        while at < end:
            at += 2 if at + 2 <= end and self.rng.random() < SKIP_CHANCE else 1
            moves.append(("move", stages[at]))
            if not set_back and 2 <= at < end and self.rng.random() < SETBACK_CHANCE:
                set_back, at = True, at - 1
                moves.append(("move", stages[at]))
        return moves

    def maybe_discount(self, steps: list[tuple[str, str]]) -> None:
        for i, (what, stage) in enumerate(steps):
            if what == "move" and stage in DISCOUNT_STAGES:
                if self.rng.random() < DISCOUNT_CHANCE:
                    steps.insert(i + 1, ("discount", str(self.rng.choice(DISCOUNTS))))
                return

    def hand_over(self, stories: list[_Deal]) -> None:
        for story in self.rng.sample([s for s in stories if len(s.steps) >= 2], HANDED_OVER_DEALS):
            story.steps.insert(self.rng.randrange(len(story.steps)), ("hand-over", ""))

    def gaps(self, story: _Deal) -> list[timedelta]:
        return [timedelta(days=self.rng.uniform(*STEP_GAP)) for _ in story.steps]

    def deal(self, story: _Deal, opened: datetime, gaps: list[timedelta]) -> None:
        """Pick the deal's people among contacts known by then, fit its steps before now, plan them."""
        contacts = self.deal_contacts(story, opened)
        opened = max(opened, contacts[0].registered_at + timedelta(days=1)).replace(microsecond=0)
        room, needed = self.s.latest - opened, sum(gaps, timedelta())
        if needed > room:  # squeeze the story into the time left
            gaps = [gap * (room / needed) * 0.95 for gap in gaps]
        company = contacts[0].company
        team = PIPELINE_TEAMS[story.pipeline]
        owner = company.owner_id if self.team_of[company.owner_id] == team else self.rng.choice(self.team_reps(team))
        expected_close = (opened + sum(gaps, timedelta()) + timedelta(days=self.rng.uniform(30, 120))).date()
        amount, title = self.price(story.pipeline, company, expected_close.year)
        deal_id = self.s.new_id()
        properties = {"licences": int(amount // LICENCE_PRICE)} if "CRM licences" in title else None
        details = DealDetails(title, tuple(c.id for c in contacts), company.id, contacts[0].source, expected_close,
                              properties)
        command = OpenDeal(details, self.pipelines[story.pipeline], story.opens_in, amount, company.currency, owner, opened)
        self.s.add(opened, open_deal, command, "deals", deal_id)
        life = DealLife(deal_id, story.pipeline, title, contacts, opened, story.opens_in, owner)
        self.s.lives.append(life)
        at = opened
        for (what, argument), gap in zip(story.steps, gaps):
            at = (at + gap).replace(microsecond=0)
            if what == "move":
                self.s.add(at, move_deal, MoveDeal(deal_id, argument, at), "moves")
            elif what == "win":
                self.s.add(at, win_deal, WinDeal(deal_id, at), "won")
                self.status_changes += [(at, contact, CUSTOMER) for contact in contacts]
            elif what == "lose":
                competitor = self.more.choice(COMPETITORS) if argument in COMPETITOR_REASONS else None
                self.s.add(at, lose_deal, LoseDeal(deal_id, argument, at, competitor), "lost")
                if story.pipeline == RENEWALS:
                    self.status_changes += [(at, contact, FORMER_CUSTOMER) for contact in contacts]
            elif what == "reopen":
                self.s.add(at, reopen_deal, ReopenDeal(deal_id, argument or None, at), "reopened")
            elif what == "discount":
                amount = (amount * (100 - int(argument)) / 100).quantize(Decimal("1"))
                self.s.add(at, change_deal, ChangeDeal(deal_id, amount=amount, occurred_at=at))
            elif what == "hand-over":
                owner = self.rng.choice([r for r in self.team_reps(team) if r != owner])
                self.s.add(at, change_deal, ChangeDeal(deal_id, owner_id=owner, owner_given=True, occurred_at=at))
            life.steps.append((at, what, argument, owner))

    def deal_contacts(self, story: _Deal, opened: datetime) -> list[Contact]:
        """One or two contacts of one company, registered before the deal opened.
        Renewals are for companies that were customers from the start, spread evenly."""
        pool = [c for c in self.s.contacts if c.company.customer or story.pipeline != RENEWALS]
        known = [c for c in pool if c.registered_at < opened - timedelta(hours=1)]
        if known and story.pipeline == RENEWALS:
            fewest = min(self.renewals[c.company.id] for c in known)
            known = [c for c in known if self.renewals[c.company.id] == fewest]
        first = self.rng.choice(known) if known else min(pool, key=lambda c: c.registered_at)
        if story.pipeline == RENEWALS:
            self.renewals[first.company.id] += 1
        colleagues = [c for c in known if c.company is first.company and c is not first]
        if colleagues and self.rng.random() < SECOND_CONTACT_CHANCE:
            return [first, self.rng.choice(colleagues)]
        return [first]

    def price(self, pipeline: str, company: Company, year: int) -> tuple[Decimal, str]:
        """The deal's amount and title."""
        if pipeline == RENEWALS:  # each contract of a customer is renewed once a year
            renewed = self.renewed.setdefault((company.id, year), [])
            contract = next((c for c in RENEWED_CONTRACTS if c not in renewed), RENEWED_CONTRACTS[0])
            renewed.append(contract)
            return Decimal(self.rng.randrange(*RENEWAL_AMOUNTS, 100)), f"{company.name} — {contract} renewal {year}"
        product, lo, hi = self.rng.choice(PRODUCTS)
        return Decimal(self.rng.randrange(lo, hi, 100)), f"{company.name} — {product}"

    def contact_statuses(self) -> None:
        """A won deal makes its contacts customers; a lost renewal, former customers."""
        for at, contact, status in sorted(self.status_changes, key=lambda change: change[0]):
            if at > contact.registered_at and contact.status != status:
                contact.status = status
                at = at + timedelta(minutes=5)
                command = ChangeContact(contact.id, status=status, occurred_at=at, lifecycle=LIFECYCLE[status])
                self.s.add(at, change_contact, command)



def plan_demo(seed: int = 7, now: datetime | None = None) -> DemoPlan:
    """Every command of the demo, in the order load_demo runs them."""
    scenario = Scenario(seed, now or datetime.now(timezone.utc))
    planner = _Planner(scenario)
    planner.people()
    planner.sales_pipelines()
    planner.record_configuration()
    planner.all_companies()
    planner.all_deals()
    DemoActivity(scenario).plan()  # the interactions around the records, and the reps' agendas
    set_up = [s for s in scenario.steps if s.at is None]
    dated = [s for s in scenario.steps if s.at is not None]
    return DemoPlan(set_up + sorted(dated, key=lambda s: s.at))  # a stable sort: ties keep plan order


def demo_size(seed: int = 7) -> int:
    """How many commands load_demo runs for this seed (a progress bar's length)."""
    return len(plan_demo(seed))


# ==== loading =========================================================================


def load_demo(services: Services, *, seed: int = 7, progress: Callable[[int], None] | None = None) -> DemoSummary:
    """Load the demo company into an empty store, through the command handlers.

    ``progress(n)`` is called as commands complete, with how many just completed (1),
    like ``Projector.catch_up``'s: hand it to a progress bar's ``update``; the bar's
    length is ``demo_size(seed)``. Raises ``DemoAlreadyLoaded`` (writing nothing) when
    the store already holds events.
    """
    position = services.store.max_position()
    if position > 0:
        raise DemoAlreadyLoaded(
            f"the event store already holds events (up to position {position}); "
            "the demo only loads into an empty store"
        )
    plan = plan_demo(seed, services.clock.now())
    summary = DemoSummary()
    for n, step in enumerate(plan.steps, 1):
        ctx = services.context(actor=ACTOR, correlation_id=f"demo:{seed}:{n}", new_id=_ids(step))
        command = step.command
        if isinstance(command, RecordBatch):  # sessions judged as the service judges them
            command = replace(command, session_gap=services.settings.session_gap)
        # A batch is a pipeline of its own (it answers item by item); the rest are commands.
        answer = record_batch(command, ctx) if isinstance(command, RecordBatch) else execute(step.handler, command, ctx)
        _all_accepted(n, answer)
        summary.count(step.counts, step.amount)
        if progress:
            progress(1)
    return summary


def _all_accepted(n: int, answer: Any) -> None:
    """A batch answers item by item: a refused item is a mistake in the plan."""
    if isinstance(answer, list):
        refused = [r for r in answer if isinstance(r, ItemResult) and r.status != "accepted"]
        if refused:
            raise RuntimeError(f"demo step {n}: {len(refused)} batch item(s) refused, first {refused[0]}")


def _ids(step: Step) -> Callable[[], UUID]:
    """The context's id source: the step's planned id first (the record's own), then
    ids drawn from it (a pipeline's stages), so reloading a seed gives the same ids."""
    planned = [step.new_id] if step.new_id else []
    more = random.Random(str(step.new_id))

    def new_id() -> UUID:
        return planned.pop(0) if planned else UUID(int=more.getrandbits(128), version=4)

    return new_id
