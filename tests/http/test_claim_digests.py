"""Uniqueness claims hold no personal datum in clear, on SQLite and PostgreSQL: the claims
table keeps keyed digests (crm_es.store.claims), so neither its rows nor, on PostgreSQL, its
index pages (which keep a deleted key's bytes after DELETE, VACUUM and CHECKPOINT) hold a
contact's e-mail or a sender's event id — while a twin e-mail is still refused, tracking by
e-mail still finds the contact, and a forgotten contact's e-mail may register again."""

from __future__ import annotations

import re

import pytest
from helpers import assert_problem, ok, read

from crm_es.bootstrap import Services
from tests.integration.raw_store import (
    claim_rows,
    pg_relation_bytes,
    side_table,
    sqlite_bytes,
)

EMAIL = "zoe.claimprobe-4417@digest-test.example"
NEW_EMAIL = "zoe.renamed-4417@digest-test.example"
EVENT_ID = "visit-by-zoe.claimprobe-4417@digest-test.example"
CLEAR = (EMAIL, NEW_EMAIL, EVENT_ID)
DIGEST = re.compile(r"^[0-9a-f]{64}$")


def register(client, email: str) -> dict:
    return ok(client.post("/contacts", json={"first_name": "Zoe", "last_name": "Probe", "email": email}))


def test_claims_hold_digests_and_still_make_values_unique(client, services: Services) -> None:
    zoe = register(client, EMAIL)
    # A twin in capitals: the value is normalised before it is digested.
    assert_problem(client.post("/contacts", json={"first_name": "Z", "last_name": "P", "email": EMAIL.upper()}),
                   409, "email-already-registered")

    # Tracking by e-mail finds her through her claim; the sender's event id counts once.
    item = {"type": "page_visited", "email": EMAIL.upper(), "url": "https://example.com/", "event_id": EVENT_ID}
    answer = ok(client.post("/interactions:batch", json={"items": [item]}), 200)
    assert [(r["status"], r["id"]) for r in answer["results"]] == [("accepted", zoe["id"])]
    again = ok(client.post("/interactions:batch", json={"items": [item]}), 200)
    assert [r["status"] for r in again["results"]] == ["duplicate"]

    # A changed e-mail releases the old claim: the old address is free, the new one taken.
    changed = ok(client.patch(f"/contacts/{zoe['id']}", json={"email": NEW_EMAIL}), 200)
    assert read(client, f"/contacts/{zoe['id']}", changed["position"])["email"] == NEW_EMAIL
    assert_problem(client.post("/contacts", json={"first_name": "Z", "last_name": "P", "email": NEW_EMAIL}), 409,
                   "email-already-registered")
    other = register(client, EMAIL)

    rows = claim_rows(services.settings)
    assert {(scope, owner) for scope, _, owner in rows} == {
        ("contact-email", zoe["id"]), ("contact-email", other["id"]), ("interaction-event", zoe["id"])}
    assert all(DIGEST.match(value) for _, value, _ in rows), rows

    # Forgotten, she leaves no claim; her address may register again, as a new contact.
    ok(client.post(f"/contacts/{zoe['id']}/forget"), 200)
    assert {owner for _, _, owner in claim_rows(services.settings)} == {other["id"]}
    assert register(client, NEW_EMAIL)["id"] not in (zoe["id"], other["id"])

    # Below SQL: not one byte of any value claimed, released or erased.
    if services.settings.database_url is None:
        stored, how = sqlite_bytes(services.settings), "the SQLite file and its WAL"
    else:
        stored, how = pg_relation_bytes(services.settings, side_table(services.settings, "unique_claims"))
        if stored is None:
            pytest.skip(f"the claims' rows hold no clear value; their pages could not be read: {how}")
    assert all(value.encode() in stored for _, value, _ in claim_rows(services.settings)), f"not the claims' pages: {how}"
    assert [value for value in CLEAR if value.encode() in stored] == [], how
