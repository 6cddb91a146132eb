"""Every route, every role (SQLite and PostgreSQL): 401 without a valid key, 403 for each
role its rule leaves out, 2xx for each role it lets in. Then whose records reps and
managers reach, who the events say acted, and open development mode.

The routes come from the app itself: a route added without a rule (auth/roles.py) or
without an example request here fails this test.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any
from uuid import UUID

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from helpers import STAGES, assert_problem, ok

from crm_es.entrypoints.http.app import create_app
from crm_es.auth.roles import Reach, Role, rule_for
from crm_es.bootstrap import Services
from crm_es.entrypoints.web.verifications import runs_of  # the auditors' pages: a run to look at

ROUTES = sorted({(method, r.path) for r in iter_route_contexts(create_app().routes) for method in r.methods - {"HEAD"}})

# Who calls for each role: the manager manages West, the rep works in West.
CALLERS = {Role.ADMIN: "admin", Role.MANAGER: "mia", Role.REP: "rob", Role.ANALYST: "analyst", Role.AUDITOR: "auditor"}


@dataclass(frozen=True)
class Upload:
    """A CSV file sent as multipart/form-data (POST /imports/contacts), not as JSON."""

    csv: str


@dataclass
class World:
    """Two teams. West: Mia (its manager), Rob and Rita. East: Max (its manager) and Eve."""

    client: TestClient
    services: Services
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)
    position: int = 0
    counter: itertools.count = field(default_factory=itertools.count)

    def call(self, who: str | None, method: str, path: str, body: Any = None, **headers: str) -> Any:
        if who is not None:
            headers["Authorization"] = f"Bearer {self.tokens.get(who, who)}"
        if method == "GET":  # read what the set-up wrote
            path += ("&" if "?" in path else "?") + f"after={self.position}"
        if isinstance(body, Upload):
            upload = {"file": ("c.csv", body.csv.encode(), "text/csv")}
            return self.client.request(method, path, files=upload, headers=headers)
        return self.client.request(method, path, json=body, headers=headers)

    def admin(self, method: str, path: str, body: Any = None, status: int = 201) -> dict[str, Any]:
        answer = ok(self.call("admin", method, path, body), status)
        self.position = max(self.position, answer.get("position", 0))
        return answer

    def email(self) -> str:
        return f"person{next(self.counter)}@example.com"

    def contact(self, owner: str) -> str:
        body = {"first_name": "Jean", "last_name": "Dupont", "email": self.email(), "owner_id": self.ids[owner]}
        return self.admin("POST", "/contacts", body)["id"]

    def deal(self, owner: str) -> str:
        body = {"title": "Fleet renewal", "pipeline_id": self.ids["pipeline"], "stage": "Contact", "amount": "12000.00",
                "currency": "EUR", "owner_id": self.ids[owner]}
        return self.admin("POST", "/deals", body)["id"]

    def lost_deal(self, owner: str) -> str:
        deal_id = self.deal(owner)
        self.admin("POST", f"/deals/{deal_id}/lost", {"reason": "price"}, 200)
        return deal_id

    def task(self, owner: str) -> str:
        body = {"type": "call", "title": "Call back", "due_at": "2026-03-02T10:00:00+01:00", "owner_id": self.ids[owner]}
        return self.admin("POST", "/tasks", body)["id"]

    def employee(self, owner: str) -> str:
        """A contact at the company."""
        body = {"first_name": "Jean", "last_name": "Dupont", "email": self.email(), "owner_id": self.ids[owner],
                "company_id": self.ids["company"]}
        return self.admin("POST", "/contacts", body)["id"]

    def property_path(self) -> str:
        path = f"/settings/properties/contact/p{next(self.counter)}"
        self.admin("PUT", path, {"type": "text"}, 200)
        return path

    def tag_category_path(self) -> str:
        n = next(self.counter)
        self.admin("PUT", f"/settings/tag-categories/c{n}", {"tags": [f"tag{n}"]}, 200)
        return f"/settings/tag-categories/c{n}"

    def dashboard_body(self) -> dict[str, Any]:
        return {"name": "Week", "reports": [{"report": "funnel", "params": {"from": "2026-01-01T00:00:00Z",
                                                                            "to": "2026-04-01T00:00:00Z",
                                                                            "pipeline": self.ids["pipeline"]}}]}

    def dashboard(self) -> str:
        return self.admin("POST", "/dashboards", self.dashboard_body())["id"]

    def invoice(self, owner: str) -> str:
        """An invoice to the owner's contact (each call a fresh one: a second payment or void may be refused)."""
        body = {"kind": "invoice", "contact_id": self.ids[f"{owner}_contact"], "currency": "EUR", "due_on": "2026-03-31",
                "lines": [{"description": "Licence", "quantity": "1", "unit_price": "100.00"}]}
        return self.admin("POST", "/documents", body)["id"]

    def message(self, owner: str) -> str:
        """An e-mail to the owner's contact set for later (each call a fresh one: a cancelled one stays so)."""
        body = {"subject": "Our offer", "body": "Hello", "send_at": "2026-03-20T09:00:00Z"}
        return self.admin("POST", f"/contacts/{self.ids[f'{owner}_contact']}/messages", body, status=202)["id"]

    def rep(self, deactivated: bool = False) -> str:
        """A fresh rep (each call: one deactivated stays so), deactivated if asked."""
        rep_id = self.admin("POST", "/reps", {"name": "Nina", "email": self.email()})["id"]
        if deactivated:
            self.admin("POST", f"/reps/{rep_id}/deactivate", {}, 200)
        return rep_id

    def key(self, name: str, role: Role, rep: str | None = None) -> None:
        _, self.tokens[name] = self.services.api_keys.create(role, UUID(self.ids[rep]) if rep else None, name)


