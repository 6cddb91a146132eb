"""History tables (projections/history.py) hold the same versions whether a record's
changes arrive one per batch (each filled from the row the table holds) or many in one
batch (folded in Python first): same values, validity, previous values and deal stays."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from crm_es.projections.read_side import ReadSide
from crm_es.projections.rows import Version
from crm_es.projections.runner import Batch, Projector

PIPELINE, LEAD, WON_STAGE = str(uuid4()), str(uuid4()), str(uuid4())


def deal_changes(deal: str, first_position: int) -> list[Version]:
    """A deal opened, moved, re-valued with a null currency, dated back before its move
    (a change the domain refuses now, older logs may hold), then won."""
    changes: list[tuple[str, dict[str, Any]]] = [
        ("2025-03-01T09:00:00+00:00", {"pipeline_id": PIPELINE, "stage_id": LEAD, "status": "open", "amount": "100",
                                       "currency": "EUR", "title": "Big one", "stage_entered_at": "2025-03-01T09:00:00+00:00"}),
        ("2025-03-05T09:00:00+00:00", {"stage_id": WON_STAGE, "stage_entered_at": "2025-03-05T09:00:00+00:00"}),
        ("2025-03-03T09:00:00+02:00", {"amount": "250", "currency": None}),  # dated before the move
        ("2025-03-06T10:30:00.250000+00:00", {"status": "won", "closed_at": "2025-03-06T10:30:00.250000+00:00"}),
        ("2025-03-06T10:30:00.250000+00:00", {"owner_id": str(uuid4())}),  # at the same instant
    ]
    return [
        Version("deal_history", deal, version, first_position + version, valid_from,
                f"2025-04-0{version}T00:00:00+00:00", values)
        for version, (valid_from, values) in enumerate(changes, start=1)
    ]


def contact_changes(contact: str, first_position: int) -> list[Version]:
    changes: list[dict[str, Any]] = [
        {"status": "prospect", "tags": ["lead"], "email_invalid": False},
        {"tags": ["lead", "vip"]},
        {"status": "customer", "email_invalid": True},
    ]
    return [
        Version("contact_history", contact, version, first_position + version, f"2025-05-0{version}T08:00:00Z",
                f"2025-05-0{version}T08:00:01Z", values)
        for version, values in enumerate(changes, start=1)
    ]


def project(path: Path, batches: list[list[Version]]) -> dict[str, list[tuple]]:
    read_side = ReadSide(path)
    projector = Projector(store=None, read_side=read_side)  # type: ignore[arg-type]  # writes only: no log read
    try:
        for batch_versions in batches:
            batch = Batch()
            for op in batch_versions:
                batch.versions[op.table].append(op)
            batch.flush()
            projector._write(batch.steps, max(op.position for op in batch_versions))
        dump = read_side.dump()
        return {t: dump[t] for t in ("deal_history", "contact_history", "deal_stays")}
    finally:
        read_side.close()


@pytest.mark.parametrize("split", [1, 2, 3])
def test_a_records_versions_are_the_same_in_one_batch_or_several(tmp_path: Path, split: int) -> None:
    deals, contact = [str(uuid4()) for _ in range(2)], str(uuid4())
    versions = [*deal_changes(deals[0], 0), *contact_changes(contact, 100), *deal_changes(deals[1], 200)]
    versions.sort(key=lambda v: (v.version, v.position))  # records interleaved, as in the log

    one_at_a_time = project(tmp_path / "each.duckdb", [[v] for v in versions])
    chunks = [versions[i:i + split] for i in range(0, len(versions), split)]
    together = project(tmp_path / f"chunks_of_{split}.duckdb", chunks if split > 1 else [versions])

    assert together == one_at_a_time
    history = [r for r in one_at_a_time["deal_history"] if str(r[0]) == deals[0]]
    assert len(history) == 5 and len(one_at_a_time["deal_stays"]) == 4  # two deals' two open stays each
