"""A record's timeline as its page shows it: newest first, each event with its actor's name
and the few fields read at a glance, filtered by type and period as the JSON timeline is
(queries/timeline.timeline: ``type``, and ``from``/``to`` in business time, here whole UTC days).
The contact's and the deal's pages both show it (templates/timeline.html)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from uuid import UUID

from starlette.requests import Request

from crm_es.entrypoints.web.guard import InvalidField
from crm_es.entrypoints.web.params import query_day
from crm_es.queries import timeline as timelines
from crm_es.queries.names import REPS, names
from crm_es.queries.sql import LARGEST_PAGE, every_item

REP_ACTOR = "rep:"
# An icon per kind of event (characters every system font has: no icon font to load), by
# exact type first, then by what the type starts with; a record's own events last.
ICONS = {"call": "☎", "voicemail": "☏", "sms_sent": "✆", "email_clicked": "➚", "email_bounced": "⚠", "note": "✎",
         "demo": "▶", "visit": "⌂", "page_visited": "⌂", "quote_opened": "❏", "document_sent": "❏", "deal_won": "★",
         "deal_lost": "✗", "deal_reopened": "↺", "deal_stage_changed": "➜"}
ICON_PREFIXES = (("email_", "✉"), ("meeting_", "◷"), ("contact_", "☺"), ("deal_", "◆"))


def icon(kind: str) -> str:
    return ICONS.get(kind) or next((mark for prefix, mark in ICON_PREFIXES if kind.startswith(prefix)), "•")


SHOWN = ("stage", "notes", "text", "subject", "outcome", "duration_seconds", "duration_minutes", "title", "status", "reason")


class TimelineFilter:
    """The page's ``?type=…&type=…&from=&to=``, checked: an unknown type or a bad day is a 422."""

    def __init__(self, request: Request) -> None:
        self.types = [t for t in request.query_params.getlist("type") if t]
        unknown = [t for t in self.types if t not in timelines.TOPICS_OF]
        if unknown:
            raise InvalidField("query.type", "invalid_event_type")
        self.first, self.last = query_day(request, "from"), query_day(request, "to")
        if self.first and self.last and self.last < self.first:
            raise InvalidField("query.to", "invalid_period")

    @property
    def any(self) -> bool:
        return bool(self.types or self.first or self.last)

    def period(self) -> timelines.Period:
        start = datetime.combine(self.first, time.min, tzinfo=UTC) if self.first else None
        end = datetime.combine(self.last + timedelta(days=1), time.min, tzinfo=UTC) if self.last else None
        return timelines.Period(start, end)


def record_timeline(services: Any, cur: Any, record_id: UUID, chosen: TimelineFilter) -> dict[str, Any]:
    """The events to show, newest first, and the types the record's whole timeline holds (the
    filter's choices). Read from the event store, as the JSON timeline is."""
    store = services.store
    everything = every_item(lambda cursor: timelines.timeline(store, record_id, limit=LARGEST_PAGE, cursor=cursor))
    events = everything if not chosen.any else every_item(lambda cursor: timelines.timeline(
        store, record_id, types=chosen.types or None, period=chosen.period(), limit=LARGEST_PAGE, cursor=cursor))
    events = events[::-1]
    reps = [str(e["actor"])[len(REP_ACTOR):] for e in events if str(e["actor"]).startswith(REP_ACTOR)]
    people = names(cur, REPS, reps)
    for event in events:
        actor = str(event["actor"])
        event["actor_name"] = people.get(actor[len(REP_ACTOR):], actor) if actor.startswith(REP_ACTOR) else actor
        event["icon"] = icon(event["type"])
        event["shown"] = [(name, event["data"][name]) for name in SHOWN
                          if event["data"].get(name) not in (None, "", [], {})][:4]  # the rest stays in the API
    return {"events": events, "event_types": sorted({e["type"] for e in everything}), "filter": chosen}
