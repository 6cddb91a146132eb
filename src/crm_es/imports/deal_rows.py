"""From a deals file's records to the import's rows: each mapped cell read as what it
fills (a rep by e-mail or name, a company by name, dates in the usual formats, amounts as
people write them), then checked against the same models as the bodies of ``PATCH
/deals/{id}`` and ``POST /deals/{id}/lost``, so a row is refused for the same reasons a
request would be. What the commands check (the pipeline's stages and dates, the owner,
configured values) they check themselves when the row is imported."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

from pydantic import ValidationError

from crm_es.aggregates.deal import LOST, OPEN, WON
from crm_es.inputs.records import DealLoss, DealUpdate
from crm_es.commands.deal_imports import NO_REASON
from crm_es.commands.deal_plans import DealRow, Place, StageRow
from crm_es.commands.imports import RowProblem
from crm_es.imports.amounts import NotAnAmount, parse_amount
from crm_es.imports.csv_file import Record, Table
from crm_es.imports.dates import DAY_FIRST, NotADate, parse_date, parse_datetime
from crm_es.imports.deal_columns import normal
from crm_es.imports.mapping import PROPERTY_PREFIX, ColumnMap, Target

ROW_TYPES = {"deal": "deal", "deals": "deal", "opportunity": "deal", "stage": "stage", "stage_change": "stage",
             "stage_changes": "stage", "stage_history": "stage", "history": "stage", "move": "stage"}
OUTCOMES = {"open": OPEN, "in_progress": OPEN, "active": OPEN, "pending": OPEN,
            "won": WON, "closed_won": WON, "closedwon": WON, "win": WON,
            "lost": LOST, "closed_lost": LOST, "closedlost": LOST, "loss": LOST}
CONTACT_SEPARATORS = re.compile(r"[,;|\s]+")
_HOUR = re.compile(r"\d[T ]\d{1,2}:\d{2}")
MAX_ID = 200
# What the request models call a field, as the file's targets name it.
AS_TARGET = {"owner_id": "owner", "company_id": "company", "contact_ids": "contacts", "reason": "lost_reason"}


class DealDirectory(Protocol):
    """Pipelines, reps, companies and contacts as the CRM knows them (the read side)."""

    def pipelines_named(self, name: str) -> list[UUID]: ...

    def reps_named(self, name: str) -> list[UUID]: ...

    def rep_with_email(self, email: str) -> UUID | None: ...

    def companies_named(self, name: str) -> list[UUID]: ...

    def contact_with_email(self, email: str) -> UUID | None: ...


@dataclass(frozen=True)
class DealReadOptions:
    zone: tzinfo  # for times written without an offset
    date_order: str = DAY_FIRST
    pipeline: str | None = None  # for rows that name none (a name or an id)
    currency: str | None = None  # for rows that name none


class _Refused(Exception):
    def __init__(self, problem: RowProblem) -> None:
        self.problem = problem


def deal_file_rows(table: Table, columns: ColumnMap, directory: DealDirectory,
                   options: DealReadOptions) -> tuple[list[DealRow], list[StageRow]]:
    """The deals file's rows: deal rows, and stage rows where a ``row_type`` says so."""
    deals, stages = [], []
    for record in table.records:
        place = Place(0, record.row, record.line)
        cells, problems = _cells(record, len(table.header), columns)
        if problems:  # the row's cells are not where the header says: nothing else is read
            deals.append(DealRow(place, problems=tuple(problems)))
            continue
        kind = _row_type(cells.get("row_type"))
        if isinstance(kind, RowProblem):
            problems.append(kind)
        if kind == "stage":
            stages.append(_stage_row(place, cells, problems, options))
        else:
            deals.append(_deal_row(place, cells, problems, directory, options))
    return deals, stages


def stage_file_rows(table: Table, columns: ColumnMap, options: DealReadOptions) -> list[StageRow]:
    rows = []
    for record in table.records:
        cells, problems = _cells(record, len(table.header), columns)
        rows.append(_stage_row(Place(1, record.row, record.line), cells, problems, options))
    return rows


