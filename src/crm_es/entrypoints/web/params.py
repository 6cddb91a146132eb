"""A page's query parameters read the one way: empty is absent; anything else must parse, or
the page answers 422 naming the field (guard.InvalidField)."""

from __future__ import annotations

import re
from datetime import date
from uuid import UUID

from starlette.requests import Request

from crm_es.entrypoints.web.guard import InvalidField

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def query_day(request: Request, name: str) -> date | None:
    text = request.query_params.get(name, "").strip()
    if not text:
        return None
    if not _DAY.match(text):
        raise InvalidField(f"query.{name}", "invalid_date")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidField(f"query.{name}", "invalid_date") from None


def query_id(request: Request, name: str) -> UUID | None:
    text = request.query_params.get(name, "").strip()
    if not text:
        return None
    try:
        return UUID(text)
    except ValueError:
        raise InvalidField(f"query.{name}", "invalid_id") from None
