"""news: what the news feed shows besides deal moves (those are in deal_stage_changes) —
contacts registered, deals won or lost, meetings missed. A row says where the event is;
the feed reads what it says from the event store."""

from __future__ import annotations

from crm_es.projections.rows import EventRow, Insert, Op


def _news(e: EventRow, type_: str, record_type: str) -> Insert:
    return Insert("news", {"position": e.position, "type": type_, "record_type": record_type, "record_id": e.id})


def contact_registered(e: EventRow) -> list[Op]:
    return [_news(e, "contact_registered", "contact")]


def meeting_missed(e: EventRow) -> list[Op]:
    return [_news(e, "meeting_missed", "contact")]


def deal_won(e: EventRow) -> list[Op]:
    return [_news(e, "deal_won", "deal")]


def deal_lost(e: EventRow) -> list[Op]:
    return [_news(e, "deal_lost", "deal")]
