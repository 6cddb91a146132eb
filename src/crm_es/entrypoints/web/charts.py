"""The dashboards' charts, made from the reports' answers exactly as the JSON API gives them
(``GET /analytics/<report>``, ``GET /dashboards/{id}``): nothing is computed here but the
choice of which numbers to draw.

A chart is categories (``x``, with their raw keys: stage names, months, sources, reps,
activity figures) and series (one per group, measure and currency, with their raw group
key): the page embeds it as JSON for plotly.js (static/dashboards.js draws one bar trace
per series, its ``meta`` and ``customdata`` keeping the keys) and writes the same numbers as
a table, readable without a script. Amounts never add across currencies: one series each."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from crm_es.entrypoints.web.i18n import Words

Chart = dict[str, Any]

# What each report can be grouped by (its route's ``by``); any other grouping shows it whole.
GROUPINGS = {"funnel": ("rep", "team", "source"), "velocity": ("rep", "team", "source"),
             "forecast": ("rep", "team", "segment"), "sources": (), "activity": ("rep", "team")}
ACTIVITY = ("calls_made", "calls_received", "emails_sent", "emails_received", "meetings_held", "meetings_missed",
            "deals_won", "deals_lost", "tasks_done")
NONE_KEY = None  # the group or category of none (no source, no rep)


def charts_of(report: str, answer: dict[str, Any], t: Words) -> list[Chart]:
    """The charts one report's answer is drawn as (the forecast: by month, and the quotas)."""
    makers: dict[str, Callable[[dict[str, Any], Words], list[Chart]]] = {
        "funnel": _funnel, "velocity": _velocity, "forecast": _forecast, "sources": _sources, "activity": _activity}
    return makers[report](answer, t) if report in makers else []


def _chart(key: str, report: str, t: Words, x: list[tuple[Any, str]], series: list[dict[str, Any]],
           money: bool = False) -> Chart:
    chart = {"key": key, "report": report, "title": t.strings[f"chart_{key}"], "x_label": t.strings[f"axis_{key}"],
             "y_label": t.strings[f"measure_{key}"], "x": [label for _, label in x], "x_keys": [k for k, _ in x],
             "series": series, "money": money, "note": None}
    # What the browser draws (static/dashboards.js): the numbers as plotly takes them, the keys beside.
    chart["plot"] = {**{k: chart[k] for k in ("key", "report", "title", "x_label", "y_label", "x", "x_keys", "money")},
                     "series": [{k: s[k] for k in ("name", "group", "measure", "currency", "y")} for s in series]}
    return chart


def _series(t: Words, group: dict[str, Any] | None, measure: str, values: list[Any], currency: str | None = None,
            grouped: bool = False) -> dict[str, Any]:
    """One series: its name says its group (when grouped), its measure and its currency."""
    parts = [_group_name(group, t)] if grouped and group is not None else []
    if not grouped or currency is None:
        parts.append(t.strings[f"measure_{measure}"])
    if currency is not None:
        parts.append(currency)
    y = [None if v is None else (float(Decimal(str(v))) if currency is not None else v) for v in values]
    cells = [_cell(t, v, currency) for v in values]
    return {"name": " · ".join(parts), "group": None if group is None else group.get("key"), "measure": measure,
            "currency": currency, "y": y, "values": values, "cells": cells}


def _cell(t: Words, value: Any, currency: str | None) -> str:
    if value is None:
        return "–"
    if currency is not None:
        return t.money(str(value), currency)
    if isinstance(value, float):
        return f"{value:.1f}" if t.lang == "en" else f"{value:.1f}".replace(".", ",")
    return str(value)


def _group_name(group: dict[str, Any], t: Words) -> str:
    if group.get("key") is None:
        return t.dash_no_group
    return str(group.get("key_name") or group["key"])


def _grouped(answer: dict[str, Any]) -> bool:
    return answer.get("by") is not None


def _funnel(answer: dict[str, Any], t: Words) -> list[Chart]:
    """Per stage: deals that entered it, moved on and were lost there; grouped, those that entered."""
    groups = answer["groups"]
    x = [(s["name"], s["name"]) for s in groups[0]["stages"]] if groups else []
    measures = ("entered",) if _grouped(answer) else ("entered", "moved_on", "lost")
    series = [_series(t, g, m, [s[m] for s in g["stages"]], grouped=_grouped(answer)) for g in groups for m in measures]
    return [_chart("funnel", "funnel", t, x, series)]


def _velocity(answer: dict[str, Any], t: Words) -> list[Chart]:
    """Days in each stage (the stays that ended in the period): average and median; grouped, the average."""
    groups = answer["groups"]
    x = [(s["name"], s["name"]) for s in groups[0]["stages"]] if groups else []
    measures = ("average_days",) if _grouped(answer) else ("average_days", "median_days")
    series = [_series(t, g, m, [s[m] for s in g["stages"]], grouped=_grouped(answer)) for g in groups for m in measures]
    return [_chart("velocity", "velocity", t, x, series)]


def _forecast(answer: dict[str, Any], t: Words) -> list[Chart]:
    """The open deals by expected close month, amount and weighted (grouped: weighted), per
    currency; then each rep's quota beside what they won in the period."""
    groups = answer["groups"]
    months = sorted({m["month"] for g in groups for m in g["months"]}, key=lambda m: (m == "no date", m))
    x = [(m, t.dash_no_date if m == "no date" else m) for m in months]
    measures = ("weighted_amount",) if _grouped(answer) else ("amount", "weighted_amount")
    series = []
    for g in groups:
        by_month = {m["month"]: {a["currency"]: a for a in m["amounts"]} for m in g["months"]}
        for currency in sorted({a["currency"] for m in g["months"] for a in m["amounts"]}):
            for measure in measures:
                values = [by_month.get(m, {}).get(currency, {}).get(measure) for m in months]
                series.append(_series(t, g, measure, values, currency, grouped=_grouped(answer)))
    reps = answer["reps"]
    currencies = sorted({p["currency"] for r in reps for p in r["progress"]})
    quota_series = [_series(t, None, measure, [next((p[measure] for p in r["progress"] if p["currency"] == c), None)
                                               for r in reps], c)
                    for c in currencies for measure in ("quota", "won")]
    quotas = _chart("quotas", "forecast", t, [(r["rep_id"], r["rep_name"] or r["rep_id"]) for r in reps], quota_series,
                    money=True)
    if reps and not any(p["quota"] is not None for r in reps for p in r["progress"]):
        quotas["note"] = t.dash_no_quota  # won amounts, and no quota set for the period to hold them against
    return [_chart("forecast", "forecast", t, x, series, money=True), quotas]


def _sources(answer: dict[str, Any], t: Words) -> list[Chart]:
    """Per source: the period's leads, the deals opened and the deals won."""
    rows = answer["sources"]
    x = [(r["source"], r["source"] if r["source"] is not None else t.dash_no_source) for r in rows]
    series = [_series(t, None, m, [r[m] for r in rows]) for m in ("leads", "deals_opened", "deals_won")]
    return [_chart("sources", "sources", t, x, series)]


def _activity(answer: dict[str, Any], t: Words) -> list[Chart]:
    """Each figure of the reps' activity; one series per group (rep or team) when grouped."""
    x = [(m, t.strings[f"measure_{m}"]) for m in ACTIVITY]
    grouped = _grouped(answer)
    series = [{**_series(t, g, "activity", [g[m] for m in ACTIVITY], grouped=grouped),
               **({"name": _group_name(g, t)} if grouped else {})} for g in answer["groups"]]
    return [_chart("activity", "activity", t, x, series)]
