"""From a file's records to the import's rows: each mapped cell read as its property's
value, then checked against the same model as the body of ``POST /contacts`` (lengths,
the e-mail's shape, ids), so a row is refused for the same reasons a request would be.
What the commands check (owners, companies, configured values, custom properties) they
check themselves when the row is imported."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any, Protocol
from uuid import UUID

from pydantic import ValidationError

from crm_es.inputs.records import ContactUpdate
from crm_es.commands.imports import ContactRow, RowProblem
from crm_es.imports.csv_file import Record, Table
from crm_es.imports.dates import DAY_FIRST, NotADate, parse_date, parse_datetime
from crm_es.imports.mapping import PROPERTY_PREFIX, TEXT_FIELDS, ColumnMap, Target

TAG_SEPARATORS = re.compile(r"[,;|]")
DETAILS = ("first_name", "last_name", "phone", "job_title", "company_id", "city", "source", "tags", "properties")


class Directory(Protocol):
    """Companies by name and reps by e-mail, as the CRM knows them (the read side)."""

    def companies_named(self, name: str) -> list[UUID]: ...

    def rep_with_email(self, email: str) -> UUID | None: ...


@dataclass(frozen=True)
class ReadOptions:
    zone: tzinfo  # for times written without an offset
    date_order: str = DAY_FIRST


class _Refused(Exception):
    def __init__(self, problem: RowProblem) -> None:
        self.problem = problem


def contact_rows(table: Table, columns: ColumnMap, directory: Directory, options: ReadOptions) -> list[ContactRow]:
    return [_contact_row(record, len(table.header), columns, directory, options) for record in table.records]


def _contact_row(record: Record, width: int, columns: ColumnMap, directory: Directory,
                 options: ReadOptions) -> ContactRow:
    extra = [cell for cell in record.cells[width:] if cell.strip()]
    if extra:
        problem = RowProblem("", f"the row has {width + len(extra)} filled cells, the header names {width} columns "
                                 "(a delimiter inside a cell that is not quoted?)", "extra-cells")
        return ContactRow(record.row, record.line, problems=(problem,))
    body: dict[str, Any] = {}
    problems = []
    for index, target in columns.by_index.items():
        cell = record.cells[index].strip() if index < len(record.cells) else ""
        if not cell:
            continue  # an empty cell changes nothing
        try:
            _put(body, target, cell, directory, options)
        except _Refused as refused:
            problems.append(refused.problem)
    if problems:
        return ContactRow(record.row, record.line, problems=tuple(problems))
    try:
        checked = ContactUpdate.model_validate(body).model_dump(exclude_unset=True)
    except ValidationError as error:
        return ContactRow(record.row, record.line, problems=tuple(_problem(e) for e in error.errors()))
    details = {name: checked[name] for name in DETAILS if name in checked}
    if "tags" in details:
        details["tags"] = tuple(details["tags"])
    return ContactRow(record.row, record.line, checked.get("email"), details, checked.get("status"),
                      checked.get("owner_id"), checked.get("occurred_at"))


def _put(body: dict[str, Any], target: Target, cell: str, directory: Directory, options: ReadOptions) -> None:
    name = target.name
    if name in TEXT_FIELDS:
        body[name] = cell
    elif name == "tags":
        body["tags"] = list(dict.fromkeys(t.strip() for t in TAG_SEPARATORS.split(cell) if t.strip()))
    elif name == "company":
        body["company_id"] = _by_id_or(cell, "company", _one_company(directory))
    elif name == "owner":
        body["owner_id"] = _by_id_or(cell, "owner", _rep(directory))
    elif name == "occurred_at":
        body["occurred_at"] = _read(name, lambda: parse_datetime(cell, options.zone, options.date_order))
    else:
        value: Any = cell
        if target.kind == "date":
            value = _read(name, lambda: parse_date(cell, options.date_order)).isoformat()
        body.setdefault("properties", {})[name.removeprefix(PROPERTY_PREFIX)] = value


def _read(name: str, parse: Callable[[], Any]) -> Any:
    try:
        return parse()
    except NotADate as error:
        raise _Refused(RowProblem(name, str(error), "invalid-date")) from error


def _by_id_or(cell: str, name: str, find: Callable[[str], UUID]) -> UUID:
    try:
        return UUID(cell)
    except ValueError:
        return find(cell)


def _one_company(directory: Directory) -> Callable[[str], UUID]:
    def find(name: str) -> UUID:
        found = directory.companies_named(name)
        if len(found) == 1:
            return found[0]
        if not found:
            raise _Refused(RowProblem("company", "no company has this name: create it first (POST /companies), "
                                                 "or give its id", "unknown-company"))
        raise _Refused(RowProblem("company", f"{len(found)} companies have this name: give the company's id instead",
                                  "ambiguous-company"))
    return find


def _rep(directory: Directory) -> Callable[[str], UUID]:
    def find(email: str) -> UUID:
        found = directory.rep_with_email(email)
        if found is None:
            raise _Refused(RowProblem("owner", "no rep has this id or e-mail", "unknown-rep"))
        return found
    return find


def _problem(error: Any) -> RowProblem:
    loc = [str(part) for part in error["loc"]]
    name = ".".join(loc)
    message = error["msg"]
    if name == "email" and error["type"] == "string_pattern_mismatch":
        message = "not a valid e-mail address"
    return RowProblem(name, message)
