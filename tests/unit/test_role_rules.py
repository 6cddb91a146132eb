"""The permission rules as data: which route each role may call, and who acts."""

from __future__ import annotations

from uuid import uuid4

from crm_es.auth.roles import OPEN_MODE, Principal, Reach, Role, allows, read_reach, rule_for, write_reach


def test_a_rule_matches_a_route_whatever_its_parameters_are_named():
    assert rule_for("GET", "/deals/{deal_id}") == rule_for("GET", "/deals/{id}")
    assert rule_for("POST", "/deals/{deal_id}/won") is not None
    assert rule_for("DELETE", "/deals/{deal_id}") is None


def test_routes_yet_to_come_already_have_their_rules():
    assert allows(Role.ANALYST, "GET", "/analytics/funnel")
    assert allows(Role.ANALYST, "POST", "/sql")
    assert not allows(Role.ANALYST, "GET", "/contacts/{contact_id}")
    assert allows(Role.AUDITOR, "GET", "/audit/export")
    assert not allows(Role.MANAGER, "POST", "/contacts/{contact_id}/forget")


def test_a_route_without_a_rule_is_for_admins_only():
    assert allows(Role.ADMIN, "POST", "/somewhere/new")
    assert not any(allows(role, "POST", "/somewhere/new") for role in Role if role is not Role.ADMIN)


def test_public_routes_need_no_key():
    assert rule_for("GET", "/health").public
    assert not rule_for("GET", "/reps").public


def test_reps_reach_their_own_records_managers_their_teams():
    assert (write_reach(Role.REP), write_reach(Role.MANAGER), write_reach(Role.ADMIN)) == (Reach.OWN, Reach.TEAM, Reach.ALL)
    assert read_reach(Role.REP, Reach.TEAM) is Reach.TEAM
    assert read_reach(Role.REP, Reach.OWN) is Reach.OWN
    assert read_reach(Role.MANAGER, Reach.OWN) is Reach.TEAM
    assert read_reach(Role.AUDITOR, Reach.OWN) is Reach.ALL


def test_the_actor_is_the_rep_behind_a_key_else_the_key():
    rep_id = uuid4()
    assert Principal(Role.REP, "k1", rep_id).actor == f"rep:{rep_id}"
    assert Principal(Role.AUDITOR, "k2").actor == "key:k2"
    assert OPEN_MODE.actor == "dev" and OPEN_MODE.role is Role.ADMIN
