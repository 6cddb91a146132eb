"""The domain: aggregates as folded state, events as immutable facts, rules as pure functions.

Each module holds one aggregate: its state (a frozen dataclass), its events (nested,
past tense), ``evolve`` (state + event -> state) and the decisions (state + input ->
events). Nothing here reads a clock, a database or the network. Refusals name their rule
and its category (``base.py``), never an HTTP status.

May import: nothing else of ours (the layers contract in pyproject.toml checks it).
"""

from crm_es.aggregates.company import Company
from crm_es.aggregates.contact import Contact
from crm_es.aggregates.dashboard import Dashboard
from crm_es.aggregates.deal import Deal
from crm_es.aggregates.pipeline import Pipeline
from crm_es.aggregates.rep import Rep
from crm_es.aggregates.team import Team

AGGREGATE_TYPES = (Rep, Team, Pipeline, Company, Contact, Deal, Dashboard)

__all__ = ["AGGREGATE_TYPES", "Company", "Contact", "Dashboard", "Deal", "Pipeline", "Rep", "Team"]
