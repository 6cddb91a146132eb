"""The console's routes, added to the API's app. Plain Starlette routes, like /metrics and
/docs: pages, not API, so outside the OpenAPI document and its contract tests; each one
still goes through the role rules (guard.py, auth/roles.py)."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.routing import Route

from crm_es.entrypoints.web import (
    access,
    admin_automations,
    admin_imports,
    admin_keys,
    admin_outbox,
    admin_page,
    admin_people,
    admin_pipelines,
    admin_settings,
    agenda_page,
    assets,
    audit_page,
    board_page,
    company_page,
    contact_page,
    csv_download,
    dashboards_page,
    deal_page,
    feed_page,
    history_page,
    lists_page,
)
from crm_es.entrypoints.web.guard import guarded
from crm_es.entrypoints.web.verifications import stop_runs

EXPORT_CHECK_PATH = "/app/audit/export-check"  # takes a file as large as an import (app.py)

PAGES = [
    ("/", access.root, "GET"),
    ("/app/", access.console_home, "GET"),
    ("/app/sign-in", access.sign_in_page, "GET"),
    ("/app/sign-in", access.sign_in, "POST"),
    ("/app/sign-out", access.sign_out, "POST"),
    ("/app/lang", access.choose_language, "GET"),
    ("/app/static/{name}", assets.static_file, "GET"),
    ("/app/board", board_page.board_page, "GET"),
    ("/app/contacts/{contact_id}", contact_page.contact_page, "GET"),
    ("/app/deals/{deal_id}", deal_page.deal_page, "GET"),
    ("/app/companies/{company_id}", company_page.company_page, "GET"),
    ("/app/agenda", agenda_page.agenda_page, "GET"),
    # dashboards and the news feed
    ("/app/dashboards", dashboards_page.dashboards_page, "GET"),
    ("/app/dashboards/{dashboard_id}", dashboards_page.saved_dashboard_page, "GET"),
    ("/app/feed", feed_page.feed_page, "GET"),
    # the auditors' pages
    ("/app/audit", audit_page.audit_home, "GET"),
    ("/app/audit/verifications", audit_page.start_verification, "POST"),
    ("/app/audit/verifications/{id}", audit_page.verification_page, "GET"),
    ("/app/audit/verifications/{id}/progress", audit_page.verification_progress, "GET"),
    (EXPORT_CHECK_PATH, audit_page.check_export, "POST"),
    ("/app/contacts/{contact_id}/history", history_page.contact_history, "GET"),
    ("/app/deals/{deal_id}/history", history_page.deal_history, "GET"),
    ("/app/contacts/{contact_id}/export", history_page.contact_export, "GET"),
    ("/app/deals/{deal_id}/export", history_page.deal_export, "GET"),
    # lists
    *((f"/app/{kind}", lists_page.list_page(kind), "GET") for kind in ("contacts", "companies", "deals")),
    *((f"/app/{kind}.csv", csv_download.csv_download(kind), "GET") for kind in ("contacts", "companies", "deals")),
    # admin: people, pipelines, settings, automations
    ("/app/admin", admin_page.admin_index, "GET"),
    ("/app/admin/people", admin_people.people_page, "GET"),
    ("/app/admin/pipelines", admin_pipelines.pipelines_page, "GET"),
    ("/app/admin/settings", admin_settings.settings_page, "GET"),
    ("/app/admin/automations", admin_automations.automations_page, "GET"),
    # admin: API keys, the outbox, CSV imports
    ("/app/admin/keys", admin_keys.keys_page, "GET"),
    ("/app/admin/keys", admin_keys.create_key, "POST"),
    ("/app/admin/keys/{key_id}/revoke", admin_keys.revoke_key, "POST"),
    ("/app/admin/outbox", admin_outbox.outbox_page, "GET"),
    ("/app/admin/imports", admin_imports.imports_page, "GET"),
]


def stop(app: FastAPI) -> None:
    """Before the store closes: the console's background work ends (verifications.py)."""
    stop_runs(app)


def install(app: FastAPI) -> None:
    for path, handler, method in PAGES:
        template = Route(path, handler, methods=[method], include_in_schema=False)  # the rule's name for it
        app.router.routes.append(Route(path, guarded(handler, template), methods=[method], include_in_schema=False))