@pytest.fixture
def world(client: TestClient, services: Services) -> World:
    # E-mail configured, so that people may send (nothing is delivered here: no outbox runs).
    services.settings = replace(services.settings, smtp_url="smtp://127.0.0.1:25")
    w = World(client, services)
    w.key("admin", Role.ADMIN)
    for name in ("mia", "rob", "rita", "max", "eve"):
        w.ids[name] = w.admin("POST", "/reps", {"name": name.title(), "email": f"{name}@example.com"})["id"]
    for team, manager, members in (("west", "mia", ("mia", "rob", "rita")), ("east", "max", ("max", "eve"))):
        w.ids[team] = w.admin("POST", "/teams", {"name": team.title(), "manager_id": w.ids[manager]})["id"]
        for member in members:
            w.admin("POST", f"/teams/{w.ids[team]}/members", {"rep_id": w.ids[member]}, 200)
    w.ids["pipeline"] = w.admin("POST", "/pipelines", {"name": "New business", "stages": STAGES})["id"]
    w.ids["company"] = w.admin("POST", "/companies", {"name": "Acme"})["id"]
    for owner in ("rob", "rita", "eve"):
        w.ids[f"{owner}_contact"] = w.contact(owner)
        w.ids[f"{owner}_deal"] = w.deal(owner)
    for name, role, rep in (("mia", Role.MANAGER, "mia"), ("max", Role.MANAGER, "max"), ("rob", Role.REP, "rob"),
                            ("eve", Role.REP, "eve"), ("analyst", Role.ANALYST, None), ("auditor", Role.AUDITOR, None)):
        w.key(name, role, rep)
    revoked, w.tokens["revoked"] = services.api_keys.create(Role.ADMIN, name="revoked")
    services.api_keys.revoke(revoked.id)
    return w


PUBLIC = None  # no key needed
ADMINS = frozenset[Role]()  # admins may call every route; these sets name who else may
SALES = frozenset({Role.MANAGER, Role.REP})
READERS = SALES | {Role.AUDITOR}
AUDITORS = frozenset({Role.AUDITOR})
ANALYSTS = frozenset({Role.ANALYST})
REPORTS = ANALYSTS | AUDITORS | {Role.MANAGER}  # the analytics: a manager reads their team's
PERIOD = "from=2026-01-01T00:00:00Z&to=2026-04-01T00:00:00Z"

Example = tuple[frozenset[Role] | None, Callable[[], tuple[str, Any]]]


