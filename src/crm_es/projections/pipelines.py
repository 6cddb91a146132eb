"""pipelines and pipeline_stages."""

from __future__ import annotations

from typing import Any

from crm_es.projections.rows import Delete, EventRow, Insert, Op, Patch, PatchWhere, created, stamp, version

HISTORY = "pipeline_stage_history"


def _stage_row(pipeline_id: str, stage: dict[str, Any], sort_order: int) -> dict[str, Any]:
    return {
        "stage_id": stage["id"],
        "pipeline_id": pipeline_id,
        "name": stage["name"],
        "probability": stage["probability"],
        "sort_order": sort_order,
    }


def _order(e: EventRow, order: list[str], skip: str | None = None) -> list[Op]:
    """Every stage's place; a version for each stage (but ``skip``: it has its own)."""
    ops: list[Op] = []
    for i, stage_id in enumerate(order):
        ops.append(Patch("pipeline_stages", stage_id, {"sort_order": i}))
        if stage_id != skip:
            ops.append(_version(e, stage_id, sort_order=i))
    return ops


def _version(e: EventRow, stage_id: str, **values: object) -> Op:
    return version(HISTORY, EventRow(e.position, stage_id, e.version, e.topic, e.data), **values)


def _first_version(e: EventRow, row: dict[str, object]) -> Op:
    return _version(e, str(row["stage_id"]), **{k: v for k, v in row.items() if k != "stage_id"}, removed=False)


def pipeline_created(e: EventRow) -> list[Op]:
    ops: list[Op] = [Insert("pipelines", {**created(e), "name": e.data["name"]})]
    for i, stage in enumerate(e.data["stages"]):
        row = _stage_row(e.id, stage, i)
        ops += [Insert("pipeline_stages", row), _first_version(e, row)]
    return ops


def pipeline_renamed(e: EventRow) -> list[Op]:
    return [Patch("pipelines", e.id, {**stamp(e), "name": e.data["name"]})]


def stage_added(e: EventRow) -> list[Op]:
    stage = e.data["stage"]
    order = e.data["order"]
    row = _stage_row(e.id, stage, order.index(stage["id"]))
    return [
        Patch("pipelines", e.id, stamp(e)),
        Insert("pipeline_stages", row),
        _first_version(e, row),
        *_order(e, order, skip=stage["id"]),
    ]


def stage_renamed(e: EventRow) -> list[Op]:
    stage_id, name = e.data["stage_id"], e.data["name"]
    return [
        Patch("pipelines", e.id, stamp(e)),
        Patch("pipeline_stages", stage_id, {"name": name}),
        _version(e, stage_id, name=name),
        # Deals show their stage's current name.
        PatchWhere("deals", {"stage_id": stage_id}, {"stage": name}),
    ]


def stage_probability_changed(e: EventRow) -> list[Op]:
    return [
        Patch("pipelines", e.id, stamp(e)),
        Patch("pipeline_stages", e.data["stage_id"], {"probability": e.data["probability"]}),
        _version(e, e.data["stage_id"], probability=e.data["probability"]),
    ]


def stage_removed(e: EventRow) -> list[Op]:
    return [
        Patch("pipelines", e.id, stamp(e)),
        Delete("pipeline_stages", e.data["stage_id"]),
        _version(e, e.data["stage_id"], removed=True),
        *_order(e, e.data["order"]),
    ]


def stages_reordered(e: EventRow) -> list[Op]:
    return [Patch("pipelines", e.id, stamp(e)), *_order(e, e.data["order"])]
