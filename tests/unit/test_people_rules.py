"""Reps and teams, given events / when a decision / then events. Pure: no I/O."""

from __future__ import annotations

from datetime import datetime, timezone
from uuid import UUID

import pytest

from crm_es.aggregates import rep as reps
from crm_es.aggregates import team as teams
from crm_es.aggregates.base import Meta
from crm_es.aggregates.rep import Rep
from crm_es.aggregates.team import Team

META = Meta(
    occurred_at=datetime(2026, 2, 1, 8, 0, tzinfo=timezone.utc),
    recorded_at=datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc),
    actor="admin:root",
    correlation_id="req-1",
)
REP_ID, TEAM_A, TEAM_B, MANAGER = UUID(int=71), UUID(int=81), UUID(int=82), UUID(int=91)


def test_an_added_rep_has_a_name_an_email_and_maybe_a_team() -> None:
    [event] = reps.add(REP_ID, "Alice", "alice@crm.test", TEAM_A, META)

    assert isinstance(event, Rep.Added)
    assert Rep.fold([event]) == Rep(REP_ID, 1, "Alice", "alice@crm.test", TEAM_A, added_at=META.occurred_at)


def test_a_rep_joining_a_team_records_the_previous_team() -> None:
    rep = Rep.fold(reps.add(REP_ID, "Alice", "alice@crm.test", TEAM_A, META))
    assert rep is not None

    [event] = reps.join_team(rep, TEAM_B, META)

    assert isinstance(event, Rep.JoinedTeam)
    assert (event.team_id, event.previous_team_id, event.originator_version) == (TEAM_B, TEAM_A, 2)
    assert Rep.evolve(rep, event).team_id == TEAM_B


def test_joining_the_team_a_rep_is_in_records_nothing() -> None:
    rep = Rep.fold(reps.add(REP_ID, "Alice", "alice@crm.test", TEAM_A, META))
    assert rep is not None

    assert reps.join_team(rep, TEAM_A, META) == []


def test_a_formed_team_has_a_name_and_a_manager() -> None:
    [event] = teams.form(TEAM_A, "EMEA", MANAGER, META)

    assert Team.fold([event]) == Team(TEAM_A, 1, "EMEA", MANAGER)
    assert (event.actor, event.correlation_id, event.timestamp, event.occurred_at) == (
        "admin:root", "req-1", META.recorded_at, META.occurred_at,
    )


def test_an_aggregate_refuses_events_of_another_type() -> None:
    [team_formed] = teams.form(TEAM_A, "EMEA", None, META)

    with pytest.raises(TypeError):
        Rep.fold([team_formed])
    assert Team.owns(team_formed)
    assert not Rep.owns(team_formed)


def test_folding_the_events_gives_the_state_built_step_by_step() -> None:
    state: Rep | None = None
    history = []
    for decide in (
        lambda r: reps.add(REP_ID, "Alice", "alice@crm.test", None, META),
        lambda r: reps.join_team(r, TEAM_A, META),
        lambda r: reps.join_team(r, TEAM_B, META),
    ):
        for event in decide(state):
            state = Rep.evolve(state, event)
            history.append(event)

    assert Rep.fold(history) == state == Rep(REP_ID, 3, "Alice", "alice@crm.test", TEAM_B, added_at=META.occurred_at)
