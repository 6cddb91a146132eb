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


def path_id(request: Request, name: str) -> UUID:
    """The record's id in the page's path (``/app/deals/{deal_id}``): a 422 naming it if it is no UUID."""
    try:
        return UUID(request.path_params[name])
    except ValueError:
        raise InvalidField(f"path.{name}", "invalid_id") from None


def query_id(request: Request, name: str) -> UUID | None:
    text = request.query_params.get(name, "").strip()
    if not text:
        return None
    try:
        return UUID(text)
    except ValueError:
        raise InvalidField(f"query.{name}", "invalid_id") from None


def query_moment(request: Request) -> tuple[date | None, date | None]:
    """The time-travel form's days (the board, the dashboards): ``as_of``, and ``known_at``
    — the same day when "as we knew it then" is ticked; ``known_at`` alone sets ``as_of``
    too (that day's page, as known that day). (None, None): today."""
    as_of, known_at = query_day(request, "as_of"), query_day(request, "known_at")
    if request.query_params.get("known_at_then") and as_of is not None:
        known_at = as_of
    if as_of is None and known_at is not None:
        as_of = known_at
    return as_of, known_at
