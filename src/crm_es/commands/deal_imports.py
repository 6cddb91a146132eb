"""Importing deals from an old CRM: each deal's history (``deal_plans``) run as the API's
own commands — ``open_deal`` at its created time, ``move_deal`` at each stage change's,
``win_deal`` / ``lose_deal`` at its close — so every check of those commands holds (the
pipeline and the stage existed then, the owner was active then, configured values), the
events are the usual ones, and the board as of any past date shows what the file says.

A company named by no record is registered, dated at the earliest created time of the
rows naming it. The deal's id in the old CRM is claimed (scope ``imported-deal``) with its
opening, so a re-run finds it: an imported deal gets only what the file dates after its last
recorded change (new stage changes, its close), everything else is ``skipped``. A deal row
stands or falls with its opening and its close (nothing of it is written when one fails);
each stage change row succeeds or fails alone.

Deals are decided in batches against a ``UnitOfWork``, each batch saved in one store
transaction; a dry run decides the same way and saves nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from uuid import UUID

from crm_es.aggregates import Deal, Pipeline
from crm_es.aggregates.base import DomainError, NotFound
from crm_es.aggregates.company import CompanyDetails
from crm_es.aggregates.deal import OPEN, WON, DealDetails
from crm_es.commands.context import CommandContext, TooMuchContention
from crm_es.commands.deal_plans import (
    CLOSE,
    DEAL,
    MOVE,
    OPENING,
    STAGE_CHANGE,
    DealPlan,
    DealRow,
    Place,
    Refusal,
    StageRow,
    Step,
    plan_deals,
)
from crm_es.commands.deals import (
    LoseDeal,
    MoveDeal,
    OpenDeal,
    WinDeal,
    lose_deal,
    move_deal,
    open_deal,
    win_deal,
)
from crm_es.commands.imports import COUNTED, RowProblem
from crm_es.commands.pipeline import decide_and_append, execute
from crm_es.commands.records import RegisterCompany, register_company
from crm_es.commands.unit_of_work import UnitOfWork
from crm_es.store import Claim
from crm_es.store.event_store import IntegrityError, SubjectForgotten

IMPORTED_DEAL_SCOPE = "imported-deal"
BATCH_DEALS = 250  # deals decided, then saved, per store transaction
NO_REASON = "not given"  # a lost deal's reason when the old CRM kept none
TIME_FIELD = {OPENING: "created_at", MOVE: "changed_at", CLOSE: "closed_at"}  # occurred_at, as the file names it


@dataclass(frozen=True)
class DealRowResult:
    at: Place
    kind: str  # deal | stage_change
    old_id: str | None
    status: str  # imported | updated | skipped | failed
    id: UUID | None = None
    errors: tuple[RowProblem, ...] = ()
    note: str | None = None


@dataclass(frozen=True)
class CompanyCreated:
    id: UUID
    name: str
    occurred_at: datetime


@dataclass
class DealImportReport:
    dry_run: bool
    rows: list[DealRowResult]
    companies: list[CompanyCreated]
    position: int  # the store's position after the import (?after= reads it)

    def counts(self, kind: str | None = None) -> dict[str, int]:
        counts = dict.fromkeys(COUNTED, 0)
        for result in self.rows:
            if kind is None or result.kind == kind:
                counts[result.status] += 1
        return counts


@dataclass
class _Companies:
    """The companies this import registers: name (as matched) → id, and when."""

    since: dict[str, tuple[str, datetime]]  # the name's key → as first written, earliest created time
    ids: dict[str, UUID] = field(default_factory=dict)
    created: list[CompanyCreated] = field(default_factory=list)

    def mark(self) -> tuple[dict[str, UUID], int]:
        return dict(self.ids), len(self.created)

    def rollback(self, mark: tuple[dict[str, UUID], int]) -> None:
        self.ids = dict(mark[0])
        del self.created[mark[1]:]


def company_key(name: str) -> str:
    return name.strip().casefold()


def import_deals(
    deal_rows: Sequence[DealRow],
    stage_rows: Sequence[StageRow],
    ctx: CommandContext,
    *,
    dry_run: bool = False,
    batch_deals: int = BATCH_DEALS,
    progress: Callable[[int], None] = lambda _n: None,
) -> DealImportReport:
    # Each command is the row's own: no If-Match, no Idempotency-Key (the import's key
    # answers for the whole file).
    ctx = replace(ctx, idempotency_key=None, expected_version=None)
    plans, refused = plan_deals(deal_rows, stage_rows)
    results = [_refused(r) for r in refused]
    progress(len(refused))
    companies = _Companies(_earliest_names(deal_rows))
    whole_file = UnitOfWork(ctx.store, rows_of_import=True) if dry_run else None  # a dry run's later batches see its earlier ones
    for start in range(0, len(plans), batch_deals):
        batch = plans[start:start + batch_deals]
        staged = whole_file or UnitOfWork(ctx.store, rows_of_import=True)
        before = companies.mark()
        decided = _decide_batch(batch, replace(ctx, store=staged), staged, companies)  # type: ignore[arg-type]
        if not dry_run:
            try:
                staged.commit()
            except (IntegrityError, SubjectForgotten):
                # Another writer got there first: nothing of the batch was written. Each
                # deal is decided again alone, in a transaction of its own.
                companies.rollback(before)
                decided = [result for plan in batch for result in _decide_alone(plan, ctx, companies)]
        results += decided
        progress(len(decided))  # one result a row
    results.sort(key=lambda r: r.at)
    return DealImportReport(dry_run, results, companies.created, ctx.store.max_position())


def _earliest_names(rows: Sequence[DealRow]) -> dict[str, tuple[str, datetime]]:
    since: dict[str, tuple[str, datetime]] = {}
    for row in rows:
        if row.new_company and row.created_at is not None:
            key = company_key(row.new_company)
            name, when = since.get(key, (row.new_company.strip(), row.created_at))
            since[key] = (name, min(when, row.created_at))
    return since


def _refused(refusal: Refusal) -> DealRowResult:
    row = refusal.row
    return DealRowResult(row.at, DEAL if isinstance(row, DealRow) else STAGE_CHANGE, row.old_id, "failed",
                         errors=refusal.problems)


def _decide_batch(batch: Sequence[DealPlan], ctx: CommandContext, staged: UnitOfWork,
                  companies: _Companies) -> list[DealRowResult]:
    # Which deals were imported before, those deals and the pipelines: a few queries a batch.
    holders = staged.claim_owners(IMPORTED_DEAL_SCOPE, [plan.old_id for plan in batch])
    pipelines = {plan.deal.pipeline_id for plan in batch if plan.deal is not None and plan.deal.pipeline_id}
    staged.load_many([*((Deal, UUID(h)) for h in holders.values()), *((Pipeline, p) for p in pipelines)])
    return [result for plan in batch for result in _decide(plan, ctx, staged, holders.get(plan.old_id), companies)]


def _decide_alone(plan: DealPlan, ctx: CommandContext, companies: _Companies) -> list[DealRowResult]:
    """One deal decided and written alone, through the write pipeline: a lost race (the deal
    or a contact changed, a person forgotten meanwhile) decides it again on fresh state."""
    before = companies.mark()

    def decide(work: UnitOfWork) -> list[DealRowResult]:
        companies.rollback(before)  # the companies a lost attempt staged are not there either
        return _decide(plan, replace(ctx, store=work), work, work.claim_owner(IMPORTED_DEAL_SCOPE, plan.old_id),
                       companies)

    try:
        decided, _ = decide_and_append(ctx.store, decide, new_unit=partial(UnitOfWork, rows_of_import=True))
    except TooMuchContention:
        companies.rollback(before)
        problem = RowProblem("old_id", "the deal kept changing while it was imported; import the file again", "contention")
        return [_result(row, "failed", errors=(problem,)) for row in _rows_of(plan)]
    return decided


def _rows_of(plan: DealPlan) -> list[DealRow | StageRow]:
    rows: list[DealRow | StageRow] = [plan.deal] if plan.deal is not None else []
    if plan.opened_by is not None:
        rows.append(plan.opened_by)
    return rows + [step.row for step in plan.steps if step.kind == MOVE]


def _result(row: DealRow | StageRow, status: str, deal_id: UUID | None = None, *,
            errors: tuple[RowProblem, ...] = (), note: str | None = None) -> DealRowResult:
    kind = DEAL if isinstance(row, DealRow) else STAGE_CHANGE
    return DealRowResult(row.at, kind, row.old_id, status, deal_id, errors, note)


def _problems(error: DomainError, step: Step) -> tuple[RowProblem, ...]:
    """The refusal's problems, its ``occurred_at`` named as the file names that time."""
    return tuple(replace(p, field=TIME_FIELD[step.kind]) if p.field == "occurred_at" else p
                 for p in RowProblem.all_of(error))