def role_matrix(w: World) -> dict[str, Example]:
    """Who may call each route (stated here again, apart from auth/roles.py, so a rule
    cannot widen unnoticed), and one valid request for it, made when called: commands get
    a fresh record where a second call would be refused. Records belong to Rob, so his
    manager reaches them too."""
    ids = w.ids
    deal_body = {"title": "New deal", "pipeline_id": ids["pipeline"], "stage": "Contact", "amount": "10.00",
                 "currency": "EUR", "owner_id": ids["rob"]}
    contact_body = {"first_name": "Ann", "last_name": "Lee", "owner_id": ids["rob"]}
    return {
        "GET /health": (PUBLIC, lambda: ("/health", None)),
        "GET /livez": (PUBLIC, lambda: ("/livez", None)),
        "GET /readyz": (PUBLIC, lambda: ("/readyz", None)),
        "GET /metrics": (PUBLIC, lambda: ("/metrics", None)),
        "GET /openapi.json": (PUBLIC, lambda: ("/openapi.json", None)),
        "GET /docs": (PUBLIC, lambda: ("/docs", None)),
        "GET /docs/oauth2-redirect": (PUBLIC, lambda: ("/docs/oauth2-redirect", None)),
        "GET /redoc": (PUBLIC, lambda: ("/redoc", None)),
        "GET /docs/assets/{name}": (PUBLIC, lambda: ("/docs/assets/swagger-ui.css", None)),
        # The console's pages (entrypoints/web): signing in and out, the language, its files, then
        # the pages, open to whoever may read what they show. Without a session a page answers
        # the sign-in form, so these run with a key as any other route.
        "GET /": (PUBLIC, lambda: ("/", None)),
        "GET /app/": (PUBLIC, lambda: ("/app/", None)),
        "GET /app/sign-in": (PUBLIC, lambda: ("/app/sign-in", None)),
        "POST /app/sign-out": (PUBLIC, lambda: ("/app/sign-out", None)),
        "GET /app/lang": (PUBLIC, lambda: ("/app/lang?to=fr", None)),
        "GET /app/static/{name}": (PUBLIC, lambda: ("/app/static/console.css", None)),
        "GET /app/board": (READERS, lambda: ("/app/board", None)),
        "GET /app/contacts/{contact_id}": (READERS, lambda: (f"/app/contacts/{ids['rob_contact']}", None)),
        # the auditors' pages: the chain's verification, a record as it was, its export and an export's check
        "GET /app/audit": (AUDITORS, lambda: ("/app/audit", None)),
        "POST /app/audit/verifications": (AUDITORS, lambda: ("/app/audit/verifications", None)),
        "GET /app/audit/verifications/{id}": (AUDITORS, lambda: (
            f"/app/audit/verifications/{runs_of(w.client.app).start(None)[0].id}", None)),
        "GET /app/audit/verifications/{id}/progress": (AUDITORS, lambda: (
            f"/app/audit/verifications/{runs_of(w.client.app).start(None)[0].id}/progress", None)),
        "POST /app/audit/export-check": (AUDITORS, lambda: ("/app/audit/export-check", Upload('{"position": 1}\n'))),
        "GET /app/contacts/{contact_id}/history": (AUDITORS, lambda: (f"/app/contacts/{ids['rob_contact']}/history", None)),
        "GET /app/deals/{deal_id}/history": (AUDITORS, lambda: (f"/app/deals/{ids['rob_deal']}/history", None)),
        "GET /app/contacts/{contact_id}/export": (AUDITORS, lambda: (f"/app/contacts/{ids['rob_contact']}/export", None)),
        "GET /app/deals/{deal_id}/export": (AUDITORS, lambda: (f"/app/deals/{ids['rob_deal']}/export", None)),
        # dashboards and the news feed: who reads the analytics; who reads the timelines
        "GET /app/dashboards": (REPORTS, lambda: ("/app/dashboards", None)),
        "GET /app/dashboards/{dashboard_id}": (REPORTS, lambda: (f"/app/dashboards/{w.dashboard()}", None)),
        "GET /app/feed": (READERS, lambda: ("/app/feed", None)),
        "GET /app/agenda": (READERS, lambda: (f"/app/agenda?rep={ids['rob']}", None)),
        # admin: people, pipelines, settings, automations (and the admin index)
        **{f"GET {path}": (ADMINS, lambda path=path: (path, None)) for path in (
            "/app/admin", "/app/admin/people", "/app/admin/pipelines", "/app/admin/settings", "/app/admin/automations")},
        # admin: API keys, the outbox, CSV imports (POST /app/admin/keys: TESTED_APART)
        **{f"GET {path}": (ADMINS, lambda path=path: (path, None)) for path in (
            "/app/admin/keys", "/app/admin/outbox", "/app/admin/imports")},
        "POST /app/admin/keys/{key_id}/revoke": (ADMINS, lambda: (
            f"/app/admin/keys/{w.services.api_keys.create(Role.ANALYST, name='to revoke')[0].id}/revoke", None)),
        "GET /app/deals/{deal_id}": (READERS, lambda: (f"/app/deals/{ids['rob_deal']}", None)),
        "GET /app/companies/{company_id}": (READERS, lambda: (f"/app/companies/{ids['company']}", None)),
        "POST /reps": (ADMINS, lambda: ("/reps", {"name": "Nina", "email": w.email()})),
        "GET /reps": (READERS, lambda: ("/reps", None)),
        "GET /reps/{rep_id}": (READERS, lambda: (f"/reps/{ids['rob']}", None)),
        "PATCH /reps/{rep_id}": (ADMINS, lambda: (f"/reps/{w.rep()}", {"name": "Nina Simone"})),
        "POST /reps/{rep_id}/deactivate": (ADMINS, lambda: (f"/reps/{w.rep()}/deactivate", {"reason": "left"})),
        "POST /reps/{rep_id}/reactivate": (ADMINS, lambda: (f"/reps/{w.rep(deactivated=True)}/reactivate", {})),
        "POST /reps/{rep_id}/quotas": (frozenset({Role.MANAGER}), lambda: (f"/reps/{ids['rob']}/quotas", {
            "period_start": "2026-01-01", "period_end": "2026-04-01", "amount": "50000", "currency": "EUR"})),
        "POST /teams": (ADMINS, lambda: ("/teams", {"name": "North"})),
        "POST /teams/{team_id}/members": (ADMINS, lambda: (f"/teams/{ids['west']}/members", {"rep_id": ids["rita"]})),
        "GET /teams": (READERS, lambda: ("/teams", None)),
        "GET /teams/{team_id}": (READERS, lambda: (f"/teams/{ids['west']}", None)),
        "POST /pipelines": (ADMINS, lambda: ("/pipelines", {"name": "Renewals", "stages": STAGES})),
        "PATCH /pipelines/{pipeline_id}": (ADMINS, lambda: (f"/pipelines/{ids['pipeline']}", {"name": "New business"})),
        "GET /pipelines": (READERS, lambda: ("/pipelines", None)),
        "GET /pipelines/{pipeline_id}": (READERS, lambda: (f"/pipelines/{ids['pipeline']}", None)),
        "GET /pipelines/{pipeline_id}/board": (READERS, lambda: (f"/pipelines/{ids['pipeline']}/board", None)),
        "POST /companies": (ADMINS, lambda: ("/companies", {"name": "Initech"})),
        "PATCH /companies/{company_id}": (ADMINS, lambda: (f"/companies/{ids['company']}", {"sector": "Retail"})),
        "GET /companies": (READERS, lambda: ("/companies", None)),
        "GET /companies/{company_id}": (READERS, lambda: (f"/companies/{ids['company']}", None)),
        "POST /contacts": (SALES, lambda: ("/contacts", {**contact_body, "email": w.email()})),
        "POST /imports/contacts": (SALES, lambda: ("/imports/contacts",
                                                   Upload(f"email,first_name,last_name\n{w.email()},Ann,Lee\n"))),
        "POST /imports/deals": (ADMINS, lambda: ("/imports/deals", Upload(
            f"id,title,pipeline,stage,amount,currency,created\n{w.email()},T,{ids['pipeline']},Contact,1,EUR,"
            f"{w.services.clock.now().isoformat()}\n"))),
        "PATCH /contacts/{contact_id}": (SALES, lambda: (f"/contacts/{ids['rob_contact']}", {"city": "Lyon"})),
        "POST /contacts/{contact_id}/forget": (ADMINS, lambda: (f"/contacts/{w.contact('rob')}/forget", {})),
        "GET /contacts": (READERS, lambda: ("/contacts", None)),
        "GET /contacts/{contact_id}": (READERS, lambda: (f"/contacts/{ids['rob_contact']}", None)),
        "GET /contacts/{contact_id}/history": (AUDITORS, lambda: (f"/contacts/{ids['rob_contact']}/history", None)),
        "GET /contacts/{contact_id}/timeline": (READERS, lambda: (f"/contacts/{ids['rob_contact']}/timeline", None)),
        "GET /contacts/{contact_id}/score": (READERS, lambda: (f"/contacts/{ids['rob_contact']}/score", None)),
        "POST /contacts/{contact_id}/interactions": (SALES, lambda: (f"/contacts/{ids['rob_contact']}/interactions",
                                                                    {"type": "call", "duration_seconds": 90})),
        "POST /interactions:batch": (SALES, lambda: ("/interactions:batch", {"items": [
            {"type": "page_visited", "contact_id": ids["rob_contact"], "url": "https://example.com/pricing"}]})),
        "GET /feed": (READERS, lambda: ("/feed", None)),
        "POST /deals": (SALES, lambda: ("/deals", deal_body)),
        "PATCH /deals/{deal_id}": (SALES, lambda: (f"/deals/{ids['rob_deal']}", {"title": "Fleet renewal"})),
        "POST /deals/{deal_id}/stage": (SALES, lambda: (f"/deals/{w.deal('rob')}/stage", {"stage": "Demo"})),
        "POST /deals/{deal_id}/won": (SALES, lambda: (f"/deals/{w.deal('rob')}/won", {})),
        "POST /deals/{deal_id}/lost": (SALES, lambda: (f"/deals/{w.deal('rob')}/lost", {"reason": "price"})),
        "POST /deals/{deal_id}/reopen": (SALES, lambda: (f"/deals/{w.lost_deal('rob')}/reopen", {})),
        "GET /deals": (READERS, lambda: ("/deals", None)),
        "GET /deals/{deal_id}": (READERS, lambda: (f"/deals/{ids['rob_deal']}", None)),
        "GET /deals/{deal_id}/history": (AUDITORS, lambda: (f"/deals/{ids['rob_deal']}/history", None)),
        "GET /deals/{deal_id}/timeline": (READERS, lambda: (f"/deals/{ids['rob_deal']}/timeline", None)),
        "GET /audit/verify": (AUDITORS, lambda: ("/audit/verify", None)),
        "POST /tasks": (SALES, lambda: ("/tasks", {"type": "call", "title": "Call", "due_at": "2026-03-02T10:00:00Z",
                                                   "owner_id": ids["rob"], "contact_id": ids["rob_contact"]})),
        "POST /tasks/{task_id}/done": (SALES, lambda: (f"/tasks/{w.task('rob')}/done", {"outcome": "agreed"})),
        "POST /tasks/{task_id}/reschedule": (SALES, lambda: (f"/tasks/{w.task('rob')}/reschedule",
                                                             {"due_at": "2026-03-03T10:00:00Z"})),
        "POST /tasks/{task_id}/cancel": (SALES, lambda: (f"/tasks/{w.task('rob')}/cancel", {})),
        "GET /tasks": (READERS, lambda: ("/tasks", None)),
        "GET /tasks/{task_id}": (READERS, lambda: (f"/tasks/{w.task('rob')}", None)),
        "GET /agenda": (READERS, lambda: (f"/agenda?rep={ids['rob']}&date=2026-03-02", None)),
        "GET /settings/activity-types": (READERS, lambda: ("/settings/activity-types", None)),
        "PUT /settings/activity-types/{name}": (ADMINS, lambda: ("/settings/activity-types/webinar", {"colour": "#123abc"})),
        # The record configuration (a fresh property or category where the call removes one).
        "GET /settings": (READERS, lambda: ("/settings", None)),
        "PUT /settings/properties/{record_type}/{name}": (ADMINS, lambda: ("/settings/properties/deal/budget",
                                                                           {"type": "money", "default_currency": "EUR"})),
        "DELETE /settings/properties/{record_type}/{name}": (ADMINS, lambda: (w.property_path(), None)),
        "PUT /settings/statuses": (ADMINS, lambda: ("/settings/statuses", {"statuses": ["lead", "prospect", "customer"]})),
        "PUT /settings/sources": (ADMINS, lambda: ("/settings/sources", {"sources": ["referral", "website"]})),
        "PUT /settings/lifecycle-stages": (ADMINS, lambda: ("/settings/lifecycle-stages", {"stages": ["potential", "active"]})),
        "PUT /settings/contact-roles": (ADMINS, lambda: ("/settings/contact-roles", {"roles": ["decision maker"]})),
        "PUT /settings/tag-categories/{category}": (ADMINS, lambda: ("/settings/tag-categories/potential",
                                                                     {"tags": ["Gold", "Silver"]})),
        "DELETE /settings/tag-categories/{category}": (ADMINS, lambda: (w.tag_category_path(), None)),
        "POST /contacts/{contact_id}/left-company": (SALES, lambda: (f"/contacts/{w.employee('rob')}/left-company", {})),
        "POST /sql": (ANALYSTS, lambda: ("/sql", {"sql": "SELECT count(*) FROM deals"})),
        # The analysts' reports (auditors read them too).
        "GET /analytics/movements": (REPORTS, lambda: (f"/analytics/movements?{PERIOD}", None)),
        "GET /analytics/funnel": (REPORTS, lambda: (f"/analytics/funnel?{PERIOD}&pipeline={ids['pipeline']}", None)),
        "POST /dashboards": (ANALYSTS | {Role.MANAGER}, lambda: ("/dashboards", w.dashboard_body())),
        "PUT /dashboards/{dashboard_id}": (ANALYSTS | {Role.MANAGER}, lambda: (f"/dashboards/{w.dashboard()}", w.dashboard_body())),
        "GET /dashboards/{dashboard_id}": (REPORTS, lambda: (f"/dashboards/{w.dashboard()}", None)),
        "GET /analytics/velocity": (REPORTS, lambda: (f"/analytics/velocity?{PERIOD}&pipeline={ids['pipeline']}", None)),
        "GET /analytics/sources": (REPORTS, lambda: (f"/analytics/sources?{PERIOD}", None)),
        "GET /analytics/activity": (REPORTS, lambda: (f"/analytics/activity?{PERIOD}&by=rep", None)),
        "GET /analytics/kpis": (REPORTS, lambda: (f"/analytics/kpis?{PERIOD}&by=team", None)),
        "GET /analytics/forecast": (REPORTS, lambda: (f"/analytics/forecast?{PERIOD}", None)),
        # The automations.
        "GET /policies": (ADMINS | {Role.MANAGER, Role.AUDITOR}, lambda: ("/policies", None)),
        "PUT /policies/{name}": (ADMINS, lambda: ("/policies/task-after-meeting", {"enabled": False})),
        # The read side's maintenance while serving (tests/integration/test_maintenance_live.py).
        "POST /read-side/rebuild": (ADMINS, lambda: ("/read-side/rebuild", None)),
        "GET /read-side/rebuild": (ADMINS, lambda: ("/read-side/rebuild", None)),
        "GET /export": (ADMINS, lambda: ("/export?format=csv", None)),
        "GET /outbox": (AUDITORS, lambda: ("/outbox", None)),
        "POST /contacts/{contact_id}/unsubscribe": (SALES, lambda: (f"/contacts/{ids['rob_contact']}/unsubscribe", {})),
        # Documents (F25): templates are admins'; documents follow their contact's reach.
        "PUT /document-templates/{name}": (ADMINS, lambda: ("/document-templates/offer", {
            "kind": "quote", "subject": "Offer {{ document.number }}", "body": "Hello {{ contact.first_name }}",
            "html": "<p>Offer {{ document.number }}: {{ document.total }} {{ document.currency }}</p>"})),
        "GET /document-templates": (READERS, lambda: ("/document-templates", None)),
        "GET /document-templates/{name}": (READERS, lambda: ("/document-templates/invoice", None)),
        "POST /documents": (SALES, lambda: ("/documents", {
            "kind": "quote", "contact_id": ids["rob_contact"], "currency": "EUR",
            "lines": [{"description": "Licence", "quantity": "1", "unit_price": "100.00"}]})),
        "GET /documents/{document_id}": (READERS, lambda: (f"/documents/{w.invoice('rob')}", None)),
        "GET /documents/{document_id}/pdf": (READERS, lambda: (f"/documents/{w.invoice('rob')}/pdf", None)),
        "GET /documents/{document_id}/html": (READERS, lambda: (f"/documents/{w.invoice('rob')}/html", None)),
        "GET /contacts/{contact_id}/documents": (READERS, lambda: (f"/contacts/{ids['rob_contact']}/documents", None)),
        "POST /documents/{document_id}/send": (SALES, lambda: (f"/documents/{w.invoice('rob')}/send", {})),
        "POST /documents/{document_id}/payments": (SALES, lambda: (f"/documents/{w.invoice('rob')}/payments",
                                                                   {"amount": "100.00"})),
        "POST /documents/{document_id}/void": (SALES, lambda: (f"/documents/{w.invoice('rob')}/void",
                                                               {"reason": "issued twice"})),
        # Messages people send (F22): who may change the contact writes to them and cancels; its readers read.
        "POST /contacts/{contact_id}/messages": (SALES, lambda: (f"/contacts/{ids['rob_contact']}/messages", {
            "subject": "Our offer", "body": "Hello", "send_at": "2026-03-20T09:00:00Z"})),
        "GET /messages/{message_id}": (READERS, lambda: (f"/messages/{w.message('rob')}", None)),
        "POST /messages/{message_id}/cancel": (SALES, lambda: (f"/messages/{w.message('rob')}/cancel", {})),
        # The console's lists and their CSV (issue 19): whoever reads the records.
        **{f"GET /app/{kind}": (READERS, lambda kind=kind: (f"/app/{kind}", None)) for kind in ("contacts", "companies", "deals")},
        **{f"GET /app/{kind}.csv": (READERS, lambda kind=kind: (f"/app/{kind}.csv", None))
           for kind in ("contacts", "companies", "deals")},
        # Saved views (issue 19): each person's own (PUT and DELETE: TESTED_APART).
        "GET /views": (SALES, lambda: ("/views?list=contacts", None)),
        "POST /views": (SALES, lambda: ("/views", {"list": "deals", "name": "Mine", "filters": {"status": "open"}})),
        # The signature a rep's documents carry: their own; a manager their team's.
        "PUT /reps/{rep_id}/signature": (SALES, lambda: (f"/reps/{ids['rob']}/signature", {"signature": "Rob\nSales"})),
    }


