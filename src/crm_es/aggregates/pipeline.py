"""A pipeline: the company's sales process as ordered stages, each with a win probability.

Stages have stable ids, so a renamed stage keeps its deals and its history.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from crm_es.aggregates.base import Aggregate, Decision, Event, InvalidInput, Meta, RuleViolated, new_event


@dataclass(frozen=True)
class Stage:
    id: UUID
    name: str
    probability: Decimal


@dataclass(frozen=True)
class StageSpec:
    """A stage as a command asks for it: ``id`` names an existing stage, else the name does."""

    name: str
    probability: Decimal
    id: UUID | None = None


@dataclass(frozen=True)
class Pipeline(Aggregate):
    name: str
    stages: tuple[Stage, ...]
    # Business times the pipeline and each of its stages came to exist: a deal cannot be in
    # a stage before then, so the board as of any moment shows every deal of that moment.
    created_at: datetime | None = None
    stage_added_at: dict[UUID, datetime] = field(default_factory=dict)

    class Created(Event):
        name: str
        stages: tuple[Stage, ...]

    class Renamed(Event):
        name: str

    class StageAdded(Event):
        stage: Stage
        order: tuple[UUID, ...]

    class StageRenamed(Event):
        stage_id: UUID
        name: str

    class StageProbabilityChanged(Event):
        stage_id: UUID
        probability: Decimal

    class StageRemoved(Event):
        stage_id: UUID
        order: tuple[UUID, ...]

    class StagesReordered(Event):
        order: tuple[UUID, ...]

    def stage_named(self, name: str) -> Stage | None:
        wanted = name.casefold()
        return next((s for s in self.stages if s.name.casefold() == wanted), None)

    def stage(self, stage_id: UUID) -> Stage | None:
        return next((s for s in self.stages if s.id == stage_id), None)

    def check_existed(self, stage: Stage, when: datetime) -> None:
        """A deal in ``stage`` at business time ``when`` needs the pipeline and the stage to
        have existed then: otherwise the board as of ``when`` could not show it."""
        if self.created_at is not None and when < self.created_at:
            raise RuleViolated(
                "before-pipeline",
                f"occurred_at {when.isoformat()} is before pipeline {self.name!r} existed "
                f"({self.created_at.isoformat()}): create the pipeline with an earlier occurred_at "
                "to record its past deals",
                field="occurred_at", pipeline_created_at=self.created_at.isoformat(),
            )
        added_at = self.stage_added_at.get(stage.id)
        if added_at is not None and when < added_at:
            raise RuleViolated(
                "stage-not-yet-added",
                f"occurred_at {when.isoformat()} is before stage {stage.name!r} was added to pipeline "
                f"{self.name!r} ({added_at.isoformat()})",
                field="occurred_at", stage_added_at=added_at.isoformat(),
            )

    @classmethod
    def evolve(cls, state: Pipeline | None, event: Event) -> Pipeline:
        if isinstance(event, Pipeline.Created):
            return Pipeline(
                event.originator_id, event.originator_version, event.name, tuple(event.stages),
                event.occurred_at, {s.id: event.occurred_at for s in event.stages},
            )
        assert state is not None
        state = replace(state, version=event.originator_version)
        match event:
            case Pipeline.Renamed():
                return replace(state, name=event.name)
            case Pipeline.StageAdded():
                added_at = {**state.stage_added_at, event.stage.id: event.occurred_at}
                return _reordered(replace(state, stages=(*state.stages, event.stage), stage_added_at=added_at), event.order)
            case Pipeline.StageRenamed():
                return _changed(state, event.stage_id, name=event.name)
            case Pipeline.StageProbabilityChanged():
                return _changed(state, event.stage_id, probability=event.probability)
            case Pipeline.StageRemoved():
                kept = tuple(s for s in state.stages if s.id != event.stage_id)
                return _reordered(replace(state, stages=kept), event.order)
            case Pipeline.StagesReordered():
                return _reordered(state, event.order)
        raise TypeError(f"Pipeline cannot apply {type(event).__qualname__}")


def _changed(state: Pipeline, stage_id: UUID, **fields: object) -> Pipeline:
    return replace(state, stages=tuple(replace(s, **fields) if s.id == stage_id else s for s in state.stages))


def _reordered(state: Pipeline, order: Sequence[UUID]) -> Pipeline:
    by_id = {s.id: s for s in state.stages}
    return replace(state, stages=tuple(by_id[i] for i in order))


def _check_names(specs: Sequence[StageSpec]) -> None:
    if not specs:
        raise InvalidInput("stages", "a pipeline needs at least one stage")
    seen: set[str] = set()
    for i, spec in enumerate(specs):
        key = spec.name.casefold()
        if key in seen:
            raise InvalidInput(f"stages[{i}].name", f"stage name {spec.name!r} is used twice")
        seen.add(key)


def create(pipeline_id: UUID, name: str, specs: Sequence[StageSpec], new_id: Callable[[], UUID], meta: Meta) -> list[Event]:
    _check_names(specs)
    stages = tuple(Stage(new_id(), s.name, s.probability) for s in specs)
    return [new_event(Pipeline.Created, pipeline_id, 1, meta, name=name, stages=stages)]


def revise(
    pipeline: Pipeline,
    name: str | None,
    specs: Sequence[StageSpec] | None,
    occupied: Callable[[UUID], int],
    new_id: Callable[[], UUID],
    meta: Meta,
) -> list[Event]:
    """Turn a wanted pipeline (name, stages in order) into the events that get there.

    ``occupied(stage_id)`` says how many open deals sit in a stage: a stage with
    deals in it cannot be removed.
    """
    decision = Decision(pipeline, meta)
    emit = decision.emit
    if name is not None and name != pipeline.name:
        emit(Pipeline.Renamed, name=name)
    if specs is None:
        return decision.events
    _check_names(specs)

    wanted: list[tuple[StageSpec, Stage | None]] = []
    for i, spec in enumerate(specs):
        existing = pipeline.stage(spec.id) if spec.id else pipeline.stage_named(spec.name)
        if spec.id and existing is None:
            raise InvalidInput(f"stages[{i}].id", f"stage {spec.id} is not in this pipeline")
        if existing and any(existing is other for _, other in wanted):
            raise InvalidInput(f"stages[{i}]", f"stage {existing.name!r} is listed twice")
        wanted.append((spec, existing))
    kept_ids = {existing.id for _, existing in wanted if existing}

    for stage in pipeline.stages:
        if stage.id not in kept_ids:
            deals = occupied(stage.id)
            if deals:
                raise RuleViolated(
                    "stage-has-deals",
                    f"stage {stage.name!r} still holds {deals} open deal(s); move them first",
                    stage_id=str(stage.id),
                    deals=deals,
                )
            order = tuple(s.id for s in decision.state.stages if s.id != stage.id)
            emit(Pipeline.StageRemoved, stage_id=stage.id, order=order)

    final_order: list[UUID] = []
    for spec, existing in wanted:
        if existing is None:
            stage = Stage(new_id(), spec.name, spec.probability)
            emit(Pipeline.StageAdded, stage=stage, order=(*(s.id for s in decision.state.stages), stage.id))
            final_order.append(stage.id)
            continue
        if spec.name != existing.name:
            emit(Pipeline.StageRenamed, stage_id=existing.id, name=spec.name)
        if spec.probability != existing.probability:
            emit(Pipeline.StageProbabilityChanged, stage_id=existing.id, probability=spec.probability)
        final_order.append(existing.id)

    if tuple(final_order) != tuple(s.id for s in decision.state.stages):
        emit(Pipeline.StagesReordered, order=tuple(final_order))
    return decision.events
