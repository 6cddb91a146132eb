"""What GET /metrics tells Prometheus: requests by route, the read side's position, lag and
delay, projector batches, each automation's place, the outbox by state, the store's head.

Built for speed: a request pays one dict look-up and two prometheus-client updates (the
labelled children are cached per method, route and status, never looked up by keyword),
and a projector batch at most ~100 timestamp reads. Figures that live in the store are read
only when scraped (``ServiceFigures``), on the thread pool (routers/metrics.py).

Labels hold route TEMPLATES (``/contacts/{contact_id}``), never a path, an id, an e-mail
or a query string: the figures are public (no key) and hold no personal data.

One registry per app (tests build many apps in one process; the global one would mix them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

import orjson
from fastapi.routing import APIRoute, iter_route_contexts
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.routing import get_route_path
from starlette.types import Scope

from crm_es.aggregates.message import STATUSES
from crm_es.bootstrap import Services
from crm_es.policies.catalogue import POLICIES
from crm_es.policies.places import live_places
from crm_es.store import RawEvent
from crm_es.store.outage import is_outage

log = logging.getLogger("crm_es.metrics")

# Fine at the low end: a command in process takes 0.5 ms, the target p99 is 50 ms.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5)
BATCH_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30)
DELAY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 300)
DELAY_SAMPLES = 100  # events per batch whose delay is measured: a 10,000-event catch-up batch pays 100 reads
UNMATCHED = "unmatched"  # the route label of a request no route answered (its path may name anyone)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})  # any other: "other"


class Metrics:
    """The app's registry and the figures measured as things happen; ``follow`` ties it to
    the services (their projector's batches, and the figures read when scraped)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.services: Services | None = None
        self.requests = Counter("crm_es_http_requests", "HTTP requests answered, by route template and status",
                                ["method", "route", "status"], registry=self.registry)
        self.durations = Histogram("crm_es_http_request_duration_seconds",
                                   "Time from the request's arrival to its answer's last byte, by route template",
                                   ["method", "route"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.batch_seconds = Histogram("crm_es_projector_batch_seconds",
                                       "Time the projector takes to write one batch and its position (one DuckDB transaction)",
                                       buckets=BATCH_BUCKETS, registry=self.registry)
        self.projected = Counter("crm_es_projected_events", "Events the projector has committed to the read side",
                                 registry=self.registry)
        self.delays = Histogram("crm_es_read_side_delay_seconds",
                                "From an event's recorded time to its commit on the read side (sampled: at most "
                                f"{DELAY_SAMPLES} events per batch)", buckets=DELAY_BUCKETS, registry=self.registry)
        self.registry.register(ServiceFigures(self))
        # (method, route, status) -> the children's bound methods: no label look-up per request.
        self._children: dict[tuple[str, str, int], tuple[Callable[[], None], Callable[[float], None]]] = {}
        self._routes: RouteTemplates | None = None  # made at the first request FastAPI did not route

    # --- requests (told by RequestPlumbing, on the event loop) ---------------------------

    def request(self, scope: Scope, status: int, seconds: float) -> None:
        method = scope["method"]
        if method not in METHODS:
            method = "other"
        route = scope.get("route")
        key = (method, route.path if route is not None else self._template(scope), status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = self._labelled(*key)
        count, observe = children
        count()
        observe(seconds)

    def _labelled(self, method: str, route: str, status: int) -> tuple[Callable[[], None], Callable[[float], None]]:
        return self.requests.labels(method, route, str(status)).inc, self.durations.labels(method, route).observe

    def _template(self, scope: Scope) -> str:
        if self._routes is None:
            self._routes = RouteTemplates(scope["app"])
        return self._routes.of(scope)

    # --- the projector (its thread) ------------------------------------------------------

    def follow(self, services: Services) -> None:
        """Measure these services' projector, and read their figures when scraped."""
        self.services = services
        services.projector.batch_observers.append(self.batch_committed)

    def unfollow(self) -> None:
        if self.services is not None:
            observers = self.services.projector.batch_observers
            if self.batch_committed in observers:
                observers.remove(self.batch_committed)
        self.services = None

    def batch_committed(self, events: Sequence[RawEvent], seconds: float) -> None:
        """A batch is on the read side: its time, its events, and how long a sample of them
        waited since the store recorded them (the clock the events were recorded with)."""
        self.batch_seconds.observe(seconds)
        self.projected.inc(len(events))
        if not events or self.services is None:
            return
        now = self.services.clock.now()
        step = -(-len(events) // DELAY_SAMPLES)
        for raw in events[::step]:
            try:
                recorded = datetime.fromisoformat(orjson.loads(raw.state)["timestamp"])
                waited = (now - recorded).total_seconds()
            except (KeyError, TypeError, ValueError, orjson.JSONDecodeError):
                continue  # a state without a recorded time: nothing to measure
            self.delays.observe(max(waited, 0.0))

    def exposition(self) -> bytes:
        """The Prometheus text format (0.0.4). Reads the store: call it off the event loop."""
        return generate_latest(self.registry)


class RouteTemplates:
    """The template of a request FastAPI set no ``scope["route"]`` for (it does for its own
    routes only): a plain Starlette route (the docs pages, /metrics), by its endpoint; a
    request refused before routing (413, malformed JSON), by the route its path matches;
    else UNMATCHED (a 404: its path may name anyone). Only such requests pay the search."""

    def __init__(self, app: Any) -> None:
        contexts = [c for c in iter_route_contexts(app.routes) if c.path and getattr(c, "path_regex", None)]
        self.by_endpoint = {c.endpoint: c.path for c in contexts if not isinstance(c.original_route, APIRoute)}
        self.patterns = [(c.path_regex, c.path) for c in contexts]

    def of(self, scope: Scope) -> str:
        endpoint = scope.get("endpoint")
        if endpoint is not None and endpoint in self.by_endpoint:
            return self.by_endpoint[endpoint]
        path = get_route_path(scope)
        return next((template for regex, template in self.patterns if regex.match(path)), UNMATCHED)


class ServiceFigures(Collector):
    """Figures read when scraped: the store's head, the read side's position and lag, each
    automation's place, lag and failure, the outbox by state. When the store cannot be
    reached, ``crm_es_store_reachable`` says 0 and the figures it holds are left out."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        services = self.metrics.services
        if services is None:
            return
        read_position = services.projector.position
        yield _gauge("crm_es_read_side_position", "The log position the read side has reached", read_position)
        store = services.store
        try:
            head = store.max_position()
            places = {row["name"]: row for row in store.tracking.rows()}
            outbox = store.outbox.counts()
        except Exception as error:
            if not is_outage(error):
                raise
            log.debug("metrics: the store cannot be read (%s)", error)  # the scrape still answers, and says so
            yield _gauge("crm_es_store_reachable", "1 when the event store answered this scrape", 0)
            return
        yield _gauge("crm_es_store_reachable", "1 when the event store answered this scrape", 1)
        yield _gauge("crm_es_store_head_position", "The last position in the event store's log", head)
        yield _gauge("crm_es_read_side_lag_events", "Events in the log not yet on the read side",
                     max(head - read_position, 0))
        position = GaugeMetricFamily("crm_es_automation_position", "Where each automation has read the log up to",
                                     labels=["policy"])
        lag = GaugeMetricFamily("crm_es_automation_lag_events", "Events in the log each automation has not reacted to",
                                labels=["policy"])
        failing = GaugeMetricFamily("crm_es_automation_failing", "1 while an automation stays on an event that failed",
                                    labels=["policy"])
        for policy in POLICIES:
            row = places.get(policy.name)  # none yet: it starts at the log's end (GET /policies says the same)
            at = head if row is None else max(int(row["position"]), live_places(store).get(policy.name, 0))
            position.add_metric([policy.name], at)
            lag.add_metric([policy.name], max(head - at, 0))
            failing.add_metric([policy.name], int(row is not None and row["last_error"] is not None))
        yield from (position, lag, failing)
        messages = GaugeMetricFamily("crm_es_outbox_messages", "Messages in the outbox, by delivery state",
                                     labels=["state"])
        for state in STATUSES:
            messages.add_metric([state], outbox.get(state, 0))
        yield messages


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)

