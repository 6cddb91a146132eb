"""The automations' message templates: plain text with ``{variable}`` slots, checked when
the settings are set (an unknown variable is a 422 naming the setting, not a failure on
the first customer it reaches)."""

from __future__ import annotations

import string
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from crm_es.aggregates.base import InvalidInput


def check_template(field: str, text: str, variables: Collection[str]) -> None:
    """``field``: the setting's name as the client sent it (``settings.body``)."""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as error:
        raise InvalidInput(field, f"not a valid template: {error}") from None
    unknown = sorted(names - set(variables))  # also refuses {0}, {} and {first_name.attr}
    if unknown:
        known = ", ".join(f"{{{v}}}" for v in variables)
        raise InvalidInput(field, f"unknown template variable {{{unknown[0]}}} (known: {known})")
    try:  # what parsing lets through and rendering would not ({first_name:d}, a nested {x})
        text.format(**dict.fromkeys(variables, "x"))
    except (ValueError, KeyError, IndexError) as error:
        raise InvalidInput(field, f"not a valid template: {error}") from None


def render(text: str, values: Mapping[str, str]) -> str:
    return text.format(**values)


def person_values(contact: Any, rep: Any) -> dict[str, str]:
    """What every template may say of the person and their rep (``{first_name}``,
    ``{last_name}``, ``{rep_name}``): empty where erased or unknown."""
    return {"first_name": contact.details.first_name or "", "last_name": contact.details.last_name or "",
            "rep_name": rep.name if rep is not None else ""}


def unique_names(names: Iterable[str], field: str, what: str) -> None:
    """Refuse a list of settings naming two items alike (``field``: ``settings.touches``)."""
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            raise InvalidInput(f"{field}[{i}].name", f"two {what} are named {name!r}")
        seen.add(name)