def _cells(record: Record, width: int, columns: ColumnMap) -> tuple[dict[str, tuple[str, Target]], list[RowProblem]]:
    """The row's filled cells by target; a problem when it has more cells than the header."""
    extra = [cell for cell in record.cells[width:] if cell.strip()]
    if extra:
        return {}, [RowProblem("", f"the row has {width + len(extra)} filled cells, the header names {width} "
                                   "columns (a delimiter inside a cell that is not quoted?)", "extra-cells")]
    cells = {}
    for index, target in columns.by_index.items():
        cell = record.cells[index].strip() if index < len(record.cells) else ""
        if cell:
            cells[target.name] = (cell, target)
    return cells, []


def _row_type(cell: tuple[str, Target] | None) -> str | RowProblem:
    if cell is None:
        return "deal"
    found = ROW_TYPES.get(normal(cell[0]))
    if found is None:
        return RowProblem("row_type", f"{cell[0]!r} is not a row type: deal (one row per deal) or stage (a stage "
                                      "change of a deal)", "invalid-input")
    return found


def _stage_row(place: Place, cells: dict[str, tuple[str, Target]], problems: list[RowProblem],
               options: DealReadOptions) -> StageRow:
    old_id, stage, changed = (cells.get(name, ("", None))[0] for name in ("old_id", "stage", "changed_at"))
    for name, value in (("old_id", old_id), ("stage", stage), ("changed_at", changed)):
        if not value:
            problems.append(RowProblem(name, f"a stage change needs its {name}", "required"))
        elif len(value) > MAX_ID and name != "changed_at":
            problems.append(RowProblem(name, f"{name} is longer than {MAX_ID} characters", "invalid-input"))
    changed_at = None
    if changed:
        try:
            changed_at = parse_datetime(changed, options.zone, options.date_order)
        except NotADate as error:
            problems.append(RowProblem("changed_at", str(error), "invalid-date"))
    if problems:
        return StageRow(place, old_id or None, problems=tuple(problems))
    return StageRow(place, old_id, stage, changed_at, not _HOUR.search(changed))


def _deal_row(place: Place, cells: dict[str, tuple[str, Target]], problems: list[RowProblem],
              directory: DealDirectory, options: DealReadOptions) -> DealRow:
    text = {name: cell for name, (cell, _) in cells.items()}
    old_id = text.get("old_id")
    read: dict[str, Any] = {}
    for name, reader in _READERS.items():
        try:
            read[name] = reader(text.get(name), directory, options)
        except _Refused as refused:
            problems.append(refused.problem)
    if "outcome" in read and "outcome" not in text and "stage" in text:
        # HubSpot and Salesforce say the outcome with the stage: "Closed Won" is a stage there.
        read["outcome"] = {WON: WON, LOST: LOST}.get(OUTCOMES.get(normal(text["stage"]), OPEN), OPEN)
    properties = {}
    for name, (cell, target) in cells.items():
        if target.is_property:
            try:
                properties[name.removeprefix(PROPERTY_PREFIX)] = _property(cell, target, options)
            except _Refused as refused:
                problems.append(refused.problem)
    if old_id is None:
        problems.append(RowProblem("old_id", "the deal's id in the old CRM is required: it makes a re-run find the "
                                             "deal", "required"))
    elif len(old_id) > MAX_ID:
        problems.append(RowProblem("old_id", f"old_id is longer than {MAX_ID} characters", "invalid-input"))
    if not problems:
        problems += _checked(read, properties, options)
    if problems:  # what could be read still dates the companies the file names
        company, created = read.get("company") or (None, None), read.get("created_at")
        return DealRow(place, old_id, new_company=company[1], created_at=created[0] if created else None,
                       problems=tuple(problems))
    amount, written_code = read["amount"]
    outcome, closed = read["outcome"], read["closed_at"]
    expected_close = read["expected_close"]
    if outcome == OPEN and closed is not None:  # an open deal's "close date" is when it should close
        expected_close = expected_close or closed[0].astimezone(options.zone).date()
        closed = None
    company_id, new_company = read["company"]
    return DealRow(
        place, old_id, text["title"], read["pipeline"], text.get("stage"), amount,
        read["currency"] or written_code or options.currency,
        read["owner"], company_id, new_company, read["contacts"], text.get("source"), expected_close, properties,
        read["created_at"][0], outcome, closed[0] if closed else None, bool(closed and closed[1]),
        text.get("lost_reason"), text.get("competitor"),
    )


