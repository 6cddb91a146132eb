"""The outage log (store/outage.py): one line when the store becomes unavailable, whoever
meets it and however often; a reminder a minute; one line when it is back; a failure
just after the return is the outage's tail, one long after the last is a new outage."""

from __future__ import annotations

import logging

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, OperationalError
from sqlalchemy.exc import OperationalError as SqlOperationalError

from crm_es.store.outage import Outage, is_outage, one_line


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    found = [r.getMessage() for r in caplog.records if r.name == "crm_es.store"]
    caplog.clear()
    return found


def test_an_outage_is_one_line_and_its_end_another(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    clock = Clock()
    outage = Outage(clock=clock)
    outage.recovered()
    assert lines(caplog) == []  # nothing was down

    refused = psycopg.OperationalError('connection failed: connection to server at "127.0.0.1", port 5432 failed: '
                                       "Connection refused\n\tIs the server running on that host?")
    for _ in range(100):  # the pool, every command, the LISTEN thread, the automations …
        outage.failed(refused)
        clock.now += 0.1
    [line] = lines(caplog)
    assert line.startswith("event store unavailable (OperationalError: connection failed:") and "retry" in line
    assert "Is the server running" not in line  # the driver's hint lines are left out: one line

    for _ in range(55):  # a reminder once a minute while it lasts
        clock.now += 1
        outage.failed("still refused")
    assert lines(caplog) == ["event store still unavailable after 60 s (still refused); retrying"]

    clock.now += 5
    outage.recovered()
    outage.recovered()
    assert lines(caplog) == ["event store available again after 70.0 s"]
    clock.now += 1
    outage.failed("a request that began waiting before the return")
    assert lines(caplog) == [] and not outage.down

    clock.now += 10
    outage.failed("down again")
    assert len(lines(caplog)) == 1 and outage.down
    clock.now += 31
    outage.failed("nobody said it was back (SQLite): a new outage")
    assert lines(caplog)[0].startswith("event store unavailable (nobody said")


def test_what_counts_as_an_outage() -> None:
    assert is_outage(OperationalError("couldn't get a connection after 0.25 sec"))
    assert is_outage(SqlOperationalError("SELECT 1", {}, psycopg.OperationalError("refused")))
    try:
        try:
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        except psycopg.Error as error:
            raise RuntimeError("a round failed") from error
    except RuntimeError as wrapped:
        assert is_outage(wrapped)
    assert not is_outage(IntegrityError("duplicate key"))  # a race, not an outage
    assert not is_outage(ValueError("a bug"))
    assert one_line("x" * 500).endswith("...") and len(one_line("x" * 500)) == 240
