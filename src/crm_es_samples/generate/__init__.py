"""`crm-es generate`: a large, realistic data set written straight into the event store.

``plan(sizes, now)`` decides everything from the seed (``plan.py``: the organisation, the
companies and contacts — ``people.py``, the deals' stories — ``deals.py``, how many
interactions each record gets); ``write(store, plan)`` tells it: every record's life is a
stream of facts (``activities.py`` makes the interactions) merged on a simulated timeline
(``timeline.py``) that records each fact shortly after it happened — a few percent hours
or days late — decided by the aggregates' own functions (``records.py``) and saved
thousands of events per transaction (``run.py``). The same seed and the same "now" give
the same events. The read side is not built here: the service catches up when it starts,
or `crm-es project` does.
"""

from crm_es_samples.generate.plan import Plan, Sizes, plan
from crm_es_samples.generate.run import StoreNotEmpty, Summary, require_empty, write

__all__ = ["Plan", "Sizes", "StoreNotEmpty", "Summary", "plan", "require_empty", "write"]
