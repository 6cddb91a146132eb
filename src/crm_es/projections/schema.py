"""The DuckDB tables of the read side: one declaration serves the DDL, the casts of
the runner's bulk inserts and the data dictionary (docs/tables.md, checked by a test)."""

from __future__ import annotations

from dataclasses import dataclass

RECORD = [
    ("created_at", "TIMESTAMPTZ"),
    ("updated_at", "TIMESTAMPTZ"),
    ("version", "INTEGER"),
    ("position", "BIGINT"),
]


@dataclass(frozen=True)
class Table:
    name: str
    key: str | None  # None: rows are only ever appended
    columns: list[tuple[str, str]]
    doc: str
    # Columns holding personal data, and the column naming the person they are about:
    # set to null when that person is forgotten (see projections/erasure.py).
    personal: tuple[str, ...] = ()
    subject: str | None = None
    # A history table: one row per version of the record named by ``key``, written by
    # Version operations only (projections/history.py); for the columns in ``previous``,
    # each row also keeps the version before's value (``previous_<column>``).
    versioned: bool = False
    previous: tuple[str, ...] = ()

    def ddl(self) -> str:
        cols = ", ".join(f"{name} {type_}" for name, type_ in self.columns)
        return f"CREATE TABLE IF NOT EXISTS {self.name} ({cols})"

    def type_of(self, column: str) -> str:
        return dict(self.columns)[column]


# The customer card's counters, kept on each contact as its interactions are projected.
ACTIVITY = [
    ("calls", "INTEGER"), ("emails_sent", "INTEGER"), ("emails_received", "INTEGER"), ("emails_opened", "INTEGER"),
    ("emails_clicked", "INTEGER"), ("page_visits", "INTEGER"), ("sessions", "INTEGER"), ("meetings_held", "INTEGER"),
    ("meetings_missed", "INTEGER"), ("interactions", "INTEGER"),
    ("last_contacted_at", "TIMESTAMPTZ"), ("last_activity_at", "TIMESTAMPTZ"), ("email_invalid", "BOOLEAN"),
]

# A contact's lifecycle stage (F16) and the roles it holds at its company (F12).
STANDING = [("lifecycle", "VARCHAR"), ("lifecycle_changed_at", "TIMESTAMPTZ"), ("roles", "VARCHAR[]")]

# The record configuration (projections/setup.py): empty until it is first changed, the
# built-in defaults (GET /settings) hold until then.
_CONFIGURED = "Empty until the configuration is first changed: the defaults (`GET /settings`) hold until then."


def _list_table(name: str, what: str) -> Table:
    return Table(name, "name", [("name", "VARCHAR"), ("sort_order", "INTEGER")], f"{what}, in order. {_CONFIGURED}")


SETUP_TABLES = [
    Table("properties", "id",
          [("id", "VARCHAR"), ("record_type", "VARCHAR"), ("name", "VARCHAR"), ("type", "VARCHAR"), ("required", "BOOLEAN"),
           ("choices", "VARCHAR[]"), ("default_currency", "VARCHAR"), ("retired_at", "TIMESTAMPTZ"),
           ("defined_at", "TIMESTAMPTZ"), ("updated_at", "TIMESTAMPTZ"), ("position", "BIGINT")],
          "Custom properties per record type (`record_type`: contact, company, deal; `id` is `record_type:name`), "
          "the key of a record's `properties`: `type` text, number, money, date, boolean, choice or multi_choice; "
          "`retired_at` once retired (no longer offered nor checked)."),
    _list_table("statuses", "The contact statuses offered"),
    _list_table("sources", "The sources a contact or deal comes from"),
    _list_table("lifecycle_stages", "The customer lifecycle stages"),
    _list_table("roles", "The roles a contact may hold at its company (billing contact, decision maker …)"),
    Table("tags", "tag", [("tag", "VARCHAR"), ("category", "VARCHAR"), ("sort_order", "INTEGER")],
          "Tags grouped in categories (`potential`: Gold, Silver, Bronze …); a tag is in one category at most. "
          "Contacts may carry tags of no category too. " + _CONFIGURED),
    Table("contact_roles", "id",
          [("id", "UUID"), ("contact_id", "UUID"), ("company_id", "UUID"), ("role", "VARCHAR"),
           ("started_at", "TIMESTAMPTZ"), ("ended_at", "TIMESTAMPTZ")],
          "Each role a contact held at a company, from `started_at` to `ended_at` (null: still held). A role ends "
          "when it is taken away, when the contact moves to another company, or when they leave the company."),
    Table("contact_lifecycle_changes", None,
          [("position", "BIGINT"), ("contact_id", "UUID"), ("stage", "VARCHAR"), ("previous_stage", "VARCHAR"),
           ("occurred_at", "TIMESTAMPTZ"), ("recorded_at", "TIMESTAMPTZ"), ("actor", "VARCHAR")],
          "One row per lifecycle stage change of a contact, with business and recorded time."),
]

