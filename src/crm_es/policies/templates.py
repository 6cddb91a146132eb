"""The automations' message templates: plain text with ``{variable}`` slots, checked when
the settings are set (an unknown variable is a 422 naming the setting, not a failure on
the first customer it reaches)."""

from __future__ import annotations

import string
from collections.abc import Collection, Mapping

from crm_es.aggregates.base import InvalidInput


def check_template(field: str, text: str, variables: Collection[str]) -> None:
    """``field``: the setting's name as the client sent it (``settings.body``)."""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as error:
        raise InvalidInput(field, f"not a valid template: {error}") from None
    unknown = sorted(names - set(variables))
    if unknown:
        known = ", ".join(f"{{{v}}}" for v in variables)
        raise InvalidInput(field, f"unknown template variable {{{unknown[0]}}} (known: {known})")


def render(text: str, values: Mapping[str, str]) -> str:
    return text.format(**values)
