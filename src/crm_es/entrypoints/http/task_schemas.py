"""The HTTP contract of tasks, the agenda and activity types (beside api/schemas.py,
which holds the records' shared pieces)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import Field

from crm_es.inputs.fields import Body, Instant, Name, Text

Colour = Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$", description='"#rrggbb"')]


class TaskCreate(Body):
    type: Annotated[str, Field(min_length=1, max_length=50, description="an activity type (GET /settings/activity-types)")]
    title: Name
    due_at: Instant
    duration_minutes: Annotated[int, Field(ge=1, le=10_080)] | None = None
    owner_id: UUID | None = Field(default=None, description="the rep whose agenda; by default the caller (a rep's key)")
    contact_id: UUID | None = None
    deal_id: UUID | None = None
    notes: Text | None = Field(default=None, description="personal data of the contact: erased when they are forgotten")


class TaskDone(Body):
    outcome: Text | None = Field(default=None, description="what came of it (personal data of the contact)")
    occurred_at: Instant | None = Field(default=None, description="when it was done; default now")


class TaskReschedule(Body):
    due_at: Instant


class TaskCancel(Body):
    pass


class ActivityTypeSet(Body):
    label: Name | None = Field(default=None, description="by default the current label, or the name for a new type")
    colour: Colour

