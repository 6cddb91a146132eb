"""What the reports answer — the board, /analytics/* and dashboards — as response models
(beside api/answers.py, which holds the records'). Money is decimal text per currency:
amounts never add across currencies."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from pydantic import Field

from crm_es.entrypoints.http.answers import Answer, DecimalText, Day, RepName, Timestamp, absent as _absent


# The period a report covers, in business time, and its two pasts (declared in each
# report, in the place its query puts them).
From = Annotated[Timestamp, Field(alias="from", description="the period's start (included)")]
To = Annotated[Timestamp, Field(description="the period's end (excluded)")]
AsOf = Annotated[Timestamp | None, Field(description="facts that had happened by then (null: all)")]
KnownAt = Annotated[Timestamp | None, Field(description="only facts recorded by then (null: all known now)")]
Key = Annotated[str | None, Field(description="the group: a rep's, team's id, a source, a segment (null: all deals)")]
KeyName = Annotated[str | None, Field(description="the rep's or team's name beside its id (null for other groupings)")]


class Amount(Answer):
    currency: str
    amount: DecimalText


class WonAmount(Answer):
    currency: str
    deals: int
    amount: DecimalText


# --- the board ----------------------------------------------------------------------


class BoardDeal(Answer):
    id: UUID
    title: str | None = Field(description="null once a contact the deal named is forgotten (it may name them)")
    amount: DecimalText
    currency: str
    owner_id: UUID | None
    stage_entered_at: Timestamp


class CurrencyTotal(Answer):
    currency: str
    amount: DecimalText
    weighted_amount: DecimalText


class BoardStage(Answer):
    stage_id: UUID
    name: str
    probability: DecimalText
    count: int
    amount: DecimalText = Field(description="sum of the stage's open deals in the board's currency")
    weighted_amount: DecimalText = Field(description="amount × the stage's probability")
    totals: list[CurrencyTotal] = Field(description="amount and weighted amount per currency")
    deals: list[BoardDeal]


class Board(Answer):
    pipeline_id: UUID
    as_of: Timestamp = Field(description="the business time the board shows")
    known_at: Timestamp | None = Field(None, description="with only what had been recorded by then (null: all known now)")
    currency: str | None = Field(description="the currency `amount` adds up in (null: the pipeline never had a deal)")
    stages: list[BoardStage]


# --- movements ----------------------------------------------------------------------


class MovementKind(Answer):
    kind: str = Field(description="entered, advanced, slipped_back, won, lost or reopened")
    count: int
    amounts: list[Amount]


class Movement(Answer):
    deal_id: UUID
    title: str | None
    kind: str
    pipeline_id: UUID
    from_stage: str | None
    to_stage: str | None
    occurred_at: Timestamp
    amount: DecimalText | None
    currency: str | None
    owner_id: UUID | None
    owner_name: RepName


class Movements(Answer):
    start: From
    to: To
    as_of: AsOf
    known_at: KnownAt
    pipeline_id: UUID | None
    summary: list[MovementKind]
    items: list[Movement]
    truncated: bool = Field(description="more than 10,000 moves: these are the first")


# --- funnel and velocity ------------------------------------------------------------


class FunnelStage(Answer):
    stage_id: UUID
    name: str
    entered: int
    moved_on: int
    won: int
    slipped_back: int
    lost: int
    still_there: int
    conversion: float | None = Field(description="moved on ÷ entered")


class FunnelGroup(Answer):
    key: Key
    key_name: KeyName
    stages: list[FunnelStage]
    opened: int
    won: int
    overall_conversion: float | None
    most_losses: str | None = Field(description="the stage that lost the most deals")


class Funnel(Answer):
    pipeline_id: UUID
    start: From
    to: To
    as_of: AsOf
    known_at: KnownAt
    by: str | None
    groups: list[FunnelGroup]


class StageTime(Answer):
    stage_id: UUID
    name: str
    stays: int
    average_days: float | None
    median_days: float | None


class VelocityAmount(Answer):
    currency: str
    won: int
    average_won_amount: DecimalText
    sales_velocity_per_day: DecimalText | None = Field(
        description="deals opened × win rate × average won amount ÷ average days to close")


class VelocityGroup(Answer):
    key: Key
    key_name: KeyName
    stages: list[StageTime]
    opened: int
    won: int
    lost: int
    win_rate: float | None
    average_days_to_close: float | None
    median_days_to_close: float | None
    amounts: list[VelocityAmount]


class Velocity(Answer):
    pipeline_id: UUID
    start: From
    to: To
    as_of: AsOf
    known_at: KnownAt
    by: str | None
    groups: list[VelocityGroup]


# --- forecast -----------------------------------------------------------------------


class Weighted(Answer):
    currency: str
    amount: DecimalText
    weighted_amount: DecimalText


class ForecastMonth(Answer):
    month: str = Field(description='"2026-04", or "no date"')
    count: int
    amounts: list[Weighted]


class ForecastSegment(Answer):
    segment: str | None
    count: int
    amounts: list[Weighted]


class ForecastGroup(Answer):
    key: Key
    key_name: KeyName
    count: int
    amounts: list[Weighted]
    months: list[ForecastMonth]
    segments: list[ForecastSegment]


class ForecastDeal(Answer):
    deal_id: UUID
    title: str | None
    pipeline_id: UUID
    stage_id: UUID | None
    stage: str | None
    probability: DecimalText | None
    amount: DecimalText
    currency: str
    owner_id: UUID | None
    owner_name: RepName
    company_id: UUID | None
    expected_close: Day | None
    segment: str | None
    weighted_amount: DecimalText | None
    month: str


class Quota(Answer):
    period_start: Day
    period_end: Day
    amount: DecimalText
    currency: str
    set_at: Timestamp


class QuotaProgress(Answer):
    currency: str
    quota: DecimalText | None
    won: DecimalText
    won_deals: int
    progress: float | None = Field(description="won ÷ quota")


class RepForecast(Answer):
    rep_id: UUID
    rep_name: RepName
    team_id: UUID | None
    team_name: str | None
    quotas: list[Quota]
    progress: list[QuotaProgress]


class Forecast(Answer):
    start: From
    to: To
    as_of: AsOf
    known_at: KnownAt
    pipeline_id: UUID | None
    by: str | None
    groups: list[ForecastGroup]
    deals: list[ForecastDeal]
    truncated: bool
    reps: list[RepForecast]


# --- sources, activity, KPIs --------------------------------------------------------


class SourceFigures(Answer):
    source: str | None
    leads: int
    leads_became_deal: int
    conversion: float | None
    deals_opened: int
    deals_won: int
    won_revenue: list[WonAmount]


class Sources(Answer):
    start: From
    to: To
    as_of: AsOf
    known_at: KnownAt
    sources: list[SourceFigures]


class ActivityGroup(Answer):
    key: Key
    key_name: KeyName
    calls_made: int
    calls_received: int
    emails_sent: int
    emails_received: int
    meetings_held: int
    meetings_missed: int
    deals_won: int
    deals_lost: int
    won_revenue: list[WonAmount]
    tasks_done: int


class Activity(Answer):
    start: From
    to: To
    as_of: AsOf
    known_at: KnownAt
    by: str | None
    groups: list[ActivityGroup]


class Leads(Answer):
    registered: int
    became_deal: int
    per_100: float | None


class AverageWon(Answer):
    currency: str
    won: int
    average: DecimalText


class BaseMonth(Answer):
    month: str
    start: Timestamp = Field(alias="from")
    to: Timestamp
    customers_at_start: int
    customers_at_end: int
    growth: float | None


class FirstTouch(Answer):
    answered: int
    unanswered: int
    average_hours: float | None
    median_hours: float | None


class Retention(Answer):
    customers_at_start: int
    retained: int
    rate: float | None


class Renewals(Answer):
    count: int
    amounts: list[WonAmount]


class KpiGroup(Answer):
    key: Key
    key_name: KeyName
    leads: Leads
    average_won_amount: list[AverageWon]
    customer_base: list[BaseMonth]
    response: FirstTouch = Field(description="hours from a lead's registration to a rep's first touch")
    retention: Retention
    renewals: Renewals


class Kpis(Answer):
    start: From
    to: To
    as_of: AsOf
    known_at: KnownAt
    by: str | None
    groups: list[KpiGroup]


# --- dashboards ---------------------------------------------------------------------


class ReportError(Answer):
    status: int
    rule: str
    detail: str


class FilledReport(Answer):
    report: str = Field(description="board, movements, funnel, velocity, forecast, sources, activity or kpis")
    params: dict[str, Any]
    # One or the other: the one absent stays absent (never a null).
    result: dict[str, Any] | None = Field(None, exclude_if=_absent, description="as the report's own route answers")
    error: ReportError | None = Field(None, exclude_if=_absent,
                                      description="why the report cannot be run now (its pipeline gone)")


class DashboardPublic(Answer):
    id: UUID
    name: str
    reports: list[FilledReport]
    saved_by: str | None
    created_at: Timestamp
    updated_at: Timestamp
    version: int
    position: int