# Routes whose one valid request this table cannot make, each tested where it can be.
TESTED_APART = {
    "POST /app/sign-in": "tests/web/test_sign_in.py: a form and its CSRF cookie, and it leaves a session behind",
    "PUT /views/{view_id}": "tests/http/test_saved_views.py: only the view's saver may change it (others: 404)",
    "DELETE /views/{view_id}": "tests/http/test_saved_views.py: only the view's saver may remove it (others: 404)",
    "POST /app/admin/keys": "tests/web/test_admin_ops.py: a form with the session's token; admins only, others 403",
}


def test_every_route_lets_in_exactly_the_roles_it_should(world: World) -> None:
    matrix = role_matrix(world)
    store = world.services.store
    failures = []

    def check(route: str, who: str | None, status: int, example: Callable[[], tuple[str, Any]]) -> None:
        path, body = example()  # may write a fresh record first
        before = store.max_position()
        response = world.call(who, route.split(" ")[0], path, body)
        if not (200 <= response.status_code < 300 if status == 200 else response.status_code == status):
            failures.append(f"{route} as {who}: {response.status_code}, wanted {status}: {response.text[:160]}")
        elif status >= 400 and store.max_position() != before:
            failures.append(f"{route} as {who}: refused, yet it wrote events")

    for method, path in ROUTES:
        route = f"{method} {path}"
        if route in TESTED_APART and rule_for(method, path) is not None:
            continue
        if rule_for(method, path) is None or route not in matrix:
            failures.append(f"{route}: " + ("no rule in auth/roles.py" if route in matrix else "no row in role_matrix here"))
            continue
        allowed, example = matrix[route]
        if allowed is PUBLIC:
            check(route, None, 200, example)
            continue
        for who in (None, "crm_000000000000_unknown", "revoked", "not-a-key"):
            check(route, who, 401, example)
        for role, who in CALLERS.items():
            check(route, who, 200 if role is Role.ADMIN or role in allowed else 403, example)
    assert not failures, "\n".join(failures)


