"""A deals import's rows as each deal's history: what happened to it, in business-time
order, before any command is run (pure: no store, no clock).

A deal row says when the deal was created, where it is, and how it ended; stage rows say
when it entered each stage. The plan is the deal opened at its created time, moved at
each stage change's time, and won or lost at its close time — the commands the API would
have received, in the order they happened:

- The deal opens in the stage of a stage change dated at its creation (exports write one);
  without one, in the pipeline's first stage when later changes follow, or in the deal
  row's ``stage`` when there are none.
- At one instant: the opening, then the moves (in file order), then the close.
- A time written without an hour (``2025-03-04``) is that day, after whatever the file
  dates earlier that day: at the start of the day, or at the deal's previous step when that
  step is later the same day (a close "on the 4th" comes after a move at 15:00 on the 4th).
- When the deal has stage changes, the row's ``stage`` (if given) must be where they leave
  it: a file that disagrees with itself is refused rather than guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from crm_es.aggregates.deal import LOST, OPEN, WON
from crm_es.commands.imports import RowProblem

DEALS_FILE, STAGES_FILE = "deals", "stages"
DEAL, STAGE_CHANGE = "deal", "stage_change"
OPENING, MOVE, CLOSE = 0, 1, 2  # what a step does; also their order at one instant
DAY = timedelta(days=1)


@dataclass(frozen=True, order=True)
class Place:
    """Where a row is: the file (deals first), its spreadsheet row, the line it starts on."""

    file_rank: int  # 0 the deals file, 1 the stage changes file
    row: int
    line: int

    @property
    def file(self) -> str:
        return DEALS_FILE if self.file_rank == 0 else STAGES_FILE


@dataclass(frozen=True)
class StageRow:
    at: Place
    old_id: str | None = None
    stage: str | None = None
    changed_at: datetime | None = None
    day_only: bool = False  # written without an hour
    problems: tuple[RowProblem, ...] = ()


@dataclass(frozen=True)
class DealRow:
    """A deal as the file describes it, its cells read and typed (``problems`` if not)."""

    at: Place
    old_id: str | None = None
    title: str = ""
    pipeline_id: UUID | None = None
    stage: str | None = None
    amount: Decimal = Decimal(0)
    currency: str = ""
    owner_id: UUID | None = None  # None: not in the file (a rep's import: the rep)
    company_id: UUID | None = None
    new_company: str | None = None  # a name no company has: the import registers it
    contact_ids: tuple[UUID, ...] = ()
    source: str | None = None
    expected_close: date | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    outcome: str = OPEN
    closed_at: datetime | None = None
    closed_day_only: bool = False
    lost_reason: str | None = None
    competitor: str | None = None
    problems: tuple[RowProblem, ...] = ()


@dataclass(frozen=True)
class Step:
    kind: int  # OPENING, MOVE or CLOSE
    at: datetime  # business time
    row: DealRow | StageRow
    stage: str | None = None  # for the opening, None: the pipeline's first stage


@dataclass
class DealPlan:
    old_id: str
    deal: DealRow | None  # None: the file has only stage changes of this deal (imported before?)
    steps: list[Step]  # in order; the opening first when the deal row is there
    opened_by: StageRow | None = None  # the stage change dated at the creation: the opening's stage


@dataclass(frozen=True)
class Refusal:
    """A row the plan refuses before any command runs."""

    row: DealRow | StageRow
    problems: tuple[RowProblem, ...]


def plan_deals(deal_rows: Sequence[DealRow], stage_rows: Sequence[StageRow]) -> tuple[list[DealPlan], list[Refusal]]:
    """One plan per deal, in the order the file first names each; and the rows refused."""
    refused: list[Refusal] = []
    deals: dict[str, DealRow | None] = {}  # None: its row was refused
    first_row: dict[str, int] = {}
    for row in deal_rows:
        if row.problems:
            refused.append(Refusal(row, row.problems))
            if row.old_id:
                deals.setdefault(row.old_id, None)
                first_row.setdefault(row.old_id, row.at.row)
            continue
        assert row.old_id  # reading refuses a row without it
        if row.old_id in deals:
            problem = RowProblem("old_id", f"row {first_row[row.old_id]} has this deal already: one row per deal "
                                           "(its stage changes go in stage rows)", "duplicate-deal")
            refused.append(Refusal(row, (problem,)))
            continue
        deals[row.old_id] = row
        first_row[row.old_id] = row.at.row
    changes: dict[str, list[StageRow]] = {}
    for stage_row in stage_rows:
        if stage_row.problems:
            refused.append(Refusal(stage_row, stage_row.problems))
            continue
        assert stage_row.old_id
        changes.setdefault(stage_row.old_id, []).append(stage_row)
    plans = []
    for old_id in dict.fromkeys([*deals, *changes]):
        if old_id in deals and deals[old_id] is None:
            problem = RowProblem("old_id", f"the deal's row {first_row[old_id]} was refused", "deal-row-failed")
            refused += [Refusal(r, (problem,)) for r in changes.get(old_id, [])]
            continue
        plan, plan_refused = _plan(old_id, deals.get(old_id), changes.get(old_id, []))
        refused += plan_refused
        if plan is not None:
            plans.append(plan)
    return plans, refused


def _sort_key(at: datetime, day_only: bool, kind: int, place: Place) -> tuple[Any, ...]:
    # A day without an hour sorts at the day's end: after what is timed that day.
    return (_next_day(at) if day_only else at, not day_only, kind, place)


def _effective(at: datetime, day_only: bool, previous: datetime | None) -> datetime:
    if day_only and previous is not None and at <= previous < _next_day(at):
        return previous
    return at


def _next_day(at: datetime) -> datetime:
    try:
        return at + DAY
    except OverflowError:  # 31/12/9999: the commands refuse it (in the future) anyway
        return at


def _plan(old_id: str, deal: DealRow | None, changes: list[StageRow]) -> tuple[DealPlan | None, list[Refusal]]:
    pending: list[tuple[tuple[Any, ...], int, DealRow | StageRow]] = []
    for change in changes:
        assert change.changed_at is not None
        pending.append((_sort_key(change.changed_at, change.day_only, MOVE, change.at), MOVE, change))
    if deal is not None and deal.outcome in (WON, LOST):
        assert deal.closed_at is not None  # reading refuses a close without its date
        pending.append((_sort_key(deal.closed_at, deal.closed_day_only, CLOSE, deal.at), CLOSE, deal))
    pending.sort(key=lambda item: item[0])

    created = deal.created_at if deal is not None else None
    steps: list[Step] = []
    refused: list[Refusal] = []
    previous = created
    for _, kind, row in pending:
        raw, day_only, name = ((row.changed_at, row.day_only, "changed_at") if isinstance(row, StageRow)
                               else (row.closed_at, row.closed_day_only, "closed_at"))
        assert raw is not None
        at = _effective(raw, day_only, previous)
        if created is not None and at < created:
            problem = RowProblem(name, f"{name} {at.isoformat()} is before the deal was created "
                                       f"({created.isoformat()})", "before-created")
            if kind == CLOSE:
                return None, _refuse_all(deal, changes, problem)
            refused.append(Refusal(row, (problem,)))
            continue
        steps.append(Step(kind, at, row, row.stage if isinstance(row, StageRow) else None))
        previous = at
    if deal is None:
        return DealPlan(old_id, None, steps), refused

    assert created is not None
    moves = [s for s in steps if s.kind == MOVE]
    opened_by = moves[0].row if moves and moves[0].at == created else None
    if opened_by is not None:
        steps = [s for s in steps if s.row is not opened_by]
        opening_stage: str | None = opened_by.stage
    elif moves:
        opening_stage = None  # changes came later: it began where deals begin
    elif deal.stage:
        opening_stage = deal.stage
    else:
        problem = RowProblem("stage", "the deal has no stage: give its stage, or its stage changes", "required")
        return None, [*refused, Refusal(deal, (problem,))]
    if moves and deal.stage:
        last = moves[-1].stage or ""
        if last.casefold() != deal.stage.casefold():
            problem = RowProblem("stage", f"the deal's stage changes leave it in {last!r}, its stage says "
                                          f"{deal.stage!r}: correct one of them, or leave the stage empty",
                                 "stage-mismatch")
            return None, _refuse_all(deal, changes, problem)
    plan = DealPlan(old_id, deal, [Step(OPENING, created, deal, opening_stage), *steps], opened_by)
    return plan, refused


def _refuse_all(deal: DealRow | None, changes: list[StageRow], problem: RowProblem) -> list[Refusal]:
    """The deal row refused for ``problem``; its stage changes, because it was."""
    assert deal is not None
    follows = RowProblem("old_id", f"the deal's row {deal.at.row} was refused", "deal-row-failed")
    return [Refusal(deal, (problem,)), *(Refusal(change, (follows,)) for change in changes)]
