"""`crm-es policies`: the automations on their own, beside (or instead of) `crm-es serve`.

It keeps a read side of its own (``policies-read.duckdb`` beside the service's, which the
service's process owns): the automations read agendas and teams from it.
With PostgreSQL, run it on several machines: one is active, the others stand by and take
over when it dies (policies/leader.py).
"""

from __future__ import annotations

import signal
import threading
import time

import click

from crm_es.channels import configured, describe
from crm_es.clock import SystemClock
from crm_es.entrypoints.cli.console import fail, report
from crm_es.policies.catalogue import POLICIES
from crm_es.policies.leader import Leadership
from crm_es.policies.runtime import PolicyRunner, status
from crm_es.policies.service import Automations, dispatcher_for
from crm_es.projections.read_side import ReadSide
from crm_es.projections.runner import Projector
from crm_es.settings import Settings
from crm_es.store import EventStore, StoreUnavailable


@click.command("policies")
@click.option("--once", is_flag=True, help="read the log to its end once, then exit (cron, scripts)")
@click.option("--status", "show_status", is_flag=True, help="print each automation's state, place and last error, then exit")
@click.option("--poll", type=click.FloatRange(0.01, 60), default=0.5, show_default=True,
              help="seconds between looks at the log when it is quiet")
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
def policies(once: bool, show_status: bool, poll: float, as_json: bool) -> None:
    """Run the automations (lead scoring, follow-ups, tasks after meetings …), exactly once
    per event. `crm-es serve` runs them too unless CRM_ES_POLICIES=off."""
    settings = Settings.from_env()
    opened: list[ReadSide] = []
    try:
        store = EventStore(settings.store_env())
    except StoreUnavailable as error:
        fail(f"cannot reach the event store: {error}")
    try:
        if show_status:
            items = status(store, POLICIES, configured(settings))
            report(as_json, {"items": items}, "\n".join(_line(p) for p in items))
            return
        clock = SystemClock()
        leadership = Leadership(store, settings.data_dir / "policies.lock")
        def projector() -> Projector:
            """A read side of its own (the service's process owns its file), opened by the
            active runner when a policy first reads agendas or teams."""
            opened.append(ReadSide(settings.data_dir / "policies-read.duckdb"))
            return Projector(store, opened[-1], batch_size=settings.projector_batch)

        runner = PolicyRunner(store, clock, POLICIES, projector=projector)
        automations = Automations(runner, dispatcher_for(store, clock, settings), leadership, settings.data_dir)
        if once:
            if not leadership.acquire():
                fail("another runner is active: --once does nothing while it runs")
            reacted, sent = automations.run_once()
            leadership.release()
            report(as_json, {"reacted": reacted, "sent": sent, "position": store.max_position()},
                   f"reacted to {reacted} events; sent {sent} messages")
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        worker = threading.Thread(target=automations.run, args=(stop, poll), name="automations", daemon=True)
        worker.start()
        click.echo("crm-es policies: following the log (Ctrl-C stops); outgoing channels:", err=True)
        for line in describe(settings):  # this process's outbox sends: its own settings say on what
            click.echo(f"  {line}", err=True)
        try:
            while worker.is_alive() and not stop.is_set():
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
        stop.set()
        automations.wake()
        worker.join(timeout=10)
    finally:
        for read_side in opened:
            read_side.close()
        store.close()


def _line(policy: dict[str, object]) -> str:
    line = f"{policy['name']}: {'on' if policy['enabled'] else 'off'}, position {policy['position']}, lag {policy['lag']}"
    line += f", last error: {policy['last_error']}" if policy["last_error"] else ""
    return line + (f", warning: {policy['warning']}" if policy.get("warning") else "")
