"""History tables: every version of a record, in business time and in recorded time.

A projection says what an event changes (a ``Version``: a few columns); the new row
takes every other column from the record's previous version. The batch's versions of a
record are first folded in Python, in order (``version_rows``): each carries what the
batch has set so far, a bit mask saying which columns that is, the same for the version
before it in the batch (its ``previous_…`` values), and when the next one starts. SQL
then needs one join per batch, with each touched record's current row, for the rest:

- a column the batch has not set yet comes from the record's current row (a null
  the batch set stays null: the mask, not the value, says it was set);
- ``valid_from`` is the latest business time so far: a change dated before the record's
  previous change (the domain refuses those; older events may hold some) takes effect
  from that change, so a record's versions follow each other;
- each version but the batch's last is written closed (``valid_to`` and
  ``superseded_at`` are the next one's ``valid_from`` and ``recorded_at``); then the row
  that was current is closed by the batch's first version of the record.

Both statements run in the batch's transaction, with the position (exactly once).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from crm_es.projections.rows import Version
from crm_es.projections.schema import VALIDITY, Table

MASK = "crm_set_mask"  # which columns a row of a batch sets (its bits: the columns in order)
PREVIOUS_MASK = "crm_previous_mask"  # which columns the version before it, in the batch, had set
MASKS = frozenset({MASK, PREVIOUS_MASK})


def tracked(table: Table) -> list[str]:
    """The columns a version carries (all but the record's key, the validity and the
    previous version's values)."""
    meta = {name for name, _ in VALIDITY} | {f"previous_{c}" for c in table.previous}
    return [c for c, _ in table.columns if c != table.key and c not in meta]


def version_rows(table: Table, ops: list[Version]) -> tuple[list[str], list[dict[str, Any]], list[dict[str, Any]]]:
    """The batch's versions as rows for Arrow, each record's folded in log order (see the
    module's doc), and the first version of each record (what closes its current row)."""
    columns = tracked(table)
    bits = {c: 1 << i for i, c in enumerate(columns)}
    previous = [(f"previous_{c}", c) for c in table.previous]
    key = table.key
    last: dict[str, dict[str, Any]] = {}  # each record's latest row in the batch: what it has set so far
    rows: list[dict[str, Any]] = []
    firsts: list[dict[str, Any]] = []
    for op in ops:
        mask = 0
        for column in op.values:
            mask |= bits[column]  # an unknown column raises KeyError
        before = last.get(op.key)
        if before is None:
            row = {**op.values, key: op.key, "version": op.version, "position": op.position,
                   "valid_from": op.valid_from, "recorded_at": op.recorded_at, MASK: mask, PREVIOUS_MASK: 0}
            firsts.append({key: op.key, "version": op.version, "valid_from": op.valid_from, "recorded_at": op.recorded_at})
        else:
            row = {**before, **op.values, "version": op.version, "position": op.position,
                   "recorded_at": op.recorded_at, MASK: mask | before[MASK], PREVIOUS_MASK: before[MASK]}
            for name, column in previous:
                row[name] = before.get(column)
            # Dated before an earlier change: it takes effect from that change on.
            if datetime.fromisoformat(op.valid_from) >= datetime.fromisoformat(before["valid_from"]):
                row["valid_from"] = op.valid_from
            before["valid_to"] = row["valid_from"]
            before["superseded_at"] = op.recorded_at
        last[op.key] = row
        rows.append(row)
    out = [key, "version", "position", "valid_from", "recorded_at", "valid_to", "superseded_at", MASK, PREVIOUS_MASK,
           *columns, *(name for name, _ in previous)]
    return out, rows, firsts


def version_statements(table: Table) -> tuple[str, str]:
    """INSERT the batch's versions filled in from each record's current row, then close
    the rows that were current. The insert's ``{rows}`` is the batch's Arrow rows, the
    close's the first version of each record (see ``version_rows``)."""
    key, columns = table.key, tracked(table)
    assert key is not None and table.versioned

    def cast(column: str) -> str:
        return f"CAST(r.{column} AS {table.type_of(column)})"

    def filled(column: str, value: str, mask: str) -> str:
        return f"CASE WHEN r.{mask} & {1 << columns.index(column)} <> 0 THEN {value} ELSE cur.{column} END"

    previous = [f"previous_{c}" for c in table.previous]
    current = (  # each touched record's current row (its last version)
        f"SELECT {key}, valid_from, {', '.join(columns)} FROM {table.name} "
        f"WHERE valid_to IS NULL AND {key} IN (SELECT {cast(key)} FROM {{rows}} AS r)"
    )
    values = [filled(c, cast(c), MASK) for c in columns]
    values += [filled(c, cast(p), PREVIOUS_MASK) for c, p in zip(table.previous, previous)]
    # A null in greatest() is passed over: a record's first version starts at its own time.
    insert = (
        f"INSERT INTO {table.name} ({key}, {', '.join([*columns, *previous])}, version, valid_from, valid_to, "
        f"recorded_at, superseded_at, position) "
        f"SELECT {cast(key)}, {', '.join(values)}, r.version, greatest(cur.valid_from, {cast('valid_from')}), "
        f"CASE WHEN r.valid_to IS NOT NULL THEN greatest(cur.valid_from, {cast('valid_to')}) END, "
        f"{cast('recorded_at')}, {cast('superseded_at')}, r.position "
        f"FROM {{rows}} AS r LEFT JOIN ({current}) AS cur ON cur.{key} = {cast(key)}"
    )
    # The row that was current ends where the record's first new version starts (its
    # valid_from as the insert worked it out: the later of the two).
    close = (
        f"UPDATE {table.name} SET valid_to = greatest({table.name}.valid_from, {cast('valid_from')}), "
        f"superseded_at = {cast('recorded_at')} FROM {{rows}} AS r "
        f"WHERE {table.name}.{key} = {cast(key)} AND {table.name}.valid_to IS NULL AND {table.name}.version < r.version"
    )
    return insert, close
