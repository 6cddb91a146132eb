"""Events stored in an older shape are read through today's code (SQLite and PostgreSQL).

The fixture holds raw rows as the code before `Deal.Lost` v2 wrote them (no
`competitor`, no `class_version`): a pipeline, a deal opened in it, the deal lost.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import orjson
from eventsourcing.persistence import StoredEvent

from crm_es.aggregates import Deal
from crm_es.aggregates.deal import LOST, DealDetails
from crm_es.commands import execute
from crm_es.commands.deals import LoseDeal, OpenDeal, lose_deal, open_deal
from crm_es.projections.read_side import ReadSide

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "deal_lost_v1.jsonl"
ROWS = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
DEAL_ID = UUID(ROWS[1]["originator_id"])
PIPELINE_ID = UUID(ROWS[0]["originator_id"])


def store_old_rows(services) -> None:
    """Written as stored rows, not through today's events (the chain is still computed)."""
    services.store.recorder.insert_events([
        StoredEvent(UUID(r["originator_id"]), r["version"], r["topic"], orjson.dumps(r["state"])) for r in ROWS
    ])


def test_an_old_deal_lost_is_upcast_when_read(services):
    store_old_rows(services)
    lost = services.store.events(DEAL_ID)[-1]
    assert isinstance(lost, Deal.Lost)
    assert (lost.reason, lost.competitor, lost.originator_version) == ("no budget", None, 2)
    assert services.store.load(Deal, DEAL_ID).status == LOST

    services.projector.catch_up()
    with services.read_side.cursor() as c:
        row = c.execute("SELECT status, lost_reason, lost_to FROM deals WHERE id = ?", [DEAL_ID]).fetchone()
    assert row == ("lost", "no budget", None)


def test_new_events_are_stored_in_the_new_shape_beside_the_old(services):
    store_old_rows(services)
    ctx = services.context()
    details = DealDetails("Second deal", (), None, None, None)
    opened = execute(open_deal, OpenDeal(details, PIPELINE_ID, "Lead", Decimal("500"), "EUR"), ctx)
    execute(lose_deal, LoseDeal(opened.id, "price", competitor="Globex"), services.context())

    stored = orjson.loads(services.store.read(opened.position, 1)[0].state)
    assert stored["class_version"] == 3 and stored["competitor"] == "Globex"  # v3: its reason sealed
    services.projector.catch_up()
    with services.read_side.cursor() as c:
        rows = c.execute("SELECT title, lost_to FROM deals ORDER BY title").fetchall()
    assert rows == [("Fleet renewal", None), ("Second deal", "Globex")]


def test_rebuild_works_across_the_change(services, settings, run):
    store_old_rows(services)
    services.close()
    result = run("rebuild", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["events"] == len(ROWS)
    read_side = ReadSide(settings.read_side_path)
    try:
        with read_side.cursor() as c:
            assert c.execute("SELECT status, lost_to FROM deals").fetchall() == [("lost", None)]
    finally:
        read_side.close()
