"""Importing contacts: many rows, each through the normal commands.

A row whose e-mail no contact holds registers one (``register_contact``); a row whose
e-mail a contact holds changes it (``change_contact``) — or is skipped when nothing
differs. So the checks of those commands (ownership, existence of the company and the
owner, configured values, required and typed properties) hold for imports without being
written twice, and the events are the usual ones. Matching on the e-mail's claim makes a
re-run of the same file create nothing new; two rows of one file with the same e-mail
are one contact (the later row changes it).

An import adds, it never takes away: an empty cell changes nothing, tags and properties
are added to the contact's own (a property named again takes the file's value).

Rows are decided in batches against a ``UnitOfWork`` and each batch is saved in one
store transaction; a dry run decides the same way and saves nothing. The report names no
one (rows by number, contacts by id), so it can be kept and shown safely.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from crm_es.aggregates import Contact
from crm_es.aggregates.base import DomainError, InvalidInput
from crm_es.aggregates.contact import ContactDetails
from crm_es.commands.context import CommandContext
from crm_es.commands.pipeline import execute
from crm_es.commands.records import (
    EMAIL_SCOPE,
    ChangeContact,
    RegisterContact,
    change_contact,
    email_claim,
    register_contact,
)
from crm_es.commands.unit_of_work import UnitOfWork
from crm_es.store import IdempotencyRecord
from crm_es.store.event_store import IntegrityError, SubjectForgotten

BATCH_ROWS = 500  # rows decided, then saved, per store transaction
REQUIRED_TO_REGISTER = ("first_name", "last_name")


@dataclass(frozen=True)
class RowProblem:
    field: str  # the contact property ("email", "properties.budget")
    message: str
    rule: str = "invalid-input"

    @classmethod
    def all_of(cls, error: DomainError) -> tuple[RowProblem, ...]:
        """One problem per field the refusal names (a refusal may list several in ``errors``)."""
        listed = error.extra.get("errors")
        if isinstance(listed, list) and listed:
            return tuple(cls(str(e.get("field", "")), str(e.get("message", "")), error.rule) for e in listed)
        name = getattr(error, "field", None) or error.extra.get("field") or ""
        return (cls(name, error.detail, error.rule),)


@dataclass(frozen=True)
class ContactRow:
    """One record of a file, as the import's edge read it: typed values of the cells
    that were filled, or the problems found reading them."""

    row: int  # the spreadsheet row (the header is row 1)
    line: int  # the file's line where the record starts
    email: str | None = None
    details: dict[str, Any] = field(default_factory=dict)  # ContactDetails fields, filled cells only
    status: str | None = None
    owner_id: UUID | None = None  # None: not in the file (a new contact gets the importer)
    occurred_at: datetime | None = None  # when the contact was created, for a new one
    problems: tuple[RowProblem, ...] = ()


@dataclass(frozen=True)
class RowResult:
    row: int
    line: int
    status: str  # imported | updated | skipped | failed
    id: UUID | None = None
    errors: tuple[RowProblem, ...] = ()
    note: str | None = None


COUNTED = ("imported", "updated", "skipped", "failed")


@dataclass
class ImportReport:
    dry_run: bool
    rows: list[RowResult]
    position: int  # the store's position after the import (?after= reads it)

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(COUNTED, 0)
        for result in self.rows:
            counts[result.status] += 1
        return counts


def import_contacts(
    rows: Sequence[ContactRow],
    ctx: CommandContext,
    *,
    dry_run: bool = False,
    batch_rows: int = BATCH_ROWS,
    progress: Callable[[int], None] = lambda _n: None,
) -> ImportReport:
    # Each row is its own command: no If-Match, and no Idempotency-Key (the import's key
    # answers for the whole file, see remember_answer).
    ctx = replace(ctx, idempotency_key=None, expected_version=None)
    results: list[RowResult] = []
    seen: dict[str, int] = {}  # e-mail (as claimed) → the first row with it
    whole_file = UnitOfWork(ctx.store, rows_of_import=True) if dry_run else None  # a dry run's later batches see its earlier ones
    for start in range(0, len(rows), batch_rows):
        batch = rows[start:start + batch_rows]
        staged = whole_file or UnitOfWork(ctx.store, rows_of_import=True)
        marks = dict(seen)
        decided = _decide_batch(batch, replace(ctx, store=staged), staged, seen)  # type: ignore[arg-type]
        if not dry_run:
            try:
                staged.commit()
            except (IntegrityError, SubjectForgotten):
                # Another writer got there first: nothing of the batch was written. Each
                # row is decided again alone, as one command (which retries a lost race).
                seen.clear()
                seen.update(marks)
                decided = [_decide_row(row, ctx, seen) for row in batch]
        results += decided
        progress(len(batch))
    return ImportReport(dry_run, results, ctx.store.max_position())


def _decide_batch(batch: Sequence[ContactRow], ctx: CommandContext, staged: UnitOfWork,
                  seen: dict[str, int]) -> list[RowResult]:
    # Who holds each e-mail, and those contacts, read in two queries for the batch.
    holders = staged.claim_owners(EMAIL_SCOPE, {_email_key(row.email) for row in batch if row.email})
    staged.load_many([(Contact, UUID(holder)) for holder in set(holders.values())])
    return [_decide_row(row, ctx, seen) for row in batch]


def _email_key(email: str) -> str:
    """The e-mail as its claim holds it (so Ann@X and ann@x are one contact)."""
    return email_claim(email, UUID(int=0)).value


def _decide_row(row: ContactRow, ctx: CommandContext, seen: dict[str, int]) -> RowResult:
    if row.problems:
        return RowResult(row.row, row.line, "failed", errors=row.problems)
    if not row.email:
        problem = RowProblem("email", "the row has no e-mail: the e-mail identifies the contact", "required")
        return RowResult(row.row, row.line, "failed", errors=(problem,))
    key = _email_key(row.email)
    note = f"same e-mail as row {seen[key]}" if key in seen else None
    seen.setdefault(key, row.row)
    try:
        holder = ctx.store.claim_owner(EMAIL_SCOPE, key)
        if holder is None:
            result = execute(register_contact, _registration(row, ctx), ctx)
            return RowResult(row.row, row.line, "imported", result.id, note=note)
        contact = ctx.load(Contact, UUID(holder))
        result = execute(change_contact, _change(row, contact), ctx)
    except DomainError as error:
        return RowResult(row.row, row.line, "failed", errors=RowProblem.all_of(error), note=note)
    if result.version == contact.version:
        return RowResult(row.row, row.line, "skipped", contact.id, note=note or "nothing differs")
    return RowResult(row.row, row.line, "updated", contact.id, note=note)


def _registration(row: ContactRow, ctx: CommandContext) -> RegisterContact:
    for name in REQUIRED_TO_REGISTER:
        if not row.details.get(name):
            raise InvalidInput(name, f"{name} is required to register a new contact: map a column to it, "
                                     "or fill the cell")
    given = row.details
    details = ContactDetails(**{**given, "email": row.email, "tags": tuple(given.get("tags", ())),
                                "properties": given.get("properties", {})})
    return RegisterContact(details, row.status, row.owner_id or ctx.default_owner, row.occurred_at)


def _change(row: ContactRow, contact: Contact) -> ChangeContact:
    """What the row says of an existing contact, added to what it has. The e-mail is not
    changed: it matched (its case may differ, the claim does not)."""
    changes = dict(row.details)
    current = contact.details
    if "tags" in changes:
        changes["tags"] = (*current.tags, *(tag for tag in changes["tags"] if tag not in current.tags))
    if "properties" in changes:
        changes["properties"] = {**(current.properties or {}), **changes["properties"]}
    return ChangeContact(contact.id, changes, row.status, row.owner_id, owner_given=row.owner_id is not None)


# --- the import's own Idempotency-Key ----------------------------------------------------


def fingerprint(*parts: bytes | str) -> str:
    """What an upload was, whatever its multipart boundary: the file and the options."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def first_answer(ctx: CommandContext) -> dict[str, Any] | None:
    """The report an earlier upload with this Idempotency-Key got, if any."""
    stored = ctx.stored_answer("import")
    return None if stored is None else stored[1]["import"]


def remember_answer(ctx: CommandContext, answer: dict[str, Any]) -> dict[str, Any] | None:
    """Keep the report as the key's first answer. Its own transaction, after the rows':
    if the process dies in between, a retry imports again and finds every row already
    there (skipped) — no duplicate either way. Returns the first answer when a twin (the
    same upload with this key, in another process) kept its report first: that one is
    the answer, to this upload too."""
    if ctx.idempotency_key is None:
        return None
    record = IdempotencyRecord(ctx.actor, ctx.idempotency_key, ctx.fingerprint, 200, json.dumps({"import": answer}))
    try:
        work = UnitOfWork(ctx.store)
        work.save([], idempotency=record)  # an answer kept, nothing written
        work.commit()
    except IntegrityError:
        return first_answer(ctx)
    return None