def _checked(read: dict[str, Any], properties: dict[str, Any], options: DealReadOptions) -> list[RowProblem]:
    """What the request models say of the values; and what a deal needs that they cannot."""
    problems = []
    amount, written_code = read["amount"]
    if read["currency"] and written_code and read["currency"] != written_code:
        problems.append(RowProblem("currency", f"the amount is in {written_code}, the currency says {read['currency']}",
                                   "invalid-input"))
    currency = read["currency"] or written_code or options.currency
    if not currency:
        problems.append(RowProblem("currency", "the deal's currency is required: map a column to currency, or give "
                                               "the file's currency (--currency)", "required"))
    if read["outcome"] in (WON, LOST) and read["closed_at"] is None:
        problems.append(RowProblem("closed_at", f"a {read['outcome']} deal needs its close date", "required"))
    for name in ("title", "created_at", "pipeline"):
        if read[name] is None:
            hint = " (or give the file's pipeline: --pipeline)" if name == "pipeline" else ""
            problems.append(RowProblem(name, f"the deal's {name} is required{hint}", "required"))
    body = {"title": read["title"], "amount": amount, "currency": currency,
            "owner_id": read["owner"], "contact_ids": list(read["contacts"]), "company_id": read["company"][0],
            "source": read["source"], "expected_close": read["expected_close"], "properties": properties}
    loss = {"reason": read["lost_reason"] or NO_REASON, "competitor": read["competitor"]}
    for model, values in ((DealUpdate, body), (DealLoss, loss)):
        try:
            model.model_validate({k: v for k, v in values.items() if v is not None})
        except ValidationError as error:
            problems += [_problem(e) for e in error.errors()]
    return problems


def _problem(error: Any) -> RowProblem:
    loc = [str(part) for part in error["loc"]]
    name = AS_TARGET.get(loc[0], loc[0]) if loc else ""
    if name == "properties" and len(loc) > 1:
        name = f"properties.{loc[1]}"
    return RowProblem(name, error["msg"])


# --- one reader per target: the cell (None when empty) → its value, or _Refused -------


def _text(cell: str | None, _d: DealDirectory, _o: DealReadOptions) -> str | None:
    return cell


def _pipeline(cell: str | None, directory: DealDirectory, options: DealReadOptions) -> UUID | None:
    cell = cell or options.pipeline
    if cell is None:
        return None
    return _by_id_or(cell, lambda name: _one("pipeline", directory.pipelines_named(name),
                                              "create it first (POST /pipelines, dated before the file's deals)"))


def _owner(cell: str | None, directory: DealDirectory, _o: DealReadOptions) -> UUID | None:
    if cell is None:
        return None

    def find(text: str) -> UUID:
        if "@" in text:
            found = directory.rep_with_email(text)
            if found is None:
                raise _Refused(RowProblem("owner", "no rep has this e-mail", "unknown-rep"))
            return found
        return _one("owner", directory.reps_named(text), "name a rep by e-mail or name (POST /reps adds one)")
    return _by_id_or(cell, find)


def _company(cell: str | None, directory: DealDirectory, _o: DealReadOptions) -> tuple[UUID | None, str | None]:
    """(the company's id, None) — or (None, the name) when no company has it: the import registers it."""
    if cell is None:
        return None, None
    try:
        return UUID(cell), None
    except ValueError:
        pass
    found = directory.companies_named(cell)
    if len(found) > 1:
        raise _Refused(RowProblem("company", f"{len(found)} companies have this name: give the company's id instead",
                                  "ambiguous-company"))
    return (found[0], None) if found else (None, cell)


