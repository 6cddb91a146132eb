"""Which projection functions turn which event into rows: the one list the projector
follows (projections/runner.py). To follow a saved event to its rows, find its class
here, then read the functions named, in their modules.

An event's functions run in the order listed, and their row operations are merged in
that order: a later one may patch the row an earlier one inserts (a new contact's row
from ``records``, then its roles from ``setup``). An event class not listed writes no
row; its position still counts.

The tables each module writes:

- ``records``: companies, contacts
- ``contact_history``: contact_history (a contact's standing, version by version)
- ``interactions``: interactions; the contacts' counters, last activity and invalid e-mail
- ``setup``: properties, statuses, sources, lifecycle_stages, roles, tags; the contacts'
  lifecycle and roles, contact_roles, contact_lifecycle_changes
- ``news``: news
- ``deals``: deals, deal_history (and the deal stays worked out from it),
  deal_stage_changes, deal_contacts; the text of a deal's tasks, when erased
- ``erasure``: every table's personal columns about a forgotten contact
- ``pipelines``: pipelines, pipeline_stages, pipeline_stage_history; the deals' stage names
- ``people``: reps, teams, quotas
- ``tasks``: tasks, activity_types
- ``dashboards``: dashboards
- ``lead_scores``: lead_score_changes
- ``saved_views``: saved_views
"""

from __future__ import annotations

from eventsourcing.utils import get_topic

from crm_es.aggregates import Company, Contact, Deal, Pipeline, Rep, Team
from crm_es.aggregates.activity_types import ActivityTypes
from crm_es.aggregates.dashboard import Dashboard
from crm_es.aggregates.interactions import KINDS, DocumentSent, MeetingMissed
from crm_es.aggregates.lead_score import LeadScoreChanged
from crm_es.aggregates.saved_view import SavedView
from crm_es.aggregates.setup import Setup
from crm_es.aggregates.task import Task
from crm_es.projections import (
    contact_history,
    dashboards,
    deals,
    erasure,
    interactions,
    lead_scores,
    news,
    people,
    pipelines,
    records,
    saved_views,
    setup,
    tasks,
)
from crm_es.projections.rows import Handler

PROJECTIONS: dict[type, list[Handler]] = {
    # --- contacts -----------------------------------------------------------------------
    Contact.Registered: [contact_history.registered, news.contact_registered, records.contact_registered,
                         setup.contact_registered],
    Contact.DetailsChanged: [contact_history.details_changed, records.contact_changed],
    Contact.StatusChanged: [contact_history.status_changed, records.contact_status_changed],
    Contact.OwnerChanged: [contact_history.owner_changed, records.contact_owner_changed],
    Contact.LifecycleChanged: [contact_history.lifecycle_changed, setup.lifecycle_changed],
    Contact.EmailInvalidated: [contact_history.email_invalidated, interactions.email_invalidated],
    Contact.EmailRevalidated: [contact_history.email_revalidated, interactions.email_revalidated],
    Contact.LeftCompany: [contact_history.left_company, setup.left_company],
    Contact.RoleAssigned: [setup.role_assigned],
    Contact.RoleEnded: [setup.role_ended],
    Contact.Forgotten: [erasure.contact_forgotten],
    # --- interactions: every kind alike (its row, the contact's counters); a missed meeting is news too
    **{cls: [interactions.recorded(kind)] for kind, cls in KINDS.items() if cls is not MeetingMissed},
    MeetingMissed: [interactions.recorded(MeetingMissed.kind), news.meeting_missed],
    DocumentSent: [interactions.document_sent],
    # --- companies ----------------------------------------------------------------------
    Company.Registered: [records.company_registered],
    Company.DetailsChanged: [records.company_changed],
    # --- deals --------------------------------------------------------------------------
    Deal.Opened: [deals.deal_opened],
    Deal.StageChanged: [deals.deal_moved],
    Deal.Won: [deals.deal_won, news.deal_won],
    Deal.Lost: [deals.deal_lost, news.deal_lost],
    Deal.Reopened: [deals.deal_reopened],
    Deal.OwnerChanged: [deals.deal_owner_changed],
    Deal.AmountChanged: [deals.deal_amount_changed],
    Deal.DetailsChanged: [deals.deal_details_changed],
    Deal.ContactForgotten: [deals.deal_text_erased],
    Deal.InteractionRecorded: [interactions.deal_interaction_recorded],
    # --- pipelines ----------------------------------------------------------------------
    Pipeline.Created: [pipelines.pipeline_created],
    Pipeline.Renamed: [pipelines.pipeline_renamed],
    Pipeline.StageAdded: [pipelines.stage_added],
    Pipeline.StageRenamed: [pipelines.stage_renamed],
    Pipeline.StageProbabilityChanged: [pipelines.stage_probability_changed],
    Pipeline.StageRemoved: [pipelines.stage_removed],
    Pipeline.StagesReordered: [pipelines.stages_reordered],
    # --- reps and teams -----------------------------------------------------------------
    Rep.Added: [people.rep_added],
    Rep.JoinedTeam: [people.rep_joined_team],
    Rep.LeftTeam: [people.rep_left_team],
    Rep.Renamed: [people.rep_renamed],
    Rep.EmailChanged: [people.rep_email_changed],
    Rep.Deactivated: [people.rep_deactivated],
    Rep.Reactivated: [people.rep_reactivated],
    Rep.QuotaSet: [people.quota_set],
    Team.Formed: [people.team_formed],
    # --- tasks and their types ----------------------------------------------------------
    Task.Planned: [tasks.task_planned],
    Task.Rescheduled: [tasks.task_rescheduled],
    Task.Done: [tasks.task_done],
    Task.Cancelled: [tasks.task_cancelled],
    ActivityTypes.Seeded: [tasks.activity_types_seeded],
    ActivityTypes.TypeAdded: [tasks.activity_type_added],
    ActivityTypes.TypeChanged: [tasks.activity_type_changed],
    # --- the record configuration -------------------------------------------------------
    Setup.Seeded: [setup.seeded],
    **{cls: [setup.list_changed] for cls in setup.LIST_TABLES},  # statuses, sources, lifecycle stages, roles
    Setup.TagCategoryChanged: [setup.tag_category_changed],
    Setup.TagCategoryRemoved: [setup.tag_category_removed],
    Setup.PropertyDefined: [setup.property_defined],
    Setup.PropertyChanged: [setup.property_changed],
    Setup.PropertyRetired: [setup.property_retired],
    # --- the rest -----------------------------------------------------------------------
    Dashboard.Saved: [dashboards.dashboard_saved],
    Dashboard.Changed: [dashboards.dashboard_changed],
    LeadScoreChanged: [lead_scores.lead_score_changed],
    SavedView.Saved: [saved_views.view_saved],
    SavedView.Changed: [saved_views.view_changed],
    SavedView.Removed: [saved_views.view_removed],
}

# As the projector looks them up: by the topic an event is stored under.
HANDLERS: dict[str, list[Handler]] = {get_topic(cls): handlers for cls, handlers in PROJECTIONS.items()}
