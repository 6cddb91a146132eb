"""Reactions saved in batches (issue 18), on SQLite and PostgreSQL: the reactions to many
events and the policy's place commit in one transaction, each reaction seeing what the
ones before it staged; a batch that loses a race is reacted to again one event at a time
(the others land once, the refused one is worked out again alone); a reaction that fails
keeps the policy on its event while the ones before it land. Places moved over events no
policy wants are written rarely, GET /policies still showing the true lag; a round woken
by a save that queues nothing leaves the outbox alone."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from crm_es.aggregates import lead_score as leads
from crm_es.aggregates.base import Event, Meta
from crm_es.aggregates.interactions import CallLogged
from crm_es.aggregates.lead_score import LeadScore, LeadScoreChanged, lead_score_id
from crm_es.bootstrap import Services
from crm_es.clock import FrozenClock
from crm_es.outbox.dispatcher import Dispatcher
from crm_es.outbox.senders import SmtpSender
from crm_es.policies import runtime
from crm_es.policies.base import (
    Policy,
    PolicyContext,
    PolicySettingsModel,
    Reaction,
    cause_of,
)
from crm_es.policies.lead_scoring import LeadScoring
from crm_es.policies.places import status
from crm_es.policies.runtime import PolicyRunner
from crm_es.policies.service import Automations
from crm_es.store import EventStore
from tests.http.helpers import ok
from tests.policies.conftest import Inbox, configure_smtp

unique = itertools.count()


class Scorer(Policy):
    """A point on the contact's lead score per call: every reaction to one contact's calls
    writes the same record, so a batch holds only if each sees what the ones before staged.
    ``intrude_on``: before reacting to that call (the first time), another writer scores the
    contact in the store. ``fail_on``: the calls it fails on, while they are listed."""

    name = "scorer"
    description = "a point per call"
    reacts_to = (CallLogged,)

    class Settings(PolicySettingsModel):
        pass

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.intrude_on: set[int] = set()  # versions of the contact's calls
        self.fail_on: set[int] = set()

    def react(self, event: Event, ctx: PolicyContext) -> Reaction:
        if event.originator_version in self.fail_on:
            raise RuntimeError(f"cannot score call {event.originator_version}")
        lead_id = lead_score_id(event.originator_id)
        if event.originator_version in self.intrude_on:
            self.intrude_on.discard(event.originator_version)
            now = ctx.now
            theirs = self.store.load(LeadScore, lead_id) or leads.new_lead(event.originator_id)
            self.store.save(leads.score(theirs, 100, "behaviour", "someone else", "elsewhere:1",
                                        Meta(now, now, "another-writer", "c")))
        lead = ctx.load(LeadScore, lead_id) or leads.new_lead(event.originator_id)
        return Reaction(leads.score(lead, 1, "behaviour", "call", cause_of(event), ctx.meta()))


class CountingRunner(PolicyRunner):
    """The runtime as it is, counting the batches it had to react to again one at a time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fallbacks = 0

    def _react_one_by_one(self, *args: Any, **kwargs: Any) -> tuple[int, bool]:
        self.fallbacks += 1
        return super()._react_one_by_one(*args, **kwargs)


def switch_on(services: Services, name: str, settings: dict[str, Any] | None = None) -> None:
    from crm_es.aggregates import policy as policies

    now = services.clock.now()
    services.store.save(policies.configure(None, name, True, settings or {}, Meta(now, now, "test", "c")))


def person(client: TestClient) -> str:
    body = {"first_name": "Jean", "last_name": "Dupont", "email": f"jean{next(unique)}@acme.example"}
    return ok(client.post("/contacts", json=body))["id"]


def calls(client: TestClient, contact_id: str, n: int) -> list[dict[str, Any]]:
    return [ok(client.post(f"/contacts/{contact_id}/interactions", json={"type": "call"})) for _ in range(n)]


def changes(services: Services, contact_id: str) -> list[LeadScoreChanged]:
    return [e for e in services.store.events(lead_score_id(UUID(contact_id))) if isinstance(e, LeadScoreChanged)]


def scorer(services: Services, batch: int = runtime.BATCH) -> tuple[Scorer, CountingRunner]:
    policy = Scorer(services.store)
    runner = CountingRunner(services.store, services.clock, [policy], batch=batch)
    switch_on(services, policy.name)
    return policy, runner


