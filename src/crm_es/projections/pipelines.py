"""pipelines and pipeline_stages."""

from __future__ import annotations

from typing import Any

from crm_es.aggregates import Pipeline
from crm_es.projections.rows import Delete, EventRow, Insert, Op, Patch, PatchWhere, created, on, stamp


def _stage_row(pipeline_id: str, stage: dict[str, Any], sort_order: int) -> dict[str, Any]:
    return {
        "stage_id": stage["id"],
        "pipeline_id": pipeline_id,
        "name": stage["name"],
        "probability": stage["probability"],
        "sort_order": sort_order,
    }


def _order(order: list[str]) -> list[Op]:
    return [Patch("pipeline_stages", stage_id, {"sort_order": i}) for i, stage_id in enumerate(order)]


@on(Pipeline.Created)
def pipeline_created(e: EventRow) -> list[Op]:
    ops: list[Op] = [Insert("pipelines", {**created(e), "name": e.data["name"]})]
    ops += [Insert("pipeline_stages", _stage_row(e.id, s, i)) for i, s in enumerate(e.data["stages"])]
    return ops


@on(Pipeline.Renamed)
def pipeline_renamed(e: EventRow) -> list[Op]:
    return [Patch("pipelines", e.id, {**stamp(e), "name": e.data["name"]})]


@on(Pipeline.StageAdded)
def stage_added(e: EventRow) -> list[Op]:
    stage = e.data["stage"]
    order = e.data["order"]
    return [
        Patch("pipelines", e.id, stamp(e)),
        Insert("pipeline_stages", _stage_row(e.id, stage, order.index(stage["id"]))),
        *_order(order),
    ]


@on(Pipeline.StageRenamed)
def stage_renamed(e: EventRow) -> list[Op]:
    stage_id, name = e.data["stage_id"], e.data["name"]
    return [
        Patch("pipelines", e.id, stamp(e)),
        Patch("pipeline_stages", stage_id, {"name": name}),
        # Deals show their stage's current name.
        PatchWhere("deals", {"stage_id": stage_id}, {"stage": name}),
    ]


@on(Pipeline.StageProbabilityChanged)
def stage_probability_changed(e: EventRow) -> list[Op]:
    return [
        Patch("pipelines", e.id, stamp(e)),
        Patch("pipeline_stages", e.data["stage_id"], {"probability": e.data["probability"]}),
    ]


@on(Pipeline.StageRemoved)
def stage_removed(e: EventRow) -> list[Op]:
    return [Patch("pipelines", e.id, stamp(e)), Delete("pipeline_stages", e.data["stage_id"]), *_order(e.data["order"])]


@on(Pipeline.StagesReordered)
def stages_reordered(e: EventRow) -> list[Op]:
    return [Patch("pipelines", e.id, stamp(e)), *_order(e.data["order"])]
