"""``deal_stays``: each time a deal entered an open stage, and how it left it.

Worked out from ``deal_history`` and kept as a table, so that the funnel and the velocity
are a scan and a sum instead of a window sort over every deal's versions at each report.

A *transition* is a version where the deal's stage or status changed (its first version
included). Each transition into an open stage starts a stay (the first one, the deal's
``opening``); the deal's next transition ends it (``next_status``, ``next_stage_id``: where
the deal went) or none has yet. Whether
a move *advanced* or *slipped back* is decided when a report reads the stays, by the
stages' places then (a stage may be reordered later without touching this table).

A stay keeps when its start and its end were recorded, so "as known at K" still reads
from it: a deal's versions are recorded in order, so what was known at K is a prefix of
its transitions — the stays started by ``entered_recorded_at <= K``, and their ends
where ``left_recorded_at <= K``.

The runner rewrites the stays of the deals a batch touched, after their versions, in the
batch's transaction with its position (exactly once, like every other row).
"""

from __future__ import annotations

from crm_es.projections.schema import DEAL_STAYS

# A version of deal_history that is a transition (its stage or status changed).
MOVE = "(previous_status IS NULL OR previous_status <> status OR previous_stage_id <> stage_id)"


def rewrite_statements() -> tuple[str, str]:
    """DELETE the stays of the batch's deals, then INSERT them again from their versions.
    ``{rows}`` is the batch's Arrow rows holding a ``deal_id`` column."""
    touched = "SELECT CAST(r.deal_id AS UUID) FROM {rows} AS r"
    columns = ", ".join(name for name, _ in DEAL_STAYS.columns)
    delete = f"DELETE FROM deal_stays WHERE deal_id IN ({touched})"
    insert = (
        f"INSERT INTO deal_stays ({columns}) "
        "SELECT deal_id, version, pipeline_id, stage_id, amount, currency, owner_id, source, opening, opened_at, "
        "valid_from, recorded_at, next_at, next_recorded_at, next_status, next_stage_id, next_amount, next_currency, "
        "won_at, won_recorded_at "
        # The opening is the deal's first transition, told by its place, never by its time:
        # an import opens a deal and moves it at one instant, and only the first is its opening.
        "FROM (SELECT *, row_number() OVER w = 1 AS opening, "
        "first_value(valid_from) OVER w AS opened_at, lead(valid_from) OVER w AS next_at, "
        "lead(recorded_at) OVER w AS next_recorded_at, lead(status) OVER w AS next_status, "
        "lead(stage_id) OVER w AS next_stage_id, lead(amount) OVER w AS next_amount, "
        "lead(currency) OVER w AS next_currency, "
        # The deal's first win (business and recorded time both come first: versions follow each other).
        "min(valid_from) FILTER (WHERE status = 'won') OVER d AS won_at, "
        "min(recorded_at) FILTER (WHERE status = 'won') OVER d AS won_recorded_at "
        f"FROM deal_history WHERE deal_id IN ({touched}) AND {MOVE} "
        "WINDOW w AS (PARTITION BY deal_id ORDER BY version), d AS (PARTITION BY deal_id)) AS t "
        "WHERE status = 'open'"
    )
    return delete, insert