def test_a_batch_of_reactions_to_one_record_sees_what_each_staged_and_commits_once(
        client: TestClient, services: Services) -> None:
    policy, runner = scorer(services)
    jean, anna = person(client), person(client)
    made = calls(client, jean, 30) + calls(client, anna, 5)
    assert runner.run_once() == 35
    assert runner.run_once() == 0  # a second round finds nothing new
    assert runner.fallbacks == 0  # one transaction: no reaction found its record taken by another
    assert [(e.originator_version, e.score) for e in changes(services, jean)] == [(v, v) for v in range(1, 31)]
    assert len(changes(services, anna)) == 5
    assert services.store.tracked_position(policy.name) >= made[-1]["position"]


def test_batches_smaller_than_the_work_each_move_the_place_and_land_every_reaction_once(
        client: TestClient, services: Services) -> None:
    _, runner = scorer(services, batch=4)
    jean = person(client)
    calls(client, jean, 10)
    assert runner.run_once() == 10
    assert [e.score for e in changes(services, jean)] == list(range(1, 11))
    assert runner.fallbacks == 0


def test_a_batch_that_loses_a_race_is_reacted_to_one_event_at_a_time_and_each_lands_once(
        client: TestClient, services: Services) -> None:
    policy, runner = scorer(services)
    jean = person(client)
    made = calls(client, jean, 8)
    policy.intrude_on = {made[4]["version"]}  # another writer scores Jean while the batch is worked out
    assert runner.run_once() == 8
    assert runner.fallbacks == 1
    mine = [e for e in changes(services, jean) if e.rule == "call"]
    assert sorted(e.cause for e in mine) == sorted(f"{jean}:{m['version']}" for m in made)  # each call once
    assert changes(services, jean)[-1].score == 108  # the other writer's 100 kept, nothing lost or doubled
    [shown] = status(services.store, [policy])
    assert shown["lag"] == 0 and shown["last_error"] is None


def test_a_reaction_that_fails_keeps_the_policy_on_its_event_while_those_before_it_land(
        client: TestClient, services: Services) -> None:
    policy, runner = scorer(services)
    jean = person(client)
    made = calls(client, jean, 6)
    policy.fail_on = {made[3]["version"]}
    assert runner.run_once() == 3
    assert [e.cause for e in changes(services, jean)] == [f"{jean}:{m['version']}" for m in made[:3]]
    [shown] = status(services.store, [policy])
    assert shown["last_error"] == f"RuntimeError: cannot score call {made[3]['version']}"
    assert (shown["failed_position"], shown["position"]) == (made[3]["position"], made[3]["position"] - 1)
    assert services.store.tracked_position(policy.name) == made[3]["position"] - 1
    assert runner.run_once() == 0  # tried again alone: still failing, nothing more written
    assert len(changes(services, jean)) == 3

    policy.fail_on = set()  # the cause is fixed
    assert runner.run_once() == 3
    assert [e.cause for e in changes(services, jean)] == [f"{jean}:{m['version']}" for m in made]
    [shown] = status(services.store, [policy])
    assert shown["last_error"] is None and shown["lag"] == 0


def test_two_runners_taking_turns_over_batches_never_react_twice(client: TestClient, services: Services) -> None:
    policy, first = scorer(services)
    second = PolicyRunner(services.store, services.clock, [policy])
    jean = person(client)
    for turn in range(6):
        calls(client, jean, 7)
        runners = (first, second) if turn % 2 else (second, first)
        for runner in runners:  # the one behind finds its place taken when it saves, and follows
            runner.run_once()
    first.run_once()
    assert [e.score for e in changes(services, jean)] == list(range(1, 43))  # 42 calls, one point each