def test_refusals_are_problems_that_say_why(world: World) -> None:
    missing = assert_problem(world.call(None, "GET", "/deals"), 401, "api-key-required")
    assert world.call(None, "GET", "/deals").headers["WWW-Authenticate"] == "Bearer"
    assert "Bearer" in missing["detail"]
    assert_problem(world.call("revoked", "GET", "/deals"), 401, "api-key-unknown")
    assert_problem(world.client.get("/deals", headers={"Authorization": "Basic YWRtaW46YWRtaW4="}), 401)
    refused = assert_problem(world.call("analyst", "GET", f"/contacts/{world.ids['rob_contact']}"), 403, "role-not-allowed")
    assert refused["role"] == "analyst"
    assert world.call(None, "GET", "/health").status_code == 200


def test_a_rep_changes_only_their_own_contacts_and_deals(world: World) -> None:
    ids, before = world.ids, world.services.store.max_position()
    assert_problem(world.call("rob", "PATCH", f"/deals/{ids['rita_deal']}", {"title": "Mine now"}), 403, "not-your-record")
    assert_problem(world.call("rob", "POST", f"/deals/{ids['eve_deal']}/stage", {"stage": "Demo"}), 403, "not-your-record")
    assert_problem(world.call("rob", "POST", f"/deals/{ids['rita_deal']}/won", {}), 403)
    assert_problem(world.call("rob", "PATCH", f"/contacts/{ids['eve_contact']}", {"city": "Oslo"}), 403)
    handover = assert_problem(world.call("rob", "PATCH", f"/deals/{ids['rob_deal']}", {"owner_id": ids["rita"]}), 403)
    assert handover["field"] == "owner_id"
    contact = {"first_name": "A", "last_name": "B", "email": "ab@example.com", "owner_id": ids["eve"]}
    assert_problem(world.call("rob", "POST", "/contacts", contact), 403, "not-your-record")
    assert world.services.store.max_position() == before
    ok(world.call("rob", "POST", f"/deals/{ids['rob_deal']}/stage", {"stage": "Demo"}), 200)


