"""Law (c) of the time travel issue, through HTTP on both event stores: for random deal
histories (late-recorded facts included) and random periods, pasts and groupings, the
funnel and velocity that DuckDB answers equal a plain-Python computation over the event
store's events (tests/properties/reference_analytics.py).

The histories reach the edges where several facts share one instant, as real data has
them: a deal imported from an old CRM is opened, moved on (handed to another rep) and
won or lost at one instant; any step may happen at the very instant of the step before
(a move and a win, two moves) and be recorded at the same moment. The periods and pasts
asked about often sit exactly on the instant of a fact (``from`` includes it, ``to``
excludes it, ``as_of`` and ``known_at`` include it)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from crm_es.aggregates.money import minor_units
from crm_es.bootstrap import Services
from crm_es.clock import FrozenClock
from crm_es.queries.analytics.period import Period
from tests.http.helpers import STAGES, ok
from tests.properties import reference_analytics as reference
from tests.properties.test_time_travel_laws import World, step

# A deal as an import writes it: opened in a stage, maybe handed to the other rep, moved
# through some stages and maybe closed, every fact at one instant.
imported = st.tuples(st.just("import"), st.integers(0, 3), st.booleans(), st.lists(st.integers(0, 3), max_size=2),
                     st.sampled_from([None, "won", "lost"]))
moved = st.tuples(st.just("move"), st.integers(0, 30), st.integers(0, 5))
# Deals moving between stages more often than the time travel law draws them.
moving = st.one_of(step, imported, moved, moved)
SAME_INSTANT = -1  # the step happens at the instant of the step before
when = st.one_of(st.integers(0, 12), st.just(SAME_INSTANT))  # hours late, or at the instant before
pause = st.one_of(st.just(0), st.integers(1, 30))  # hours to the next step: 0, recorded at the same moment too
history = st.lists(st.tuples(moving, when, pause), min_size=5, max_size=20)
# A moment asked about: a share of the history's span, or the instant of the n-th step.
moment = st.one_of(st.floats(0, 1), st.integers(0, 40))
asks = st.lists(st.tuples(moment, moment, st.one_of(st.none(), moment), st.one_of(st.none(), moment),
                          st.sampled_from([None, "rep"])), min_size=1, max_size=3)


class ImportingWorld(World):
    """The time travel law's world, with imports, and the instants of its steps."""

    def __init__(self, client: TestClient, clock: FrozenClock) -> None:
        super().__init__(client, clock)
        self.happened: list[datetime] = []  # each step's business time
        self.recorded: list[datetime] = []  # and when it was recorded

    def step(self, drawn: tuple[Any, ...], late: int) -> None:
        if drawn[0] == "revise":  # a stage added is named by the minute: two at one moment would share a name
            self.clock.advance(seconds=60)
        now = self.clock.now()
        at = self.happened[-1] if late == SAME_INSTANT and self.happened else now - timedelta(hours=max(late, 0))
        if drawn[0] == "import":
            self.import_deal(*drawn[1:], at)
        else:
            self.apply(drawn, (now - at) / timedelta(hours=1))
        self.happened.append(at)
        self.recorded.append(now)

    def import_deal(self, stage: int, handed_on: bool, moves: list[int], outcome: str | None, at: datetime) -> None:
        occurred_at = at.isoformat()
        body = {"title": f"Imported {len(self.deals)}", "pipeline_id": self.pipeline, "stage": STAGES[stage]["name"],
                "amount": "1200.50", "currency": "EUR", "owner_id": self.reps[0], "occurred_at": occurred_at}
        answer = self.client.post("/deals", json=body)
        self.done(answer)
        if answer.status_code != 201:  # the stage was renamed away
            return
        deal = answer.json()["id"]
        self.deals.append(deal)
        if handed_on:
            self.done(self.client.patch(f"/deals/{deal}", json={"owner_id": self.reps[1], "occurred_at": occurred_at}))
        names = [s["name"] for s in self.stages()]
        for to in moves:
            self.done(self.client.post(f"/deals/{deal}/stage", json={"stage": names[to % len(names)], "occurred_at": occurred_at}))
        if outcome is not None:
            body = {"occurred_at": occurred_at} | ({"reason": "price"} if outcome == "lost" else {})
            self.done(self.client.post(f"/deals/{deal}/{outcome}", json=body))

    def moment(self, drawn: float | None, instants: list[datetime]) -> datetime | None:
        if drawn is None:
            return None
        if isinstance(drawn, int) and instants:
            return instants[drawn % len(instants)]
        span = self.clock.now() - self.start
        return self.start + span * float(drawn)

    def period(self, start: float, end: float, as_of: float | None, known_at: float | None) -> Period:
        first, last = sorted((self.moment(start, self.happened), self.moment(end, self.happened)))
        if last == first:
            last = first + timedelta(hours=1)
        return Period(first, last, self.moment(as_of, self.happened), self.moment(known_at, self.recorded))


