"""Turning results into answers: status, ETag, 404."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import Response

from crm_es.aggregates.base import NotFound
from crm_es.commands import CommandResult


def answer(response: Response, result: CommandResult) -> dict[str, Any]:
    """A command's answer: 201 for a new record, the first answer's status on a retry."""
    response.status_code = result.status
    response.headers["ETag"] = f'"{result.version}"'
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return result.body()


def found(response: Response, row: dict[str, Any] | None, kind: str, id: UUID) -> dict[str, Any]:
    """One record from the read side, with its version as ETag."""
    if row is None:
        raise NotFound(kind, id)
    response.headers["ETag"] = f'"{row["version"]}"'
    return row
