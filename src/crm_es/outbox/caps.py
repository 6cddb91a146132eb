"""The contact-frequency cap (F37) as the outbox applies it: no contact receives more than
``max_messages`` automated messages (e-mails and SMS) in ``window_days``.

A cap is not an automation of its own but a rule every sending automation obeys, so it is
applied where every message passes: the dispatcher (``dispatcher.py``), which reads its
settings from the log before each delivery about a contact. It is switched and set like an
automation (PUT /policies/contact-frequency-cap): ``crm_es.policies.caps`` is that switch.
What the cap holds back is recorded (``Message.HeldBack``) and sent when the window frees a
place, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from crm_es.aggregates.message import EMAIL, SMS, utc_text
from crm_es.aggregates.policy import PolicySettings, policy_id

NAME = "contact-frequency-cap"
CAPPED_CHANNELS = (EMAIL, SMS)  # what reaches the person; a webhook goes to a team's tool


class CapSettings(BaseModel):
    """The cap's settings, as its switch takes them (unknown ones refused, each with a default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_messages: int = Field(3, ge=1, le=10_000, description="automated messages a contact may receive in the window")
    window_days: float = Field(7, gt=0, le=366, description="the sliding window, in days")


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
    settings = CapSettings(**state.settings)
    return Cap(settings.max_messages, timedelta(days=settings.window_days))


def sent_in_window(outbox: Any, contact_id: str, cap: Cap, now: datetime) -> list[datetime]:
    """When the contact was sent capped messages within the window, oldest first (``outbox``
    is the store's: crm_es.store.outbox)."""
    return [datetime.fromisoformat(at) for at in outbox.sent_at(contact_id, CAPPED_CHANNELS, utc_text(now - cap.window))]
