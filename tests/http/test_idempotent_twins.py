"""Twins: several clients sending one request with one Idempotency-Key at the same moment
(a client's retry racing its first try, a proxy doubling a request). Through HTTP on both
stores, with real concurrency (the app's worker threads): one of them does the work, every
other hears its answer byte for byte (status, body, ETag, Location), and the work is
written once — even when the twins' own checks, run after the first one's commit, would
have refused (an e-mail already claimed, a stale If-Match, an event_id already sent)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from helpers import deal, ok, pipeline

from crm_es.bootstrap import Services
from crm_es.commands.imports import first_answer, remember_answer

TWINS = 8
ROUNDS = 6

Request = tuple[str, str, dict[str, Any]]  # method, path, JSON body


def twins(client: TestClient, request: Request, key: str, **headers: str) -> list[Any]:
    """The request sent by TWINS threads at once, with one Idempotency-Key."""
    method, path, body = request
    return at_once(lambda: client.request(method, path, json=body, headers={"Idempotency-Key": key, **headers}))


def at_once(send: Callable[[], Any]) -> list[Any]:
    """``send()`` called by TWINS threads released together; their answers."""
    start = threading.Barrier(TWINS)
    answers: list[Any] = [None] * TWINS

    def twin(i: int) -> None:
        start.wait()
        answers[i] = send()

    threads = [threading.Thread(target=twin, args=(i,)) for i in range(TWINS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive()
    return answers


def heard(response: Any) -> tuple[Any, ...]:
    """What a client hears: all but the replay marker (and per-request ids)."""
    return (response.status_code, response.headers.get("content-type"), response.headers.get("ETag"),
            response.headers.get("Location"), response.content)


def assert_one_answer(answers: list[Any], status: int, replays_marked: bool = True) -> Any:
    """Every twin heard the same answer, the expected one, and exactly one of them was not
    a replay (where the route marks replays: a batch's answer does not)."""
    said = {heard(a) for a in answers}
    assert len(said) == 1, "\n".join(f"{a.status_code} {a.text[:200]}" for a in answers)
    first = answers[0]
    assert first.status_code == status, first.text
    fresh = [a for a in answers if a.headers.get("Idempotent-Replayed") != "true"]
    assert len(fresh) == 1 or not replays_marked, f"{len(fresh)} twins did the work"
    return first.json()


def rounds(client: TestClient, services: Services, setup: Callable[[int], tuple[Request, dict[str, str]]],
           status: int, written: Callable[[dict[str, Any]], int], replays_marked: bool = True) -> None:
    """ROUNDS times: a fresh request sent by TWINS twins; ``written(answer)``: the events
    the one request wrote (the log must have grown by exactly that)."""
    for n in range(ROUNDS):
        request, headers = setup(n)
        before = services.store.max_position()
        answer = assert_one_answer(twins(client, request, f"twin-{n}", **headers), status, replays_marked)
        assert services.store.max_position() - before == written(answer) > 0


def contact(client: TestClient, email: str) -> str:
    return ok(client.post("/contacts", json={"first_name": "Jean", "last_name": "Dupont", "email": email}))["id"]


@pytest.fixture
def deals(client: TestClient) -> str:
    return pipeline(client)["id"]


def test_twins_creating_a_contact_with_one_email_all_hear_the_201(client: TestClient, services: Services) -> None:
    def setup(n: int) -> tuple[Request, dict[str, str]]:
        return ("POST", "/contacts", {"first_name": "Ada", "last_name": "Lovelace", "email": f"ada{n}@example.com"}), {}

    rounds(client, services, setup, 201, lambda answer: len(services.store.events(UUID(answer["id"]))))


def test_twins_moving_a_deal_with_if_match_all_hear_the_200(client: TestClient, services: Services, deals: str) -> None:
    def setup(n: int) -> tuple[Request, dict[str, str]]:
        made = deal(client, deals)
        return ("POST", f"/deals/{made['id']}/stage", {"stage": "Demo"}), {"If-Match": f'"{made["version"]}"'}

    rounds(client, services, setup, 200, lambda answer: answer["version"] - 1)


def test_twins_logging_an_interaction_all_hear_the_201(client: TestClient, services: Services, deals: str) -> None:
    def setup(n: int) -> tuple[Request, dict[str, str]]:
        contact_id = contact(client, f"jean{n}@example.com")
        body = {"type": "call", "duration_seconds": 90, "event_id": f"call-{n}", "deal_id": deal(client, deals)["id"]}
        return ("POST", f"/contacts/{contact_id}/interactions", body), {}

    rounds(client, services, setup, 201, lambda _: 2)  # on the contact, mirrored on the deal


def test_twins_sending_a_batch_all_hear_its_answers(client: TestClient, services: Services) -> None:
    def setup(n: int) -> tuple[Request, dict[str, str]]:
        ids = [contact(client, f"p{n}.{i}@example.com") for i in range(3)]
        items = [
            *({"type": "page_visited", "contact_id": c, "url": "https://example.com/pricing", "event_id": f"v-{n}-{i}"}
              for i, c in enumerate(ids)),
            {"type": "email_opened", "email": f"p{n}.0@example.com", "message_id": "<m@x>"},  # no event_id
            {"type": "note", "email": "nobody@example.com", "text": "who?"},  # an item in error
        ]
        return ("POST", "/interactions:batch", {"items": items}), {}

    def written(answer: dict[str, Any]) -> int:
        assert (answer["accepted"], answer["errors"]) == (4, 1)
        return 4

    rounds(client, services, setup, 200, written, replays_marked=False)


def test_twins_refused_all_hear_the_same_refusal(client: TestClient, services: Services, deals: str) -> None:
    """The first answer may be a "no": the twins hear that one, not a "no" of their own."""
    for n in range(ROUNDS):
        made = deal(client, deals)
        ok(client.post(f"/deals/{made['id']}/lost", json={"reason": "price"}), 200)
        before = services.store.max_position()
        answers = twins(client, ("POST", f"/deals/{made['id']}/stage", {"stage": "Demo"}), f"refused-{n}")
        assert len({heard(a) for a in answers}) == 1, [a.text for a in answers]
        assert answers[0].status_code == 409
        assert services.store.max_position() == before


def test_twins_importing_one_file_all_hear_its_report(client: TestClient, services: Services) -> None:
    """An import is long: a client's retry easily races its first try."""
    for n in range(3):
        rows = "".join(f"i{n}.{i}@example.com,Ann,Lee{i}\n" for i in range(20))
        upload = {"file": ("c.csv", f"email,first_name,last_name\n{rows}".encode(), "text/csv")}
        before = services.store.max_position()
        key = {"Idempotency-Key": f"import-{n}"}
        answers = at_once(lambda upload=upload, key=key: client.post("/imports/contacts", files=upload, headers=key))
        report = assert_one_answer(answers, 200)
        assert report["counts"]["imported"] == 20
        registered = {row["id"] for row in report["rows"]}
        assert services.store.max_position() - before == sum(len(services.store.events(UUID(i))) for i in registered)


def test_an_import_kept_by_another_process_first_is_the_answer(services: Services) -> None:
    """Across processes no lock holds twins apart: the report kept first is everyone's."""
    ctx = services.context(idempotency_key="import-x", fingerprint="the upload")
    assert remember_answer(ctx, {"rows": ["first"]}) is None
    assert remember_answer(ctx, {"rows": ["second"]}) == {"rows": ["first"]}
    assert first_answer(ctx) == {"rows": ["first"]}
