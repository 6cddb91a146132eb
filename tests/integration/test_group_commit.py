"""Group commit (store/group_commit.py), on both stores: saves that arrive while another
is being written share the next transaction, and each keeps its own checks and its own
answer — one refused (a version taken by its twin, an Idempotency-Key already kept, a
policy's place moved) is rolled back alone, the others land, and the hash chain holds."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import psycopg
import pytest

from crm_es.aggregates import Company
from crm_es.aggregates import company as companies
from crm_es.aggregates.company import CompanyDetails
from crm_es.audit.verify import verify_store
from crm_es.bootstrap import Services
from crm_es.commands import execute
from crm_es.commands.records import RegisterCompany, register_company
from crm_es.settings import Settings
from crm_es.store.event_store import IdempotencyRecord, IntegrityError, Tracking
from crm_es.store.group_commit import GroupCommit
from crm_es.store.values import Appended, Write

from tests.integration.raw_store import PG_PREFIX


@contextmanager
def write_lock_held(settings: Settings) -> Iterator[None]:
    """The store's write lock taken by another connection, as another process's long save
    would: the service's saves wait behind it."""
    if settings.database_url is None:
        import sqlite3

        conn = sqlite3.connect(settings.store_path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.rollback()
            conn.close()
        return
    with psycopg.connect(settings.database_url) as conn:
        conn.execute(f'LOCK TABLE "{settings.postgres_schema}".{PG_PREFIX} IN EXCLUSIVE MODE')
        yield
        conn.rollback()


def saves_at_once(services: Services, saves: list[Callable[[], Any]]) -> list[Any]:
    """Run the saves in threads while the write lock is held elsewhere, so that the first
    leads a group of one (waiting for the lock) and all the others queue, in the order
    given, for the next group; each save's answer, or the exception it raised."""
    group = services.store.group_commit
    answers: list[Any] = [None] * len(saves)

    def run(index: int) -> None:
        try:
            answers[index] = saves[index]()
        except Exception as error:  # noqa: BLE001 — the answer under test
            answers[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(saves))]
    with write_lock_held(services.settings):
        threads[0].start()
        _until(lambda: group._leading)
        for queued, thread in enumerate(threads[1:], start=1):  # one by one: the group's order is theirs
            thread.start()
            _until(lambda: len(group._queue) == queued)
    for thread in threads:
        thread.join(timeout=30)
    return answers


def _until(condition: Callable[[], bool]) -> None:
    for _ in range(3000):
        if condition():
            return
        threading.Event().wait(0.005)
    raise AssertionError("the saves never lined up")


def registered(services: Services, name: str) -> UUID:
    return execute(register_company, RegisterCompany(CompanyDetails(name)), services.context()).id


def renamed(services: Services, company_id: UUID, name: str, **save: Any) -> Callable[[], int | None]:
    """A save of a rename decided now, on the company as it stands now."""
    company = services.store.load(Company, company_id)
    events = companies.change(company, {"name": name}, services.context().meta())
    return lambda: services.store.save(events, **save)


def test_saves_arriving_together_share_one_transaction_and_each_lands(services: Services) -> None:
    ids = [registered(services, f"Company {i}") for i in range(6)]
    group = services.store.group_commit
    before = (group.transactions, group.writes)

    answers = saves_at_once(services, [renamed(services, company_id, f"Renamed {i}") for i, company_id in enumerate(ids)])

    assert all(isinstance(answer, int) for answer in answers), answers
    assert len(set(answers)) == 6
    # The first alone (it waited for the lock), the five queued meanwhile in one more.
    assert (group.transactions - before[0], group.writes - before[1]) == (2, 6)
    assert [services.store.load(Company, i).details.name for i in ids] == [f"Renamed {i}" for i in range(6)]
    assert verify_store(services.store).ok


