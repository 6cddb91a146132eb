"""Interactions through the HTTP API (SQLite and PostgreSQL): each type round-trips to the
customer card's timeline with its times and actor; deals record the interactions that
concern them; counters, sessions, bounces; the tracking batch with good and bad items;
the news feed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient
from helpers import assert_problem, deal, ok, pipeline, read

from crm_es.bootstrap import Services
from crm_es.clock import FrozenClock

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)  # the tests' frozen clock
JSON = {"content-type": "application/json"}

# Every type with its own fields, as a client sends them.
EXAMPLES: dict[str, dict[str, Any]] = {
    "call": {"direction": "inbound", "duration_seconds": 240, "outcome": "connected", "notes": "wants a quote"},
    "email_sent": {"subject": "Your quote", "message_id": "<q1@crm.example>"},
    "email_received": {"subject": "Re: Your quote", "message_id": "<r1@client.example>"},
    "email_opened": {"message_id": "<q1@crm.example>"},
    "email_clicked": {"message_id": "<q1@crm.example>", "link": "https://example.com/pricing"},
    "email_bounced": {"bounce": "soft", "reason": "mailbox full"},
    "voicemail": {"duration_seconds": 30, "notes": "call back Tuesday"},
    "meeting_held": {"mode": "video", "duration_minutes": 45, "notes": "demo of the fleet module"},
    "meeting_missed": {"mode": "on_site"},
    "demo": {"duration_minutes": 30},
    "visit": {"duration_minutes": 90, "notes": "met the CFO"},
    "page_visited": {"url": "https://example.com/pricing", "title": "Pricing", "seconds_on_page": 42,
                     "referrer": "https://search.example/", "visitor_id": "v-1", "session_id": "s-1"},
    "quote_opened": {"quote_id": "Q-2026-001"},
    "note": {"text": "Prefers calls in the morning."},
    "sms_sent": {"text": "See you at 10."},
}


def contact(client: TestClient, email: str = "jean@example.com", **fields: Any) -> dict[str, Any]:
    return ok(client.post("/contacts", json={"first_name": "Jean", "last_name": "Dupont", "email": email, **fields}))


def interact(client: TestClient, contact_id: str, type: str, **fields: Any) -> dict[str, Any]:
    return ok(client.post(f"/contacts/{contact_id}/interactions", json={"type": type, **fields}))


def everything(client: TestClient, path: str, position: int, **params: Any) -> list[dict[str, Any]]:
    """Every item of a timeline, page after page."""
    items, cursor = [], None
    while True:
        query = "&".join([f"after={position}", "limit=3", *(f"{k}={v}" for k, v in params.items())])
        page = read(client, f"{path}?{query}" + (f"&cursor={cursor}" if cursor else ""), position)
        items += page["items"]
        if not (cursor := page["next_cursor"]):
            return items


@pytest.mark.parametrize("type", sorted(EXAMPLES))
def test_each_type_round_trips_to_the_timeline_with_its_times_and_actor(client: TestClient, type: str) -> None:
    rep = ok(client.post("/reps", json={"name": "Rob", "email": "rob@example.com"}))
    person = contact(client)
    an_hour_ago = (NOW - timedelta(hours=1)).isoformat()
    written = interact(client, person["id"], type, occurred_at=an_hour_ago, rep_id=rep["id"], **EXAMPLES[type])
    assert written["id"] == person["id"] and written["version"] == 2
    [registered, item] = everything(client, f"/contacts/{person['id']}/timeline", written["position"])
    assert registered["type"] == "contact_registered"
    assert item["type"] == type
    assert item["position"] == written["position"]
    assert datetime.fromisoformat(item["occurred_at"]) == NOW - timedelta(hours=1)  # its real time, not when logged
    assert datetime.fromisoformat(item["recorded_at"]) == NOW
    assert item["actor"] == "dev"
    assert item["data"]["rep_id"] == rep["id"]
    for name, value in EXAMPLES[type].items():
        assert item["data"][name] == value, name


def test_an_interaction_on_a_deal_is_on_the_deals_timeline_too(client: TestClient) -> None:
    person = contact(client)
    sale = deal(client, pipeline(client)["id"], contact_ids=[person["id"]])
    written = interact(client, person["id"], "meeting_held", deal_id=sale["id"], mode="on_site", notes="signed the NDA")
    deal_items = everything(client, f"/deals/{sale['id']}/timeline", written["position"])
    assert [i["type"] for i in deal_items] == ["deal_opened", "meeting_held"]
    assert deal_items[1]["data"]["notes"] == "signed the NDA"
    assert deal_items[1]["data"]["contact_id"] == person["id"]
    assert read(client, f"/deals/{sale['id']}", written["position"])["version"] == 2  # the deal recorded it


def test_the_customer_card_counts_the_interactions(client: TestClient, clock: FrozenClock) -> None:
    person = contact(client)
    interact(client, person["id"], "call", occurred_at=(NOW - timedelta(days=3)).isoformat())
    interact(client, person["id"], "call", occurred_at=(NOW - timedelta(days=1)).isoformat())
    interact(client, person["id"], "email_opened")
    interact(client, person["id"], "page_visited", url="https://example.com/a")
    last = interact(client, person["id"], "note", text="late note", occurred_at=(NOW - timedelta(days=10)).isoformat())
    card = read(client, f"/contacts/{person['id']}", last["position"])
    assert (card["calls"], card["emails_opened"], card["page_visits"], card["interactions"]) == (2, 1, 1, 5)
    assert datetime.fromisoformat(card["last_contacted_at"]) == NOW - timedelta(days=1)  # calls: the latest
    assert datetime.fromisoformat(card["last_activity_at"]) == NOW  # the page visit; the late note is older
    assert card["version"] == 6


def test_the_customer_card_counts_the_open_deals_the_contact_is_in(client: TestClient) -> None:
    person = contact(client)
    pipeline_id = pipeline(client)["id"]
    deal(client, pipeline_id, contact_ids=[person["id"]])
    lost = deal(client, pipeline_id, contact_ids=[person["id"]])
    deal(client, pipeline_id)  # not theirs
    last = ok(client.post(f"/deals/{lost['id']}/lost", json={"reason": "budget"}), 200)
    assert read(client, f"/contacts/{person['id']}", last["position"])["open_deals"] == 1


def test_a_return_visit_after_the_gap_starts_a_new_session(client: TestClient, clock: FrozenClock) -> None:
    person = contact(client)
    for minutes_later in (0, 10, 25, 70, 75):
        at = (NOW - timedelta(hours=2) + timedelta(minutes=minutes_later)).isoformat()
        last = interact(client, person["id"], "page_visited", url=f"https://example.com/{minutes_later}", occurred_at=at)
    visits = everything(client, f"/contacts/{person['id']}/timeline", last["position"], type="page_visited")
    assert [v["data"]["new_session"] for v in visits] == [True, False, False, True, False]
    assert read(client, f"/contacts/{person['id']}", last["position"])["sessions"] == 2


def test_a_hard_bounce_marks_the_email_invalid_until_it_changes(client: TestClient) -> None:
    person = contact(client)
    interact(client, person["id"], "email_bounced", bounce="soft")
    soft = read(client, f"/contacts/{person['id']}", interact(client, person["id"], "email_opened")["position"])
    assert soft["email_invalid"] is False
    bounced = interact(client, person["id"], "email_bounced", bounce="hard", reason="550 no such user")
    assert bounced["version"] == 5  # the bounce and the invalid address: two facts
    assert read(client, f"/contacts/{person['id']}", bounced["position"])["email_invalid"] is True
    changed = ok(client.patch(f"/contacts/{person['id']}", json={"email": "jean.dupont@example.com"}), 200)
    card = read(client, f"/contacts/{person['id']}", changed["position"])
    assert card["email_invalid"] is False
    types = [i["type"] for i in everything(client, f"/contacts/{person['id']}/timeline", changed["position"])]
    assert types[-4:] == ["email_bounced", "contact_email_invalidated", "contact_details_changed",
                          "contact_email_revalidated"]


def test_the_timeline_filters_by_type_and_period(client: TestClient) -> None:
    person = contact(client)
    for days, type in ((5, "call"), (4, "email_sent"), (3, "call"), (2, "note"), (1, "call")):
        fields = {"text": "x"} if type == "note" else {}
        last = interact(client, person["id"], type, occurred_at=(NOW - timedelta(days=days)).isoformat(), **fields)
    path = f"/contacts/{person['id']}/timeline"
    calls = everything(client, path, last["position"], type="call")
    assert [i["type"] for i in calls] == ["call"] * 3
    since = (NOW - timedelta(days=4)).isoformat().replace("+", "%2B")
    until = (NOW - timedelta(days=1)).isoformat().replace("+", "%2B")
    window = everything(client, path, last["position"], **{"from": since, "to": until})
    assert [i["type"] for i in window] == ["email_sent", "call", "note"]
    both = read(client, f"{path}?type=call&type=note&limit=1000", last["position"])["items"]
    assert [i["type"] for i in both] == ["call", "call", "note", "call"]


def test_bad_interactions_are_refused_naming_the_field_and_write_nothing(client: TestClient, services: Services) -> None:
    person = contact(client)
    path = f"/contacts/{person['id']}/interactions"
    before = services.store.max_position()
    for body, status, field in (
        ({"type": "call", "duration_seconds": -5}, 422, "duration_seconds"),
        ({"type": "smoke_signal"}, 422, "type"),
        ({"duration_seconds": 5}, 422, "type"),
        ({"type": "page_visited"}, 422, "url"),
        ({"type": "email_bounced", "bounce": "medium"}, 422, "bounce"),
        ({"type": "call", "colour": "red"}, 422, "colour"),
        ({"type": "call", "occurred_at": "2026-03-01T09:00:00"}, 422, "occurred_at"),
        ({"type": "call", "occurred_at": (NOW + timedelta(days=1)).isoformat()}, 422, "occurred_at"),
        ({"type": "call", "deal_id": str(uuid4())}, 404, "deal_id"),
        ({"type": "call", "rep_id": str(uuid4())}, 404, "rep_id"),
    ):
        problem = assert_problem(client.post(path, json=body), status)
        assert [e["field"] for e in problem["errors"]] == [field], problem
    assert_problem(client.post(f"/contacts/{uuid4()}/interactions", json={"type": "call"}), 404, "not-found")
    assert services.store.max_position() == before
    ok(client.post(f"/contacts/{person['id']}/forget", json={}), 200)
    assert_problem(client.post(path, json={"type": "call"}), 409, "contact-forgotten")


def test_a_sender_event_id_counts_once(client: TestClient, services: Services) -> None:
    person = contact(client)
    body = {"type": "email_opened", "event_id": "open-42"}
    first = client.post(f"/contacts/{person['id']}/interactions", json=body)
    assert first.status_code == 201
    before = services.store.max_position()
    again = client.post(f"/contacts/{person['id']}/interactions", json=body)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["version"] == first.json()["version"]
    assert services.store.max_position() == before


def test_a_batch_answers_each_item_and_one_bad_item_fails_no_other(client: TestClient, services: Services) -> None:
    jean = contact(client)
    anne = contact(client, "anne@example.com")
    items = [
        {"type": "page_visited", "email": "JEAN@example.com", "url": "https://example.com/", "event_id": "t-1"},
        {"type": "page_visited", "contact_id": anne["id"], "url": "https://example.com/pricing", "event_id": "t-2"},
        {"type": "page_visited", "email": "nobody@example.com", "url": "https://example.com/"},
        {"type": "quote_opened", "contact_id": anne["id"]},  # no quote_id
        {"type": "email_clicked", "contact_id": anne["id"], "email": "anne@example.com", "link": "x"},
        {"type": "page_visited", "contact_id": jean["id"], "url": "https://example.com/", "event_id": "t-1"},
        {"type": "teleport", "contact_id": jean["id"]},
        {"type": "call", "contact_id": str(uuid4())},
        {"type": "email_bounced", "contact_id": jean["id"], "bounce": "hard", "event_id": "t-3"},
    ]
    answer = ok(client.post("/interactions:batch", json={"items": items}), 200)
    statuses = [(r["index"], r["status"]) for r in answer["results"]]
    assert statuses == [(0, "accepted"), (1, "accepted"), (2, "error"), (3, "error"), (4, "error"), (5, "duplicate"),
                        (6, "error"), (7, "error"), (8, "accepted")]
    errors = {r["index"]: r["error"] for r in answer["results"] if r["status"] == "error"}
    assert errors[2]["status"] == 404 and errors[2]["field"] == "items[2].email"
    assert errors[3]["status"] == 422 and errors[3]["errors"][0]["field"] == "items[3].quote_id"
    assert errors[4]["status"] == 422
    assert errors[6]["errors"][0]["field"] == "items[6].type"
    assert errors[7]["status"] == 404 and errors[7]["field"] == "items[7].contact_id"
    assert answer["results"][0]["id"] == jean["id"] and answer["results"][5]["id"] == jean["id"]
    assert (answer["accepted"], answer["duplicates"], answer["errors"]) == (3, 1, 5)
    position = services.store.max_position()
    assert read(client, f"/contacts/{jean['id']}", position)["email_invalid"] is True
    assert read(client, f"/contacts/{anne['id']}", position)["page_visits"] == 1

    again = ok(client.post("/interactions:batch", json={"items": items}), 200)  # a re-sent batch
    assert [r["status"] for r in again["results"] if r["index"] in (0, 1, 8)] == ["duplicate"] * 3
    assert services.store.max_position() == position


@pytest.mark.parametrize("kind", [{}, ["call"], 7])
def test_a_batch_items_type_sent_as_any_other_json_is_that_items_error(client: TestClient, kind: object) -> None:
    jean = contact(client)
    answer = ok(client.post("/interactions:batch", json={"items": [{"type": kind, "contact_id": jean["id"]}]}), 200)
    [result] = answer["results"]
    assert result["status"] == "error" and result["error"]["errors"][0]["field"] == "items[0].type"


def test_a_batch_with_an_idempotency_key_answers_the_same_again(client: TestClient, services: Services) -> None:
    person = contact(client)
    body = {"items": [{"type": "email_opened", "contact_id": person["id"]}, {"type": "call", "contact_id": "nope"}]}
    headers = {"Idempotency-Key": "feed-2026-03-01"}
    first = ok(client.post("/interactions:batch", json=body, headers=headers), 200)
    position = services.store.max_position()
    assert ok(client.post("/interactions:batch", json=body, headers=headers), 200) == first
    assert services.store.max_position() == position
    other = {"items": [{"type": "email_opened", "contact_id": person["id"], "message_id": "m"}]}
    assert_problem(client.post("/interactions:batch", json=other, headers=headers), 422, "idempotency-key-reused")


def test_a_batch_is_bounded(client: TestClient) -> None:
    too_many = {"items": [{"type": "email_opened", "email": "a@example.com"}] * 10_001}
    problem = assert_problem(client.post("/interactions:batch", json=too_many), 422)
    assert problem["errors"][0]["field"] == "items"
    assert_problem(client.post("/interactions:batch", json={"items": []}), 422)


def test_a_batch_records_each_type_as_the_single_route_does(client: TestClient) -> None:
    """The batch reads its body in one pass (batch_body.py), the single route as FastAPI
    does: the events are the same, field for field."""
    alone, batched = contact(client), contact(client, "anne@example.com")
    rep = ok(client.post("/reps", json={"name": "Rob", "email": "rob@example.com"}))
    common = {"occurred_at": (NOW - timedelta(hours=1)).isoformat(), "rep_id": rep["id"]}
    for type, fields in EXAMPLES.items():
        last = interact(client, alone["id"], type, **common, **fields)
    items = [{"type": type, "contact_id": batched["id"], **common, **fields} for type, fields in EXAMPLES.items()]
    answer = ok(client.post("/interactions:batch", json={"items": items}), 200)
    assert answer["accepted"] == len(EXAMPLES)

    def recorded(person: dict[str, Any]) -> list[tuple[str, Any]]:
        timeline = everything(client, f"/contacts/{person['id']}/timeline", last["position"])
        return [(i["type"], i["data"]) for i in timeline if i["type"] != "contact_registered"]

    assert len(recorded(alone)) == len(EXAMPLES) and recorded(batched) == recorded(alone)


def test_a_batch_body_gets_the_json_guards_answers(client: TestClient, untouched: None) -> None:
    """The middleware leaves this route's JSON bodies to the route, which checks them in
    its one parse: the answers are the guard's, and nothing is written."""
    note = b'{"type": "note", "contact_id": "%s", ' % str(uuid4()).encode()
    cases = [
        (note + b'"text": "a", "text": "b"}', 400, "duplicate-key", None),
        (note + b'"text": "a", "t\\u0065xt": "b"}', 400, "duplicate-key", None),
        (note + b'"text": "a\\u0000b"}', 422, "invalid-field", "items[1].text"),
        (note + b'"text": "\\ud800"}', 422, "invalid-field", "items[1].text"),
        (note + b'"text": "a", "k": 9223372036854775808}', 422, "invalid-field", "items[1].k"),
        (note + b'"text": "a", "k": NaN}', 400, "malformed-json", None),
        (note + b'"text": "a", "k": ' + b"[" * 62 + b"]" * 62 + b"}", 400, "json-too-deep", None),
        (note + b'"text": "\xff"}', 400, "malformed-json", None),
    ]
    for item, status, rule, field in cases:
        body = b'{"items": [{"type": "email_opened", "email": "jean@example.com"}, ' + item + b"]}"
        problem = assert_problem(client.post("/interactions:batch", content=body, headers=JSON), status, rule)
        if field:
            assert [e["field"] for e in problem["errors"]] == [field], body


