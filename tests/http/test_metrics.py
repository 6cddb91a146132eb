"""GET /metrics (SQLite and PostgreSQL): the Prometheus text format, with no key. Request
counts move by exactly the requests made, under route templates (never an id); the read
side's position and the store's head are the projector's and the store's; each
automation's place and failure are what GET /policies says; the outbox by state is its
table; the projector's batches and the read side's delay are measured, sampled; a scrape
during an outage still answers, and says so."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient
from helpers import ok, read
from prometheus_client.parser import text_string_to_metric_families

from crm_es.aggregates import message as messages
from crm_es.aggregates.base import Meta
from crm_es.aggregates.message import Message
from crm_es.auth.roles import Role
from crm_es.bootstrap import Services, service
from crm_es.clock import FrozenClock
from crm_es.entrypoints.http import metrics as metrics_module
from crm_es.entrypoints.http.app import create_app
from crm_es.settings import Settings
from tests.conftest import PG_URL, pg_schema, require_postgres
from tests.integration.tcp_proxy import TcpProxy

Labels = tuple[tuple[str, str], ...]
UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def scrape(client: TestClient) -> dict[str, dict[Labels, float]]:
    """{sample name: {labels: value}}, parsed as Prometheus would."""
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: dict[str, dict[Labels, float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict[str, dict[Labels, float]], name: str, **labels: str) -> float:
    return samples.get(name, {}).get(tuple(sorted(labels.items())), 0.0)


def moved(before: dict[str, dict[Labels, float]], after: dict[str, dict[Labels, float]], name: str) -> dict[Labels, float]:
    """How each labelled sample of ``name`` moved (those that did)."""
    changes = {labels: v - before.get(name, {}).get(labels, 0.0) for labels, v in after.get(name, {}).items()}
    return {labels: change for labels, change in changes.items() if change}


def requests(**labels: str) -> Labels:
    return tuple(sorted(labels.items()))


def test_request_counts_move_by_exactly_the_requests_made_under_route_templates(client: TestClient) -> None:
    before = scrape(client)
    reps = [ok(client.post("/reps", json={"name": f"Rep {i}", "email": f"rep{i}@example.com"})) for i in range(3)]
    for rep in reps[:2]:
        read(client, f"/reps/{rep['id']}", rep["position"])
    unknown = uuid4()
    assert client.get(f"/reps/{unknown}").status_code == 404
    assert client.post("/reps", json={"name": "No e-mail"}).status_code == 422
    assert client.get(f"/nowhere/{unknown}?email=jean.dupont@example.com").status_code == 404
    too_large = client.post("/reps", content=b"{" + b" " * 2_000_000 + b"}", headers={"Content-Type": "application/json"})
    assert too_large.status_code == 413  # refused before any route ran: still under its template
    after = scrape(client)

    assert moved(before, after, "crm_es_http_requests_total") == {
        requests(method="POST", route="/reps", status="201"): 3,
        requests(method="GET", route="/reps/{rep_id}", status="200"): 2,
        requests(method="GET", route="/reps/{rep_id}", status="404"): 1,
        requests(method="POST", route="/reps", status="422"): 1,
        requests(method="POST", route="/reps", status="413"): 1,
        requests(method="GET", route="unmatched", status="404"): 1,
        requests(method="GET", route="/metrics", status="200"): 1,  # the first scrape
    }
    assert moved(before, after, "crm_es_http_request_duration_seconds_count") == {
        requests(method="POST", route="/reps"): 5, requests(method="GET", route="/reps/{rep_id}"): 3,
        requests(method="GET", route="unmatched"): 1, requests(method="GET", route="/metrics"): 1,
    }
    # Each falls in the +Inf bucket, and its time is in the sum.
    buckets = moved(before, after, "crm_es_http_request_duration_seconds_bucket")
    assert buckets[requests(method="POST", route="/reps", le="+Inf")] == 5
    assert moved(before, after, "crm_es_http_request_duration_seconds_sum")[requests(method="POST", route="/reps")] > 0


def test_no_label_holds_an_id_an_address_or_a_query(client: TestClient) -> None:
    rep = ok(client.post("/reps", json={"name": "Ines", "email": "ines.martin@example.com"}))
    read(client, f"/reps/{rep['id']}?fields=all", rep["position"])
    client.get(f"/contacts/{uuid4()}/nothing-here?q=ines.martin@example.com")
    text = client.get("/metrics").text
    assert rep["id"] not in text and "ines.martin" not in text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            for label in sample.labels.values():
                assert not UUID_TEXT.search(label) and "@" not in label and "?" not in label, (sample.name, label)


def test_the_read_side_position_and_the_store_head_are_the_projectors_and_the_stores(
        client: TestClient, services: Services) -> None:
    rep = ok(client.post("/reps", json={"name": "Ada", "email": "ada@example.com"}))
    read(client, f"/reps/{rep['id']}", rep["position"])
    samples = scrape(client)
    assert value(samples, "crm_es_read_side_position") == services.projector.position == rep["position"]
    assert value(samples, "crm_es_store_head_position") == services.store.max_position() == rep["position"]
    assert value(samples, "crm_es_read_side_lag_events") == 0
    assert value(samples, "crm_es_store_reachable") == 1


def test_each_automation_has_the_place_lag_and_failure_that_get_policies_shows(
        client: TestClient, services: Services, clock: FrozenClock) -> None:
    store = services.store
    store.tracked_position("lead-scoring")  # met: at the log's end, then the log moves on
    ok(client.post("/reps", json={"name": "Ada", "email": "ada@example.com"}))
    store.tracking.record_error("lead-scoring", store.max_position(), "ValueError: no score", clock.now().isoformat())
    samples = scrape(client)
    policies = ok(client.get("/policies"), 200)["items"]
    assert policies
    for policy in policies:
        name = policy["name"]
        assert value(samples, "crm_es_automation_position", policy=name) == policy["position"], name
        assert value(samples, "crm_es_automation_lag_events", policy=name) == policy["lag"], name
        assert value(samples, "crm_es_automation_failing", policy=name) == (policy["last_error"] is not None), name
    assert value(samples, "crm_es_automation_failing", policy="lead-scoring") == 1
    assert value(samples, "crm_es_automation_lag_events", policy="lead-scoring") >= 1


def test_the_outbox_by_state_is_its_table(client: TestClient, services: Services, clock: FrozenClock) -> None:
    def queue() -> Message:
        meta = Meta(clock.now(), clock.now(), "policy:quote-ready", "req-1")
        events, row = messages.queue(uuid4(), "email", "ines.martin@example.com", "Your quote", "quote-ready", meta)
        services.store.save(events, outbox=[row])
        return services.store.load(Message, events[0].originator_id)

    sent, failed, _pending, _waiting = queue(), queue(), queue(), queue()
    meta = Meta(clock.now(), clock.now(), "outbox", "req-1")
    for events, row in (messages.sent(sent, meta), messages.failed(failed, "refused", 8, meta)):
        services.store.save(events, outbox=[row])
    samples = scrape(client)
    states = {dict(labels)["state"]: n for labels, n in samples["crm_es_outbox_messages"].items()}
    assert states == {"pending": 2, "sent": 1, "failed": 1, "dead": 0, "cancelled": 0, "held": 0}
    assert {state: n for state, n in states.items() if n} == services.store.outbox.counts()
    assert "ines.martin" not in client.get("/metrics").text


def test_the_scrape_needs_no_key_once_keys_exist(client: TestClient, services: Services) -> None:
    services.api_keys.create(Role.ADMIN, name="admin")
    before = scrape(client)
    assert client.get("/deals").status_code == 401
    after = scrape(client)
    assert moved(before, after, "crm_es_http_requests_total")[requests(method="GET", route="/deals", status="401")] == 1


@pytest.fixture
def still(services: Services) -> Iterator[TestClient]:
    """The app over services that do not follow the log: the test runs the projector."""
    with TestClient(create_app(services)) as client:
        yield client
    assert services.projector.batch_observers == []  # the app let go of the projector when it stopped


def test_projector_batches_and_the_read_side_delay_are_measured(
        still: TestClient, services: Services, clock: FrozenClock) -> None:
    contact = ok(still.post("/contacts", json={"first_name": "Ines", "last_name": "Martin", "email": "ines@example.com"}))
    clock.advance(seconds=2)  # the projector commits two seconds after the store recorded the events
    before = scrape(still)
    assert services.projector.catch_up() == contact["position"]
    after = scrape(still)
    assert value(after, "crm_es_projector_batch_seconds_count") - value(before, "crm_es_projector_batch_seconds_count") == 1
    assert value(after, "crm_es_projected_events_total") - value(before, "crm_es_projected_events_total") == contact["position"]
    delays = value(after, "crm_es_read_side_delay_seconds_count") - value(before, "crm_es_read_side_delay_seconds_count")
    assert delays == contact["position"]  # a small batch: every event measured
    assert value(after, "crm_es_read_side_delay_seconds_sum") == pytest.approx(2.0 * delays)
    assert value(after, "crm_es_read_side_delay_seconds_bucket", le="2.0") == delays  # 2 s: in the 2 s bucket, not below
    assert value(after, "crm_es_read_side_delay_seconds_bucket", le="1.0") == 0


def test_a_large_batch_measures_the_delay_of_a_sample_only(
        still: TestClient, services: Services, clock: FrozenClock) -> None:
    contact = ok(still.post("/contacts", json={"first_name": "Ines", "last_name": "Martin", "email": "ines@example.com"}))
    visits = [{"type": "page_visited", "contact_id": contact["id"], "url": f"https://example.com/p{i}"} for i in range(250)]
    ok(still.post("/interactions:batch", json={"items": visits}), 200)
    events = services.store.max_position()
    assert events > metrics_module.DELAY_SAMPLES
    before = scrape(still)
    services.projector.catch_up()  # one batch
    after = scrape(still)
    assert value(after, "crm_es_projected_events_total") - value(before, "crm_es_projected_events_total") == events
    sampled = value(after, "crm_es_read_side_delay_seconds_count") - value(before, "crm_es_read_side_delay_seconds_count")
    assert 0 < sampled <= metrics_module.DELAY_SAMPLES


def test_a_scrape_during_an_outage_answers_and_says_the_store_is_unreachable(tmp_path: Path, clock: FrozenClock) -> None:
    """PostgreSQL reached through a proxy the test cuts (tests/integration/tcp_proxy.py)."""
    require_postgres()
    assert PG_URL is not None
    parts = urlsplit(PG_URL)
    proxy = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    try:
        for schema in pg_schema():
            url = parts._replace(netloc=f"{parts.username or 'postgres'}@127.0.0.1:{proxy.port}").geturl()
            settings = Settings(data_dir=tmp_path / "var", database_url=url, postgres_schema=schema, run_policies=False)
            with service(settings, clock=clock) as services, TestClient(create_app(services)) as client:
                assert value(scrape(client), "crm_es_store_reachable") == 1
                proxy.cut()
                try:
                    samples = scrape(client)
                finally:
                    proxy.restore()
                assert value(samples, "crm_es_store_reachable") == 0
                assert "crm_es_read_side_position" in samples and "crm_es_store_head_position" not in samples
                assert "crm_es_http_requests_total" in samples  # what the process measured itself is still there
    finally:
        proxy.close()
