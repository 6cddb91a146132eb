"""The permission rules as plain data: which role may call which route, and whose
contacts and deals it reaches. No I/O here; the HTTP edge and the command layer apply them."""

from __future__ import annotations

import functools

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from fnmatch import fnmatchcase
from uuid import UUID

DEV_ACTOR = "dev"  # who acts in open development mode (no API keys configured)


class Role(StrEnum):
    ADMIN = "admin"  # everything
    MANAGER = "manager"  # a rep who manages a team: their team's contacts and deals
    REP = "rep"  # their own contacts and deals; reads their team's (or only theirs)
    ANALYST = "analyst"  # analytics and read-only SQL, never one person's record
    AUDITOR = "auditor"  # reads everything (history, timelines, verify), writes nothing


class Reach(StrEnum):
    """Whose contacts and deals a caller reaches, by their owner."""

    ALL = "all"
    TEAM = "team"  # their own and those of their team's reps (a manager's: the teams they manage too)
    OWN = "own"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a key's role and, for reps and managers, the rep they are."""

    role: Role
    key_id: str | None = None  # None in open development mode
    rep_id: UUID | None = None

    @property
    def actor(self) -> str:
        """Who the events say did it: the rep when the key is a person's, else the key."""
        if self.key_id is None:
            return DEV_ACTOR
        return f"rep:{self.rep_id}" if self.rep_id else f"key:{self.key_id}"


OPEN_MODE = Principal(Role.ADMIN)


def needs_rep(role: Role) -> bool:
    """Reps and managers are people with records of their own: their keys name the rep."""
    return role in (Role.REP, Role.MANAGER)


def write_reach(role: Role) -> Reach:
    return {Role.REP: Reach.OWN, Role.MANAGER: Reach.TEAM}.get(role, Reach.ALL)


def read_reach(role: Role, rep_reads: Reach) -> Reach:
    """``rep_reads`` is the setting CRM_ES_REP_READS: a rep reads their team's records or only theirs."""
    return {Role.REP: rep_reads, Role.MANAGER: Reach.TEAM}.get(role, Reach.ALL)


@dataclass(frozen=True)
class Rule:
    method: str
    path: str  # a route's path with its {parameters}; a * matches any rest (routes yet to come)
    roles: frozenset[Role]  # who may call it besides admins, who may call everything
    public: bool = False  # no key needed


def _rules(roles: Iterable[Role], *routes: str, public: bool = False) -> list[Rule]:
    return [Rule(method, path, frozenset(roles), public) for method, path in (r.split(" ", 1) for r in routes)]


ADMINS_ONLY: set[Role] = set()
SALES = {Role.MANAGER, Role.REP}

