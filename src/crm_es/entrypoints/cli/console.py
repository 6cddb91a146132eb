"""What every `crm-es` command shares: failing clearly, printing results (text or
``--json``), progress bars on stderr, and opening the event store alone.

Exit codes: 0 done, 1 failed (the message says why), 2 bad usage (click's own).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import click

from crm_es.bootstrap import Services, bootstrap
from crm_es.settings import Settings
from crm_es.store import EventStore, StoreUnavailable


def fail(message: str) -> NoReturn:
    click.echo(f"crm-es: {message}", err=True)
    sys.exit(1)


def report(as_json: bool, data: dict[str, Any], text: str) -> None:
    click.echo(json.dumps(data) if as_json else text)


@contextmanager
def progress(total: int, label: str, quiet: bool) -> Iterator[Callable[[int], None]]:
    if quiet or total == 0:
        yield lambda _n: None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True, show_eta=True) as bar:
        yield bar.update


@contextmanager
def event_store() -> Iterator[EventStore]:
    """The event store without the read side: usable while `crm-es serve` runs."""
    try:
        store = EventStore(Settings.from_env().store_env())
    except StoreUnavailable as error:
        fail(f"cannot reach the event store: {error}")
    except ValueError as error:
        fail(str(error))
    try:
        yield store
    finally:
        store.close()


@contextmanager
def opened_services() -> Iterator[Services]:
    """The whole service (store, read side, handlers) for a command that needs the read
    side too: one place, so every command group opens it and fails alike."""
    import duckdb

    try:
        opened = bootstrap(Settings.from_env())
    except StoreUnavailable as error:
        fail(f"cannot reach the event store: {error}")
    except duckdb.IOException as error:
        fail(f"the read side is in use (is `crm-es serve` running?): {error}")
    except ValueError as error:
        fail(str(error))
    try:
        yield opened
    finally:
        opened.close()
