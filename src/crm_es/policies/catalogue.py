"""Every automation the service runs, by name (GET /policies lists them, PUT configures)."""

from __future__ import annotations

from crm_es.policies.after_meeting import TaskAfterMeeting
from crm_es.policies.base import Policy
from crm_es.policies.caps import ContactFrequencyCap
from crm_es.policies.drip_sequences import DripSequences
from crm_es.policies.lead_scoring import LeadScoring
from crm_es.policies.lifecycle_touches import LifecycleTouches
from crm_es.policies.missed_meeting import MissedMeetingFollowUp
from crm_es.policies.payment_follow_up import PaymentFollowUp
from crm_es.policies.recurring_visits import RecurringVisits
from crm_es.policies.scheduled_messages import ScheduledMessages
from crm_es.policies.scheduled_reports import ScheduledReports

POLICIES: tuple[Policy, ...] = (TaskAfterMeeting(), LeadScoring(), MissedMeetingFollowUp(), ContactFrequencyCap(),
                                 DripSequences(), ScheduledMessages(), ScheduledReports(),
                                 RecurringVisits(), LifecycleTouches(), PaymentFollowUp())
BY_NAME = {p.name: p for p in POLICIES}