RULES: list[Rule] = [
    *_rules(set(Role), "GET /health", "GET /livez", "GET /readyz", "GET /metrics", "GET /openapi.json", "GET /docs", "GET /docs/oauth2-redirect", "GET /redoc",
            "GET /docs/assets/{name}",  # the docs pages' scripts and styles (entrypoints/http/docs_pages.py)
            public=True),
    # The team and the catalogue: whoever works with them reads them; admins change them.
    *_rules(SALES | {Role.AUDITOR}, "GET /reps", "GET /reps/{id}", "GET /teams", "GET /teams/{id}",
            "GET /pipelines", "GET /pipelines/{id}", "GET /companies", "GET /companies/{id}"),
    *_rules(ADMINS_ONLY, "POST /reps", "POST /teams", "POST /teams/{id}/members",
            "POST /pipelines", "PATCH /pipelines/{id}", "POST /companies", "PATCH /companies/{id}"),
    # Who works here: renaming, moving, deactivating and reactivating a rep are admins' (their keys depend on it).
    *_rules(ADMINS_ONLY, "PATCH /reps/{id}", "POST /reps/{id}/deactivate", "POST /reps/{id}/reactivate"),
    # A rep's sales target (F26): a manager sets their team's (checked on the rep).
    *_rules({Role.MANAGER}, "POST /reps/{id}/quotas"),
    # Contacts and deals: reps and managers within their reach (checked on each record).
    *_rules(SALES | {Role.AUDITOR}, "GET /contacts", "GET /contacts/{id}", "GET /contacts/{id}/score", "GET /deals", "GET /deals/{id}",
            "GET /pipelines/{id}/board"),
    *_rules(SALES, "POST /contacts", "PATCH /contacts/{id}", "POST /deals", "PATCH /deals/{id}",
            "POST /deals/{id}/stage", "POST /deals/{id}/won", "POST /deals/{id}/lost", "POST /deals/{id}/reopen"),
    # A CSV import is many contact commands: reps import their own contacts (each row is checked).
    *_rules(SALES, "POST /imports/contacts"),
    # A deals import moves an old CRM's history in and registers the companies it names: admins'.
    *_rules(ADMINS_ONLY, "POST /imports/deals"),
    # Analysts see the figures, never one person's record.
    *_rules({Role.ANALYST, Role.AUDITOR, Role.MANAGER}, "GET /analytics/*"),  # a manager: their team's (F26)
    *_rules({Role.ANALYST, Role.MANAGER}, "POST /dashboards", "PUT /dashboards/{dashboard_id}"),
    *_rules({Role.ANALYST, Role.AUDITOR, Role.MANAGER}, "GET /dashboards/{dashboard_id}"),
    *_rules({Role.ANALYST}, "POST /sql"),
    # The audit trail. Timelines and history replay any record: no owner check there, so auditors only.
    *_rules({Role.AUDITOR}, "GET /audit/*", "GET /contacts/{id}/history", "GET /deals/{id}/history"),
    # Interactions: reps record them on the contacts (and deals) they may change; the customer
    # card's timeline and the news feed read within the caller's reach.
    *_rules(SALES, "POST /contacts/{id}/interactions", "POST /interactions:batch"),
    # The person asks for no more automated sequences: a change to the contact (owner checked on it).
    *_rules(SALES, "POST /contacts/{id}/unsubscribe"),
    *_rules(SALES | {Role.AUDITOR}, "GET /contacts/{id}/timeline", "GET /deals/{id}/timeline", "GET /feed"),
    # The right to erasure cannot be undone.
    *_rules(ADMINS_ONLY, "POST /contacts/{id}/forget"),
    # Tasks and agendas: reps and managers plan within their reach (checked on each task's
    # rep); auditors read. The activity types are everyone's palette; admins change it.
    *_rules(SALES | {Role.AUDITOR}, "GET /tasks", "GET /tasks/{id}", "GET /agenda", "GET /settings/activity-types"),
    *_rules(SALES, "POST /tasks", "POST /tasks/{id}/done", "POST /tasks/{id}/reschedule", "POST /tasks/{id}/cancel"),
    *_rules(ADMINS_ONLY, "PUT /settings/activity-types/{name}"),
    # The record configuration: everyone who works with records reads it; admins change it.
    # A contact leaving its company is a change to that contact (owner checked on it).
    *_rules(SALES | {Role.AUDITOR}, "GET /settings"),
    *_rules(ADMINS_ONLY, "PUT /settings/properties/{type}/{name}", "DELETE /settings/properties/{type}/{name}",
            "PUT /settings/statuses", "PUT /settings/sources", "PUT /settings/lifecycle-stages",
            "PUT /settings/contact-roles", "PUT /settings/tag-categories/{category}",
            "DELETE /settings/tag-categories/{category}"),
    *_rules(SALES, "POST /contacts/{id}/left-company"),
    # Automations: admins switch and set them; managers and auditors see what they do.
    *_rules({Role.MANAGER, Role.AUDITOR}, "GET /policies"),
    *_rules(ADMINS_ONLY, "PUT /policies/{name}"),
    # The read side's maintenance while the service serves: a rebuild, an export of every table.
    *_rules(ADMINS_ONLY, "POST /read-side/rebuild", "GET /read-side/rebuild", "GET /export"),
    # Their outbox: delivery states only (no address, no text), for who oversees them.
    *_rules({Role.AUDITOR}, "GET /outbox"),
    # Documents (F25): admins write the templates; who issues documents reads them. Who may
    # change a contact issues, sends, and records payments on its documents (owner checked on
    # the contact); its readers read them. A rep's signature: their own, a manager their team's.
    *_rules(ADMINS_ONLY, "PUT /document-templates/{name}"),
    *_rules(SALES | {Role.AUDITOR}, "GET /document-templates", "GET /document-templates/{name}",
            "GET /documents/{id}", "GET /documents/{id}/pdf", "GET /documents/{id}/html", "GET /contacts/{id}/documents"),
    *_rules(SALES, "POST /documents", "POST /documents/{id}/send", "POST /documents/{id}/payments",
            "POST /documents/{id}/void", "PUT /reps/{id}/signature"),
    # Messages people send a contact (F22): who may change the contact writes and cancels;
    # its readers read them (owner checked on the contact).
    *_rules(SALES, "POST /contacts/{id}/messages", "POST /messages/{id}/cancel"),
    *_rules(SALES | {Role.AUDITOR}, "GET /messages/{id}"),
    # The web console (entrypoints/web). Getting in and out, the language and the console's
    # own script and styles need no key; each page is for whoever may read what it shows
    # (the board: GET /pipelines/{id}/board; a contact: GET /contacts/{id} and its timeline).
    # Its write controls show only to roles the matching command allows (allows() below).
    *_rules(set(Role), "GET /", "GET /app/", "GET /app/sign-in", "POST /app/sign-in", "POST /app/sign-out",
            "GET /app/lang", "GET /app/static/{name}", public=True),
    *_rules(SALES | {Role.AUDITOR}, "GET /app/board", "GET /app/contacts/{id}", "GET /app/deals/{id}",
            "GET /app/companies/{id}"),
    # Dashboards: who reads the analytics; the news feed: who reads the timelines.
    *_rules({Role.ANALYST, Role.AUDITOR, Role.MANAGER}, "GET /app/dashboards", "GET /app/dashboards/{id}"),
    *_rules(SALES | {Role.AUDITOR}, "GET /app/feed"),
    # The auditors' pages: the chain's check (started, then followed), a record's history as
    # of a date, a record's export and the check of an export file.
    *_rules({Role.AUDITOR}, "GET /app/audit", "POST /app/audit/verifications", "GET /app/audit/verifications/{id}",
            "GET /app/audit/verifications/{id}/progress", "POST /app/audit/export-check",
            "GET /app/contacts/{id}/history", "GET /app/deals/{id}/history",
            "GET /app/contacts/{id}/export", "GET /app/deals/{id}/export"),
    # Lists of records with the API's filters, and their CSV: who reads the records.
    *_rules(SALES | {Role.AUDITOR}, "GET /app/contacts", "GET /app/companies", "GET /app/deals",
            "GET /app/contacts.csv", "GET /app/companies.csv", "GET /app/deals.csv"),
    # Saved views of those lists (GET/POST /views, PUT/DELETE /views/{id}): each person's own.
    # Who works the lists keeps views of them; auditors write nothing, so they save none.
    *_rules(SALES, "GET /views", "POST /views", "PUT /views/{view_id}", "DELETE /views/{view_id}"),
    # A rep's day and week: who reads the agenda.
    *_rules(SALES | {Role.AUDITOR}, "GET /app/agenda"),
    # Admin pages (admins only; admins pass every rule): people, pipelines, settings, automations.
    *_rules(ADMINS_ONLY, "GET /app/admin", "GET /app/admin/people", "GET /app/admin/pipelines", "GET /app/admin/settings",
            "GET /app/admin/automations"),
    # Admin pages: API keys, the outbox, CSV imports.
    *_rules(ADMINS_ONLY, "GET /app/admin/keys", "POST /app/admin/keys", "POST /app/admin/keys/{id}/revoke",
            "GET /app/admin/outbox", "GET /app/admin/imports"),
]

_PARAMETER = re.compile(r"\{[^}]*\}")


def _shape(path: str) -> str:
    """A path with its parameters unnamed: /deals/{deal_id} and /deals/{id} are one route."""
    return _PARAMETER.sub("{}", path)


_BY_SHAPE = [(rule.method, _shape(rule.path), rule) for rule in RULES]


@functools.lru_cache(maxsize=1024)  # asked twice a request; the rules never change while running
def rule_for(method: str, path: str) -> Rule | None:
    """The rule of a route, named by its method and path template (``/deals/{deal_id}``)."""
    shape = _shape(path)
    return next((rule for m, pattern, rule in _BY_SHAPE if m == method and fnmatchcase(shape, pattern)), None)


def allows(role: Role, method: str, path: str) -> bool:
    """A route without a rule is for admins only: a new route is closed until it is given one."""
    rule = rule_for(method, path)
    return role is Role.ADMIN or (rule is not None and role in rule.roles)
