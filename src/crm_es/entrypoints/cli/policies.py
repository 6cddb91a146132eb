"""`crm-es policies`: the automations on their own, beside (or instead of) `crm-es serve`.

It keeps a read side of its own (``policies-read.duckdb`` beside the service's, which the
service's process owns): the automations read agendas and teams from it
(`crm_es.bootstrap.policy_worker` wires them).
With PostgreSQL, run it on several machines: one is active, the others stand by and take
over when it dies (policies/leader.py).
"""

from __future__ import annotations

import signal
import threading
import time

import click

from crm_es.channels import configured, describe
from crm_es.entrypoints.cli.console import fail, opened_policy_worker, opened_store_tools, report
from crm_es.policies.catalogue import POLICIES
from crm_es.policies.runtime import status


@click.command("policies")
@click.option("--once", is_flag=True, help="read the log to its end once, then exit (cron, scripts)")
@click.option("--status", "show_status", is_flag=True, help="print each automation's state, place and last error, then exit")
@click.option("--poll", type=click.FloatRange(0.01, 60), default=0.5, show_default=True,
              help="seconds between looks at the log when it is quiet")
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
def policies(once: bool, show_status: bool, poll: float, as_json: bool) -> None:
    """Run the automations (lead scoring, follow-ups, tasks after meetings …), exactly once
    per event. `crm-es serve` runs them too unless CRM_ES_POLICIES=off."""
    if show_status:
        with opened_store_tools() as tools:
            items = status(tools.store, POLICIES, configured(tools.settings))
        report(as_json, {"items": items}, "\n".join(_line(p) for p in items))
        return
    with opened_policy_worker() as worker:
        if once:
            if not worker.leadership.acquire():
                fail("another runner is active: --once does nothing while it runs")
            reacted, sent = worker.automations.run_once()
            worker.leadership.release()
            report(as_json, {"reacted": reacted, "sent": sent, "position": worker.store.max_position()},
                   f"reacted to {reacted} events; sent {sent} messages")
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        thread = threading.Thread(target=worker.automations.run, args=(stop, poll), name="automations", daemon=True)
        thread.start()
        click.echo("crm-es policies: following the log (Ctrl-C stops); outgoing channels:", err=True)
        for line in describe(worker.settings):  # this process's outbox sends: its own settings say on what
            click.echo(f"  {line}", err=True)
        try:
            while thread.is_alive() and not stop.is_set():
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
        stop.set()
        worker.automations.wake()
        thread.join(timeout=10)


def _line(policy: dict[str, object]) -> str:
    line = f"{policy['name']}: {'on' if policy['enabled'] else 'off'}, position {policy['position']}, lag {policy['lag']}"
    line += f", last error: {policy['last_error']}" if policy["last_error"] else ""
    return line + (f", warning: {policy['warning']}" if policy.get("warning") else "")
