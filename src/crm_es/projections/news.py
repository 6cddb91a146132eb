"""news: what the news feed shows besides deal moves (those are in deal_stage_changes) —
contacts registered, deals won or lost, meetings missed. A row says where the event is;
the feed reads what it says from the event store."""

from __future__ import annotations

from crm_es.aggregates import Contact, Deal
from crm_es.aggregates.interactions import MeetingMissed
from crm_es.projections.rows import EventRow, Insert, Op, on


def _news(e: EventRow, type_: str, record_type: str) -> Insert:
    return Insert("news", {"position": e.position, "type": type_, "record_type": record_type, "record_id": e.id})


@on(Contact.Registered)
def contact_registered(e: EventRow) -> list[Op]:
    return [_news(e, "contact_registered", "contact")]


@on(MeetingMissed)
def meeting_missed(e: EventRow) -> list[Op]:
    return [_news(e, "meeting_missed", "contact")]


@on(Deal.Won)
def deal_won(e: EventRow) -> list[Op]:
    return [_news(e, "deal_won", "deal")]


@on(Deal.Lost)
def deal_lost(e: EventRow) -> list[Op]:
    return [_news(e, "deal_lost", "deal")]
