"""API keys in the event store's database (SQLite and PostgreSQL): made once, kept
hashed, revocable; open development mode never comes back once a key exists."""

from __future__ import annotations

import uuid

import pytest

from crm_es.auth.api_keys import ApiKeys, KeyRefused
from crm_es.auth.roles import Role
from crm_es.commands import execute
from crm_es.commands.people import AddRep, add_rep


def _rep(services) -> uuid.UUID:
    return execute(add_rep, AddRep("Alice", "alice@example.com"), services.context()).id


def test_a_key_is_found_by_its_token_and_carries_its_role_and_rep(services):
    rep_id = _rep(services)
    key, token = services.api_keys.create(Role.REP, rep_id, "Alice's phone")
    found = services.api_keys.authenticate(token)
    assert found == key and found.principal.role is Role.REP and found.principal.rep_id == rep_id
    assert token.startswith(f"crm_{key.id}_")


def test_a_wrong_secret_a_stranger_and_a_revoked_key_are_not_found(services):
    key, token = services.api_keys.create(Role.AUDITOR)
    assert services.api_keys.authenticate(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert services.api_keys.authenticate(f"crm_{key.id}") is None
    assert services.api_keys.authenticate("crm_ffffffffffff_secret") is None
    assert services.api_keys.authenticate("no key at all") is None
    revoked = services.api_keys.revoke(key.id)
    assert revoked.revoked_at is not None and services.api_keys.authenticate(token) is None
    assert services.api_keys.revoke(key.id) == revoked  # revoking again changes nothing
    assert services.api_keys.revoke("unknown") is None


def test_only_the_hash_of_the_secret_is_stored(services):
    _, token = services.api_keys.create(Role.ADMIN)
    secret = token.split("_", 2)[2]  # crm_<id>_<secret>; the secret may hold "_" itself
    rows = services.api_keys.tables.read("SELECT * FROM {api_keys}")
    assert rows and all(secret not in str(tuple(dict(row).values())) for row in rows)


def test_rep_and_manager_keys_name_an_existing_rep_and_only_they_do(services):
    with pytest.raises(KeyRefused):
        services.api_keys.create(Role.REP)
    with pytest.raises(KeyRefused):
        services.api_keys.create(Role.MANAGER, uuid.uuid4())
    with pytest.raises(KeyRefused):
        services.api_keys.create(Role.ANALYST, _rep(services))
    assert services.api_keys.list() == []


def test_revoking_every_key_locks_the_service_it_does_not_reopen_it(services):
    assert not services.api_keys.configured()
    key, _ = services.api_keys.create(Role.ADMIN)
    services.api_keys.revoke(key.id)
    assert services.api_keys.configured()
    assert ApiKeys(services.store, services.clock).configured()  # another process sees it too
