"""Time travel laws, through HTTP on both event stores.

Hypothesis draws histories of deals and of their pipeline — opened, moved, won, lost,
reopened, repriced, handed to another rep, stages renamed, added, reordered, their
probability changed — many of them recorded late (``occurred_at`` hours or days before
the moment they are recorded), while the clock moves on. Then, for random moments:

(a) the board ``as_of=T`` that DuckDB's history tables answer equals the board replayed
    from the event store's events that had happened by T;
(b) the board ``known_at=K`` (and ``as_of=T&known_at=K``) equals the replay of only the
    events recorded by K;
(c) the board as of now equals the board of the current tables;
(d) the board never hides a deal: it lists exactly the deals that were open at T (folded
    from their own streams, whatever the pipeline's history), because a deal cannot be
    dated before its pipeline or its stage existed.

Steps may share an instant (no time passes, or the same lateness): a move at the very
moment of an opening, a win at the moment of a move.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from crm_es.aggregates import Deal
from crm_es.aggregates.deal import OPEN
from crm_es.audit.board import board_then, streams
from crm_es.audit.history import visible
from crm_es.bootstrap import Services
from crm_es.clock import FrozenClock
from crm_es.queries.past import Past
from tests.http.helpers import STAGES, ok

REFUSED = {404, 409}  # a rule said no (a closed deal moved, a change dated before the last one …)

step = st.one_of(
    st.tuples(st.just("open"), st.integers(0, 3), st.sampled_from(["1000", "2500.50", "40000"]), st.sampled_from(["EUR", "USD"])),
    st.tuples(st.just("move"), st.integers(0, 30), st.integers(0, 5)),
    st.tuples(st.just("won"), st.integers(0, 30)),
    st.tuples(st.just("lost"), st.integers(0, 30)),
    st.tuples(st.just("reopen"), st.integers(0, 30), st.integers(0, 5)),
    st.tuples(st.just("amount"), st.integers(0, 30), st.sampled_from(["500", "7300.25"])),
    st.tuples(st.just("owner"), st.integers(0, 30), st.integers(0, 1)),
    st.tuples(st.just("revise"), st.sampled_from(["rename", "probability", "add", "reorder"]), st.integers(0, 5)),
)
# (step, hours late, hours to next): 0 and 0 put two facts at one instant
history = st.lists(st.tuples(step, st.one_of(st.just(0), st.integers(0, 96)), st.one_of(st.just(0), st.integers(1, 30))),
                   min_size=3, max_size=14)
moments = st.lists(st.tuples(st.floats(0, 1), st.one_of(st.none(), st.floats(0, 1))), min_size=1, max_size=4)


class World:
    """The records the drawn steps act on, and the times they were recorded at."""

    def __init__(self, client: TestClient, clock: FrozenClock) -> None:
        self.client, self.clock = client, clock
        self.start = clock.now() - timedelta(days=10)
        # The set-up is dated at the start of the history, as an import of the past does.
        since = {"occurred_at": self.start.isoformat()}
        self.reps = [ok(client.post("/reps", json={"name": f"Rep {i}", "email": f"rep{i}@example.com"} | since))["id"]
                     for i in range(2)]
        created = ok(client.post("/pipelines", json={"name": "Time travel", "stages": STAGES} | since))
        self.pipeline, self.position = created["id"], created["position"]
        self.deals: list[str] = []
        self.added = 0

    def stages(self) -> list[dict[str, Any]]:
        return ok(self.client.get(f"/pipelines/{self.pipeline}?after={self.position}"), 200)["stages"]

    def apply(self, drawn: tuple[Any, ...], late_hours: int) -> None:
        kind, *args = drawn
        occurred_at = (self.clock.now() - timedelta(hours=late_hours)).isoformat()
        if kind == "revise":
            self.revise(*args)
            return
        if kind == "open":
            stage, amount, currency = args
            body = {"title": f"Deal {len(self.deals)}", "pipeline_id": self.pipeline, "stage": STAGES[stage]["name"],
                    "amount": amount, "currency": currency, "owner_id": self.reps[len(self.deals) % 2], "occurred_at": occurred_at}
            answer = self.client.post("/deals", json=body)
            if answer.status_code == 201:
                self.deals.append(answer.json()["id"])
            return self.done(answer)
        if not self.deals:
            return None
        deal = self.deals[args[0] % len(self.deals)]
        names = [s["name"] for s in self.stages()]
        if kind == "move":
            answer = self.client.post(f"/deals/{deal}/stage", json={"stage": names[args[1] % len(names)], "occurred_at": occurred_at})
        elif kind in ("won", "lost"):
            body = {"occurred_at": occurred_at} | ({"reason": "price"} if kind == "lost" else {})
            answer = self.client.post(f"/deals/{deal}/{kind}", json=body)
        elif kind == "reopen":
            answer = self.client.post(f"/deals/{deal}/reopen", json={"stage": names[args[1] % len(names)], "occurred_at": occurred_at})
        elif kind == "amount":
            answer = self.client.patch(f"/deals/{deal}", json={"amount": args[1], "occurred_at": occurred_at})
        else:
            answer = self.client.patch(f"/deals/{deal}", json={"owner_id": self.reps[args[1]], "occurred_at": occurred_at})
        return self.done(answer)

    def revise(self, how: str, n: int) -> None:
        stages = [{"id": s["id"], "name": s["name"], "probability": s["probability"]} for s in self.stages()]
        i = n % len(stages)
        if how == "rename":
            stages[i]["name"] = f"{stages[i]['name'].split(' #')[0]} #{self.clock.now():%d%H}"
        elif how == "probability":
            stages[i]["probability"] = str((Decimal(stages[i]["probability"]) + Decimal("0.05")) % 1)
        elif how == "add" and len(stages) < 8:
            self.added += 1  # two stages may be added at one instant: the name counts them
            stages.insert(i, {"name": f"Step {self.added}", "probability": "0.3"})
        else:
            stages = stages[i:] + stages[:i]
        self.done(self.client.patch(f"/pipelines/{self.pipeline}", json={"stages": stages}))

    def done(self, answer: Any) -> None:
        assert answer.status_code in {200, 201} | REFUSED, answer.text
        if answer.status_code in (200, 201):
            self.position = max(self.position, answer.json()["position"])


def board_from_http(world: World, past: Past | None) -> dict[str, Any]:
    params: dict[str, str] = {"after": str(world.position)}
    if past is not None:
        params["as_of"] = past.as_of.isoformat()
        if past.known_at is not None:
            params["known_at"] = past.known_at.isoformat()
    return ok(world.client.get(f"/pipelines/{world.pipeline}/board", params=params), 200)


def plain(board: dict[str, Any]) -> tuple[Any, ...]:
    """A board with its numbers as numbers and its times as instants (each side formats
    them its own way: DuckDB's decimals carry 4 places, its times are in UTC)."""
    def deal(d: dict[str, Any]) -> tuple[Any, ...]:
        return (d["id"], d["title"], Decimal(d["amount"]), d["currency"], d["owner_id"], datetime.fromisoformat(d["stage_entered_at"]))

    def stage(s: dict[str, Any]) -> tuple[Any, ...]:
        totals = tuple((t["currency"], Decimal(t["amount"]), Decimal(t["weighted_amount"])) for t in s["totals"])
        return (str(s["stage_id"]), s["name"], Decimal(s["probability"]), s["count"], Decimal(s["amount"]),
                Decimal(s["weighted_amount"]), totals, tuple(deal(d) for d in s["deals"]))

    return board["currency"], tuple(stage(s) for s in board["stages"])


def open_deals_then(services: Services, pipeline_id: UUID, past: Past) -> set[str]:
    """The ids of the pipeline's deals open at that moment, each folded from its own events."""
    deals = (Deal.fold(visible(events, past.as_of, past.known_at)) for events in streams(services.store).values()
             if Deal.owns(events[0]))
    return {str(d.id) for d in deals if d is not None and d.pipeline_id == pipeline_id and d.status == OPEN}


def test_the_board_of_any_past_moment_equals_a_replay_of_the_store(client: TestClient, services: Services, clock: FrozenClock) -> None:
    world = World(client, clock)

    @hypothesis_settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(steps=history, asked=moments)
    def law(steps: list[tuple[Any, int, int]], asked: list[tuple[float, float | None]]) -> None:
        for drawn, late_hours, next_hours in steps:
            world.apply(drawn, late_hours)
            clock.advance(seconds=next_hours * 3600)
        span = (clock.now() - world.start).total_seconds()
        for as_of_share, known_share in asked:
            as_of = world.start + timedelta(seconds=span * as_of_share)
            known_at = None if known_share is None else world.start + timedelta(seconds=span * known_share)
            past = Past(as_of, known_at)
            board = board_from_http(world, past)
            assert plain(board) == plain(board_then(services.store, UUID(world.pipeline), past)), past
            shown = {d["id"] for stage in board["stages"] for d in stage["deals"]}
            assert shown == open_deals_then(services, UUID(world.pipeline), past), past
        assert plain(board_from_http(world, Past(clock.now()))) == plain(board_from_http(world, None))

    law()