def test_what_a_rep_creates_is_theirs_unless_they_name_an_owner(world: World) -> None:
    body = {"title": "Walk-in", "pipeline_id": world.ids["pipeline"], "stage": "Contact", "amount": "5", "currency": "EUR"}
    made = ok(world.call("rob", "POST", "/deals", body))
    contact = ok(world.call("rob", "POST", "/contacts", {"first_name": "A", "last_name": "B", "email": "ab@example.com"}))
    world.position = contact["position"]
    assert ok(world.call("rob", "GET", f"/deals/{made['id']}"), 200)["owner_id"] == world.ids["rob"]
    assert ok(world.call("rob", "GET", f"/contacts/{contact['id']}"), 200)["owner_id"] == world.ids["rob"]


def test_a_manager_changes_their_teams_records_only(world: World) -> None:
    ids = world.ids
    ok(world.call("mia", "PATCH", f"/deals/{ids['rita_deal']}", {"amount": "15000.00"}), 200)
    ok(world.call("mia", "PATCH", f"/deals/{ids['rob_deal']}", {"owner_id": ids["rita"]}), 200)
    ok(world.call("mia", "PATCH", f"/contacts/{ids['rob_contact']}", {"owner_id": ids["mia"]}), 200)
    before = world.services.store.max_position()
    assert_problem(world.call("mia", "PATCH", f"/deals/{ids['rita_deal']}", {"owner_id": ids["eve"]}), 403, "not-your-record")
    assert_problem(world.call("max", "PATCH", f"/deals/{ids['rita_deal']}", {"title": "East now"}), 403, "not-your-record")
    assert_problem(world.call("max", "POST", f"/deals/{ids['rita_deal']}/lost", {"reason": "mine"}), 403)
    deal = {"title": "t", "pipeline_id": ids["pipeline"], "stage": "Contact", "amount": "1", "currency": "EUR",
            "owner_id": ids["rob"]}
    assert_problem(world.call("max", "POST", "/deals", deal), 403)
    assert world.services.store.max_position() == before


