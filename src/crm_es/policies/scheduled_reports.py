"""Scheduled reports to managers (F35): daily, weekly or monthly, each team's manager gets
an e-mail with the figures of the period just ended, per rep of the team and in total —
new contracts (deals won: how many, and their amounts per currency), deals closed (won or
lost), calls made, e-mails sent and received, meetings held, tasks done, and retention (of
the rep's customers at the period's start, how many still are at its end).

Time: APScheduler's cron triggers do the calendar arithmetic (the next Monday 08:00 in
Europe/Paris, across summer time), called as pure functions with the time of the event
reacted to — no scheduler thread, no clock of its own. The job store is the event log:
each next run is a ``Timer.Scheduled`` event (aggregates/timer.py) and the record
``ReportRuns`` (aggregates/report_runs.py) says which timer each schedule waits for.
A job store beside the log could disagree with it; events replay, and a restored backup
or a second runner sees the same next runs. On ``Timer.Fired`` the policy sends the
reports and schedules the next run; a run missed while the service was down is not
made up for (the next one is after the time it fired), so a long stop sends no flood.

The period a run reports on is the one that ended at the midnight starting its day, in
the schedule's time zone: the day before (daily), the 7 days before (weekly: Monday to
Sunday for a run on a Monday), the calendar month before (monthly).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any, Literal
from uuid import NAMESPACE_URL, uuid5
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from apscheduler.triggers.cron import CronTrigger
from pydantic import Field, field_validator

from crm_es.aggregates import message as messages
from crm_es.aggregates import report_runs as runs
from crm_es.aggregates import timer as timers
from crm_es.aggregates.base import Event
from crm_es.aggregates.message import PENDING, Message
from crm_es.aggregates.policy import PolicySettings
from crm_es.aggregates.report_runs import REPORT_RUNS_ID, ReportRuns
from crm_es.aggregates.timer import Timer
from crm_es.policies.base import NOTHING, Loader, Policy, PolicyContext, PolicySettingsModel, Reaction
from crm_es.policies.templates import unique_names
from crm_es.queries import automations

NAME = "scheduled-reports"
RUN = "run"  # the timers' purpose
UTC = timezone.utc
DAILY, WEEKLY, MONTHLY = "daily", "weekly", "monthly"


class Schedule(PolicySettingsModel):
    name: str = Field(min_length=1, max_length=100, description="names the report in its subject")
    frequency: Literal["daily", "weekly", "monthly"]
    hour: int = Field(8, ge=0, le=23, description="the hour it is sent, in its time zone")
    weekday: int = Field(0, ge=0, le=6, description="weekly: the day it is sent, 0 is Monday")
    day: int = Field(1, ge=1, le=28, description="monthly: the day of the month it is sent")
    timezone: str = Field("UTC", description="an IANA time zone (Europe/Paris): its hours and its days")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(f"not an IANA time zone: {value!r} (Europe/Paris, UTC …)") from None
        return value

    @property
    def key(self) -> str:
        """A fingerprint of the definition: a schedule changed is another schedule."""
        return hashlib.sha256(orjson.dumps(self.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]

    def trigger(self) -> CronTrigger:
        when: dict[str, Any] = {"hour": self.hour, "minute": 0, "second": 0}
        if self.frequency == WEEKLY:
            when["day_of_week"] = self.weekday
        elif self.frequency == MONTHLY:
            when["day"] = self.day
        return CronTrigger(timezone=self.timezone, **when)


def next_run(schedule: Schedule, after: datetime) -> datetime:
    """The schedule's first run strictly after ``after``, in UTC."""
    fire = schedule.trigger().get_next_fire_time(None, after + timedelta(microseconds=1))
    assert fire is not None  # a cron trigger without an end date always has a next time
    return fire.astimezone(UTC)


def period(schedule: Schedule, run_at: datetime) -> tuple[datetime, datetime]:
    """The period a run at ``run_at`` reports on: [start, end), midnights of its zone."""
    zone = ZoneInfo(schedule.timezone)
    end_day = run_at.astimezone(zone).date()
    if schedule.frequency == DAILY:
        start_day = end_day - timedelta(days=1)
    elif schedule.frequency == WEEKLY:
        start_day = end_day - timedelta(days=7)
    else:
        end_day = end_day.replace(day=1)
        start_day = (end_day - timedelta(days=1)).replace(day=1)
    return datetime.combine(start_day, time(), zone), datetime.combine(end_day, time(), zone)


