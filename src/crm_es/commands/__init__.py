"""The write side: commands as plain data, handlers as short functions, and the one write
pipeline every writer goes through.

A handler is load -> decide -> save through a ``CommandContext`` (who, when, why; reach
and references checked: ``context.py``, ``ownership.py``). ``pipeline.py`` runs it: a
``UnitOfWork`` (``unit_of_work.py``) stages what it decides and commits it in one store
transaction with its Idempotency-Key, claims, outbox rows; a lost race is decided again.
Batches (``interactions.py``), imports (``imports.py``, ``deal_imports.py``), the automations'
reactions and the sample data all write through the same pipeline.

May import: the domain, the store, the clock, documents, channels and auth's roles; never
the automations, the read side's queries or the entry points.
"""

from crm_es.commands.context import (
    CommandContext,
    CommandResult,
    Lookups,
    PreconditionFailed,
)
from crm_es.commands.pipeline import execute

__all__ = ["CommandContext", "CommandResult", "Lookups", "PreconditionFailed", "execute"]