def _contacts(cell: str | None, directory: DealDirectory, _o: DealReadOptions) -> tuple[UUID, ...]:
    if cell is None:
        return ()
    ids = []
    for part in (p for p in CONTACT_SEPARATORS.split(cell) if p):
        try:
            ids.append(UUID(part))
            continue
        except ValueError:
            pass
        found = directory.contact_with_email(part)
        if found is None:
            # Not the address itself: the report names no one, and is kept with an Idempotency-Key.
            raise _Refused(RowProblem("contacts", "no contact has this e-mail: import the contacts first "
                                                  "(crm-es import contacts), or leave it out", "unknown-contact"))
        ids.append(found)
    return tuple(dict.fromkeys(ids))


def _amount(cell: str | None, _d: DealDirectory, _o: DealReadOptions) -> tuple[Decimal, str | None]:
    if cell is None:
        return Decimal(0), None  # a deal the old CRM kept no value for
    try:
        return parse_amount(cell)
    except NotAnAmount as error:
        raise _Refused(RowProblem("amount", str(error), "invalid-input")) from error


def _currency(cell: str | None, _d: DealDirectory, _o: DealReadOptions) -> str | None:
    return cell.upper() if cell else None


def _outcome(cell: str | None, _d: DealDirectory, _o: DealReadOptions) -> str:
    if cell is None:
        return OPEN
    found = OUTCOMES.get(normal(cell))
    if found is None:
        raise _Refused(RowProblem("outcome", f"{cell!r} is not an outcome: open, won or lost", "invalid-input"))
    return found


def _when(name: str) -> Callable[[str | None, DealDirectory, DealReadOptions], tuple[Any, bool] | None]:
    """A time, and whether it was written as a day alone."""
    def read(cell: str | None, _d: DealDirectory, options: DealReadOptions) -> tuple[Any, bool] | None:
        if cell is None:
            return None
        try:
            return parse_datetime(cell, options.zone, options.date_order), not _HOUR.search(cell)
        except NotADate as error:
            raise _Refused(RowProblem(name, str(error), "invalid-date")) from error
    return read


def _day(cell: str | None, _d: DealDirectory, options: DealReadOptions) -> Any:
    if cell is None:
        return None
    try:
        return parse_date(cell, options.date_order)
    except NotADate as error:
        raise _Refused(RowProblem("expected_close", str(error), "invalid-date")) from error


_READERS: dict[str, Callable[[str | None, DealDirectory, DealReadOptions], Any]] = {
    "title": _text, "source": _text, "lost_reason": _text, "competitor": _text,
    "pipeline": _pipeline, "owner": _owner, "company": _company, "contacts": _contacts,
    "amount": _amount, "currency": _currency, "outcome": _outcome,
    "created_at": _when("created_at"), "closed_at": _when("closed_at"), "expected_close": _day,
}


def _property(cell: str, target: Target, options: DealReadOptions) -> Any:
    if target.kind != "date":
        return cell
    try:
        return parse_date(cell, options.date_order).isoformat()
    except NotADate as error:
        raise _Refused(RowProblem(target.name, str(error), "invalid-date")) from error


def _by_id_or(cell: str, find: Callable[[str], UUID]) -> UUID:
    try:
        return UUID(cell)
    except ValueError:
        return find(cell)


def _one(name: str, found: list[UUID], hint: str) -> UUID:
    if len(found) == 1:
        return found[0]
    if not found:
        raise _Refused(RowProblem(name, f"no {'rep' if name == 'owner' else name} has this name: {hint}",
                                  f"unknown-{'rep' if name == 'owner' else name}"))
    raise _Refused(RowProblem(name, f"{len(found)} have this name: give its id instead",
                              f"ambiguous-{'rep' if name == 'owner' else name}"))
