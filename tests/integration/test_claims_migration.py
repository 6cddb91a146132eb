"""A store from before claim digests (its claims in clear, no claims secret) is migrated
once, when it is opened, on SQLite and PostgreSQL: every claim becomes its digest, every
uniqueness holds; two stores opening it at once (each with its own connections, as two processes
have) agree on one secret and rehash once."""

from __future__ import annotations

import threading
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError

from crm_es.aggregates import company as companies
from crm_es.aggregates.base import Meta
from crm_es.aggregates.company import CompanyDetails
from crm_es.bootstrap import Services
from crm_es.store import Claim, EventStore, claims
from crm_es.store.keys import CLAIMS_SECRET
from tests.integration.raw_store import (
    claim_rows,
    execute,
    pg_relation_bytes,
    side_table,
    sqlite_bytes,
)

OLD_CLAIMS = {
    **{("contact-email", f"old.person{i}@before-digests.example"): uuid4() for i in range(7)},
    ("interaction-event", "open-by-old.person1@before-digests.example"): uuid4(),
    ("imported-deal", "LEGACY-0042"): uuid4(),
}


def as_before_digests(services: Services) -> None:
    """The store as a version from before kept it: no secret, the values in clear."""
    settings = services.settings
    execute(settings, f"DELETE FROM {side_table(settings, 'subject_keys')} WHERE subject_id = ?", (CLAIMS_SECRET,))
    execute(settings, f"DELETE FROM {side_table(settings, 'unique_claims')}")
    for (scope, value), owner in OLD_CLAIMS.items():
        execute(settings, f"INSERT INTO {side_table(settings, 'unique_claims')} VALUES (?, ?, ?)", (scope, value, str(owner)))


def open_at_once(env: dict[str, str], count: int) -> list[EventStore]:
    """``count`` stores opened by threads released together (each its own connections)."""
    start, opened, failed = threading.Barrier(count), [], []

    def open_one() -> None:
        start.wait()
        try:
            opened.append(EventStore(env))
        except Exception as error:  # noqa: BLE001 - shown by the assertion below
            failed.append(error)

    threads = [threading.Thread(target=open_one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failed, failed
    return opened


def a_company(clock) -> tuple[UUID, list]:
    now = clock.now()
    events = companies.register(uuid4(), CompanyDetails("Twin"), Meta(now, now, "test", "req-1"))
    return events[0].originator_id, events


def test_clear_claims_become_digests_once_and_keep_every_uniqueness(services: Services, clock, monkeypatch) -> None:
    monkeypatch.setattr(claims, "REHASH_PAGE", 3)  # several pages of claims
    as_before_digests(services)
    assert claim_rows(services.settings) == sorted((scope, value, str(owner)) for (scope, value), owner in OLD_CLAIMS.items())

    first, second = open_at_once(services.store.env, 2)
    try:
        assert first.claim_digests.secret == second.claim_digests.secret
        secret = first.claim_digests.secret
        keys_table = side_table(services.settings, "subject_keys")
        assert execute(services.settings, f"SELECT count(*) FROM {keys_table} WHERE subject_id = ?", (CLAIMS_SECRET,)) == [(1,)]
        digested = claim_rows(services.settings)
        assert digested == sorted((scope, claims.digest(secret, scope, value), str(owner))
                                  for (scope, value), owner in OLD_CLAIMS.items())

        for store in (first, second):
            for (scope, value), owner in OLD_CLAIMS.items():
                assert store.claim_owner(scope, value) == str(owner)
            emails = [value for scope, value in OLD_CLAIMS if scope == "contact-email"]
            assert store.claim_owners("contact-email", [*emails, "never@claimed.example"]) == {
                value: str(OLD_CLAIMS[("contact-email", value)]) for value in emails}

        twin_id, twin = a_company(clock)
        with pytest.raises(IntegrityError):
            first.save(twin, claims=[Claim("contact-email", "old.person3@before-digests.example", twin_id)])
        assert first.events(twin_id) == []
        first.save(twin, claims=[Claim("contact-email", "new.person@after-digests.example", twin_id)])
        assert second.claim_owner("contact-email", "new.person@after-digests.example") == str(twin_id)

        reopened = EventStore(services.store.env)  # migrated already: nothing is rehashed again
        assert reopened.claim_digests.secret == secret
        assert reopened.claim_owner("imported-deal", "LEGACY-0042") == str(OLD_CLAIMS[("imported-deal", "LEGACY-0042")])
        reopened.close()
    finally:
        first.close()
        second.close()

    # The clear rows went with the old table: no page of the store holds them.
    settings = services.settings
    if settings.database_url is None:
        stored, how = sqlite_bytes(settings), "the SQLite file and its WAL"
    else:
        stored, how = pg_relation_bytes(settings, side_table(settings, "unique_claims"))
        if stored is None:
            pytest.skip(f"the claims were migrated; their pages could not be read: {how}")
    assert all(value.encode() in stored for _, value, _ in digested), f"not the claims' pages: {how}"
    assert [value for _, value in OLD_CLAIMS if value.encode() in stored] == [], how
