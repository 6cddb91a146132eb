"""A deals file's rows as each deal's history (commands/deal_plans.py), its amounts
(imports/amounts.py) and its headers (imports/deal_columns.py): pure, no store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from crm_es.aggregates.base import InvalidInput
from crm_es.commands.deal_plans import (
    CLOSE,
    MOVE,
    OPENING,
    DealRow,
    Place,
    StageRow,
    plan_deals,
)
from crm_es.imports.amounts import NotAnAmount, parse_amount
from crm_es.imports.deal_columns import deal_columns, split_entries, stage_columns

T0 = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
DAY_START = datetime(2025, 3, 4, tzinfo=UTC)
PIPELINE = uuid4()


def deal(row: int = 2, old_id: str = "D1", **fields) -> DealRow:
    base = {"title": "Fleet", "pipeline_id": PIPELINE, "currency": "EUR", "created_at": T0}
    return DealRow(Place(0, row, row), old_id, **(base | fields))


def change(row: int, stage: str, at: datetime, old_id: str = "D1", day_only: bool = False) -> StageRow:
    return StageRow(Place(1, row, row), old_id, stage, at, day_only)


def steps(plan) -> list[tuple[int, datetime, str | None]]:
    return [(s.kind, s.at, s.stage) for s in plan.steps]


def test_a_deal_without_stage_changes_opens_in_its_stage_and_closes_at_its_close() -> None:
    [plan], refused = plan_deals([deal(stage="Demo", outcome="won", closed_at=T0 + timedelta(days=3))], [])
    assert refused == [] and steps(plan) == [(OPENING, T0, "Demo"), (CLOSE, T0 + timedelta(days=3), None)]


def test_a_change_at_the_creation_instant_is_the_opening_stage_and_others_then_follow_in_file_order() -> None:
    changes = [change(4, "Proposal", T0 + timedelta(hours=5)), change(2, "Contact", T0), change(3, "Demo", T0)]
    [plan], _ = plan_deals([deal(outcome="lost", closed_at=T0 + timedelta(hours=5))], changes)
    assert plan.opened_by is changes[1]
    # At one instant: the opening, the moves, then the close.
    assert steps(plan) == [(OPENING, T0, "Contact"), (MOVE, T0, "Demo"), (MOVE, T0 + timedelta(hours=5), "Proposal"),
                           (CLOSE, T0 + timedelta(hours=5), None)]


def test_changes_that_begin_later_open_the_deal_in_the_pipelines_first_stage() -> None:
    [plan], _ = plan_deals([deal()], [change(2, "Demo", T0 + timedelta(days=1))])
    assert steps(plan)[0] == (OPENING, T0, None)


def test_a_day_without_an_hour_comes_after_what_is_timed_that_day() -> None:
    # Created on the 4th at 10:00, "Contact on the 4th": the deal opened there.
    [plan], _ = plan_deals([deal()], [change(2, "Contact", DAY_START, day_only=True)])
    assert plan.opened_by is not None and steps(plan) == [(OPENING, T0, "Contact")]
    # Moved at 16:00 on the 4th, "won on the 4th": won after that move, not at midnight before it.
    evening = T0 + timedelta(hours=6)
    changes = [change(2, "Contact", T0), change(3, "Demo", evening)]
    [plan], _ = plan_deals([deal(outcome="won", closed_at=DAY_START, closed_day_only=True)], changes)
    assert steps(plan) == [(OPENING, T0, "Contact"), (MOVE, evening, "Demo"), (CLOSE, evening, None)]
    # Won "on the 5th": at the start of that day.
    [plan], _ = plan_deals([deal(outcome="won", closed_at=DAY_START + timedelta(1), closed_day_only=True)], changes)
    assert steps(plan)[-1] == (CLOSE, DAY_START + timedelta(1), None)


def test_what_is_dated_before_the_creation_is_refused_naming_its_field() -> None:
    early = change(2, "Demo", T0 - timedelta(hours=1))
    [plan], refused = plan_deals([deal(stage="Contact")], [early])
    assert [(r.row, r.problems[0].field, r.problems[0].rule) for r in refused] == [(early, "changed_at", "before-created")]
    assert steps(plan) == [(OPENING, T0, "Contact")]
    plans, refused = plan_deals([deal(outcome="won", closed_at=T0 - timedelta(days=1))], [change(2, "Demo", T0)])
    assert plans == [] and [(r.problems[0].field, r.problems[0].rule) for r in refused] == [
        ("closed_at", "before-created"), ("old_id", "deal-row-failed")]


def test_a_stage_that_disagrees_with_the_changes_refuses_the_deal_rather_than_guess() -> None:
    plans, refused = plan_deals([deal(stage="Contact")], [change(2, "Contact", T0), change(3, "Demo", T0 + timedelta(1))])
    assert plans == [] and refused[0].problems[0].rule == "stage-mismatch"
    [plan], _ = plan_deals([deal(stage="demo")], [change(2, "Contact", T0), change(3, "Demo", T0 + timedelta(1))])
    assert steps(plan)[-1][2] == "Demo"  # names match whatever their case


def test_one_row_per_deal_and_changes_of_a_refused_deal_are_refused_too() -> None:
    from crm_es.commands.imports import RowProblem

    bad = deal(3, "D2", problems=(RowProblem("owner", "no rep", "unknown-rep"),))
    plans, refused = plan_deals([deal(stage="Demo"), deal(4), bad],
                                [change(2, "Demo", T0, "D2"), change(3, "Demo", T0, "D3")])
    assert [p.old_id for p in plans] == ["D1", "D3"]  # D3: changes only (a deal imported before?)
    assert [(r.row.at.row, r.problems[0].rule) for r in refused] == [
        (4, "duplicate-deal"), (3, "unknown-rep"), (2, "deal-row-failed")]
    assert plans[1].deal is None and steps(plans[1]) == [(MOVE, T0, "Demo")]


@pytest.mark.parametrize(("text", "amount", "code"), [
    ("12000", "12000", None), ("12,000.50", "12000.50", None), ("12.000,50", "12000.50", None),
    ("12 000,50", "12000.50", None), ("1,5", "1.5", None), ("1,500", "1500", None), ("EUR 12,000", "12000", "EUR"),
    ("12000 usd", "12000", "USD"), ("€99.90", "99.90", "EUR"), ("CHF 1'000.00", "1000.00", "CHF"),
])
def test_amounts_are_read_as_people_write_them(text: str, amount: str, code: str | None) -> None:
    assert parse_amount(text) == (Decimal(amount), code)


@pytest.mark.parametrize("text", ["abc", "12,5.0", "1e3", "EUR 5 USD", "--", "12abc"])
def test_what_is_not_an_amount_is_refused(text: str) -> None:
    with pytest.raises(NotAnAmount):
        parse_amount(text)


def test_the_usual_export_headers_map_themselves() -> None:
    hubspot = ["Record ID", "Deal Name", "Pipeline", "Deal Stage", "Deal owner", "Associated Company", "Amount",
               "Create Date", "Close Date", "Closed Lost Reason", "Notes"]
    pipedrive = ["Deal - ID", "Deal - Title", "Deal - Value", "Deal - Currency", "Deal - Organization",
                 "Deal - Owner", "Deal - Stage", "Deal - Status", "Deal - Deal created", "Deal - Expected close date"]
    salesforce = ["Opportunity ID", "Opportunity Name", "Account Name", "Stage", "Opportunity Owner", "Amount",
                  "Opportunity Currency", "Created Date", "Close Date", "Lead Source"]
    assert list(deal_columns(hubspot, []).as_dict().values()) == [
        "old_id", "title", "pipeline", "stage", "owner", "company", "amount", "created_at", "closed_at", "lost_reason"]
    assert list(deal_columns(pipedrive, []).as_dict().values()) == [
        "old_id", "title", "amount", "currency", "company", "owner", "stage", "outcome", "created_at", "expected_close"]
    assert list(deal_columns(salesforce, []).as_dict().values()) == [
        "old_id", "title", "company", "stage", "owner", "amount", "currency", "created_at", "closed_at", "source"]
    assert deal_columns(hubspot, []).ignored == ["Notes"]


def test_a_mapping_entry_goes_to_the_file_that_has_its_column() -> None:
    deals, stages = split_entries(["Ref=old_id", "Étape=stage", "Quand=changed_at", "Note="],
                                  ["Ref", "Étape", "Note"], ["Ref", "Étape", "Quand"])
    assert deals == [("Ref", "old_id"), ("Étape", "stage"), ("Note", "")]
    assert stages == [("Ref", "old_id"), ("Étape", "stage"), ("Quand", "changed_at")]
    assert stage_columns(["Ref", "Étape", "Quand"], stages).as_dict() == {"Ref": "old_id", "Étape": "stage",
                                                                         "Quand": "changed_at"}
    with pytest.raises(InvalidInput, match="no column 'Nowhere'"):
        split_entries(["Nowhere=title"], ["Ref"], ["Ref"])
    with pytest.raises(InvalidInput, match="old_id"):
        deal_columns(["Title", "Stage"], [])
    with pytest.raises(InvalidInput, match="changed_at"):
        stage_columns(["Deal ID", "Stage"], [])
