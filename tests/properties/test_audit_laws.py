"""Laws of the hash chain, under random logs and random tampering.

(a) Whatever is saved — many records, several versions, batches of any size — the
    stored log verifies (SQLite and PostgreSQL).
(b) Any single change to one stored row (a field edited, a row deleted but the last,
    two neighbours swapped) is found, at that row: checked on an in-memory log built
    with the same ``Chain`` the recorders use and read back as the verifier's join does.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timezone
from uuid import uuid4

from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from crm_es.aggregates import company as companies
from crm_es.aggregates.base import Event, Meta
from crm_es.aggregates.company import Company, CompanyDetails
from crm_es.audit.verify import Verdict, verify_chain, verify_store
from crm_es.bootstrap import Services
from crm_es.store.chain import Chain, ChainRow

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
META = Meta(occurred_at=NOW, recorded_at=NOW, actor="rep:alice", correlation_id="req-1")

# A save: for each event, which record it touches (an index into the records so far,
# or None for a new record).
saves = st.lists(st.lists(st.one_of(st.none(), st.integers(0, 50)), min_size=1, max_size=6), min_size=1, max_size=8)


def test_any_sequence_of_saves_verifies(services: Services) -> None:
    store = services.store
    records: list[list[Event]] = []

    @hypothesis_settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(saves=saves)
    def law(saves: list[list[int | None]]) -> None:
        for save in saves:
            batch: list[Event] = []
            for choice in save:
                if choice is None or not records:
                    events = companies.register(uuid4(), CompanyDetails("Acme", None, None, {}), META)
                    records.append(events)
                else:
                    events = records[choice % len(records)]
                    events += companies.change(Company.fold(events), {"name": f"Acme {len(events)}"}, META)  # type: ignore[arg-type]
                batch.append(events[-1])
            store.save(batch)
        verdict = verify_store(store)
        assert verdict.ok and verdict.checked == store.max_position()

    law()


@dataclass(frozen=True)
class Row:
    """A stored row as plain SQL sees it: no join yet."""

    position: int
    originator_id: str
    version: int
    topic: str
    state: bytes
    hash: bytes | None
    prev_hash: bytes | None


def a_log(saves: list[list[int | None]]) -> list[Row]:
    """Rows appended as the recorders append them: one Chain per save, from the log's tail."""
    rows: list[Row] = []
    ids: list[str] = []
    for save in saves:
        tails = {r.originator_id: (r.version, r.hash) for r in rows}
        chain = Chain(rows[-1].hash if rows else None, tails)  # type: ignore[arg-type]
        for choice in save:
            if choice is None or not ids:
                ids.append(str(uuid4()))
                originator_id = ids[-1]
            else:
                originator_id = ids[choice % len(ids)]
            version = chain.record_tails.get(originator_id, (0, b""))[0] + 1
            state = f'{{"n": {len(rows)}}}'.encode()
            link = chain.link(originator_id, version, "t:Event", state)
            rows.append(Row(len(rows) + 1, originator_id, version, "t:Event", state, link.hash, link.prev_hash))
    return rows


def read_back(rows: list[Row]) -> list[ChainRow]:
    """What the verifier reads: each row joined to its record's previous version."""
    by_key = {(r.originator_id, r.version): r for r in rows}
    return [
        ChainRow(r.position, r.originator_id, r.version, r.topic, r.state, r.hash, r.prev_hash,
                 getattr(by_key.get((r.originator_id, r.version - 1)), "hash", None))
        for r in sorted(rows, key=lambda r: r.position)
    ]


def verdict_on(rows: list[Row]) -> Verdict:
    def holders(digest: bytes) -> list[int]:
        return [r.position for r in rows if r.hash == digest]

    return verify_chain(read_back(rows), holders)


EDITS = {
    "state": lambda r: replace(r, state=r.state + b" "),
    "topic": lambda r: replace(r, topic=r.topic + "2"),
    "version": lambda r: replace(r, version=r.version + 7),
    "originator_id": lambda r: replace(r, originator_id=str(uuid4())),
    "hash": lambda r: replace(r, hash=bytes(32)),
    "prev_hash": lambda r: replace(r, prev_hash=b"\x01" * 32),
}


@hypothesis_settings(max_examples=300, deadline=None)
@given(saves=saves, data=st.data())
def test_any_single_row_edit_is_found_at_that_row(saves: list[list[int | None]], data: st.DataObject) -> None:
    rows = a_log(saves)
    assert verdict_on(rows).ok
    i = data.draw(st.integers(0, len(rows) - 1))
    field = data.draw(st.sampled_from(sorted(EDITS)))

    rows[i] = EDITS[field](rows[i])

    verdict = verdict_on(rows)
    assert not verdict.ok and verdict.first_broken is not None
    assert verdict.first_broken.position == i + 1
    if field == "state":
        assert verdict.first_broken.reason == "edited"


@hypothesis_settings(max_examples=200, deadline=None)
@given(saves=saves, data=st.data())
def test_a_deleted_row_is_found_where_it_is_missed(saves: list[list[int | None]], data: st.DataObject) -> None:
    rows = a_log(saves)
    assume(len(rows) >= 2)  # deleting the last row needs an anchored head (tested with the stores)
    i = data.draw(st.integers(0, len(rows) - 2))

    del rows[i]

    verdict = verdict_on(rows)
    assert verdict.first_broken is not None
    assert (verdict.first_broken.position, verdict.first_broken.reason) == (i + 2, "deleted")


@hypothesis_settings(max_examples=200, deadline=None)
@given(saves=saves, data=st.data())
def test_two_swapped_neighbours_are_found_reordered(saves: list[list[int | None]], data: st.DataObject) -> None:
    rows = a_log(saves)
    assume(len(rows) >= 2)
    i = data.draw(st.integers(0, len(rows) - 2))

    rows[i], rows[i + 1] = replace(rows[i + 1], position=i + 1), replace(rows[i], position=i + 2)

    verdict = verdict_on(rows)
    assert verdict.first_broken is not None
    assert (verdict.first_broken.position, verdict.first_broken.reason) == (i + 1, "reordered")
