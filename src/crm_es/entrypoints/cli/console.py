"""What every `crm-es` command shares: failing clearly, printing results (text or
``--json``), progress bars on stderr, and opening bootstrap's assemblies.

Exit codes: 0 done, 1 failed (the message says why), 2 bad usage (click's own).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

import click

from crm_es.bootstrap import PolicyWorker, Services, StoreTools, policy_worker, service, store_tools
from crm_es.store import StoreUnavailable

Assembly = TypeVar("Assembly", StoreTools, Services, PolicyWorker)


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
def opened_store_tools() -> Iterator[StoreTools]:
    """The event store alone (no read side): usable while `crm-es serve` runs."""
    with _opened(store_tools) as tools:
        yield tools


@contextmanager
def opened_services() -> Iterator[Services]:
    """The whole service (store, read side, handlers) for a command that needs the read
    side too."""
    with _opened(service) as services:
        yield services


@contextmanager
def opened_policy_worker() -> Iterator[PolicyWorker]:
    """The automations on their own, with a read side of their own."""
    with _opened(policy_worker) as worker:
        yield worker


def _opened(assemble: Callable[[], Assembly]) -> Assembly:
    """One of bootstrap's assemblies from the environment's settings: one place, so every
    command opens it and fails alike."""
    import duckdb

    try:
        return assemble()
    except StoreUnavailable as error:
        fail(f"cannot reach the event store: {error}")
    except duckdb.IOException as error:
        fail(f"the read side is in use (is `crm-es serve` running?): {error}")
    except ValueError as error:
        fail(str(error))