@dataclass
class Figures:
    """One rep's (or a team's) figures over a period."""

    won: int = 0
    won_amounts: dict[str, Decimal] = field(default_factory=dict)  # by currency: never added across them
    closed: int = 0  # won or lost
    calls: int = 0
    emails_sent: int = 0
    emails_received: int = 0
    meetings_held: int = 0
    tasks_done: int = 0
    customers: int = 0  # at the period's start (the rep's, then)
    kept: int = 0  # of those, still customers at its end

    def add(self, other: Figures) -> None:
        for name in ("won", "closed", "calls", "emails_sent", "emails_received", "meetings_held", "tasks_done",
                     "customers", "kept"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for currency, amount in other.won_amounts.items():
            self.won_amounts[currency] = self.won_amounts.get(currency, Decimal(0)) + amount


COLUMNS = ("Rep", "Won", "Won amount", "Closed", "Calls", "E-mails sent", "E-mails received", "Meetings held",
           "Tasks done", "Retention")
INTERACTION_FIGURE = {"call": "calls", "email_sent": "emails_sent", "email_received": "emails_received",
                      "meeting_held": "meetings_held"}


def amounts(won: dict[str, Decimal]) -> str:
    return ", ".join(f"{won[c]:,.2f} {c}" for c in sorted(won)) or "-"


def render(schedule: Schedule, team: str, reps: list[tuple[str, Figures]], start: datetime,
           end: datetime) -> tuple[str, str]:
    """The e-mail: a subject, and a plain-text table (a row per rep, then the team's)."""
    total = Figures()
    for _, figures in reps:
        total.add(figures)
    rows = [COLUMNS] + [_row(name, f) for name, f in reps] + [_row("Team total", total)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]

    def line(row: tuple[str, ...]) -> str:
        cells = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        return " | ".join(cells).rstrip()

    last_day = (end - timedelta(days=1)).date()
    span = _day(start.date()) if schedule.frequency == DAILY else f"{_day(start.date())} to {_day(last_day)}"
    table = [line(rows[0]), "-+-".join("-" * w for w in widths), *(line(r) for r in rows[1:])]
    body = (f"{schedule.frequency.capitalize()} report \"{schedule.name}\" for the team {team}\n"
            f"{span} ({schedule.timezone})\n\n" + "\n".join(table) + "\n\n"
            "Won: deals won (new contracts); Closed: deals won or lost; Calls: outbound calls;\n"
            "Retention: of the customers (active or loyal) at the start, those still customers at the end.\n")
    subject = f"{schedule.name}: {team}, {span}"
    return subject, body


def _row(name: str, f: Figures) -> tuple[str, ...]:
    return (name, str(f.won), amounts(f.won_amounts), str(f.closed), str(f.calls), str(f.emails_sent),
            str(f.emails_received), str(f.meetings_held), str(f.tasks_done),
            f"{f.kept}/{f.customers} ({f.kept / f.customers:.0%})" if f.customers else "-")


def _day(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


class ScheduledReports(Policy):
    name = NAME
    description = "Daily, weekly or monthly e-mails to each team's manager with the team's figures, rep by rep."
    reacts_to = (PolicySettings.Configured, Timer.Fired)

    class Settings(PolicySettingsModel):
        schedules: tuple[Schedule, ...] = Field((), max_length=20)

    def check(self, settings: Settings, load: Loader) -> None:
        unique_names((s.name for s in settings.schedules), "settings.schedules", "schedules")

    def react(self, event: Event, ctx: PolicyContext) -> Reaction:
        match event:
            case PolicySettings.Configured() if event.name == self.name:
                return self._configured(ctx)
            case Timer.Fired() if event.policy == self.name and event.purpose == RUN:
                return self._run(event, ctx)
        return NOTHING

    def _configured(self, ctx: PolicyContext) -> Reaction:
        """Switched on or set: each schedule gets its next run, unless it already waits
        for one; the runs of schedules removed or changed are cancelled. (A timer that
        fired while the policy was off was passed over: its schedule gets a new one.)"""
        state = ctx.load(ReportRuns, REPORT_RUNS_ID)
        wanted = {s.key: s for s in ctx.settings.schedules}
        reaction = NOTHING
        for key, timer_id in sorted(state.pending.items()) if state is not None else ():
            timer = ctx.load(Timer, timer_id)
            waiting = timer is not None and timer.status == PENDING
            if key in wanted and waiting:
                del wanted[key]
            elif key not in wanted:
                why = "schedule removed or changed"
                dropped = runs.run_dropped(state, key, why, ctx.meta())
                state = ReportRuns.evolve(state, dropped[0])
                reaction += Reaction(dropped) + Reaction(*timers.cancel(timer, why, ctx.meta()))
        for key, schedule in sorted(wanted.items()):
            step, state = self._schedule(state, schedule, ctx.now, ctx)
            reaction += step
        return reaction

    def _run(self, event: Timer.Fired, ctx: PolicyContext) -> Reaction:
        state = ctx.load(ReportRuns, REPORT_RUNS_ID)
        key = event.data.get("key")
        if state is None or state.pending.get(key) != event.originator_id:
            return NOTHING  # its schedule was changed or removed since
        schedule = Schedule(**event.data["schedule"])
        reaction = self._reports(schedule, event.due_at, ctx)
        step, _ = self._schedule(state, schedule, max(ctx.now, event.due_at), ctx)
        return reaction + step

    def _schedule(self, state: ReportRuns | None, schedule: Schedule, after: datetime,
                  ctx: PolicyContext) -> tuple[Reaction, ReportRuns]:
        due = next_run(schedule, after)
        version = (state.version if state is not None else 0) + 1
        timer_id = uuid5(NAMESPACE_URL, f"urn:crm-es:{NAME}:{schedule.key}:{due.isoformat()}:{version}")
        events = runs.run_scheduled(state, schedule.key, schedule.name, timer_id, due, ctx.meta())
        data = {"key": schedule.key, "schedule": schedule.model_dump(mode="json")}
        timer_events, rows = timers.schedule(timer_id, NAME, RUN, due, None, data, ctx.meta())
        return Reaction([*events, *timer_events], rows), ReportRuns.evolve(state, events[0])

    def _reports(self, schedule: Schedule, run_at: datetime, ctx: PolicyContext) -> Reaction:
        """One e-mail per team with a manager and reps. Its id comes from the schedule,
        the period and the team: a schedule set again within a period sends it once."""
        start, end = period(schedule, run_at)
        with ctx.cursor() as cur:
            figures = self._figures(start.astimezone(UTC), end.astimezone(UTC), cur)
            teams = [(team, automations.members(cur, team.id)) for team in automations.managed_teams(cur)]
        reaction = NOTHING
        for (team_id, team, manager_email), members in teams:
            if not members:
                continue
            message_id = uuid5(NAMESPACE_URL, f"urn:crm-es:{NAME}:{schedule.name}:{schedule.frequency}:"
                                              f"{start.date().isoformat()}:{team_id}")
            if ctx.load(Message, message_id) is not None:
                continue
            reps = [(name, figures.get(str(rep_id), Figures())) for rep_id, name in members]
            subject, body = render(schedule, team, reps, start, end)
            events, row = messages.queue(message_id, messages.EMAIL, manager_email, body, NAME, ctx.meta(),
                                         subject=subject)
            reaction += Reaction(events, [row])
        return reaction

    def _figures(self, start: datetime, end: datetime, cur: automations.Cursor) -> dict[str, Figures]:
        by_rep: dict[str, Figures] = defaultdict(Figures)
        for rep_id, kind, count in automations.activity_by_rep(cur, start, end):
            figures = by_rep[str(rep_id)]
            setattr(figures, INTERACTION_FIGURE[kind], getattr(figures, INTERACTION_FIGURE[kind]) + count)
        for rep_id, status, currency, count, amount in automations.closed_by_owner(cur, start, end):
            figures = by_rep[str(rep_id)]
            figures.closed += count
            if status == "won":
                figures.won += count
                figures.won_amounts[currency] = figures.won_amounts.get(currency, Decimal(0)) + Decimal(amount)
        for rep_id, count in automations.tasks_done_by_owner(cur, start, end):
            by_rep[str(rep_id)].tasks_done += count
        for rep_id, customers, kept in automations.retention_by_owner(cur, start, end):
            by_rep[str(rep_id)].customers += customers
            by_rep[str(rep_id)].kept += kept
        return by_rep