def _decide(plan: DealPlan, ctx: CommandContext, staged: UnitOfWork, holder: str | None,
            companies: _Companies) -> list[DealRowResult]:
    if holder is not None:
        return _known_deal(plan, ctx, UUID(holder))
    if plan.deal is None:
        problem = RowProblem("old_id", "no deal has this id: not in the file's deal rows, nor imported before",
                             "unknown-deal")
        return [_result(step.row, "failed", errors=(problem,)) for step in plan.steps]
    return _new_deal(plan, ctx, staged, companies)


def _new_deal(plan: DealPlan, ctx: CommandContext, staged: UnitOfWork, companies: _Companies) -> list[DealRowResult]:
    deal, [opening, *later] = plan.deal, plan.steps
    assert deal is not None
    mark, companies_mark = staged.mark(), companies.mark()
    results: list[DealRowResult] = []

    def refuse(step: Step, problems: tuple[RowProblem, ...]) -> list[DealRowResult]:
        """The deal row failed at ``step``: nothing of the deal is kept."""
        staged.rollback(mark)
        companies.rollback(companies_mark)
        follows = RowProblem("old_id", f"the deal's row {deal.at.row} failed", "deal-row-failed")
        return [_result(deal, "failed", errors=problems),
                *(_result(row, "failed", errors=(follows,)) for row in _rows_of(plan)[1:])]

    try:
        deal_id = _open(deal, opening, ctx, companies)
    except DomainError as error:
        return refuse(opening, _problems(error, opening))
    staged.claim(Claim(IMPORTED_DEAL_SCOPE, plan.old_id, deal_id))
    results.append(_result(deal, "imported", deal_id))
    if plan.opened_by is not None:
        results.append(_result(plan.opened_by, "imported", deal_id, note="the deal opened in this stage"))
    for step in later:
        try:
            result = _apply(step, deal, deal_id, ctx)
        except DomainError as error:
            if step.kind == CLOSE:
                return refuse(step, _problems(error, step))
            results.append(_result(step.row, "failed", deal_id, errors=_problems(error, step)))
            continue
        if result is not None:
            results.append(result)
    return results


