"""The automations: each follows the log from its own place and reacts exactly once
(``runtime.py``: the reaction and the new place written together through the write
pipeline), one module per automation (lead scoring, follow-ups, recurring visits,
scheduled reports …) listed in ``catalogue.py``, one active runner per store
(``leader.py``), recurring jobs (``scheduler.py``) and the worker that runs them beside the
outbox (``service.py``). They read the read side through typed queries
(``crm_es.queries.automations``), never SQL of their own.

May import: the domain, the store, projections (to keep the read side they read caught
up), queries, the write pipeline and the outbox; never the entry points.
"""
