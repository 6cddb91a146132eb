"""A rep's quotas, given events / when a decision / then events. Pure: no I/O."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID

import pytest

from crm_es.aggregates import rep as reps
from crm_es.aggregates.base import Event, InvalidInput, Meta, RuleViolated
from crm_es.aggregates.rep import Quota, Rep

SET_ON = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
REP_ID = UUID(int=71)
Q1 = (date(2026, 1, 1), date(2026, 4, 1))
JANUARY = (date(2026, 1, 1), date(2026, 2, 1))


def meta(occurred_at: datetime = SET_ON) -> Meta:
    return Meta(occurred_at=occurred_at, recorded_at=occurred_at + timedelta(hours=1), actor="rep:mia", correlation_id="req-1")


def given(*decisions) -> tuple[Rep, list[Event]]:
    """A rep folded from their addition, then each decision in turn."""
    history: list[Event] = list(reps.add(REP_ID, "Alice", "alice@crm.test", None, meta()))
    for decide in decisions:
        history += decide(Rep.fold(history))
    rep = Rep.fold(history)
    assert rep is not None
    return rep, history


def test_setting_a_quota_records_the_period_and_the_target() -> None:
    rep, _ = given()

    [event] = reps.set_quota(rep, *Q1, Decimal("50000"), "EUR", meta())

    assert isinstance(event, Rep.QuotaSet)
    assert (event.period_start, event.period_end, event.amount, event.currency) == (*Q1, Decimal("50000"), "EUR")
    assert (event.originator_version, event.actor, event.occurred_at) == (2, "rep:mia", SET_ON)
    assert Rep.QuotaSet.personal_fields == ()
    assert Rep.evolve(rep, event).quotas == (Quota(*Q1, Decimal("50000"), "EUR", SET_ON),)


def test_a_new_quota_for_the_same_period_replaces_the_old_one_with_a_new_event() -> None:
    later = SET_ON + timedelta(days=10)
    rep, history = given(lambda r: reps.set_quota(r, *Q1, Decimal("50000"), "EUR", meta()),
                         lambda r: reps.set_quota(r, *Q1, Decimal("60000"), "EUR", meta(later)))

    assert [type(e) for e in history] == [Rep.Added, Rep.QuotaSet, Rep.QuotaSet]
    assert history[1].amount == Decimal("50000"), "the first target stays in the log"
    assert rep.quotas == (Quota(*Q1, Decimal("60000"), "EUR", later),)
    assert rep.version == 3


def test_quotas_of_other_periods_stand_beside_each_other() -> None:
    rep, _ = given(lambda r: reps.set_quota(r, *Q1, Decimal("50000"), "EUR", meta()),
                   lambda r: reps.set_quota(r, *JANUARY, Decimal("15000"), "USD", meta()))

    assert rep.quota_for(*Q1) == Quota(*Q1, Decimal("50000"), "EUR", SET_ON)
    assert rep.quota_for(*JANUARY) == Quota(*JANUARY, Decimal("15000"), "USD", SET_ON)


def test_the_same_quota_again_records_nothing() -> None:
    rep, _ = given(lambda r: reps.set_quota(r, *Q1, Decimal("50000"), "EUR", meta()))

    assert reps.set_quota(rep, *Q1, Decimal("50000.00"), "EUR", meta(SET_ON + timedelta(days=1))) == []
    assert len(reps.set_quota(rep, *Q1, Decimal("50000"), "USD", meta(SET_ON + timedelta(days=1)))) == 1


@pytest.mark.parametrize(("period", "amount", "field"), [
    ((date(2026, 4, 1), date(2026, 1, 1)), Decimal("1"), "period_end"),
    ((date(2026, 1, 1), date(2026, 1, 1)), Decimal("1"), "period_end"),
    (Q1, Decimal("0"), "amount"),
    (Q1, Decimal("-5"), "amount"),
])
def test_a_quota_needs_an_end_after_its_start_and_an_amount_above_zero(period, amount, field) -> None:
    rep, _ = given()

    with pytest.raises(InvalidInput) as refused:
        reps.set_quota(rep, *period, amount, "EUR", meta())
    assert refused.value.field == field


def test_a_replacement_cannot_be_dated_before_the_quota_it_replaces() -> None:
    rep, _ = given(lambda r: reps.set_quota(r, *Q1, Decimal("50000"), "EUR", meta()))

    with pytest.raises(RuleViolated) as refused:
        reps.set_quota(rep, *Q1, Decimal("40000"), "EUR", meta(SET_ON - timedelta(days=1)))
    assert (refused.value.rule, refused.value.extra["field"]) == ("before-last-change", "occurred_at")
    # Another period is not a replacement: it may be dated earlier.
    assert len(reps.set_quota(rep, *JANUARY, Decimal("10000"), "EUR", meta(SET_ON - timedelta(days=1)))) == 1
