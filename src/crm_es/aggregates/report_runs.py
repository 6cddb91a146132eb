"""The scheduled reports' next runs (F35): one record for the ``scheduled-reports``
policy, saying which timer waits for each schedule. A schedule is known by its key (a
fingerprint of its definition), so a schedule changed is a new key: its old timer is
dropped (and cancelled), the new one set. A timer that fires and is no longer the one its
key waits for is from a schedule since changed or removed: it is passed over."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from crm_es.aggregates.base import Aggregate, Event, Meta, new_event

REPORT_RUNS_ID = uuid5(NAMESPACE_URL, "urn:crm-es:scheduled-reports:runs")


@dataclass(frozen=True)
class ReportRuns(Aggregate):
    pending: dict[str, UUID]  # schedule key -> the timer of its next run

    class RunScheduled(Event):
        # The policy's bookkeeping (a schedule's name, a time): nothing about a person.
        personal_fields = ()
        subject_field = "originator_id"

        key: str
        schedule: str  # the schedule's name, for a reader of the log
        timer_id: UUID
        due_at: datetime

    class RunDropped(Event):
        personal_fields = ()
        subject_field = "originator_id"

        key: str
        timer_id: UUID
        reason: str

    @classmethod
    def evolve(cls, state: ReportRuns | None, event: Event) -> ReportRuns:
        pending = dict(state.pending) if state is not None else {}
        match event:
            case ReportRuns.RunScheduled():
                pending[event.key] = event.timer_id
            case ReportRuns.RunDropped():
                pending.pop(event.key, None)
            case _:
                raise TypeError(f"ReportRuns cannot apply {type(event).__qualname__}")
        return ReportRuns(event.originator_id, event.originator_version, pending)


def run_scheduled(state: ReportRuns | None, key: str, schedule: str, timer_id: UUID, due_at: datetime,
                  meta: Meta) -> list[Event]:
    return [new_event(ReportRuns.RunScheduled, REPORT_RUNS_ID, _version(state) + 1, meta, key=key, schedule=schedule,
                      timer_id=timer_id, due_at=due_at)]


def run_dropped(state: ReportRuns, key: str, reason: str, meta: Meta) -> list[Event]:
    return [state.then(ReportRuns.RunDropped, meta, key=key, timer_id=state.pending[key], reason=reason)]


def _version(state: ReportRuns | None) -> int:
    return state.version if state is not None else 0
