"""The `crm-es` command: serve, demo, rebuild, project, status, policies …

Exit codes: 0 done, 1 failed (the message says why), 2 bad usage. ``--json`` prints
one JSON object on stdout for scripts; progress and messages go to stderr.
"""

from __future__ import annotations

import signal
import sys
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
from crm_es.queries.export import FORMATS, export_read_side
from crm_es.entrypoints.cli.running import advertise, withdraw
from crm_es.entrypoints.cli.sql import sql
from crm_es.entrypoints.cli.status import status


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
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
def rebuild(as_json: bool) -> None:
    """Drop the read side and rebuild it from the events (the service must be stopped)."""
    with opened_services() as services:
        services.read_side.recreate()
        services.projector.reset()
        total = services.store.max_position()
        with progress(total, "rebuilding the read side", as_json) as tick:
            done = services.projector.catch_up(progress=tick)
        report(as_json, {"events": done, "position": services.projector.position},
                f"rebuilt from {done} events; read side at position {services.projector.position}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
def project(as_json: bool) -> None:
    """Bring the read side up to date from where it stopped (the service must be stopped)."""
    with opened_services() as services:
        todo = services.store.max_position() - services.projector.position
        with progress(max(todo, 0), "projecting", as_json) as tick:
            done = services.projector.catch_up(progress=tick)
        report(as_json, {"events": done, "position": services.projector.position},
                f"projected {done} events; read side at position {services.projector.position}")


@main.command("export")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True,
              help="one file per table: <table>.csv or <table>.parquet")
@click.option("--parquet", "fmt", flag_value="parquet",
              help="the same as --format parquet (typed snapshots for pandas, polars or DuckDB)")
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def export_tables(fmt: str, as_json: bool, directory: Path) -> None:
    """Write every read-side table into DIRECTORY, with a manifest.json (the service must be stopped).

    The read side is first brought up to date, as `crm-es project` does. Ids are text,
    money decimals, times UTC instants; the files open as they are in pandas, polars and
    DuckDB (docs/export.md).
    """
    import json

    import duckdb

    from crm_es.projections.schema import TABLES

    with opened_services() as services:
        todo = services.store.max_position() - services.projector.position
        with progress(max(todo, 0), "projecting", as_json) as tick:
            services.projector.catch_up(progress=tick)
        try:
            with progress(len(TABLES), f"exporting to {directory}", as_json) as tick, services.read_side.cursor() as cur:
                manifest = export_read_side(cur, directory, fmt, services.clock.now(), progress=tick)
        except (OSError, duckdb.Error, ValueError) as error:
            if as_json:  # a script reading stdout gets JSON, the failure too
                click.echo(json.dumps({"error": f"cannot export to {directory}: {error}"}))
            fail(f"cannot export to {directory}: {error}")
        data = {"directory": str(directory), **manifest.as_dict()}
        rows = sum(t.rows for t in manifest.tables)
        report(as_json, data, f"exported {len(manifest.tables)} tables ({rows} rows, {fmt}) at position "
                              f"{manifest.position} to {directory}")


main.add_command(audit)
main.add_command(keys)
main.add_command(import_group)
main.add_command(generate)
main.add_command(sql)
main.add_command(policies)
main.add_command(status)
