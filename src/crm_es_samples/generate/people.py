"""Who is in the generated CRM: the sales organisation, the companies and their contacts.

Pure planning from the seed (no store, no clock): reps in new-business and account-
management teams, companies across Europe and the US — some customers already when the
CRM starts (imported in its first days), the others found along the years — and their
contacts, each with a registration time, an owner and a unique e-mail address. Names,
phone shapes, cities and titles come from the demo company's tables.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from crm_es_samples.world import (
    BILLING_CURRENCY, BILLING_TITLES, CITIES, DECISION_MAKER_TITLES, FIRST_NAMES, JOB_TITLES, LAST_NAMES, NAME_POOL,
    PHONES, POTENTIAL, REP_EMAIL_DOMAIN, SOURCES, slug,
)

CONTACTS_PER_COMPANY = 6  # on average; a few accounts have dozens
BIGGEST_ACCOUNT = 40  # times the contacts of the smallest, at most
REPS_PER_CONTACTS = 2_000  # one rep per this many contacts (4 at least)
TEAM_SIZE = 8
NEW_BUSINESS, ACCOUNT_MANAGEMENT = "new business", "account management"

COUNTRIES = [("FR", 40), ("BE", 8), ("GB", 15), ("US", 10), ("DE", 12), ("ES", 8), ("IT", 7)]
# (sector, lowest and highest annual revenue in EUR: drawn evenly on a log scale)
SECTORS = [
    ("Retail", 1e6, 80e6), ("Manufacturing", 3e6, 300e6), ("Logistics", 2e6, 150e6), ("Healthcare", 2e6, 120e6),
    ("Software", 1e6, 200e6), ("Food & beverage", 1e6, 60e6), ("Hospitality", 0.5e6, 40e6),
    ("Legal services", 1e6, 50e6), ("Energy", 10e6, 400e6), ("Construction", 2e6, 150e6), ("Marketing", 0.5e6, 30e6),
    ("Finance", 5e6, 250e6), ("Education", 1e6, 40e6), ("Agriculture", 1e6, 60e6),
]
# Company names: a trade word before or after a family name, by the country's language
NAME_WORDS = {
    "FR": (["Atelier", "Transports", "Cabinet", "Imprimerie", "Maison", "Groupe", "Laboratoires", "Menuiserie",
            "Garage", "Agence", "Clinique", "Boulangeries"], ["Frères", "et Fils", "Industrie", "Conseil", "Services"]),
    "EN": (["Northwind", "Brightline", "Bluegate", "Silverline", "Greenfield", "Harbour", "Summit", "Oakwood"],
           ["& Partners", "Analytics", "Logistics", "Energy", "Group", "Holdings", "Systems", "Foods"]),
    "DE": (["Autohaus", "Bäckerei", "Druckerei"], ["Maschinenbau", "Logistik", "GmbH", "Technik", "Bau", "Gruppe"]),
    "ES": (["Cooperativa", "Transportes", "Grupo", "Talleres"], ["y Asociados", "Hermanos", "Ingeniería"]),
    "IT": (["Studio", "Officine", "Gruppo", "Cantina"], ["& Figli", "Costruzioni", "Tecnologie"]),
}
IMPORTED_CUSTOMERS = 0.15  # companies already customers when the CRM started
IMPORT_DAYS = 3  # they were all entered in the CRM's first days
NEWSLETTER_TAG, NEWSLETTER_SHARE = "Newsletter", 0.25
PROSPECT_STATUSES = [("lead", 5), ("prospect", 8), ("hot prospect", 2), ("cold prospect", 3)]
CUSTOMER_STATUSES = [("customer", 8), ("prospect", 1)]
TECHNICAL_TITLES = {"IT Director", "CTO"}


@dataclass
class Team:
    id: UUID
    name: str
    kind: str  # new business | account management
    members: list[UUID] = field(default_factory=list)  # the manager first


@dataclass
class Organisation:
    reps: list[tuple[UUID, str, str]]  # (id, name, e-mail)
    teams: list[Team]

    def of(self, kind: str) -> list[UUID]:
        return [rep for team in self.teams if team.kind == kind for rep in team.members]


@dataclass(slots=True)
class PlannedCompany:
    id: UUID
    name: str
    sector: str
    revenue: int
    country: str
    city: str
    domain: str
    owner: UUID  # the rep who prospects it (new business)
    account_manager: UUID  # who looks after it once it buys
    registered_at: datetime
    customer_since: datetime | None  # None: not (yet) a customer, as far as planned
    contacts: list[PlannedContact] = field(default_factory=list)

    @property
    def currency(self) -> str:
        return BILLING_CURRENCY.get(self.country, "EUR")

    @property
    def potential(self) -> str:
        return next(tag for floor, tag in POTENTIAL if self.revenue >= floor)


@dataclass(slots=True)
class PlannedContact:
    id: UUID
    company: PlannedCompany
    first_name: str
    last_name: str
    email: str
    phone: str
    job_title: str
    city: str
    source: str
    status: str
    role: str
    newsletter: bool
    registered_at: datetime
    owner: UUID
    interactions: int = 0  # how many of its own (deals' come on top), set once all is planned
    bounces: bool = False  # its first e-mail bounces hard
    corrected_email: str | None = None  # the right address, found after the bounce


class PeoplePlanner:
    def __init__(self, rng: random.Random, new_id: Callable[[], UUID], start: datetime, end: datetime) -> None:
        self.rng = rng
        self.new_id = new_id
        self.start, self.end = start, end
        self.emails: set[str] = set()
        self.names: set[str] = set()
        self.domains: set[str] = set()

    def weighted(self, table: list[tuple[str, int]]) -> str:
        values, weights = zip(*table)
        return self.rng.choices(values, weights)[0]

    def person(self, pool: str) -> tuple[str, str]:
        return self.rng.choice(FIRST_NAMES[pool]), self.rng.choice(LAST_NAMES[pool])

    @staticmethod
    def unique(taken: set[str], *candidates: str, numbered: Callable[[int], str]) -> str:
        """The first candidate no one has, else the first free ``numbered(n)`` from 2."""
        name = next((c for c in candidates if c not in taken), None)
        n = 2
        while name is None:
            name = numbered(n) if numbered(n) not in taken else None
            n += 1
        taken.add(name)
        return name

    def phone(self, country: str) -> str:
        """The country's shape with its '#' filled by random digits (drawn at once)."""
        shape = PHONES[country]
        digits = iter(f"{self.rng.getrandbits(64) % 10 ** shape.count('#'):0{shape.count('#')}d}")
        return "".join(next(digits) if c == "#" else c for c in shape)

    def email(self, first: str, last: str, domain: str) -> str:
        local = f"{slug(first)}.{slug(last)}"
        return self.unique(self.emails, f"{local}@{domain}", numbered=lambda n: f"{local}{n}@{domain}")

    # --- the organisation -------------------------------------------------------------

    def organisation(self, contacts: int) -> Organisation:
        count = max(4, contacts // REPS_PER_CONTACTS)
        reps = []
        for _ in range(count):
            first, last = self.person(self.rng.choice(["FR", "EN"]))
            reps.append((self.new_id(), f"{first} {last}", self.email(first, last, REP_EMAIL_DOMAIN)))
        teams_count = max(2, math.ceil(count / TEAM_SIZE))
        account_teams = max(1, teams_count // 3)
        teams = [Team(self.new_id(), f"Account management {k + 1}", ACCOUNT_MANAGEMENT) for k in range(account_teams)]
        teams += [Team(self.new_id(), f"New business {k + 1}", NEW_BUSINESS)
                  for k in range(teams_count - account_teams)]
        for k, (rep_id, _, _) in enumerate(reps):
            teams[k % teams_count].members.append(rep_id)
        return Organisation(reps, teams)

    # --- companies and contacts -------------------------------------------------------

    def companies(self, contacts: int, org: Organisation) -> list[PlannedCompany]:
        prospectors, managers = org.of(NEW_BUSINESS), org.of(ACCOUNT_MANAGEMENT)
        span = self.end - self.start - timedelta(days=IMPORT_DAYS + 2)
        found = []
        for _ in range(max(1, contacts // CONTACTS_PER_COMPANY)):
            country = self.weighted(COUNTRIES)
            customer = self.rng.random() < IMPORTED_CUSTOMERS
            if customer:
                at = self.start + timedelta(days=self.rng.uniform(0, IMPORT_DAYS))
            else:  # found along the years, more and more of them as the team grows
                at = self.start + timedelta(days=IMPORT_DAYS) + span * math.sqrt(self.rng.random())
            sector, low, high = self.rng.choice(SECTORS)
            revenue = int(math.exp(self.rng.uniform(math.log(low), math.log(high))) // 1000 * 1000)
            name = self.company_name(country)
            web_name = slug(name)
            domain = self.unique(self.domains, f"{web_name}.example", numbered=lambda n: f"{web_name}-{n}.example")
            found.append(PlannedCompany(
                self.new_id(), name, sector, revenue, country, self.rng.choice(CITIES[country]), domain,
                self.rng.choice(prospectors),
                self.rng.choice(managers), at.replace(microsecond=0), at if customer else None,
            ))
        return found

    def company_name(self, country: str) -> str:
        pool = NAME_POOL[country]
        before, after = NAME_WORDS[pool]
        last, other = self.rng.sample(LAST_NAMES[pool], 2)
        wanted = self.rng.choice([
            f"{self.rng.choice(before)} {last}", f"{last} {self.rng.choice(after)}", f"{last} & {other}",
            f"{self.rng.choice(before)} {last}-{other}",
        ])
        city = self.rng.choice(CITIES[country])
        return self.unique(self.names, wanted, f"{wanted} {city}", numbered=lambda n: f"{wanted} {city} {n}")

    def contacts(self, count: int, companies: list[PlannedCompany]) -> list[PlannedContact]:
        """Every company has one contact at least (its decision maker, who comes with it);
        the others are spread unevenly (a few big accounts)."""
        weights = [min(BIGGEST_ACCOUNT, self.rng.paretovariate(1.5)) for _ in companies]
        extra = apportion(count - len(companies), weights)
        planned = []
        for company, more in zip(companies, extra):
            for k in range(1 + more):
                planned.append(self.contact(company, decision_maker=(k == 0)))
        return planned

    def contact(self, company: PlannedCompany, *, decision_maker: bool) -> PlannedContact:
        pool = NAME_POOL[company.country]
        first, last = self.person(pool)
        title = self.rng.choice(DECISION_MAKER_TITLES if decision_maker else JOB_TITLES)
        role = ("decision maker" if decision_maker else "billing contact" if title in BILLING_TITLES
                else "technical contact" if title in TECHNICAL_TITLES else self.rng.choice(["user", "influencer"]))
        if decision_maker:  # arrives with the company
            at = company.registered_at + timedelta(minutes=self.rng.uniform(5, 48 * 60))
        else:
            at = company.registered_at + (self.end - timedelta(days=1) - company.registered_at) * self.rng.random()
        customer = company.customer_since is not None
        owner = company.account_manager if customer else company.owner
        phone = self.phone(company.country)
        city = company.city if self.rng.random() < 0.75 else self.rng.choice(CITIES[company.country])
        contact = PlannedContact(
            self.new_id(), company, first, last, self.email(first, last, company.domain), phone, title, city,
            self.weighted(SOURCES), self.weighted(CUSTOMER_STATUSES if customer else PROSPECT_STATUSES), role,
            self.rng.random() < NEWSLETTER_SHARE, min(at, self.end - timedelta(hours=2)).replace(microsecond=0), owner,
        )
        company.contacts.append(contact)
        return contact


def apportion(total: int, weights: list[float]) -> list[int]:
    """``total`` split in whole numbers in proportion to ``weights`` (largest remainders
    first): exactly ``total`` in all."""
    if total <= 0 or not weights:
        return [0] * len(weights)
    scale = total / sum(weights)
    shares = [w * scale for w in weights]
    counts = [int(s) for s in shares]
    left = total - sum(counts)
    by_remainder = sorted(range(len(shares)), key=lambda i: counts[i] - shares[i])
    for i in by_remainder[:left]:
        counts[i] += 1
    return counts