def _open(deal: DealRow, opening: Step, ctx: CommandContext, companies: _Companies) -> UUID:
    company_id = deal.company_id
    if company_id is None and deal.new_company:
        company_id = _company(deal.new_company, ctx, companies)
    stage = opening.stage
    if stage is None:  # the deal began where the pipeline's deals begin
        assert deal.pipeline_id is not None
        stage = ctx.load(Pipeline, deal.pipeline_id, "pipeline_id").stages[0].name
    details = DealDetails(deal.title, deal.contact_ids, company_id, deal.source, deal.expected_close,
                          deal.properties)
    assert deal.pipeline_id is not None  # reading refuses a row without its pipeline
    command = OpenDeal(details, deal.pipeline_id, stage, deal.amount, deal.currency,
                       deal.owner_id or ctx.default_owner, opening.at)
    return execute(open_deal, command, ctx).id


def _company(name: str, ctx: CommandContext, companies: _Companies) -> UUID:
    key = company_key(name)
    if key not in companies.ids:
        written, since = companies.since[key]
        company_id = execute(register_company, RegisterCompany(CompanyDetails(written), since), ctx).id
        companies.ids[key] = company_id
        companies.created.append(CompanyCreated(company_id, written, since))
    return companies.ids[key]


def _apply(step: Step, deal: DealRow | None, deal_id: UUID, ctx: CommandContext) -> DealRowResult | None:
    """A move (its row's result) or a close (None: the deal row's result says it)."""
    if step.kind == MOVE:
        assert step.stage is not None
        before = ctx.load(Deal, deal_id)
        result = execute(move_deal, MoveDeal(deal_id, step.stage, step.at), ctx)
        if result.version == before.version:
            return _result(step.row, "skipped", deal_id, note="the deal was in this stage already")
        return _result(step.row, "imported", deal_id)
    assert deal is not None
    if deal.outcome == WON:
        execute(win_deal, WinDeal(deal_id, step.at), ctx)
    else:
        execute(lose_deal, LoseDeal(deal_id, deal.lost_reason or NO_REASON, step.at, deal.competitor), ctx)
    return None


