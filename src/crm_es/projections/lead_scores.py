"""lead_score_changes: every change of a lead score, appended, so the score as of any
date is a sum (F18)."""

from __future__ import annotations

from crm_es.projections.rows import EventRow, Insert, Op


def lead_score_changed(e: EventRow) -> list[Op]:
    d = e.data
    return [Insert("lead_score_changes", {
        "position": e.position, "contact_id": d["contact_id"], "occurred_at": e.occurred_at,
        "recorded_at": e.recorded_at, "points": d["points"], "score": d["score"], "reason": d["reason"],
        "rule": d["rule"], "cause": d["cause"],
    })]
