"""The write side's use cases: commands as plain data, handlers as short functions.

Every handler is get → decide → save, through a ``CommandContext`` that carries who,
when and why, and that turns races, retries and stale versions into clear answers.
"""

from crm_es.commands.context import CommandContext, CommandResult, Lookups, PreconditionFailed, execute

__all__ = ["CommandContext", "CommandResult", "Lookups", "PreconditionFailed", "execute"]
