"""The one table from a refusal to its HTTP status. The domain and the layers below it say
which rule said no and what sort of "no" it is (its category, aggregates/base.py); the
HTTP edge alone turns that into a number: when it answers a refusal, when it shows a batch
item's, and when it replays one kept under an Idempotency-Key."""

from __future__ import annotations

from typing import Any

from crm_es.aggregates.base import CONFLICT, FORBIDDEN, INVALID, NOT_FOUND, STALE, DomainError
from crm_es.commands.context import ReplayedRefusal

STATUS = {
    CONFLICT: 409,
    NOT_FOUND: 404,
    INVALID: 422,
    FORBIDDEN: 403,
    STALE: 412,
}


def status_of(error: DomainError) -> int:
    if isinstance(error, ReplayedRefusal) and error.first_status:  # kept before refusals named a category
        return error.first_status
    return STATUS[error.category]


def item_problem(error: dict[str, Any]) -> dict[str, Any]:
    """A batch item's problem as the client reads it: its status first, in place of the
    category the commands gave it. One the HTTP layer wrote itself (a schema's), or one
    kept under an Idempotency-Key before items named a category, has its status already."""
    if "category" not in error:
        return error
    problem = {"status": STATUS[error["category"]], **error}
    del problem["category"]
    return problem
