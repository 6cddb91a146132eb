"""Bad input gets a clear problem+json and changes nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from helpers import assert_problem, deal, ok, pipeline


@pytest.fixture
def unchanged(services):
    """Asserts that the store holds no new event when the test ends."""
    before = {}

    def mark():
        before["position"] = services.store.max_position()

    def check():
        assert services.store.max_position() == before["position"]

    return mark, check


def test_malformed_json_is_a_400(client, unchanged):
    mark, check = unchanged
    mark()
    assert_problem(client.post("/reps", content=b'{"name": "x",', headers={"content-type": "application/json"}), 400, "malformed-json")
    check()


@pytest.mark.parametrize("body, fields", [
    ({"title": 1, "stage": "Contact", "amount": "1", "currency": "EUR"}, {"title"}),
    ({"title": "t", "stage": "Contact", "amount": "-5", "currency": "EUR"}, {"amount"}),
    ({"title": "t", "stage": "Contact", "amount": "1.123456", "currency": "EUR"}, {"amount"}),
    ({"title": "t", "stage": "Contact", "amount": "NaN", "currency": "EUR"}, {"amount"}),
    ({"title": "t", "stage": "Contact", "amount": "1", "currency": "EURO"}, {"currency"}),
    ({"title": "t", "stage": "Contact", "amount": "1", "currency": "ABC"}, {"currency"}),
    ({"title": "", "stage": "Contact", "amount": "1", "currency": "EUR", "colour": "red"}, {"title", "colour"}),
    ({"title": "t", "stage": "Contact", "amount": "1", "currency": "EUR", "occurred_at": "2026-01-01T10:00:00"}, {"occurred_at"}),
    ({"title": "t", "stage": "Contact", "amount": "1", "currency": "EUR", "contact_ids": ["nope"]}, {"contact_ids[0]"}),
])
def test_invalid_fields_are_named(client, unchanged, body, fields):
    p = pipeline(client)
    mark, check = unchanged
    mark()
    problem = assert_problem(client.post("/deals", json={"pipeline_id": p["id"], **body}), 422, "invalid-field")
    assert {e["field"] for e in problem["errors"]} == fields
    check()


def test_unknown_ids_are_404(client, unchanged):
    p = pipeline(client)
    mark, check = unchanged
    mark()
    missing = str(uuid.uuid4())
    assert_problem(client.post(f"/deals/{missing}/stage", json={"stage": "Demo"}), 404, "not-found")
    assert_problem(client.patch(f"/contacts/{missing}", json={"city": "Paris"}), 404)
    problem = assert_problem(client.post("/deals", json={
        "title": "t", "pipeline_id": p["id"], "stage": "Contact", "amount": "1", "currency": "EUR", "company_id": missing}), 404)
    assert problem["errors"][0]["field"] == "company_id"
    assert_problem(client.post("/deals", json={
        "title": "t", "pipeline_id": missing, "stage": "Contact", "amount": "1", "currency": "EUR"}), 404)
    assert_problem(client.get(f"/deals/{missing}"), 404)
    # an id of another kind of record is not found either
    assert_problem(client.post(f"/deals/{p['id']}/won"), 404)
    assert_problem(client.get("/deals/not-a-uuid"), 422)
    check()


def test_an_unknown_stage_is_a_409_naming_the_rule(client, unchanged):
    p = pipeline(client)
    d = deal(client, p["id"])
    mark, check = unchanged
    mark()
    assert_problem(client.post(f"/deals/{d['id']}/stage", json={"stage": "Nowhere"}), 409, "unknown-stage")
    assert_problem(client.post("/deals", json={
        "title": "t", "pipeline_id": p["id"], "stage": "Nowhere", "amount": "1", "currency": "EUR"}), 409, "unknown-stage")
    check()


def test_a_closed_deal_cannot_move(client, unchanged):
    p = pipeline(client)
    d = deal(client, p["id"])
    ok(client.post(f"/deals/{d['id']}/lost", json={"reason": "budget"}), 200)
    mark, check = unchanged
    mark()
    problem = assert_problem(client.post(f"/deals/{d['id']}/stage", json={"stage": "Demo"}), 409, "deal-closed")
    assert "reopen" in problem["detail"]
    assert_problem(client.post(f"/deals/{d['id']}/won"), 409, "deal-closed")
    assert_problem(client.post(f"/deals/{d['id']}/lost", json={"reason": "again"}), 409, "deal-closed")
    check()


def test_a_duplicate_email_is_a_409(client, unchanged):
    ok(client.post("/contacts", json={"first_name": "A", "last_name": "B", "email": "same@example.com"}))
    mark, check = unchanged
    mark()
    assert_problem(client.post("/contacts", json={"first_name": "C", "last_name": "D", "email": "SAME@example.com"}),
                   409, "email-already-registered")
    check()


def test_a_stage_holding_deals_cannot_be_removed(client, unchanged):
    p = pipeline(client)
    deal(client, p["id"], stage="Demo")
    mark, check = unchanged
    mark()
    problem = assert_problem(client.patch(f"/pipelines/{p['id']}", json={"stages": [{"name": "Contact", "probability": "0.1"}]}),
                             409, "stage-has-deals")
    assert problem["deals"] == 1
    check()


def test_a_huge_body_is_refused_before_it_is_read(client, unchanged):
    mark, check = unchanged
    mark()
    big = b'{"name": "' + b"x" * 1_100_000 + b'", "email": "a@b.co"}'
    assert_problem(client.post("/reps", content=big, headers={"content-type": "application/json"}), 413, "body-too-large")

    def chunks():
        for _ in range(12):
            yield b"x" * 100_000

    assert_problem(client.post("/reps", content=chunks(), headers={"content-type": "application/json"}), 413)
    check()


def test_bad_paging_is_a_422(client):
    assert_problem(client.get("/contacts?limit=0"), 422)
    assert_problem(client.get("/contacts?limit=1001"), 422)
    problem = assert_problem(client.get("/contacts?cursor=garbage"), 422)
    assert problem["errors"][0]["field"] == "query.cursor"


def test_if_match_turns_a_lost_update_into_a_412(client, unchanged):
    p = pipeline(client)
    d = deal(client, p["id"])
    ok(client.post(f"/deals/{d['id']}/stage", json={"stage": "Demo"}, headers={"If-Match": '"1"'}), 200)
    mark, check = unchanged
    mark()
    problem = assert_problem(client.post(f"/deals/{d['id']}/stage", json={"stage": "Signature"}, headers={"If-Match": '"1"'}),
                             412, "version-mismatch")
    assert problem["current_version"] == 2
    assert_problem(client.post(f"/deals/{d['id']}/stage", json={"stage": "Signature"}, headers={"If-Match": "soon"}), 422)
    check()


def test_two_writers_with_the_same_if_match_one_wins(client, services):
    p = pipeline(client)
    d = deal(client, p["id"])
    barrier = threading.Barrier(2)
    results = []

    def move(stage):
        barrier.wait()
        results.append(client.post(f"/deals/{d['id']}/stage", json={"stage": stage}, headers={"If-Match": '"1"'}))

    threads = [threading.Thread(target=move, args=(s,)) for s in ("Demo", "Signature")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status_code for r in results) == [200, 412]
    assert len(services.store.events(uuid.UUID(d["id"]))) == 2


def test_a_retried_command_returns_the_first_answer_and_writes_nothing(client, services):
    p = pipeline(client)
    body = {"title": "t", "pipeline_id": p["id"], "stage": "Contact", "amount": "1", "currency": "EUR"}
    first = client.post("/deals", json=body, headers={"Idempotency-Key": "k-1"})
    position = services.store.max_position()
    again = client.post("/deals", json=body, headers={"Idempotency-Key": "k-1"})
    assert (again.status_code, again.json()) == (first.status_code, first.json()) == (201, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert services.store.max_position() == position
    other = client.post("/deals", json={**body, "title": "other"}, headers={"Idempotency-Key": "k-1"})
    assert_problem(other, 422, "idempotency-key-reused")
    assert services.store.max_position() == position


def test_a_fact_cannot_have_happened_in_the_future(client, services, unchanged):
    p = pipeline(client)
    mark, check = unchanged
    mark()
    tomorrow = (services.clock.now() + timedelta(days=1)).isoformat()
    problem = assert_problem(client.post("/deals", json={
        "title": "t", "pipeline_id": p["id"], "stage": "Contact", "amount": "1", "currency": "EUR", "occurred_at": tomorrow}), 422)
    assert problem["errors"][0]["field"] == "occurred_at"
    check()


def test_a_retried_refusal_hears_the_same_no(client, services):
    """The retry of a request whose answer was lost must not be decided again later."""
    p = pipeline(client)
    d = deal(client, p["id"])
    ok(client.post(f"/deals/{d['id']}/lost", json={"reason": "budget"}), 200)
    key = {"Idempotency-Key": "move-after-loss"}
    first = assert_problem(client.post(f"/deals/{d['id']}/stage", json={"stage": "Demo"}, headers=key), 409, "deal-closed")
    ok(client.post(f"/deals/{d['id']}/reopen", json={}), 200)
    position = services.store.max_position()
    again = client.post(f"/deals/{d['id']}/stage", json={"stage": "Demo"}, headers=key)
    assert (again.status_code, again.json()) == (409, first)
    assert services.store.max_position() == position
    missing = assert_problem(client.post(f"/deals/{uuid.uuid4()}/won", headers={"Idempotency-Key": "k404"}), 404)
    assert client.post(f"/deals/{missing['id']}/won", headers={"Idempotency-Key": "k404"}).status_code == 404