# A deal's free text (it may name a person): no single subject column, the deal's own
# events null it (Deal.ContactForgotten, projections/deals.py).
DEAL_TEXT = ("title", "lost_reason")

# What every history table keeps about a version: when it held in business time
# ([valid_from, valid_to): null, still), and when it was known ([recorded_at, superseded_at)).
VALIDITY = [
    ("version", "INTEGER"), ("valid_from", "TIMESTAMPTZ"), ("valid_to", "TIMESTAMPTZ"),
    ("recorded_at", "TIMESTAMPTZ"), ("superseded_at", "TIMESTAMPTZ"), ("position", "BIGINT"),
]
_AS_OF = ("The state as of T: `valid_from <= T AND (valid_to IS NULL OR valid_to > T)`; as known at K too: "
          "`recorded_at <= K AND valid_from <= T AND (valid_to IS NULL OR valid_to > T OR superseded_at > K)`.")

HISTORY_TABLES = [
    Table("deal_history", "deal_id",
          [("deal_id", "UUID"), ("pipeline_id", "UUID"), ("stage_id", "UUID"), ("status", "VARCHAR"),
           ("amount", "DECIMAL(20,4)"), ("currency", "VARCHAR"), ("owner_id", "UUID"), ("title", "VARCHAR"),
           ("company_id", "UUID"), ("source", "VARCHAR"), ("expected_close", "DATE"),
           ("stage_entered_at", "TIMESTAMPTZ"), ("closed_at", "TIMESTAMPTZ"), ("lost_reason", "VARCHAR"),
           ("lost_to", "VARCHAR"), ("previous_stage_id", "UUID"), ("previous_status", "VARCHAR"), *VALIDITY],
          "Every version of every deal: one row per change of its stage, status, amount, owner or details, valid "
          "from the change's business time (`occurred_at`) to the next one's, and known from when it was recorded "
          "to when the next one was. " + _AS_OF + " A stage's name and probability then are in "
          "`pipeline_stage_history`. `previous_stage_id` and `previous_status` are the version before's (null for the "
          "first): a row where they differ from `stage_id` and `status` is a move. `title` and `lost_reason` are "
          "personal data, as in `deals`.", versioned=True,
          previous=("stage_id", "status"), personal=DEAL_TEXT),
    Table("contact_history", "contact_id",
          [("contact_id", "UUID"), ("status", "VARCHAR"), ("lifecycle", "VARCHAR"), ("owner_id", "UUID"),
           ("company_id", "UUID"), ("source", "VARCHAR"), ("tags", "VARCHAR[]"), ("email_invalid", "BOOLEAN"),
           *VALIDITY],
          "Every version of every contact's standing (status, lifecycle stage, owner, company, source, tags, "
          "e-mail validity): interactions make no version, and names and contact details are not kept here "
          "(they are personal data). " + _AS_OF, versioned=True),
    Table("pipeline_stage_history", "stage_id",
          [("stage_id", "UUID"), ("pipeline_id", "UUID"), ("name", "VARCHAR"), ("probability", "DECIMAL(5,4)"),
           ("sort_order", "INTEGER"), ("removed", "BOOLEAN"), *VALIDITY],
          "Every version of every pipeline stage (added, renamed, reordered, its probability changed, removed: "
          "`removed` true from then on); `version` is the pipeline's. " + _AS_OF, versioned=True),
]

