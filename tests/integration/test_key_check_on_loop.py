"""Each request's key check, read on the event loop (store/loop_reads.py), answers as the
key table does — a key revoked by another process is refused at the next request — and
neither it nor a command's subject keys wait behind writers queued on the store's pool."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from crm_es.auth.api_keys import ApiKeys
from crm_es.auth.roles import Role
from crm_es.bootstrap import service
from crm_es.store.pools import REQUEST_THREADS


def _on_loop(api_keys: ApiKeys, tokens: list[str]) -> list[object]:
    async def check() -> list[object]:
        await api_keys.tables.open_loop_reads()
        try:
            return [await api_keys.authenticate_on_loop(token) for token in tokens]
        finally:
            await api_keys.tables.close_loop_reads()

    return asyncio.run(check())


def test_the_check_on_the_loop_answers_as_the_table_does(services):
    kept, kept_token = services.api_keys.create(Role.ANALYST, name="kept")
    gone, gone_token = services.api_keys.create(Role.AUDITOR, name="gone")
    services.api_keys.revoke(gone.id)
    tokens = [kept_token, gone_token, kept_token[:-1] + ("A" if kept_token[-1] != "A" else "B"),
              f"crm_{kept.id}", "crm_ffffffffffff_secret", "not a key", ""]
    assert _on_loop(services.api_keys, tokens) == [services.api_keys.authenticate(t) for t in tokens]
    assert _on_loop(services.api_keys, [kept_token]) == [kept]


def test_a_key_revoked_by_another_process_is_refused_at_the_next_check(services, settings, clock):
    key, token = services.api_keys.create(Role.ADMIN)

    async def before_and_after() -> tuple[object, object]:
        await services.api_keys.tables.open_loop_reads()
        try:
            before = await services.api_keys.authenticate_on_loop(token)
            with service(settings, clock=clock) as elsewhere:  # its own connections, as `crm-es keys revoke` has
                elsewhere.api_keys.revoke(key.id)
            return before, await services.api_keys.authenticate_on_loop(token)
        finally:
            await services.api_keys.tables.close_loop_reads()

    assert asyncio.run(before_and_after()) == (key, None)


@contextmanager
def writers_queued(pool) -> Iterator[None]:
    """One writer holds the SQLite pool's write lock; a second waits for it — holding the
    pool's queue, where every other caller of the pool would wait behind it."""
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        conn = pool.get_connection(is_writer=True)
        holding.set()
        release.wait(30)
        pool.put_connection(conn)

    def queue() -> None:
        pool.put_connection(pool.get_connection(is_writer=True))

    threads = [threading.Thread(target=hold, daemon=True)]
    threads[0].start()
    assert holding.wait(10)
    threads.append(threading.Thread(target=queue, daemon=True))
    threads[1].start()
    time.sleep(0.1)  # the second writer is in the queue
    try:
        yield
    finally:
        release.set()
        for thread in threads:
            thread.join(10)


def _within(seconds: float, call):
    """``call()``'s answer, which must come within ``seconds`` (a queued writer holds the
    pool's other callers for its whole 5 s timeout)."""
    answer: list[object] = []
    thread = threading.Thread(target=lambda: answer.append(call()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert answer, f"still waiting after {seconds} s"
    return answer[0]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_an_authenticated_read_does_not_wait_behind_queued_writers(client, services):
    _, token = services.api_keys.create(Role.AUDITOR)
    with writers_queued(services.store.recorder.datastore.pool):
        answer = _within(2, lambda: client.get("/pipelines", headers={"Authorization": f"Bearer {token}"}))
    assert answer.status_code == 200


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_known_subjects_key_is_read_without_the_write_lock(services):
    subject = str(uuid.uuid4())
    made = services.store.keys.for_writing([subject])  # a new subject: its key is written
    with writers_queued(services.store.recorder.datastore.pool):
        assert _within(2, lambda: services.store.keys.for_writing([subject])) == made


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_as_many_readers_as_request_threads_reuse_their_connections(services):
    pool = services.store.recorder.datastore.pool
    created, errors = [], []
    make = pool._create_connection

    def counting():
        created.append(1)
        return make()

    pool._create_connection = counting
    def read(barrier: threading.Barrier) -> None:  # every thread holds a connection at the same time
        try:
            conn = pool.get_connection(is_writer=False)
            try:
                barrier.wait(10)
            finally:
                pool.put_connection(conn)
        except Exception as error:
            errors.append(error)

    def a_round() -> int:
        barrier = threading.Barrier(REQUEST_THREADS)
        threads = [threading.Thread(target=read, args=(barrier,)) for _ in range(REQUEST_THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        return len(created)

    first = a_round()
    assert not errors and 0 < first <= REQUEST_THREADS
    assert a_round() == first and not errors  # the second round opened none: every connection went back to the pool


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_writers_take_turns_and_readers_pass_them(services):
    pool = services.store.recorder.datastore.pool
    first = pool.get_connection(is_writer=True)
    second: list[object] = []
    waiting = threading.Thread(target=lambda: second.append(pool.get_connection(is_writer=True)), daemon=True)
    waiting.start()
    time.sleep(0.1)
    reader = _within(1, lambda: pool.get_connection(is_writer=False))  # not behind the queued writer
    pool.put_connection(reader)
    assert not second  # the second writer waits for the first
    pool.put_connection(first)
    waiting.join(5)
    assert second  # …and writes once the first is done
    pool.put_connection(second[0])


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_when_its_own_connection_fails_the_check_is_answered_by_the_pool(services, tmp_path):
    import sqlite3

    key, token = services.api_keys.create(Role.ADMIN)

    async def check() -> object:
        await services.api_keys.tables.open_loop_reads()
        reads = services.api_keys.tables._loop_reads
        reads._connection.close()
        reads._connection = sqlite3.connect(tmp_path / "not-the-store.sqlite3", check_same_thread=False)  # no such table
        try:
            return await services.api_keys.authenticate_on_loop(token)
        finally:
            await services.api_keys.tables.close_loop_reads()

    assert asyncio.run(check()) == key
