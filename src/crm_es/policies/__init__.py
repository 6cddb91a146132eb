"""Policies: automations that react to events exactly once (lead scoring, follow-ups,
recurring visits, scheduled reports). Empty until they arrive; each will follow the
log with its own position and save its new events with that position in one
transaction."""
