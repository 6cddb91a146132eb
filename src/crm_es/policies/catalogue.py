"""Every automation the service runs, by name (GET /policies lists them, PUT configures)."""

from __future__ import annotations

from crm_es.policies.after_meeting import TaskAfterMeeting
from crm_es.policies.base import Policy
from crm_es.policies.lead_scoring import LeadScoring
from crm_es.policies.missed_meeting import MissedMeetingFollowUp

POLICIES: tuple[Policy, ...] = (TaskAfterMeeting(), LeadScoring(), MissedMeetingFollowUp())
BY_NAME = {p.name: p for p in POLICIES}