def test_lead_scoring_in_batches_gives_the_same_scores_as_one_reaction_at_a_time(
        client: TestClient, services: Services, clock: FrozenClock) -> None:
    """Lead scoring reads what it staged: a lead's score, a session's return visit, the hand-over."""
    rep = ok(client.post("/reps", json={"name": "Rita", "email": f"rita{next(unique)}@crm.example"}))["id"]
    switch_on(services, LeadScoring.name, {"threshold": 40, "pages": [{"pattern": "*/pricing*", "points": 10}]})
    people = [person(client) for _ in range(3)]
    ok(client.patch(f"/contacts/{people[0]}", json={"owner_id": rep}), 200)
    at = clock.now() - timedelta(days=2)
    for i, contact_id in enumerate(people * 4):
        body = {"type": "page_visited", "url": "https://acme.example/pricing",
                "occurred_at": (at + timedelta(hours=i)).isoformat()}
        ok(client.post(f"/contacts/{contact_id}/interactions", json=body))
    batched = CountingRunner(services.store, clock, [LeadScoring()], projector=services.projector)
    assert batched.run_once() == 3 + 12  # the contacts registered (profile rules) and their visits
    assert batched.fallbacks == 0
    for contact_id in people:  # 4 visits of the pricing page, each after a new session: 10 + 3 from the second on
        assert changes(services, contact_id)[-1].score == 4 * 10 + 3 * 3
        handed = [e for e in services.store.events(lead_score_id(UUID(contact_id))) if isinstance(e, leads.LeadHandedToRep)]
        assert len(handed) == 1  # once, on crossing the threshold
    assert ok(client.get(f"/contacts/{people[0]}"), 200)["owner_id"] == rep


# --- places moved over events no policy wants ---------------------------------------------


def test_passing_over_events_writes_no_place_until_flushed_yet_the_lag_shown_is_true(
        client: TestClient, services: Services) -> None:
    policy, runner = scorer(services)
    jean = person(client)
    runner.run_once()
    saved = services.store.tracked_position(policy.name)
    for _ in range(5):  # not calls: nothing for the scorer
        ok(client.post(f"/contacts/{jean}/interactions", json={"type": "note", "text": "hello"}))
    assert runner.run_once() == 0
    assert services.store.tracked_position(policy.name) == saved  # no write for events passed over
    [shown] = status(services.store, [policy])
    assert shown["lag"] == 0  # from this process's runner, in memory
    runner.flush()
    assert services.store.tracked_position(policy.name) == services.store.max_position()
    # A runner started afresh begins there: nothing is read again, nothing reacted to twice.
    assert PolicyRunner(services.store, services.clock, [policy]).run_once() == 0


def test_a_place_passed_over_is_written_every_few_seconds(
        client: TestClient, services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    policy, runner = scorer(services)
    jean = person(client)
    runner.run_once()
    ok(client.post(f"/contacts/{jean}/interactions", json={"type": "note", "text": "hello"}))
    monkeypatch.setattr(runtime, "SAVE_PASSED_EVERY", 0.0)
    runner.run_once()
    assert services.store.tracked_position(policy.name) == services.store.max_position()


def test_a_one_off_round_writes_the_places_it_passed_over(client: TestClient, services: Services) -> None:
    """`crm-es policies --once` ends with the places written."""
    person(client)
    services.automations.run_once()
    places = {r["name"]: r["position"] for r in services.store.tracking.rows()}
    assert {name: places[name] for name in services.policies.policies} == \
        dict.fromkeys(services.policies.policies, services.store.max_position())


# --- the outbox, on rounds woken by saves -------------------------------------------------------


def test_a_round_woken_by_a_save_that_queues_nothing_leaves_the_outbox_to_the_next_look(
        client: TestClient, services: Services, clock: FrozenClock, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    configure_smtp(services, port)
    dispatcher = Dispatcher(services.store, clock, {"email": SmtpSender(f"smtp://127.0.0.1:{port}", "crm@seller.example")})
    automations = Automations(services.policies, dispatcher, None, services.settings.data_dir)
    jean = person(client)

    ok(client.post(f"/contacts/{jean}/messages", json={"subject": "Now", "body": "Hello"}), 202)
    automations.round(woken=True)  # the round read the message queued: it looks at the outbox
    assert [inbox.parsed(i)["Subject"] for i in range(len(inbox.mails))] == ["Now"]

    ok(client.post(f"/contacts/{jean}/messages", json={"subject": "Later", "body": "Hello",
                                                        "send_at": (clock.now() + timedelta(hours=1)).isoformat()}), 202)
    automations.round(woken=True)
    clock.advance(hours=2)  # now due
    ok(client.post(f"/contacts/{jean}/interactions", json={"type": "note", "text": "hello"}))
    automations.round(woken=True)  # a save that queued nothing: the outbox is left alone
    assert len(inbox.mails) == 1
    automations.round()  # the poll (or the due time's job) looks
    assert [inbox.parsed(i)["Subject"] for i in range(len(inbox.mails))] == ["Now", "Later"]
