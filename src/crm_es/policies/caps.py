"""The contact-frequency cap's switch (F37). The cap is a rule the outbox applies to every
message (``crm_es.outbox.caps``); it is a Policy only so that it is switched and set like
the others (PUT /policies/contact-frequency-cap, GET /policies): it reacts to nothing.
"""

from __future__ import annotations

from crm_es.aggregates.base import Event
from crm_es.outbox.caps import NAME, CapSettings
from crm_es.policies.base import NOTHING, Policy, PolicyContext, PolicySettingsModel, Reaction


class ContactFrequencyCap(Policy):
    name = NAME
    description = ("At most N automated e-mails and SMS per contact in a window; what the cap holds back waits in "
                   "the outbox (held) until the window frees a place.")
    reacts_to = ()

    class Settings(CapSettings, PolicySettingsModel):
        """The cap's settings (``crm_es.outbox.caps.CapSettings``)."""

    def react(self, event: Event, ctx: PolicyContext) -> Reaction:
        return NOTHING  # the outbox applies it (crm_es.outbox.caps)
