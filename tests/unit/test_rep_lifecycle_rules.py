"""A rep renamed, moved, deactivated and reactivated: given events / when a decision /
then events. Pure: no I/O."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import UUID

import pytest

from crm_es.aggregates import rep as reps
from crm_es.aggregates.base import Meta, RuleViolated
from crm_es.aggregates.rep import Rep

ADDED = datetime(2025, 1, 6, 9, 0, tzinfo=timezone.utc)
LEFT = datetime(2026, 2, 27, 18, 0, tzinfo=timezone.utc)
REP_ID, TEAM_A, TEAM_B = UUID(int=71), UUID(int=81), UUID(int=82)


def meta(occurred_at: datetime) -> Meta:
    return Meta(occurred_at, datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc), "key:admin", "req-1")


def alice() -> Rep:
    rep = Rep.fold(reps.add(REP_ID, "Alice Martin", "alice@crm.test", TEAM_A, meta(ADDED)))
    assert rep is not None
    return rep


def _fold_onto(rep: Rep, events: list) -> Rep:
    for event in events:
        rep = Rep.evolve(rep, event)
    return rep


def test_a_rename_a_new_email_and_a_move_are_one_event_each() -> None:
    events = reps.change(alice(), meta(LEFT), name="Alice Dupont", email="alice.dupont@crm.test", team_id=TEAM_B,
                         team_given=True)

    assert [type(e) for e in events] == [Rep.Renamed, Rep.EmailChanged, Rep.JoinedTeam]
    assert [e.originator_version for e in events] == [2, 3, 4]
    changed = _fold_onto(alice(), events)
    assert (changed.name, changed.email, changed.team_id, changed.version) == (
        "Alice Dupont", "alice.dupont@crm.test", TEAM_B, 4)


def test_the_same_values_again_record_nothing() -> None:
    assert reps.change(alice(), meta(LEFT), name="Alice Martin", email="alice@crm.test", team_id=TEAM_A,
                       team_given=True) == []
    assert reps.change(alice(), meta(LEFT), team_id=None) == [], "team_id left out: the team stays"


def test_team_id_null_takes_the_rep_out_of_their_team() -> None:
    [event] = reps.change(alice(), meta(LEFT), team_id=None, team_given=True)

    assert isinstance(event, Rep.LeftTeam) and event.previous_team_id == TEAM_A
    assert Rep.evolve(alice(), event).team_id is None


def test_rep_events_hold_no_personal_fields() -> None:
    """A rep's name and e-mail are their work identity, in clear like Rep.Added's."""
    for cls in (Rep.Added, Rep.Renamed, Rep.EmailChanged, Rep.Deactivated, Rep.Reactivated, Rep.LeftTeam):
        assert cls.personal_fields == ()


def test_a_deactivated_rep_is_given_nothing_new_from_the_business_time_of_their_leaving() -> None:
    [event] = reps.deactivate(alice(), "left the company", meta(LEFT))
    gone = Rep.evolve(alice(), event)

    assert isinstance(event, Rep.Deactivated) and event.reason == "left the company"
    assert (gone.active, gone.deactivated_at) == (False, LEFT)
    with pytest.raises(RuleViolated) as refused:
        reps.check_assignable(gone, LEFT, "owner_id")
    assert refused.value.rule == "rep-deactivated" and refused.value.extra["field"] == "owner_id"
    reps.check_assignable(gone, LEFT - timedelta(seconds=1), "owner_id")  # a fact of their time: still theirs
    reps.check_assignable(alice(), LEFT + timedelta(days=400), "owner_id")
    reps.check_assignable(None, LEFT, "owner_id")  # nobody named: nothing to check


def test_deactivating_twice_or_reactivating_an_active_rep_records_nothing() -> None:
    gone = _fold_onto(alice(), reps.deactivate(alice(), None, meta(LEFT)))

    assert reps.deactivate(gone, "again", meta(LEFT + timedelta(days=1))) == []
    assert reps.reactivate(alice(), meta(LEFT)) == []


def test_a_reactivated_rep_is_given_records_again() -> None:
    gone = _fold_onto(alice(), reps.deactivate(alice(), None, meta(LEFT)))
    back_at = LEFT + timedelta(days=30)

    [event] = reps.reactivate(gone, meta(back_at))
    back = Rep.evolve(gone, event)

    assert isinstance(event, Rep.Reactivated) and (back.active, back.deactivated_at) == (True, None)
    reps.check_assignable(back, back_at, "owner_id")


def test_a_reactivation_cannot_be_dated_before_the_deactivation_it_ends() -> None:
    gone = _fold_onto(alice(), reps.deactivate(alice(), None, meta(LEFT)))

    with pytest.raises(RuleViolated) as refused:
        reps.reactivate(gone, meta(LEFT - timedelta(hours=1)))
    assert refused.value.rule == "before-last-change" and refused.value.extra["field"] == "occurred_at"


def test_no_change_of_a_rep_is_dated_before_they_were_added() -> None:
    for decide in (lambda m: reps.deactivate(alice(), None, m), lambda m: reps.change(alice(), m, name="Al")):
        with pytest.raises(RuleViolated) as refused:
            decide(meta(ADDED - timedelta(days=1)))
        assert refused.value.rule == "before-created" and refused.value.extra["field"] == "occurred_at"