# Worked out from deal_history by the runner, for the deals each batch touched
# (projections/deal_stays.py).
DEAL_STAYS = Table(
    "deal_stays", None,
    [("deal_id", "UUID"), ("version", "INTEGER"), ("pipeline_id", "UUID"), ("stage_id", "UUID"),
     ("amount", "DECIMAL(20,4)"), ("currency", "VARCHAR"), ("owner_id", "UUID"), ("source", "VARCHAR"),
     ("opening", "BOOLEAN"), ("opened_at", "TIMESTAMPTZ"), ("entered_at", "TIMESTAMPTZ"),
     ("entered_recorded_at", "TIMESTAMPTZ"),
     ("left_at", "TIMESTAMPTZ"), ("left_recorded_at", "TIMESTAMPTZ"), ("next_status", "VARCHAR"),
     ("next_stage_id", "UUID"), ("next_amount", "DECIMAL(20,4)"), ("next_currency", "VARCHAR"),
     ("won_at", "TIMESTAMPTZ"), ("won_recorded_at", "TIMESTAMPTZ")],
    "Each time a deal entered an open stage (`version`: the deal's version that moved it there), with its "
    "amount, owner and source then, whether it is the deal's `opening` (its first stay: a deal opened and moved at "
    "one instant has one opening), when the deal was opened, and how the stay ended: `left_at` (business "
    "time), `next_status` and `next_stage_id` (won, lost, or the stage it moved to); all null while it is "
    "still there. `entered_recorded_at` and `left_recorded_at` say when each was recorded: a stay known at K "
    "has `entered_recorded_at <= K`, and its end was known then if `left_recorded_at <= K`. `won_at` and "
    "`won_recorded_at`: the deal's first win, on each of its stays. Worked out from `deal_history` (the funnel and "
    "velocity read it).",
)

