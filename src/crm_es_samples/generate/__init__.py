"""`crm-es generate`: a large, realistic data set written in bulk into the event store.

``plan(sizes, now)`` decides everything from the seed (``plan.py``: the organisation, the
companies and contacts — ``people.py``, the deals' stories — ``deals.py``, how many
interactions each record gets); ``write(store, plan)`` tells it: every record's life is a
stream of facts (``activities.py`` makes the interactions) merged on a simulated timeline
(``timeline.py``) that records each fact shortly after it happened — a few percent hours
or days late — decided by the aggregates' own functions (``records.py``) and saved
thousands of events per transaction (``run.py``). The same seed and the same "now" give
the same events. The read side is not built here: the service catches up when it starts,
or `crm-es project` does.

What it may import: the shared vocabulary (``crm_es_samples.world``) and crm_es's public
interfaces — the aggregates, the commands' unit of work (every batch is committed through
``crm_es.commands.unit_of_work.UnitOfWork``) and their public helpers (``email_claim``), the
store's facade (``crm_es.store``), the clock. Never the demo's modules, the entry points or
the read side.
"""

from crm_es_samples.generate.plan import Plan, Sizes, plan
from crm_es_samples.generate.run import StoreNotEmpty, Summary, require_empty, write

__all__ = ["Plan", "Sizes", "StoreNotEmpty", "Summary", "plan", "require_empty", "write"]
