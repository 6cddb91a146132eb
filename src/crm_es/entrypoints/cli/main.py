"""The `crm-es` command: serve, demo, rebuild, project, status, policies …

Exit codes: 0 done, 1 failed (the message says why), 2 bad usage. ``--json`` prints
one JSON object on stdout for scripts; progress and messages go to stderr.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

import click

from crm_es.entrypoints.cli.audit import audit
from crm_es.entrypoints.cli.keys import keys
from crm_es.bootstrap import Services
from crm_es.entrypoints.cli.console import fail, opened_services, progress, report
from crm_es.entrypoints.cli.generate import generate
from crm_es.entrypoints.cli.imports import import_group
from crm_es.entrypoints.cli.policies import policies
from crm_es.queries.export import FORMATS, Manifest, export_read_side, unpack_archive
from crm_es.entrypoints.cli.remote import Service, health, running, service_options
from crm_es.entrypoints.cli.running import advertise, withdraw
from crm_es.entrypoints.cli.sql import sql
from crm_es.entrypoints.cli.status import status
from crm_es.projections.rebuild import RUNNING

POLL_SECONDS = 0.2  # how often a command following the service's work asks it
CATCH_UP_SECONDS = 60.0  # how long `project` waits for the service's read side to reach the head


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="crm-es")
def main() -> None:
    """crm-es: an event-sourced CRM.

    Files live under ./var/ (or $CRM_ES_DATA_DIR); CRM_ES_DATABASE_URL=postgresql://…
    puts the event store on PostgreSQL.
    """


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="port to listen on")
@click.option("--demo", is_flag=True, help="load the demo company first when the store is empty")
def serve(host: str, port: int, demo: bool) -> None:
    """Run the HTTP service, the projector and the automations in one process
    (CRM_ES_POLICIES=off leaves the automations to `crm-es policies`)."""
    import uvicorn

    from crm_es.entrypoints.http.app import create_app
    from crm_es.entrypoints.http.middleware import log_config

    with opened_services() as services:
        if demo and services.store.max_position() == 0:
            _load_demo(services, quiet=False)
        services.projector.catch_up()
        services.start()
        click.echo(f"crm-es: serving on http://{host}:{port} (docs at /docs); data in {services.settings.data_dir}", err=True)
        # uvicorn stops gracefully on SIGTERM, then raises it again: leave through the
        # finally blocks (the address taken away, the store closed) rather than die there.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        advertise(services.settings.data_dir, host, port)  # `crm-es status` asks this process
        try:
            # Our access log, not uvicorn's: uvicorn's writes query strings (personal data).
            uvicorn.run(create_app(services), host=host, port=port, log_level="info", access_log=False,
                        log_config=log_config())
        finally:
            withdraw(services.settings.data_dir)


def _load_demo(services: Services, quiet: bool) -> Any:
    from crm_es_samples.demo import DemoAlreadyLoaded, demo_size, load_demo

    try:
        with progress(demo_size(), "loading the demo company", quiet) as tick:
            return load_demo(services, progress=tick)
    except DemoAlreadyLoaded as error:
        fail(str(error))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
def demo(as_json: bool) -> None:
    """Load a realistic sample company (reps, teams, pipelines, companies, contacts, deals, interactions
    over a year, and the reps' agendas)."""
    with opened_services() as services:
        summary = _load_demo(services, quiet=as_json)
        services.projector.catch_up()
        data = summary.as_dict()
        report(as_json, data, "loaded: " + ", ".join(f"{v} {k}" for k, v in data.items()))


@main.command()
@click.option("--keep-old", is_flag=True, help="keep the read side replaced as read.duckdb.old")
@service_options
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
def rebuild(keep_old: bool, url: str | None, api_key: str | None, as_json: bool) -> None:
    """Rebuild the read side from the events: a new one is built beside the live one, then
    swapped in. While `crm-es serve` runs, the service does it and answers throughout (an
    admin's key); otherwise this command does, and a crash leaves the live side as it was."""
    service = running(url, api_key)
    if service is not None:
        _rebuild_through(service, keep_old, as_json)
        return
    with opened_services() as services:
        with progress(services.store.max_position(), "rebuilding the read side", as_json) as tick:
            done = services.rebuilds.run(keep_old, progress=tick)
        report(as_json, {"events": done.events, "position": done.position},
                f"rebuilt from {done.events} events; read side at position {done.position}")


def _rebuild_through(service: Service, keep_old: bool, as_json: bool) -> None:
    """POST /read-side/rebuild, then its progress polled until the new side is swapped in."""
    state = service.call("POST", "/read-side/rebuild", expect=202, params={"keep_old": str(keep_old).lower()})
    shown = 0
    with progress(state["head"], f"rebuilding the read side (the service at {service.url} answers meanwhile)",
                  as_json) as tick:
        while state["state"] in RUNNING:
            time.sleep(POLL_SECONDS)
            state = service.call("GET", "/read-side/rebuild")
            reached = min(state["position"], max(state["head"], 1))
            tick(max(reached - shown, 0))
            shown = max(shown, reached)
    if state["state"] != "done":
        fail(f"the rebuild failed: {state.get('error') or state['state']}; the read side is the one before")
    report(as_json, {"events": state["events"], "position": state["position"], "service": service.url},
           f"rebuilt from {state['events']} events by the service at {service.url}; read side at position "
           f"{state['position']}")


@main.command()
@service_options
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
def project(url: str | None, api_key: str | None, as_json: bool) -> None:
    """Bring the read side up to date from where it stopped. While `crm-es serve` runs, its
    projector does that all along: this waits until it has every event stored now."""
    service = running(url, api_key)
    if service is not None:
        _caught_up_by(service, as_json)
        return
    with opened_services() as services:
        todo = services.store.max_position() - services.projector.position
        with progress(max(todo, 0), "projecting", as_json) as tick:
            done = services.projector.catch_up(progress=tick)
        report(as_json, {"events": done, "position": services.projector.position},
                f"projected {done} events; read side at position {services.projector.position}")


def _caught_up_by(service: Service, as_json: bool) -> None:
    found = health(service)
    head, start = found["store"]["position"], found["read_side"]["position"]
    position, deadline = start, time.monotonic() + CATCH_UP_SECONDS
    with progress(max(head - start, 0), f"the service at {service.url} projects", as_json) as tick:
        while position < head:
            if time.monotonic() > deadline:
                fail(f"the service's read side is still at position {position}, not {head}: "
                     f"{found['read_side'].get('last_error') or 'it is busy'}")
            time.sleep(POLL_SECONDS)
            found = health(service)
            tick(max(min(found["read_side"]["position"], head) - position, 0))
            position = max(position, found["read_side"]["position"])
    report(as_json, {"events": position - start, "position": position, "service": service.url},
           f"the service at {service.url} keeps the read side up to date: at position {position} "
           f"({position - start} events projected while waiting)")


@main.command("export")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True,
              help="one file per table: <table>.csv or <table>.parquet")