def _listed(world: World, who: str, path: str) -> set[str]:
    return {item["id"] for item in ok(world.call(who, "GET", path), 200)["items"]}


def test_reps_and_managers_read_their_teams_records(world: World) -> None:
    ids = world.ids
    west_deals = {ids["rob_deal"], ids["rita_deal"]}
    assert ok(world.call("rob", "GET", f"/deals/{ids['rita_deal']}"), 200)["owner_id"] == ids["rita"]
    assert_problem(world.call("rob", "GET", f"/deals/{ids['eve_deal']}"), 403, "not-your-record")
    assert_problem(world.call("rob", "GET", f"/contacts/{ids['eve_contact']}"), 403, "not-your-record")
    assert _listed(world, "rob", "/deals") == west_deals
    assert _listed(world, "mia", "/deals") == west_deals
    assert _listed(world, "rob", "/contacts") == {ids["rob_contact"], ids["rita_contact"]}
    assert _listed(world, "max", "/deals") == {ids["eve_deal"]}
    assert _listed(world, "auditor", "/deals") == west_deals | {ids["eve_deal"]}
    board = ok(world.call("rob", "GET", f"/pipelines/{ids['pipeline']}/board"), 200)
    assert {d["id"] for stage in board["stages"] for d in stage["deals"]} == west_deals


