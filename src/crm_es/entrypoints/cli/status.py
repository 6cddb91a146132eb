"""`crm-es status`: where the event store and the read side stand.

While `crm-es serve` runs, its process holds the read side's DuckDB file, so the answer is
asked of the service (GET /health, which needs no key), as `crm-es sql` asks it; with no
service running, the files are read directly. With ``--json`` the answer is always one
JSON object: the figures, or ``{"error": ...}`` with exit code 1.
"""

from __future__ import annotations

import json
import time
from typing import Any

import click

from crm_es.entrypoints.cli.console import report
from crm_es.entrypoints.cli.running import running_service
from crm_es.settings import Settings

STARTING_SECONDS = 3.0  # a service whose process lives may not listen yet: asked again meanwhile


class StatusFailed(Exception):
    """Why no status could be had: said as it is, in text or in JSON."""


class ServiceUnreachable(StatusFailed):
    pass


@click.command()
@click.option("--url", envvar="CRM_ES_URL", default=None,
              help="ask the service running there (env CRM_ES_URL); by default the one `crm-es serve` runs "
                   "on this data directory, else the files are read")
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON (an error too)")
def status(url: str | None, as_json: bool) -> None:
    """Where the event store and the read side stand, also while `crm-es serve` runs."""
    try:
        data = current_status(Settings.from_env(), url)
    except (StatusFailed, ValueError) as error:
        if as_json:
            click.echo(json.dumps({"error": str(error)}))
        click.echo(f"crm-es: {error}", err=True)
        raise SystemExit(1) from None
    text = "\n".join(f"{k}: {v}" for k, v in data.items() if k != "service")
    report(as_json, data, text + f"\nservice: {data['service'] or 'none running: read from the files'}")


def current_status(settings: Settings, url: str | None) -> dict[str, Any]:
    """Asked of the service named, else of the one running on the data directory, else
    read from the files."""
    if url is not None:
        return from_service(url.rstrip("/"), None)
    running = running_service(settings.data_dir)
    if running is not None:
        try:
            return from_service(running, str(settings.data_dir), patience=STARTING_SECONDS)
        except ServiceUnreachable as unreachable:
            try:  # its process id may now be another program's: the files tell
                return from_files(settings)
            except StatusFailed:
                raise unreachable from None
    return from_files(settings)


def from_service(url: str, data_dir: str | None, patience: float = 0.0) -> dict[str, Any]:
    import httpx

    deadline = time.monotonic() + patience
    while True:
        try:
            response = httpx.get(f"{url}/health", timeout=10.0)
            break
        except httpx.TransportError as error:
            if time.monotonic() >= deadline:
                raise ServiceUnreachable(f"cannot reach the service at {url} (is `crm-es serve` running?): {error}") from None
            time.sleep(0.2)
    try:
        health = response.json()
        store, read = health["store"], health["read_side"]
    except (ValueError, KeyError, TypeError):
        raise StatusFailed(f"{url} answered {response.status_code} with no status in it: is it crm-es?") from None
    if not store.get("reachable"):
        raise StatusFailed(f"the service at {url} cannot reach its event store: {store.get('error')}")
    return {
        "backend": store["backend"], "data_dir": data_dir, "store_position": store["position"],
        "read_side_position": read["position"], "lag": read["lag"], "service": url,
    }


def from_files(settings: Settings) -> dict[str, Any]:
    import duckdb

    from crm_es.bootstrap import service
    from crm_es.store import StoreUnavailable

    try:
        services = service(settings)
    except StoreUnavailable as error:
        raise StatusFailed(f"cannot reach the event store: {error}") from None
    except duckdb.IOException as error:
        raise StatusFailed(f"the read side is held by another process and no running service left its address in "
                           f"{settings.data_dir}: name the service with --url http://host:port ({error})") from None
    with services:
        store, read = services.store.max_position(), services.projector.position
        return {
            "backend": services.store.backend, "data_dir": str(settings.data_dir),
            "store_position": store, "read_side_position": read, "lag": store - read, "service": None,
        }
