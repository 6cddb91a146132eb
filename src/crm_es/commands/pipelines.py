"""Pipelines: the ordered stages deals move through."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from crm_es.aggregates import Pipeline
from crm_es.aggregates import pipeline as pipelines
from crm_es.aggregates.pipeline import StageSpec
from crm_es.commands.context import CommandContext, CommandResult


@dataclass(frozen=True)
class CreatePipeline:
    name: str
    stages: Sequence[StageSpec]
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class RevisePipeline:
    pipeline_id: UUID
    name: str | None = None
    stages: Sequence[StageSpec] | None = None
    occurred_at: datetime | None = None


def create_pipeline(cmd: CreatePipeline, ctx: CommandContext) -> CommandResult:
    pipeline_id = ctx.new_id()
    events = pipelines.create(pipeline_id, cmd.name, cmd.stages, ctx.new_id, ctx.meta(cmd.occurred_at))
    return ctx.save(pipeline_id, events, created=True)


def revise_pipeline(cmd: RevisePipeline, ctx: CommandContext) -> CommandResult:
    pipeline = ctx.target(Pipeline, cmd.pipeline_id)
    events = pipelines.revise(pipeline, cmd.name, cmd.stages, ctx.lookups.open_deals_in_stage, ctx.new_id, ctx.meta(cmd.occurred_at))
    return ctx.save(pipeline.id, events, current_version=pipeline.version)
