"""`crm-es generate`: fill an empty event store with a large, realistic data set.

It opens the event store only (not the read side), so `crm-es serve` may run meanwhile;
the read side catches up with the new events when the service starts, or with
`crm-es project`.

Exit codes: 0 written; 1 it could not run (store unreachable or not empty); 2 bad usage.
"""

from __future__ import annotations

from typing import Any

import click

from crm_es.entrypoints.cli.console import fail, opened_store_tools, progress, report
from crm_es_samples.generate.plan import Sizes

DEFAULTS = Sizes()


@click.command("generate")
@click.option("--contacts", type=click.IntRange(1, 10_000_000), default=DEFAULTS.contacts, show_default=True,
              help="contacts (people); companies come with them, about one for six")
@click.option("--deals", type=click.IntRange(0, 10_000_000), default=DEFAULTS.deals, show_default=True,
              help="deals, opened evenly over the years")
@click.option("--interactions", type=click.IntRange(0, 100_000_000), default=DEFAULTS.interactions,
              show_default=True, help="calls, e-mails, meetings, page visits … (about a third about deals)")
@click.option("--years", type=click.IntRange(1, 20), default=DEFAULTS.years, show_default=True,
              help="how far back the history goes (it ends now)")
@click.option("--seed", type=int, default=DEFAULTS.seed, show_default=True,
              help="random seed: the same seed at the same clock time gives the same events")
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
def generate(contacts: int, deals: int, interactions: int, years: int, seed: int, as_json: bool) -> None:
    """Write a large realistic data set into an EMPTY event store, for benchmarks and for
    trying the reports: reps in teams, two pipelines, companies and contacts, deals moving
    through the stages over the years (won, lost with reasons and competitors, some
    reopened, amounts and owners changing) and the interactions around them — each fact
    with its business time, recorded shortly after it (a few percent hours or days late).

    The read side is NOT built: `crm-es serve` catches up when it starts, or run
    `crm-es project` (with the service stopped). The events are decided by
    the aggregates' rules and written in bulk through the write pipeline's unit of work;
    the progress bar (stderr) counts facts.
    """
    from eventsourcing.persistence import PersistenceError

    from crm_es_samples.generate import StoreNotEmpty, plan, require_empty, write

    with opened_store_tools() as tools:
        try:
            require_empty(tools.store)
            planned = plan(Sizes(contacts, deals, interactions, years, seed), tools.clock.now())
            with progress(planned.facts, "generating", as_json) as tick:
                summary = write(tools.store, planned, session_gap=tools.settings.session_gap, progress=tick)
        except StoreNotEmpty as error:
            fail(error.detail)
        except PersistenceError as error:  # the store went away, or another writer claimed an e-mail first
            fail(f"the event store refused a save (what was saved before stays): {error}")
    report(as_json, summary.as_dict(), _text(summary.as_dict()))


def _text(data: dict[str, Any]) -> str:
    return "\n".join([
        f"generated {data['first_day']} to {data['last_day']}: {data['reps']} reps in {data['teams']} teams, "
        f"{data['companies']} companies, {data['contacts']} contacts, {data['deals']} deals ({data['moves']} moves, "
        f"{data['won']} won, {data['lost']} lost, {data['reopened']} reopened), {data['interactions']} interactions",
        f"{data['events']} events in {data['seconds']} s ({data['events_per_second']} events/s); "
        f"{data['late']} of {data['facts']} facts recorded late",
        "the read side is not built yet: `crm-es project` (or `crm-es serve`) brings it up to date",
    ])
