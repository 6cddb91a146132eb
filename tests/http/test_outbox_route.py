"""GET /outbox (SQLite and PostgreSQL): the messages' delivery states, newest first, paged
and counted — and never to whom or what they said."""

from __future__ import annotations

from uuid import UUID, uuid4

from helpers import assert_problem, ok

from crm_es.aggregates import message as messages
from crm_es.aggregates.base import Meta
from crm_es.aggregates.message import Message, utc_text

ADDRESS, TEXT = "ines.martin@example.com", "Your quote is ready"


def queue(services, clock, contact_id: UUID | None = None, message_id: UUID | None = None) -> str:
    message_id = message_id or uuid4()
    meta = Meta(clock.now(), clock.now(), "policy:quote-ready", "req-1")
    events, row = messages.queue(message_id, "email", ADDRESS, TEXT, "quote-ready", meta, contact_id=contact_id,
                                 subject="Quote")
    services.store.save(events, outbox=[row])
    return str(message_id)


def save(services, decision) -> None:
    events, row = decision
    services.store.save(events, outbox=[row])


def message(services, delivery_id: str) -> Message:
    return services.store.load(Message, UUID(delivery_id))


def test_the_outbox_lists_delivery_states_newest_first_with_counts(client, services, clock) -> None:
    contact = uuid4()
    first = queue(services, clock, contact)
    clock.advance(minutes=1)
    second = queue(services, clock, contact)
    clock.advance(minutes=1)
    third = queue(services, clock)
    meta = Meta(clock.now(), clock.now(), "outbox", "req-1")
    save(services, messages.sent(message(services, first), meta))
    save(services, messages.failed(message(services, second), f"SMTP server refused <{ADDRESS}>", 8, meta))

    answer = ok(client.get("/outbox"), 200)
    assert [item["delivery_id"] for item in answer["items"]] == [third, second, first]
    assert answer["counts"] == {"pending": 1, "sent": 1, "failed": 1, "dead": 0, "cancelled": 0, "held": 0}
    assert answer["next_cursor"] is None
    by_id = {item["delivery_id"]: item for item in answer["items"]}
    assert by_id[first] == {
        "delivery_id": first, "policy": "quote-ready", "channel": "email", "contact_id": str(contact), "status": "sent",
        "attempts": 1, "next_attempt_at": utc_text(clock.now()), "last_error": None,
        "created_at": "2026-03-01T09:00:00.000000+00:00", "sent_at": utc_text(clock.now()),
    }
    assert (by_id[second]["status"], by_id[second]["attempts"]) == ("failed", 1)
    assert by_id[second]["last_error"] == "SMTP server refused <<recipient>>"
    assert by_id[third]["contact_id"] is None
    # Delivery states only: the address and the text are the person's.
    response = client.get("/outbox")
    assert ADDRESS not in response.text and TEXT not in response.text and "Quote" not in response.text

    failed = ok(client.get("/outbox?status=failed"), 200)
    assert [item["delivery_id"] for item in failed["items"]] == [second]
    assert failed["counts"]["pending"] == 1, "the counts are of the whole outbox"


def test_pages_follow_each_other_even_through_messages_queued_at_the_same_time(client, services, clock) -> None:
    queued = {queue(services, clock) for _ in range(4)}  # one instant: ordered by delivery id
    clock.advance(seconds=1)
    newest = queue(services, clock)

    seen, cursor, pages = [], None, 0
    while True:
        page = ok(client.get("/outbox", params={"limit": 2, **({"cursor": cursor} if cursor else {})}), 200)
        seen += [item["delivery_id"] for item in page["items"]]
        pages += 1
        if not (cursor := page["next_cursor"]):
            break
    assert pages == 3 and len(seen) == 5
    assert seen[0] == newest and set(seen[1:]) == queued and seen[1:] == sorted(queued, reverse=True)


def test_bad_parameters_are_problems_naming_the_field(client) -> None:
    bad_cursor = assert_problem(client.get("/outbox?cursor=not-one-of-ours"), 422)
    assert bad_cursor["errors"][0]["field"] == "query.cursor"
    bad_status = assert_problem(client.get("/outbox?status=lost"), 422)
    assert bad_status["errors"][0]["field"] == "query.status"
    assert_problem(client.get("/outbox?limit=0"), 422)