TABLES = [
    Table("reps", "id", [("id", "UUID"), ("name", "VARCHAR"), ("email", "VARCHAR"), ("team_id", "UUID"),
                         ("active", "BOOLEAN"), ("deactivated_at", "TIMESTAMPTZ"), *RECORD],
          "Sales reps; `team_id` is the team they belong to. A deactivated rep (`active` false) keeps their records "
          "and history; nothing new is given to them."),
    Table("teams", "id", [("id", "UUID"), ("name", "VARCHAR"), ("manager_id", "UUID"), *RECORD],
          "Teams of reps, with their manager (a rep)."),
    Table("quotas", None,
          [("position", "BIGINT"), ("rep_id", "UUID"), ("period_start", "DATE"), ("period_end", "DATE"),
           ("amount", "DECIMAL(20,4)"), ("currency", "VARCHAR"), ("set_at", "TIMESTAMPTZ"), ("recorded_at", "TIMESTAMPTZ"),
           ("actor", "VARCHAR")],
          "One row per sales target set for a rep and a period [period_start, period_end) (F26). A target set again "
          "for the same period replaces the one before from its `set_at` on: the one in force at T (known at K) is "
          "the latest with `set_at <= T` (and `recorded_at <= K`)."),
    Table("pipelines", "id", [("id", "UUID"), ("name", "VARCHAR"), *RECORD], "Sales pipelines."),
    Table("pipeline_stages", "stage_id",
          [("stage_id", "UUID"), ("pipeline_id", "UUID"), ("name", "VARCHAR"),
           ("probability", "DECIMAL(5,4)"), ("sort_order", "INTEGER")],
          "The stages of each pipeline in order (`sort_order` from 0), with their win probability."),
    Table("companies", "id",
          [("id", "UUID"), ("name", "VARCHAR"), ("sector", "VARCHAR"), ("annual_revenue", "DECIMAL(20,4)"),
           ("properties", "JSON"), *RECORD],
          "Companies (accounts) with firmographics and custom properties."),
    Table("contacts", "id",
          [("id", "UUID"), ("first_name", "VARCHAR"), ("last_name", "VARCHAR"), ("email", "VARCHAR"),
           ("phone", "VARCHAR"), ("job_title", "VARCHAR"), ("company_id", "UUID"), ("city", "VARCHAR"),
           ("source", "VARCHAR"), ("status", "VARCHAR"), ("owner_id", "UUID"), ("tags", "VARCHAR[]"),
           ("properties", "JSON"), ("forgotten_at", "TIMESTAMPTZ"), *RECORD, *ACTIVITY, *STANDING],
          "Contacts (people), current state, with the counters of their interactions (from `interactions`) "
          "and `email_invalid` once a hard bounce said the address does not exist. Once a contact is forgotten "
          "(`forgotten_at`), its personal columns (names, e-mail, phone, properties) are null.",
          personal=("first_name", "last_name", "email", "phone", "properties"), subject="id"),
    Table("deals", "id",
          [("id", "UUID"), ("title", "VARCHAR"), ("pipeline_id", "UUID"), ("stage_id", "UUID"), ("stage", "VARCHAR"),
           ("status", "VARCHAR"), ("amount", "DECIMAL(20,4)"), ("currency", "VARCHAR"), ("owner_id", "UUID"),
           ("contact_ids", "UUID[]"), ("company_id", "UUID"), ("source", "VARCHAR"), ("expected_close", "DATE"),
           ("properties", "JSON"), ("stage_entered_at", "TIMESTAMPTZ"), ("closed_at", "TIMESTAMPTZ"), ("lost_reason", "VARCHAR"), ("lost_to", "VARCHAR"), *RECORD],
          "Deals, current state: `status` is open, won or lost; a lost deal's reason and the competitor it went to. "
          "`title` and `lost_reason` are free text that may name a person: null for analysts, and null once a "
          "contact the deal names (or once named) is forgotten, until they are written again.",
          personal=DEAL_TEXT),
    Table("deal_contacts", None,
          [("position", "BIGINT"), ("deal_id", "UUID"), ("contact_id", "UUID")],
          "Every contact each deal named, once or still: a row per contact per event naming it (the deal's opening "
          "and each change of its details). Forgetting a contact erases the text of every deal found here."),
    Table("deal_stage_changes", None,
          [("position", "BIGINT"), ("deal_id", "UUID"), ("pipeline_id", "UUID"), ("kind", "VARCHAR"),
           ("from_stage_id", "UUID"), ("from_stage", "VARCHAR"), ("to_stage_id", "UUID"), ("to_stage", "VARCHAR"),
           ("occurred_at", "TIMESTAMPTZ"), ("recorded_at", "TIMESTAMPTZ"), ("actor", "VARCHAR")],
          "One row per stage move of a deal (`kind`: opened, moved, reopened), with business and recorded time."),
    Table("interactions", None,
          [("position", "BIGINT"), ("contact_id", "UUID"), ("version", "INTEGER"), ("type", "VARCHAR"),
           ("occurred_at", "TIMESTAMPTZ"), ("recorded_at", "TIMESTAMPTZ"), ("actor", "VARCHAR"), ("rep_id", "UUID"),
           ("deal_id", "UUID"), ("direction", "VARCHAR"), ("duration_seconds", "INTEGER"), ("outcome", "VARCHAR"),
           ("outcome_kind", "VARCHAR"), ("mode", "VARCHAR"), ("subject", "VARCHAR"), ("message_id", "VARCHAR"),
           ("link", "VARCHAR"), ("link_host", "VARCHAR"), ("bounce", "VARCHAR"), ("url", "VARCHAR"),
           ("url_host", "VARCHAR"), ("url_path", "VARCHAR"), ("title", "VARCHAR"), ("referrer", "VARCHAR"),
           ("referrer_host", "VARCHAR"), ("seconds_on_page", "INTEGER"), ("new_session", "BOOLEAN"),
           ("visitor_id", "VARCHAR"), ("session_id", "VARCHAR"), ("quote_id", "VARCHAR"), ("text", "VARCHAR")],
          "One row per interaction (`type`: call, email_sent, email_received, email_opened, email_clicked, "
          "email_bounced, voicemail, meeting_held, meeting_missed, demo, visit, page_visited, quote_opened, note, "
          "sms_sent), with the contact's `version` it made; a column is null where the type has no such field. "
          "`new_session`: a page visit after a gap (a return visit). `text` holds a note's or SMS's text and the "
          "notes of calls and meetings; with `outcome`, `subject`, `message_id`, `link`, `url`, `title`, `referrer`, "
          "`visitor_id` and `session_id` it is the contact's personal data, null once the contact is forgotten "
          "(and for analysts). What analytics need of them stays: `outcome_kind`, `link_host`, `url_host`, "
          "`url_path` and `referrer_host`, worked out when the interaction was recorded.",
          personal=("outcome", "subject", "message_id", "link", "url", "title", "referrer", "visitor_id", "session_id",
                    "text"), subject="contact_id"),
    Table("news", None,
          [("position", "BIGINT"), ("type", "VARCHAR"), ("record_type", "VARCHAR"), ("record_id", "UUID")],
          "What the news feed shows besides deal moves (in `deal_stage_changes`): `type` contact_registered, "
          "deal_won, deal_lost or meeting_missed, on a contact or a deal (`record_type`); `position` is where the "
          "event is in the log (`events_json` in the event store's database holds what it says)."),
    Table("tasks", "id",
          [("id", "UUID"), ("type", "VARCHAR"), ("title", "VARCHAR"), ("due_at", "TIMESTAMPTZ"),
           ("duration_minutes", "INTEGER"), ("owner_id", "UUID"), ("contact_id", "UUID"), ("deal_id", "UUID"),
           ("status", "VARCHAR"), ("done_at", "TIMESTAMPTZ"), ("done_recorded_at", "TIMESTAMPTZ"), ("done_by", "VARCHAR"),
           ("outcome", "VARCHAR"),
           ("notes", "VARCHAR"), *RECORD],
          "Tasks in the reps' agendas, current state: `owner_id` is the rep, `status` open, done or cancelled; "
          "`done_by` is who marked it done. `title`, `notes` and `outcome` are free text about the contact: null "
          "for analysts, and once the contact is forgotten; a task about a deal and no contact loses them with the "
          "deal's text (see `deals`).",
          personal=("title", "notes", "outcome"), subject="contact_id"),
    Table("activity_types", "name", [("name", "VARCHAR"), ("label", "VARCHAR"), ("colour", "VARCHAR")],
          "The activity types tasks are planned with, and their colour in the agenda. Empty until the types "
          "are first changed (`PUT /settings/activity-types/{name}`): the built-in ones hold until then."),
    *SETUP_TABLES,
    *HISTORY_TABLES,
    DEAL_STAYS,
    Table("dashboards", "id", [("id", "UUID"), ("name", "VARCHAR"), ("reports", "JSON"), ("saved_by", "VARCHAR"), *RECORD],
          "Saved dashboards (F34): `reports` is the list of `{report, params}` they show, filled in when read "
          "(`GET /dashboards/{id}`); `saved_by` is who saved it first."),
    Table("saved_views", "id", [("id", "UUID"), ("saved_by", "VARCHAR"), ("list", "VARCHAR"), ("name", "VARCHAR"),
                                ("filters", "JSON"), *RECORD],
          "Each person's saved views of the console's lists (`GET /views`): `list` is contacts, companies or deals, "
          "`filters` the list's query parameters as `{name: value}`; `saved_by` is whose view it is (an actor). "
          "A removed view's row is deleted."),
    Table("lead_score_changes", None,
          [("position", "BIGINT"), ("contact_id", "UUID"), ("occurred_at", "TIMESTAMPTZ"), ("recorded_at", "TIMESTAMPTZ"),
           ("points", "INTEGER"), ("score", "INTEGER"), ("reason", "VARCHAR"), ("rule", "VARCHAR"), ("cause", "VARCHAR")],
          "One row per change of a contact's lead score (F18, the `lead-scoring` policy), with why: the score as of "
          "T is `sum(points)` of the rows with `occurred_at <= T`."),
]

TABLES_BY_NAME = {t.name: t for t in TABLES}

POSITIONS_DDL = "CREATE TABLE IF NOT EXISTS projection_positions (name VARCHAR PRIMARY KEY, position BIGINT NOT NULL)"