def _known_deal(plan: DealPlan, ctx: CommandContext, deal_id: UUID) -> list[DealRowResult]:
    """A deal imported before: only what the file dates after its last recorded change is
    new (stage changes, its close); the rest is in its history already."""
    try:
        state = ctx.load(Deal, deal_id)
    except NotFound:  # the claim of a record of another kind: cannot happen, but say so
        problem = RowProblem("old_id", f"the id was imported as record {deal_id}, not a deal", "not-a-deal")
        return [_result(row, "failed", errors=(problem,)) for row in _rows_of(plan)]
    recorded = state.changed_at
    results: list[DealRowResult] = []
    if plan.opened_by is not None:
        results.append(_result(plan.opened_by, "skipped", deal_id, note="imported before"))
    deal_result = None
    for step in plan.steps:
        if step.kind == OPENING:
            continue
        if step.kind == MOVE:
            if recorded is not None and step.at <= recorded:
                note = f"imported before (not after the deal's last recorded change, {recorded.isoformat()})"
                results.append(_result(step.row, "skipped", deal_id, note=note))
                continue
            try:
                moved = _apply(step, None, deal_id, ctx)
                assert moved is not None  # a move answers for its row
                results.append(moved)
            except DomainError as error:
                results.append(_result(step.row, "failed", deal_id, errors=_problems(error, step)))
            continue
        deal_result = _close_again(step, plan.deal, deal_id, ctx)
    if plan.deal is not None:
        if deal_result is None:  # the file says the deal is open
            deal_result = _outcome_agrees(plan.deal, ctx.load(Deal, deal_id).status, deal_id)
        results.append(deal_result)
    return results


def _close_again(step: Step, deal: DealRow | None, deal_id: UUID, ctx: CommandContext) -> DealRowResult:
    assert deal is not None
    status = ctx.load(Deal, deal_id).status
    if status != OPEN:
        return _outcome_agrees(deal, status, deal_id)
    try:
        _apply(step, deal, deal_id, ctx)
    except DomainError as error:
        return _result(deal, "failed", deal_id, errors=_problems(error, step))
    return _result(deal, "updated", deal_id, note=f"{deal.outcome} since the last import")


def _outcome_agrees(deal: DealRow, status: str, deal_id: UUID) -> DealRowResult:
    if status == deal.outcome:
        return _result(deal, "skipped", deal_id, note="imported before")
    problem = RowProblem("outcome", f"the deal is {status} in the CRM and {deal.outcome} in the file: reopen it "
                                    f"(POST /deals/{deal_id}/reopen) to record another outcome", "outcome-differs")
    return _result(deal, "failed", deal_id, errors=(problem,))

