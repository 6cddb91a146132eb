"""A realistic export of an old CRM's deals, generated from a seed, and what a plain
Python pass over its CSV says the reports must show.

The export: one row per deal (its id, title, pipeline, current stage, owner by e-mail or
name, company by name, contacts by e-mail, amount in EUR or USD, created date, close date,
status, lost reason), and a second file with one row per stage change — the first at the
deal's creation instant, some moved on at that very instant, some won or lost at the
instant of their last move, as real exports have. Dates in several formats, Paris time.
A few deals name a rep the CRM does not know: those rows must fail and nothing else.

The plain pass reads the two CSV files with ``csv`` and ``strptime`` only — none of the
import's code — and answers the board as of T (count and amount per stage and currency)
and the funnel (opened, won, lost).
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("Europe/Paris")
STAGES = [("Lead", "0.1"), ("Qualified", "0.25"), ("Demo", "0.5"), ("Proposal", "0.75"), ("Negotiation", "0.9")]
PIPELINE = "New business"
REASONS = ["Price", "Went with a competitor", "No budget", "Timing", "No decision"]
GHOST = "ghost@example.com"  # no rep has it
DEAL_HEADER = ["Deal ID", "Deal Name", "Pipeline", "Deal Stage", "Deal Owner", "Company", "Contact email", "Amount",
               "Currency", "Create Date", "Close Date", "Status", "Lost Reason"]
STAGE_HEADER = ["Deal ID", "Stage", "Changed at"]
CREATED_FORMATS = ["%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M", "iso"]
CHANGE_FORMATS = ["%Y-%m-%d %H:%M", "%d.%m.%Y %H:%M"]
DAY_FORMAT = "%d/%m/%Y"


@dataclass(frozen=True)
class Rep:
    name: str
    email: str


@dataclass
class Export:
    deals: bytes
    stages: bytes
    start: datetime
    end: datetime
    bad_ids: set[str] = field(default_factory=set)


def generate(seed: int, deals: int, reps: list[Rep], companies: list[str], contacts: list[str],
             start: datetime, end: datetime) -> Export:
    """``deals`` deals created between ``start`` and ``end`` (aware), none after ``end``."""
    rng = random.Random(seed)
    deal_rows, stage_rows, bad = [], [], set()
    span_days = (end - start).days
    for n in range(1, deals + 1):
        old_id = f"HS-{100000 + n}"
        created = _at(start.date() + timedelta(days=rng.randrange(span_days - 1)), rng)
        index = rng.choices([0, 1, 2], weights=[8, 1, 1])[0]
        changes = [(created, index)]
        if rng.random() < 0.15:  # moved on at the very instant it was created
            index = min(index + 1, len(STAGES) - 1) if index < len(STAGES) - 1 else index - 1
            changes.append((created, index))
        moment = created
        for _ in range(rng.randrange(5)):
            moment = _at(moment.date() + timedelta(days=rng.randrange(1, 25)), rng)
            if moment >= end:
                break
            step = -1 if rng.random() < 0.15 and index > 0 else 1
            if index + step >= len(STAGES):
                break
            index += step
            changes.append((moment, index))
        last = changes[-1][0]
        outcome, closed, closed_text = "open", None, ""
        chance = rng.random()
        if chance < 0.65:
            if rng.random() < 0.15:
                closed = last  # won or lost at the instant of its last move
            else:
                closed = _at(last.date() + timedelta(days=rng.randrange(1, 40)), rng)
            if closed < end:
                outcome = "won" if chance < 0.3 else "lost"
                if closed.date() > last.date() and rng.random() < 0.3:  # a close date alone: its day's start
                    closed_text = closed.strftime(DAY_FORMAT)
                else:
                    closed_text = closed.strftime("%Y-%m-%d %H:%M")
        owner = rng.choice(reps)
        owner_cell = owner.email if rng.random() < 0.6 else owner.name
        if rng.random() < 0.004:
            owner_cell = GHOST
            bad.add(old_id)
        company = rng.choice(companies)
        if rng.random() < 0.2:
            company = company.upper() if rng.random() < 0.5 else f" {company} "  # as people type them
        named = rng.sample(contacts, rng.choice([0, 0, 1, 1, 2]))
        currency = "EUR" if rng.random() < 0.7 else "USD"
        amount = Decimal(rng.randrange(50_000, 20_000_000)) / 100
        deal_rows.append([
            old_id, f"Deal {n}", PIPELINE, STAGES[index][0], owner_cell, company, ";".join(named), str(amount),
            currency, _written(created, rng.choice(CREATED_FORMATS)), closed_text,
            outcome if rng.random() < 0.8 else outcome.upper(), rng.choice(REASONS) if outcome == "lost" else "",
        ])
        stage_rows += [[old_id, STAGES[i][0], _written(at, rng.choice(CHANGE_FORMATS))] for at, i in changes]
    rng.shuffle(deal_rows)  # exports are not in date order
    return Export(_csv(DEAL_HEADER, deal_rows), _csv(STAGE_HEADER, stage_rows), start, end, bad)


def _at(day: date, rng: random.Random) -> datetime:
    # Office hours only: never a time that a clock change skips or repeats.
    return datetime.combine(day, time(rng.randrange(8, 20), rng.randrange(60)), ZONE)


def _written(at: datetime, fmt: str) -> str:
    return at.isoformat() if fmt == "iso" else at.strftime(fmt)


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


# --- the plain pass -----------------------------------------------------------------------


@dataclass
class PlainDeal:
    created: datetime
    stages: list[tuple[datetime, str]]  # in file order, which is time order
    outcome: str
    closed: datetime | None
    amount: Decimal
    currency: str
    company: str

    def open_at(self, moment: datetime) -> bool:
        return self.created <= moment and (self.closed is None or self.closed > moment)

    def stage_at(self, moment: datetime) -> str:
        return [stage for at, stage in self.stages if at <= moment][-1]


def parse_time(text: str) -> datetime:
    if "T" in text:
        return datetime.fromisoformat(text)
    for fmt in ("%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M", "%d.%m.%Y %H:%M", DAY_FORMAT):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=ZONE)
        except ValueError:
            continue
    raise ValueError(text)


def read_export(export: Export, known_owners: set[str]) -> dict[str, PlainDeal]:
    """The deals a CRM can take from the files: those whose owner it knows."""
    stages: dict[str, list[tuple[datetime, str]]] = {}
    for row in csv.DictReader(io.StringIO(export.stages.decode())):
        stages.setdefault(row["Deal ID"], []).append((parse_time(row["Changed at"]), row["Stage"]))
    deals = {}
    for row in csv.DictReader(io.StringIO(export.deals.decode())):
        if row["Deal Owner"] not in known_owners:
            continue
        closed = parse_time(row["Close Date"]) if row["Close Date"] else None
        deals[row["Deal ID"]] = PlainDeal(parse_time(row["Create Date"]), stages[row["Deal ID"]], row["Status"].lower(),
                                          closed, Decimal(row["Amount"]), row["Currency"], row["Company"].strip())
    return deals


def board(deals: dict[str, PlainDeal], moment: datetime) -> dict[str, dict[str, object]]:
    """Per stage: how many deals were open in it at ``moment``, and their amount per currency."""
    columns: dict[str, dict[str, object]] = {name: {"count": 0, "totals": {}} for name, _ in STAGES}
    for deal in deals.values():
        if deal.open_at(moment):
            column = columns[deal.stage_at(moment)]
            column["count"] += 1  # type: ignore[operator]
            totals: dict[str, Decimal] = column["totals"]  # type: ignore[assignment]
            totals[deal.currency] = totals.get(deal.currency, Decimal(0)) + deal.amount
    return columns


def funnel(deals: dict[str, PlainDeal], start: datetime, end: datetime, as_of: datetime) -> dict[str, int]:
    """Deals opened in [start, end) by ``as_of``, those of them won by then, and the stays begun
    in the period that ended lost by then (a deal is lost in the stage it last entered)."""
    opened = [d for d in deals.values() if start <= d.created < end and d.created <= as_of]
    won = [d for d in opened if d.outcome == "won" and d.closed is not None and d.closed <= as_of]
    lost = 0
    for deal in deals.values():
        if deal.outcome == "lost" and deal.closed is not None and deal.closed <= as_of:
            entered = max(at for at, _ in deal.stages if at <= deal.closed)
            lost += start <= entered < end
    return {"opened": len(opened), "won": len(won), "lost": lost}


def companies_created(deals_csv: bytes, existing: set[str]) -> dict[str, datetime]:
    """The companies no record has, each at the earliest created time of the rows naming it."""
    earliest: dict[str, datetime] = {}
    for row in csv.DictReader(io.StringIO(deals_csv.decode())):
        key = row["Company"].strip().casefold()
        if key not in existing:
            created = parse_time(row["Create Date"])
            earliest[key] = min(earliest.get(key, created), created)
    return earliest