def test_the_batch_body_is_documented(client: TestClient) -> None:
    operation = ok(client.get("/openapi.json"), 200)["paths"]["/interactions:batch"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema["title"] == "BatchIn" and schema["required"] == ["items"]
    assert (schema["properties"]["items"]["minItems"], schema["properties"]["items"]["maxItems"]) == (1, 10_000)


def test_the_feed_shows_what_matters_newest_first(client: TestClient) -> None:
    person = contact(client)
    sale = deal(client, pipeline(client)["id"])
    interact(client, person["id"], "call")  # not news
    interact(client, person["id"], "meeting_missed")
    moved = ok(client.post(f"/deals/{sale['id']}/stage", json={"stage": "Demo"}), 200)
    won = ok(client.post(f"/deals/{sale['id']}/won", json={}), 200)
    feed = read(client, "/feed", won["position"])["items"]
    assert [i["type"] for i in feed] == ["deal_won", "deal_stage_changed", "meeting_missed", "deal_opened",
                                        "contact_registered"]
    assert feed[1]["position"] == moved["position"] and feed[1]["record_id"] == sale["id"]
    assert feed[2]["title"] == "Jean Dupont" and feed[0]["title"] == "Fleet renewal"


def test_a_full_batch_fits_in_one_request(client: TestClient, services: Services) -> None:
    person = contact(client)
    items = [{"type": "page_visited", "contact_id": person["id"], "url": f"https://example.com/docs/page-{i}",
              "title": "Documentation, chapter and section " + "x" * 60, "referrer": "https://search.example/?q=crm",
              "event_id": f"visit-{i:05}"} for i in range(10_000)]
    answer = ok(client.post("/interactions:batch", json={"items": items}), 200)
    assert answer["accepted"] == 10_000
    assert read(client, f"/contacts/{person['id']}", services.store.max_position())["page_visits"] == 10_000
    assert_problem(client.post("/contacts", json={"first_name": "x" * 1_100_000}), 413, "body-too-large")


def test_a_contact_forgotten_while_a_batch_is_decided_fails_only_its_items(client: TestClient, services: Services,
                                                                         clock: FrozenClock) -> None:
    jean, anne = contact(client), contact(client, "anne@example.com")
    # The key goes first when a person is forgotten; the event follows: a batch may fall between.
    services.store.keys.forget(jean["id"], clock.now())
    items = [{"type": "note", "contact_id": jean["id"], "text": "about Jean"},
             {"type": "note", "contact_id": anne["id"], "text": "about Anne"}]
    answer = ok(client.post("/interactions:batch", json={"items": items}), 200)
    assert [r["status"] for r in answer["results"]] == ["error", "accepted"]
    assert answer["results"][0]["error"]["rule"] == "contact-forgotten"
