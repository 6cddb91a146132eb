"""History tables: every version of a record, in business time and in recorded time.

A projection says what an event changes (a ``Version``: a few columns); the new row
takes every other column from the record's previous version. That fill is done in SQL,
for the whole batch at once, with window functions over the record's current row and
the batch's new versions:

- a column a version sets is wrapped in a struct (``struct_pack(v := value)``), not null
  even when the value is, so ``last_value(… IGNORE NULLS)`` finds the latest version that
  set it, a null it set included;
- ``valid_from`` is the latest business time so far: a change dated before the record's
  previous change (the domain refuses those; older events may hold some) takes effect
  from that change, so a record's versions follow each other;
- then each version that is no longer the last is closed: ``valid_to`` and
  ``superseded_at`` are the next version's ``valid_from`` and ``recorded_at``.

Both statements run in the batch's transaction, with the position (exactly once).
"""

from __future__ import annotations

from typing import Any

from crm_es.projections.rows import Version
from crm_es.projections.schema import VALIDITY, Table

MASK = "crm_set_mask"
_SPAN = ("valid_from", "valid_to", "recorded_at", "superseded_at")
_WINDOW = "WINDOW w AS (PARTITION BY {key} ORDER BY version ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"


def tracked(table: Table) -> list[str]:
    """The columns a version carries (all but the record's key, the validity and the
    previous version's values)."""
    meta = {name for name, _ in VALIDITY} | {f"previous_{c}" for c in table.previous}
    return [c for c, _ in table.columns if c != table.key and c not in meta]


def version_rows(table: Table, ops: list[Version]) -> tuple[list[str], list[dict[str, Any]]]:
    """The batch's versions as rows for Arrow: each with the bit mask of what it sets."""
    columns = tracked(table)
    bits = {c: 1 << i for i, c in enumerate(columns)}
    rows = []
    for op in ops:
        mask = 0
        for column in op.values:
            mask |= bits[column]  # an unknown column raises KeyError
        rows.append({table.key: op.key, "version": op.version, "position": op.position, "valid_from": op.valid_from,
                     "recorded_at": op.recorded_at, MASK: mask, **op.values})
    return [table.key, "version", "position", "valid_from", "recorded_at", MASK, *columns], rows


def version_statements(table: Table) -> tuple[str, str]:
    """INSERT the batch's versions filled in, then close the versions they follow.
    ``{rows}`` is the batch's Arrow rows (see ``version_rows``)."""
    key, columns = table.key, tracked(table)
    assert key is not None and table.versioned
    everything = (1 << len(columns)) - 1

    def cast(column: str) -> str:
        return f"CAST(r.{column} AS {table.type_of(column)})"

    current = (  # each touched record's last version so far: it sets every column
        f"SELECT {key}, version, position, valid_from, recorded_at, {everything} AS {MASK}, "
        f"{', '.join(columns)}, false AS fresh FROM {table.name} "
        f"WHERE valid_to IS NULL AND {key} IN (SELECT {cast(key)} FROM {{rows}} AS r)"
    )
    fresh = (
        f"SELECT {cast(key)}, r.version, r.position, CAST(r.valid_from AS TIMESTAMPTZ), "
        f"CAST(r.recorded_at AS TIMESTAMPTZ), r.{MASK}, {', '.join(cast(c) for c in columns)}, true "
        f"FROM {{rows}} AS r"
    )
    filled = ", ".join(
        f"(last_value(CASE WHEN {MASK} & {1 << i} <> 0 THEN struct_pack(v := {c}) END IGNORE NULLS) OVER w).v AS {c}"
        for i, c in enumerate(columns)
    )
    previous = [f"previous_{c}" for c in table.previous]  # the version before's values, kept beside
    lagged = "".join(f", lag({c}) OVER p AS previous_{c}" for c in table.previous)
    insert = (
        f"INSERT INTO {table.name} ({key}, {', '.join([*columns, *previous])}, version, valid_from, valid_to, "
        f"recorded_at, superseded_at, position) "
        f"SELECT {key}, {', '.join([*columns, *previous])}, version, valid_from, NULL, recorded_at, NULL, position FROM ("
        f"SELECT *{lagged} FROM ("
        f"SELECT {key}, version, position, recorded_at, fresh, max(valid_from) OVER w AS valid_from, {filled} "
        f"FROM ({current} UNION ALL {fresh}) {_WINDOW.format(key=key)}) AS f "
        f"WINDOW p AS (PARTITION BY {key} ORDER BY version)) AS g WHERE fresh"
    )
    close = (
        f"UPDATE {table.name} SET valid_to = n.next_from, superseded_at = n.next_recorded FROM ("
        f"SELECT {key} AS k, version AS v, lead(valid_from) OVER o AS next_from, lead(recorded_at) OVER o AS next_recorded "
        f"FROM {table.name} WHERE valid_to IS NULL AND {key} IN (SELECT {cast(key)} FROM {{rows}} AS r) "
        f"WINDOW o AS (PARTITION BY {key} ORDER BY version)) AS n "
        f"WHERE {table.name}.{key} = n.k AND {table.name}.version = n.v AND n.next_from IS NOT NULL"
    )
    return insert, close
