"""A saved view's rules, given events / when a decision / then events. Pure: no I/O. (The
same through HTTP on both stores: tests/http/test_saved_views.py.)"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from uuid import UUID

import pytest

from crm_es.aggregates import saved_view as views
from crm_es.aggregates.base import Event, Meta, NotFound
from crm_es.aggregates.saved_view import SavedView

AT = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
ROB, EVE = Meta(AT, AT, "rep:rob", "req-1"), Meta(AT, AT, "rep:eve", "req-2")
VIEW_ID = UUID(int=7)


def given(*history: Sequence[Event]) -> SavedView:
    state = SavedView.fold(e for events in history for e in events)
    assert state is not None
    return state


def test_a_view_is_its_savers() -> None:
    [saved] = views.save(VIEW_ID, "deals", "Open", {"status": "open"}, ROB)
    assert isinstance(saved, SavedView.Saved) and saved.saved_by == "rep:rob" and saved.actor == "rep:rob"
    view = given([saved])
    assert (view.list, view.name, view.filters, view.version, view.removed) == ("deals", "Open", {"status": "open"}, 1, False)
    assert views.theirs(view, VIEW_ID, "rep:rob") is view


def test_another_persons_view_is_not_found() -> None:
    view = given(views.save(VIEW_ID, "deals", "Open", {}, ROB))
    with pytest.raises(NotFound):
        views.theirs(view, VIEW_ID, EVE.actor)
    with pytest.raises(NotFound):
        views.theirs(None, VIEW_ID, ROB.actor)


def test_a_change_is_a_whole_snapshot_and_the_same_view_again_records_nothing() -> None:
    view = given(views.save(VIEW_ID, "deals", "Open", {"status": "open"}, ROB))
    [changed] = views.change(view, "contacts", "Leads", {"status": "lead"}, ROB)
    assert (changed.list, changed.name, changed.filters, changed.originator_version) == ("contacts", "Leads", {"status": "lead"}, 2)
    after = given(views.save(VIEW_ID, "deals", "Open", {"status": "open"}, ROB), [changed])
    assert (after.list, after.name, after.version) == ("contacts", "Leads", 2)
    assert views.change(after, "contacts", "Leads", {"status": "lead"}, ROB) == []


def test_a_removed_view_is_gone_for_its_owner_too() -> None:
    saved = views.save(VIEW_ID, "companies", "Retail", {"sector": "retail"}, ROB)
    [removed] = views.remove(given(saved), ROB)
    view = given(saved, [removed])
    assert view.removed and view.version == 2
    with pytest.raises(NotFound):
        views.theirs(view, VIEW_ID, ROB.actor)
