"""Contact-frequency caps (F37): no contact receives more than ``max_messages`` automated
messages (e-mails and SMS) in ``window_days``.

A cap is not an automation of its own but a rule every sending automation obeys, so it is
applied where every message passes: the outbox's dispatcher (policies/outbox.py), which
reads these settings from the log before each delivery about a contact. It is a Policy only
so that it is switched and set like the others (PUT /policies/contact-frequency-cap, GET
/policies): it reacts to nothing. What the cap holds back is recorded
(``Message.HeldBack``) and sent when the window frees a place, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field

from crm_es.aggregates.base import Event
from crm_es.aggregates.message import EMAIL, SMS, utc_text
from crm_es.aggregates.policy import PolicySettings, policy_id
from crm_es.policies.base import NOTHING, Policy, PolicyContext, PolicySettingsModel, Reaction

NAME = "contact-frequency-cap"
CAPPED_CHANNELS = (EMAIL, SMS)  # what reaches the person; a webhook goes to a team's tool
# The messages a contact was sent in the window, oldest first (their times are UTC text: ordered as times).
SENT_IN_WINDOW = ("SELECT sent_at FROM {outbox} WHERE contact_id = ? AND status = 'sent' AND channel IN (?, ?) "
                  "AND sent_at > ? ORDER BY sent_at")


class ContactFrequencyCap(Policy):
    name = NAME
    description = ("At most N automated e-mails and SMS per contact in a window; what the cap holds back waits in "
                   "the outbox (held) until the window frees a place.")
    reacts_to = ()

    class Settings(PolicySettingsModel):
        max_messages: int = Field(3, ge=1, le=10_000, description="automated messages a contact may receive in the window")
        window_days: float = Field(7, gt=0, le=366, description="the sliding window, in days")

    def react(self, event: Event, ctx: PolicyContext) -> Reaction:
        return NOTHING  # the dispatcher applies it (module docstring)


@dataclass(frozen=True)
class Cap:
    max_messages: int
    window: timedelta

    def held_until(self, sent_at: list[datetime]) -> datetime | None:
        """When another message may go, given the times of those sent within the window
        (oldest first); None when one may go now. The place frees when enough of them
        have left the window: the oldest one that must leave, plus the window."""
        if len(sent_at) < self.max_messages:
            return None
        return sent_at[len(sent_at) - self.max_messages] + self.window

    def reason(self) -> str:
        days = f"{self.window / timedelta(days=1):g}"
        return f"contact-frequency cap: {self.max_messages} automated message(s) in {days} day(s) already sent"


def current_cap(load: Any) -> Cap | None:
    """The cap in force (``load`` is EventStore.load), or None when it is off."""
    state = load(PolicySettings, policy_id(NAME))
    if state is None or not state.enabled:
        return None
    settings = ContactFrequencyCap.Settings(**state.settings)
    return Cap(settings.max_messages, timedelta(days=settings.window_days))


def sent_in_window(read: Any, contact_id: str, cap: Cap, now: datetime) -> list[datetime]:
    """``read`` is the store's side_tables.read."""
    rows = read(SENT_IN_WINDOW, (contact_id, *CAPPED_CHANNELS, utc_text(now - cap.window)))
    return [datetime.fromisoformat(row["sent_at"]) for row in rows]
