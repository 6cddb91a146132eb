"""What a contact's, company's or deal's configured values must be (F04, F08, F10, F12,
F16): typed custom properties, required ones present, a status, source, lifecycle stage
and roles from their lists. Pure: the configuration arrives as a ``Setup``.

Every problem of a request is reported at once, each naming its field. A value may
also be given as text, as a CSV file has it ("12.5", "true", "2026-03-01", "12.50 EUR"),
and a list value in any letter case: each is kept in its one stored form (a number, a
boolean, an ISO date, ``{"amount", "currency"}``, the configured spelling).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from crm_es.aggregates.base import INVALID, DomainError
from crm_es.aggregates.money import CURRENCIES, amount_problem
from crm_es.aggregates.setup import PropertyDefinition, Setup


class InvalidValues(DomainError):
    """Values the configuration refuses: ``errors`` names each field and why."""

    rule = "invalid-input"
    category = INVALID

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)
        self.errors = errors


@dataclass(frozen=True)
class RecordValues:
    """What a command sets that the configuration governs; None: not set by this command."""

    properties: dict[str, Any] | None = None  # given: every required property must be in it
    status: str | None = None
    source: str | None = None
    lifecycle: str | None = None
    roles: tuple[str, ...] | None = None


def checked(setup: Setup, record_type: str, values: RecordValues) -> RecordValues:
    """The values in their stored form, or ``InvalidValues`` naming every bad field."""
    errors: list[dict[str, Any]] = []

    def pick(field: str, value: str | None, allowed: tuple[str, ...], what: str) -> str | None:
        if value is None:
            return None
        found = next((a for a in allowed if a.casefold() == value.casefold()), None)
        if found is None:
            errors.append({"field": field, "message": f"{value!r} is not one of the {what}: {', '.join(allowed) or '(none)'}",
                           "allowed": list(allowed)})
        return found

    properties = None
    if values.properties is not None:
        properties = _properties(setup, record_type, values.properties, errors)
    status = pick("status", values.status, setup.statuses, "statuses")
    source = pick("source", values.source, setup.sources, "sources")
    lifecycle = pick("lifecycle", values.lifecycle, setup.lifecycle_stages, "lifecycle stages")
    roles = None
    if values.roles is not None:
        picked = [pick(f"roles[{i}]", role, setup.contact_roles, "contact roles") for i, role in enumerate(values.roles)]
        roles = tuple(dict.fromkeys(r for r in picked if r is not None))  # in order, once each
    if errors:
        raise InvalidValues(errors)
    return replace(values, properties=properties, status=status, source=source, lifecycle=lifecycle, roles=roles)


def _properties(setup: Setup, record_type: str, given: dict[str, Any], errors: list[dict[str, Any]]) -> dict[str, Any]:
    """Defined properties checked and in their stored form; others kept as they are."""
    result = dict(given)
    for definition in setup.properties_of(record_type):
        field = f"properties.{definition.name}"
        value = given.get(definition.name)
        if _empty(value):
            if definition.required:
                errors.append({"field": field, "message": f"{record_type} property {definition.name!r} is required"})
            continue
        try:
            result[definition.name] = _typed(definition, value)
        except ValueError as problem:
            errors.append({"field": field, "message": str(problem)})
    return result


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _typed(definition: PropertyDefinition, value: Any) -> Any:
    """The value in its stored form, or ValueError saying what it must be."""
    match definition.type:
        case "text":
            if not isinstance(value, str):
                raise ValueError("must be text")
            return value
        case "number":
            return _number(value)
        case "money":
            return _money(value, definition.default_currency)
        case "date":
            return _date(value)
        case "boolean":
            return _boolean(value)
        case "choice":
            return _choice(value, definition.choices)
        case "multi_choice":
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list):
                raise ValueError(f"must be a list of choices among: {', '.join(definition.choices)}")
            return list(dict.fromkeys(_choice(item, definition.choices) for item in items))
    raise ValueError(f"has an unknown type {definition.type!r}")  # not reached: types are checked when defined


INTEGER = re.compile(r"^\s*[-+]?\d+\s*$")
NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")
INT64 = range(-(2**63), 2**63)  # what the store's JSON keeps exactly


def _number(value: Any) -> int | float:
    if isinstance(value, bool):  # a bool is an int to Python, not a number to anyone else
        raise ValueError("must be a number, not a boolean")
    if isinstance(value, str) and INTEGER.match(value):
        value = int(value)
    elif isinstance(value, str) and NUMBER.match(value):
        value = float(value)
    if isinstance(value, int):
        if value not in INT64:
            raise ValueError("is too large a number")
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    raise ValueError("must be a number")


MONEY_TEXT = re.compile(r"^\s*(?:([A-Z]{3})\s+)?([-+]?[\d.]+)(?:\s+([A-Z]{3}))?\s*$")


def _money(value: Any, default_currency: str | None) -> dict[str, str]:
    """``{"amount": "12.50", "currency": "EUR"}``, from that, "12.50", "12.50 EUR" or 12.5
    (an amount alone is in the property's default currency)."""
    amount, currency = value, None
    if isinstance(value, dict):
        if "amount" not in value or set(value) - {"amount", "currency"}:
            raise ValueError('must be an amount, or {"amount": "12.50", "currency": "EUR"}')
        amount, currency = value["amount"], value.get("currency")
    elif isinstance(value, str):
        match = MONEY_TEXT.match(value)
        if match is None:
            raise ValueError('must be a decimal amount such as "12.50" or "12.50 EUR"')
        amount, currency = match.group(2), match.group(1) or match.group(3)
    if isinstance(amount, bool) or not isinstance(amount, (str, int, float)):
        raise ValueError("must be a decimal amount")
    try:
        exact = Decimal(str(amount))
    except InvalidOperation:
        raise ValueError(f"{amount!r} is not a decimal amount") from None
    problem = amount_problem(abs(exact))
    if problem:
        raise ValueError(problem)
    currency = currency or default_currency
    if currency is None:
        raise ValueError("needs a currency: the property has no default currency")
    if currency not in CURRENCIES:
        raise ValueError(f"{currency!r} is not an ISO 4217 currency code")
    return {"amount": str(exact), "currency": currency}


ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _date(value: Any) -> str:
    if isinstance(value, str) and ISO_DATE.match(value.strip()):
        try:
            return date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    raise ValueError("must be a date, YYYY-MM-DD")


TRUE, FALSE = {"true", "yes", "1"}, {"false", "no", "0"}


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in TRUE | FALSE:
        return value.strip().lower() in TRUE
    raise ValueError("must be true or false")


def _choice(value: Any, choices: tuple[str, ...]) -> str:
    found = next((c for c in choices if isinstance(value, str) and c.casefold() == value.strip().casefold()), None)
    if found is None:
        raise ValueError(f"{value!r} is not one of the choices: {', '.join(choices)}")
    return found
