"""A read side made by another version of the code (other tables, other columns) is
rebuilt from the events when the service opens it, rather than failing on a missing
column; one made by this version is kept as it is."""

from __future__ import annotations

from pathlib import Path

import duckdb

from crm_es.aggregates.contact import ContactDetails
from crm_es.bootstrap import Services
from crm_es.commands import execute
from crm_es.commands.records import RegisterContact, register_contact
from crm_es.projections.read_side import SCHEMA, ReadSide
from crm_es.projections.runner import Projector


def a_contact(services: Services) -> None:
    details = ContactDetails("Ada", "Lovelace", "ada@example.com")
    execute(register_contact, RegisterContact(details), services.context())


def test_a_read_side_of_this_version_is_kept(services: Services) -> None:
    a_contact(services)
    services.projector.catch_up()
    path, position = services.read_side.path, services.read_side.position()
    services.read_side.close()
    again = ReadSide(path)
    try:
        assert again.schema() == SCHEMA and again.position() == position > 0
    finally:
        again.close()


def test_a_read_side_of_other_tables_is_rebuilt_from_the_events(services: Services, tmp_path: Path) -> None:
    a_contact(services)
    old = tmp_path / "old.duckdb"
    with duckdb.connect(str(old)) as db:  # as an earlier version left it: fewer columns, a position
        db.execute("CREATE TABLE contacts (id UUID, first_name VARCHAR)")
        db.execute("CREATE TABLE projection_positions (name VARCHAR PRIMARY KEY, position BIGINT NOT NULL)")
        db.execute("INSERT INTO projection_positions VALUES ('read_side', 1)")
    reopened = ReadSide(old)
    try:
        assert reopened.schema() == SCHEMA and reopened.position() == 0
        Projector(services.store, reopened).catch_up()
        services.projector.catch_up()
        assert reopened.dump() == services.read_side.dump()
        with reopened.cursor() as c:
            assert c.execute("SELECT calls, email_invalid FROM contacts").fetchall() == [(0, False)]
    finally:
        reopened.close()


def test_a_read_side_with_another_fingerprint_starts_over(tmp_path: Path) -> None:
    path = tmp_path / "read.duckdb"
    first = ReadSide(path)
    with first.cursor() as c:
        c.execute("UPDATE projection_positions SET position = 42")
        c.execute("UPDATE read_side_schema SET fingerprint = 'made-by-another-version'")
    first.close()
    again = ReadSide(path)
    try:
        assert (again.schema(), again.position()) == (SCHEMA, 0)
    finally:
        again.close()