def test_a_manager_reads_the_reports_of_their_team(world: World) -> None:
    def opened(who: str) -> tuple[int, set[str]]:
        funnel = ok(world.call(who, "GET", f"/analytics/funnel?{PERIOD}&pipeline={world.ids['pipeline']}"), 200)
        moves = ok(world.call(who, "GET", f"/analytics/movements?{PERIOD}"), 200)
        return funnel["groups"][0]["opened"], {m["deal_id"] for m in moves["items"]}

    ids = world.ids
    assert opened("mia") == (2, {ids["rob_deal"], ids["rita_deal"]})
    assert opened("max") == (1, {ids["eve_deal"]})
    assert opened("analyst") == (3, {ids["rob_deal"], ids["rita_deal"], ids["eve_deal"]})
    dashboard = world.dashboard()  # a dashboard shows each reader what they may see
    for who, deals in (("mia", 2), ("max", 1), ("auditor", 3)):
        shown = ok(world.call(who, "GET", f"/dashboards/{dashboard}"), 200)
        assert shown["reports"][0]["result"]["groups"][0]["opened"] == deals, who


def test_reps_read_only_their_own_records_when_the_setting_says_so(world: World) -> None:
    world.services.settings = replace(world.services.settings, rep_reads=Reach.OWN)
    ids = world.ids
    assert_problem(world.call("rob", "GET", f"/deals/{ids['rita_deal']}"), 403, "not-your-record")
    assert _listed(world, "rob", "/deals") == {ids["rob_deal"]}
    assert _listed(world, "rob", "/contacts") == {ids["rob_contact"]}
    assert _listed(world, "mia", "/deals") == {ids["rob_deal"], ids["rita_deal"]}  # managers still read their team's


def test_events_name_who_the_key_belongs_to(world: World) -> None:
    moved = ok(world.call("rob", "POST", f"/deals/{world.ids['rob_deal']}/stage", {"stage": "Demo"}), 200)
    renamed = ok(world.call("admin", "PATCH", f"/companies/{world.ids['company']}", {"sector": "Retail"}), 200)
    [*_, by_rep] = world.services.store.events(UUID(moved["id"]))
    [*_, by_admin] = world.services.store.events(UUID(renamed["id"]))
    admin_key = next(key for key in world.services.api_keys.list() if key.name == "admin")
    assert (by_rep.actor, by_admin.actor) == (f"rep:{world.ids['rob']}", f"key:{admin_key.id}")


def test_open_development_mode_is_loud_and_ends_with_the_first_key(services: Services, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="crm_es")
    with TestClient(create_app(services)) as client:
        assert "OPEN DEVELOPMENT MODE" in caplog.text
        assert client.get("/reps", headers={"Authorization": "Bearer whatever"}).status_code == 200
        services.api_keys.create(Role.AUDITOR)
        assert_problem(client.get("/reps"), 401)
    caplog.clear()
    with TestClient(create_app(services)):
        assert "OPEN DEVELOPMENT MODE" not in caplog.text
        assert "API keys: 1 active, 0 revoked" in caplog.text