def close(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and math.isclose(a, b, abs_tol=1e-3))


def ask(world: World, name: str, period: Period, by: str | None) -> dict[str | None, dict[str, Any]]:
    params = {"pipeline": world.pipeline, "from": period.start.isoformat(), "to": period.end.isoformat(),
              "after": str(world.position)}
    params |= {k: getattr(period, k).isoformat() for k in ("as_of", "known_at") if getattr(period, k) is not None}
    if by:
        params["by"] = by
    answer = ok(world.client.get(f"/analytics/{name}", params=params), 200)
    return {g["key"]: g for g in answer["groups"]}


def check_funnel(world: World, services: Services, period: Period, by: str | None) -> None:
    got = ask(world, "funnel", period, by)
    want = reference.funnel(services.store, UUID(world.pipeline), period, by)
    for key in set(got) | set(want):
        g, w = got.get(key), want.get(key, {"stages": {}, "opened": 0, "won": 0})
        if g is None:
            assert not any(c["entered"] for c in w["stages"].values()), (key, w)
            continue
        assert (g["opened"], g["won"]) == (w["opened"], w["won"]), (key, g, w)
        for stage in g["stages"]:
            c = w["stages"].get(stage["name"], {})
            expected = {"entered": c.get("entered", 0), "moved_on": c.get("advanced", 0) + c.get("won", 0),
                        "won": c.get("won", 0), "lost": c.get("lost", 0), "slipped_back": c.get("slipped_back", 0),
                        "still_there": c.get("still_there", 0)}
            assert {k: stage[k] for k in expected} == expected, (key, stage, dict(c))


def check_velocity(world: World, services: Services, period: Period, by: str | None) -> None:
    got = ask(world, "velocity", period, by)
    want = reference.velocity(services.store, UUID(world.pipeline), period, by)
    for key in set(got) | set(want):
        nothing = {"won": 0, "lost": 0, "opened": 0, "win_rate": None, "average_days_to_close": None,
                   "median_days_to_close": None, "stages": {}, "amounts": {}}
        g, w = got.get(key), want.get(key, nothing)
        if g is None:
            assert not (w["won"] or w["lost"] or w["opened"] or w["stages"]), (key, w)
            continue
        assert (g["won"], g["lost"], g["opened"], g["win_rate"]) == (w["won"], w["lost"], w["opened"], w["win_rate"]), (g, w)
        assert close(g["average_days_to_close"], w["average_days_to_close"]), (g, w)
        assert close(g["median_days_to_close"], w["median_days_to_close"]), (g, w)
        for stage in g["stages"]:
            n, mean, median = w["stages"].get(stage["name"], (0, None, None))
            assert stage["stays"] == n and close(stage["average_days"], mean) and close(stage["median_days"], median), (stage, n, mean, median)
        # Money: exact decimals at the currency's scale, rounded half to even.
        assert {a["currency"]: (a["won"], a["average_won_amount"]) for a in g["amounts"]} == \
            {c: (n, str(avg.quantize(Decimal(1).scaleb(-minor_units(c)), ROUND_HALF_EVEN))) for c, (n, avg) in w["amounts"].items()}
        for a in g["amounts"]:
            n, avg = w["amounts"][a["currency"]]
            cycle = w["average_days_to_close"]
            if not cycle:
                assert a["sales_velocity_per_day"] is None, a
                continue
            per_day = w["opened"] * Decimal(w["won"]) / (w["won"] + w["lost"]) * avg / Decimal(str(cycle))
            assert abs(Decimal(a["sales_velocity_per_day"]) - per_day) <= Decimal("0.011"), (a, per_day)


def test_funnel_and_velocity_equal_a_computation_over_the_events(client: TestClient, services: Services, clock: FrozenClock) -> None:
    world = ImportingWorld(client, clock)

    @hypothesis_settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(steps=history, asked=asks)
    def law(steps: list[tuple[Any, int, int]], asked: list[Any]) -> None:
        for drawn, late, next_hours in steps:
            world.step(drawn, late)
            clock.advance(seconds=next_hours * 3600)
        for start, end, as_of, known_at, by in asked:
            period = world.period(start, end, as_of, known_at)
            check_funnel(world, services, period, by)
            check_velocity(world, services, period, by)

    law()
