"""A record's complete history as JSON lines, checkable offline.

One event per line, in log order: ``position, originator_id, version, topic,
occurred_at, recorded_at, actor``; ``stored``, the exact stored bytes (base64), which
the hashes attest; ``data``, the same event readable (personal fields opened, or null
once the person is forgotten — a convenience the hashes do not cover); and ``hash``,
``prev_hash``, ``record_prev_hash`` (hex).

``verify_export`` needs no store: it recomputes each line's hash from the line and
checks that each record's lines follow one another from version 1, each chained to the
one before. SHA-256 has no secret, so a file rewritten with care still checks: compare
its last hash with the store's (``crm-es audit verify``) to anchor it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from crm_es.store import RawEvent
from crm_es.store.chain import GENESIS, ChainRow, canonical_id


def export_record(store: Any, record_id: UUID) -> list[dict[str, Any]]:
    """The lines of one record's history (empty when there is no such record)."""
    rows = store.record_chain(record_id)
    states = store.open_states([RawEvent(r.position, r.originator_id, r.version, r.topic, r.state) for r in rows])
    return [_line(row, data) for row, data in zip(rows, states, strict=True)]


def _line(row: ChainRow, data: dict[str, Any]) -> dict[str, Any]:
    record_prev = GENESIS if row.version == 1 else row.record_prev_hash
    return {
        "position": row.position,
        "originator_id": row.originator_id,
        "version": row.version,
        "topic": row.topic,
        "occurred_at": data.get("occurred_at"),
        "recorded_at": data.get("timestamp"),
        "actor": data.get("actor"),
        "stored": base64.b64encode(row.state).decode(),
        "data": data,
        "hash": _hex(row.hash),
        "prev_hash": _hex(row.prev_hash),
        "record_prev_hash": _hex(record_prev),
    }


def _hex(digest: bytes | None) -> str | None:
    return None if digest is None else digest.hex()


@dataclass(frozen=True)
class BadLine:
    line: int  # 1-based
    reason: str  # unreadable | edited | deleted | inserted | reordered
    detail: str


@dataclass(frozen=True)
class ExportVerdict:
    checked: int
    first_bad: BadLine | None

    @property
    def ok(self) -> bool:
        return self.first_bad is None

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked, "first_bad": None if self.first_bad is None else vars(self.first_bad)}


@dataclass(frozen=True)
class _Seen:
    line: int
    version: int
    hash: bytes


def verify_export(lines: Iterable[str]) -> ExportVerdict:
    """The first bad line of an export, or none. An export is one customer's history:
    it is read whole, so that a version found out of place can be told from a lost one."""
    parsed: list[tuple[int, ChainRow | str]] = []
    for number, text in enumerate(lines, start=1):
        if text.strip():
            try:
                parsed.append((number, _row(json.loads(text))))
            except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as error:  # a field of another type
                parsed.append((number, f"not an export line: {error}"))
    line_of = {(row.originator_id, row.version): number for number, row in parsed if isinstance(row, ChainRow)}
    records: dict[str, _Seen] = {}  # each record's last line so far
    last_position = checked = 0
    for number, row in parsed:
        if isinstance(row, str):
            return ExportVerdict(checked, BadLine(number, "unreadable", row))
        if (bad := _check(number, row, last_position, records, line_of)) is not None:
            return ExportVerdict(checked, bad)
        last_position, records[row.originator_id] = row.position, _Seen(number, row.version, row.hash or b"")
        checked += 1
    return ExportVerdict(checked, None)


def _row(line: dict[str, Any]) -> ChainRow:
    return ChainRow(
        position=int(line["position"]),
        originator_id=canonical_id(line["originator_id"]),
        version=int(line["version"]),
        topic=str(line["topic"]),
        state=base64.b64decode(line["stored"], validate=True),
        hash=bytes.fromhex(line["hash"]),
        prev_hash=bytes.fromhex(line["prev_hash"]),
        record_prev_hash=bytes.fromhex(line["record_prev_hash"]),
    )


def _check(
    number: int, row: ChainRow, last_position: int, records: dict[str, _Seen], line_of: dict[tuple[str, int], int]
) -> BadLine | None:
    if row.recomputed() != row.hash:
        return BadLine(number, "edited", "its content does not match its hash")
    before = records.get(row.originator_id)
    expected = 1 if before is None else before.version + 1
    if row.version < expected:
        return BadLine(number, "inserted", f"a second copy of version {row.version} of {row.originator_id}")
    if row.version > expected:
        found = line_of.get((row.originator_id, expected), 0)
        if found > number:
            return BadLine(number, "reordered", f"version {expected} of {row.originator_id} comes later, at line {found}")
        return BadLine(number, "deleted", f"version {expected} of {row.originator_id} is missing")
    if before is not None and row.record_prev_hash != before.hash:
        return BadLine(before.line, "edited", f"its hash is not the one version {row.version} (line {number}) is chained to")
    if before is None and row.record_prev_hash != GENESIS:
        return BadLine(number, "edited", "a version 1 is chained to no earlier version")
    if row.position <= last_position:
        return BadLine(number, "reordered", f"position {row.position} comes after position {last_position}")
    return None