@click.option("--parquet", "fmt", flag_value="parquet",
              help="the same as --format parquet (typed snapshots for pandas, polars or DuckDB)")
@service_options
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def export_tables(fmt: str, url: str | None, api_key: str | None, as_json: bool, directory: Path) -> None:
    """Write every read-side table into DIRECTORY, with a manifest.json, all at one log position.

    The read side is first brought up to date, as `crm-es project` does. While `crm-es
    serve` runs, the service writes them (GET /export, an admin's key) from one read
    transaction while it serves. Ids are text, money decimals, times UTC instants; the
    files open as they are in pandas, polars and DuckDB (docs/export.md).
    """
    import duckdb

    from crm_es.projections.schema import TABLES

    service = running(url, api_key)
    try:
        if service is not None:
            manifest = _export_through(service, fmt, directory, as_json)
        else:
            with opened_services() as services:
                todo = services.store.max_position() - services.projector.position
                with progress(max(todo, 0), "projecting", as_json) as tick:
                    services.projector.catch_up(progress=tick)
                with progress(len(TABLES), f"exporting to {directory}", as_json) as tick, \
                        services.read_side.cursor() as cur:
                    manifest = export_read_side(cur, directory, fmt, services.clock.now(), progress=tick)
    except (OSError, duckdb.Error, ValueError) as error:
        if as_json:  # a script reading stdout gets JSON, the failure too
            click.echo(json.dumps({"error": f"cannot export to {directory}: {error}"}))
        fail(f"cannot export to {directory}: {error}")
    data = {"directory": str(directory), **manifest.as_dict()}
    rows = sum(t.rows for t in manifest.tables)
    report(as_json, data, f"exported {len(manifest.tables)} tables ({rows} rows, {fmt}) at position "
                          f"{manifest.position} to {directory}")


def _export_through(service: Service, fmt: str, directory: Path, as_json: bool) -> Manifest:
    """GET /export?after=<the log's head now>: the service's snapshot has every event stored
    before this command, as the local export has; unpacked into ``directory``."""
    import tempfile

    head = health(service)["store"]["position"]
    if not as_json:
        click.echo(f"crm-es: the service at {service.url} writes the export (at position {head} or later)", err=True)
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".export-", dir=directory) as staging:
        archive = Path(staging) / "export.zip"
        service.download("/export", archive, format=fmt, after=head)
        return unpack_archive(archive, directory)


main.add_command(audit)
main.add_command(keys)
main.add_command(import_group)
main.add_command(generate)
main.add_command(sql)
main.add_command(policies)
main.add_command(status)