def test_a_twin_refused_in_a_group_is_rolled_back_alone(services: Services) -> None:
    """Two saves decided on the same version of one record, with other saves between
    them in one transaction: the first wins; the twin gets IntegrityError and writes
    nothing — not its event, not its Idempotency-Key's answer — and the others land."""
    first, twin_target, last = (registered(services, name) for name in ("Alpha", "Beta", "Gamma"))
    key = IdempotencyRecord("test", "twin-key", "fingerprint", 201, "{}")
    saves = [
        renamed(services, first, "Alpha 2"),  # leads alone
        renamed(services, twin_target, "Beta by the first"),
        renamed(services, twin_target, "Beta by the twin", idempotency=key),
        renamed(services, last, "Gamma 2"),
    ]
    answers = saves_at_once(services, saves)

    assert isinstance(answers[0], int) and isinstance(answers[1], int) and isinstance(answers[3], int)
    assert isinstance(answers[2], IntegrityError)
    assert services.store.load(Company, twin_target).details.name == "Beta by the first"
    assert services.store.load(Company, last).details.name == "Gamma 2"
    assert services.store.find_idempotency("test", "twin-key") is None
    assert answers[3] > answers[1]  # the chain and the positions went on after the refused one
    assert verify_store(services.store).ok


def test_a_policy_place_moved_meanwhile_fails_only_its_own_write(services: Services) -> None:
    company_id, other = registered(services, "Initech"), registered(services, "Hooli")
    head = services.store.max_position()
    services.store.tracked_position("group-commit-test")  # the policy's place starts at the log's end
    saves = [
        renamed(services, other, "Hooli 2"),
        lambda: services.store.save((), tracking=Tracking("group-commit-test", head, head + 1)),
        lambda: services.store.save((), tracking=Tracking("group-commit-test", head, head + 2)),  # read the same place
        renamed(services, company_id, "Initech 2"),
    ]
    answers = saves_at_once(services, saves)

    assert answers[1] is None and isinstance(answers[2], IntegrityError)
    assert services.store.tracked_position("group-commit-test") == head + 1
    assert services.store.load(Company, company_id).details.name == "Initech 2"
    assert verify_store(services.store).ok


def test_a_command_changing_nothing_keeps_its_answer_at_the_end_of_what_its_group_wrote(services: Services) -> None:
    company_id, other = registered(services, "Acme"), registered(services, "Vandelay")
    key = IdempotencyRecord("test", "nothing-changed", "fingerprint", 200, "{}")
    saves = [
        renamed(services, company_id, "Acme 2"),
        renamed(services, other, "Vandelay 2"),
        lambda: services.store.save((), idempotency=key),
    ]
    answers = saves_at_once(services, saves)

    kept = services.store.find_idempotency("test", "nothing-changed")
    assert kept is not None and kept[3] == answers[1]  # the log's end when it was written


# --- the coordination alone, at the border it owns: what the recorder answers ---------


def test_a_failed_transaction_is_every_waiting_saves_answer() -> None:
    release = threading.Event()
    calls: list[int] = []

    def write_group(writes: Any) -> list[Appended | Exception]:
        calls.append(len(writes))
        if len(calls) == 1:
            release.wait(10)
            return [Appended([1], {})]
        raise OSError("the disk is full")

    group = GroupCommit(write_group)
    answers: list[Any] = []

    def save() -> None:
        try:
            answers.append(group.write(Write(())))
        except OSError as error:
            answers.append(error)

    first = threading.Thread(target=save)
    first.start()
    _until(lambda: group._leading)
    others = [threading.Thread(target=save) for _ in range(3)]
    for thread in others:
        thread.start()
    _until(lambda: len(group._queue) == 3)
    release.set()
    for thread in [first, *others]:
        thread.join(timeout=10)

    assert calls == [1, 3]
    assert sorted(type(answer).__name__ for answer in answers) == ["Appended", "OSError", "OSError", "OSError"]
    assert (group.transactions, group.writes) == (2, 4)


@pytest.mark.parametrize("most", [1, 2])
def test_a_group_holds_at_most_its_limit_and_the_rest_wait_for_the_next(most: int) -> None:
    release = threading.Event()
    sizes: list[int] = []

    def write_group(writes: Any) -> list[Appended | Exception]:
        sizes.append(len(writes))
        release.wait(10)
        return [Appended([n], {}) for n in range(len(writes))]

    group = GroupCommit(write_group, most=most)
    threads = [threading.Thread(target=lambda: group.write(Write(()))) for _ in range(5)]
    threads[0].start()
    _until(lambda: group._leading)
    for thread in threads[1:]:
        thread.start()
    _until(lambda: len(group._queue) == 4)
    release.set()
    for thread in threads:
        thread.join(timeout=10)

    assert sizes[0] == 1 and sum(sizes) == 5 and max(sizes) <= most
