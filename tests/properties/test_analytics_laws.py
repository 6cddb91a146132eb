"""Law (c) of the time travel issue, through HTTP on both event stores: for random deal
histories (late-recorded facts included) and random periods, pasts and groupings, the
funnel and velocity that DuckDB answers equal a plain-Python computation over the event
store's events (tests/properties/reference_analytics.py)."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from crm_es.bootstrap import Services
from crm_es.clock import FrozenClock
from crm_es.queries.analytics.period import Period
from tests.http.helpers import ok
from tests.properties import reference_analytics as reference
from tests.properties.test_time_travel_laws import World, step

# Deals moving between stages more often than the time travel law draws them, mostly on time.
moving = st.one_of(step, st.tuples(st.just("move"), st.integers(0, 30), st.integers(0, 5)),
                   st.tuples(st.just("move"), st.integers(0, 30), st.integers(0, 5)))
history = st.lists(st.tuples(moving, st.integers(0, 12), st.integers(1, 30)), min_size=5, max_size=20)
asks = st.lists(st.tuples(st.floats(0, 0.9), st.floats(0.05, 1), st.one_of(st.none(), st.floats(0, 1)),
                          st.one_of(st.none(), st.floats(0, 1)), st.sampled_from([None, "rep"])), min_size=1, max_size=3)


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
        assert {a["currency"]: (a["won"], float(a["average_won_amount"])) for a in g["amounts"]} == \
            {c: (n, round(float(avg), 2)) for c, (n, avg) in w["amounts"].items()}


def test_funnel_and_velocity_equal_a_computation_over_the_events(client: TestClient, services: Services, clock: FrozenClock) -> None:
    world = World(client, clock)

    @hypothesis_settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(steps=history, asked=asks)
    def law(steps: list[tuple[Any, int, int]], asked: list[Any]) -> None:
        for drawn, late_hours, next_hours in steps:
            world.apply(drawn, late_hours)
            clock.advance(seconds=next_hours * 3600)
        span = (clock.now() - world.start).total_seconds()

        def at(share: float | None) -> Any:
            return None if share is None else world.start + timedelta(seconds=span * share)

        for start, length, as_of, known_at, by in asked:
            period = Period(at(start), at(min(1.0, start + length)) + timedelta(seconds=1), at(as_of), at(known_at))
            check_funnel(world, services, period, by)
            check_velocity(world, services, period, by)

    law()
