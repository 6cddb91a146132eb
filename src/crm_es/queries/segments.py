"""A company's segment: the best-ranked tag of the `potential` category (Gold, then Silver,
then Bronze, in the category's order) carried by one of its contacts — now (the contacts
table) or as of a past moment (the contacts' history). No company or no such tag: none.
The forecast groups by it; the board filters by it. Which tags the category holds is today's
configuration (the built-in one until it is changed)."""

from __future__ import annotations

from typing import Any

import duckdb

from crm_es.aggregates.setup import DEFAULT_TAG_CATEGORIES
from crm_es.queries.past import Past

SEGMENT_CATEGORY = "potential"
_DEFAULT_POTENTIAL = next(c.tags for c in DEFAULT_TAG_CATEGORIES if c.name == SEGMENT_CATEGORY)

# The category's tags and their rank: the `tags` table once the configuration has been
# changed (its first change fills `statuses`, never emptied), the built-in tags until then.
POTENTIAL = (
    "SELECT tag, sort_order FROM tags WHERE category = ? AND EXISTS (SELECT 1 FROM statuses) "
    "UNION ALL SELECT b.tag, b.sort_order FROM (VALUES {defaults}) AS b(tag, sort_order) "
    "WHERE NOT EXISTS (SELECT 1 FROM statuses)"
).format(defaults=", ".join(f"(?, {i})" for i in range(len(_DEFAULT_POTENTIAL))))

_SEGMENTS = """
SELECT DISTINCT ON (t.company_id) t.company_id, p.tag AS segment, p.sort_order AS segment_rank
FROM (SELECT c.company_id, unnest(c.tags) AS tag FROM {contacts} AS c
      WHERE c.company_id IS NOT NULL AND ({holds})) AS t
JOIN ({potential}) AS p ON p.tag = t.tag
ORDER BY t.company_id, p.sort_order
"""


def company_segments(past: Past | None) -> tuple[str, list[Any]]:
    """The SQL of ``(company_id, segment, segment_rank)`` for every company with a segment, and its parameters."""
    holds, params = ("TRUE", []) if past is None else past.holds("c")
    sql = _SEGMENTS.format(contacts="contacts" if past is None else "contact_history", holds=holds, potential=POTENTIAL)
    return sql, [*params, SEGMENT_CATEGORY, *_DEFAULT_POTENTIAL]


def list_segments(cur: duckdb.DuckDBPyConnection) -> list[str]:
    """The segments there are, best first (the board's filter offers them)."""
    rows = cur.execute(f"SELECT tag FROM ({POTENTIAL}) ORDER BY sort_order, tag",
                       [SEGMENT_CATEGORY, *_DEFAULT_POTENTIAL]).fetchall()
    return [row[0] for row in rows]
