"""Getting in and out: `/` and `/app/` point the way, sign-in exchanges an API key for a
session cookie, sign-out ends it, and /app/lang remembers the language chosen."""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from crm_es.auth.roles import Role, allows
from crm_es.entrypoints.web.guard import InvalidField
from crm_es.entrypoints.web.i18n import LANG_COOKIE, LANGUAGES
from crm_es.entrypoints.web.render import Viewer, error_page, sign_in_form
from crm_es.entrypoints.web.session import (
    LIFETIME,
    PRE_SESSION_COOKIE,
    SESSION_COOKIE,
    sessions_of,
)

HOME = "/app/board"
HOMES = (HOME, "/app/dashboards")  # a role's home: the first of these it may see (an analyst's: dashboards)


def home_of(role: Role | None) -> str:
    """Where a role lands after signing in, or at /app/: the first page of HOMES it may see."""
    return next((path for path in HOMES if role is not None and allows(role, "GET", path)), HOME)


def see_other(to: str) -> RedirectResponse:
    return RedirectResponse(to, status_code=303)


def within_console(to: str | None, host: str | None = None) -> str | None:
    """A path of the console to go back to, or None: never another site (an open redirect).
    ``host``: a full address on this host is accepted too (a Referer)."""
    if not to:
        return None
    parts = urlsplit(to)
    elsewhere = (parts.scheme or parts.netloc or to.startswith("//")) and (host is None or parts.netloc != host)
    if elsewhere or not parts.path.startswith("/app/"):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def root(_request: Request, _viewer: Viewer) -> Response:
    return see_other("/app/")


async def console_home(request: Request, viewer: Viewer) -> Response:
    if viewer.open_mode:
        return see_other(HOME)
    session = sessions_of(request.app).find(request.cookies.get(SESSION_COOKIE))
    key = None if session is None else await request.app.state.services.api_keys.authenticate_on_loop(session.token)
    return see_other(home_of(key.role) if key is not None else "/app/sign-in")


async def sign_in_page(request: Request, viewer: Viewer) -> Response:
    return sign_in_form(request, next_page=within_console(request.query_params.get("next")), viewer=viewer)


async def sign_in(request: Request, viewer: Viewer) -> Response:
    form = await request.form()
    sent, expected = str(form.get("csrf") or ""), request.cookies.get(PRE_SESSION_COOKIE) or ""
    next_page = within_console(str(form.get("next") or ""))
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        return sign_in_form(request, 403, error_key="sign_in_csrf", next_page=next_page, viewer=viewer)
    token = str(form.get("api_key") or "").strip()
    key = await request.app.state.services.api_keys.authenticate_on_loop(token) if token else None
    if key is None:
        return sign_in_form(request, 401, error_key="sign_in_unknown", next_page=next_page, viewer=viewer)
    session_id, _session = sessions_of(request.app).open(token)
    response = see_other(next_page or home_of(key.role))
    response.set_cookie(SESSION_COOKIE, session_id, max_age=int(LIFETIME.total_seconds()), path="/", httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")
    response.delete_cookie(PRE_SESSION_COOKIE, path="/app")
    return response


async def sign_out(request: Request, viewer: Viewer) -> Response:
    sessions = sessions_of(request.app)
    session_id = request.cookies.get(SESSION_COOKIE)
    session = sessions.find(session_id)
    if session is not None:
        sent = str((await request.form()).get("csrf") or "")
        if not hmac.compare_digest(sent.encode(), session.csrf.encode()):
            return error_page(request, viewer, 403, "csrf-token-required")
        sessions.close(session_id)
    response = see_other("/app/sign-in")
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


async def choose_language(request: Request, _viewer: Viewer) -> Response:
    wanted = request.query_params.get("to")
    if wanted not in LANGUAGES:
        raise InvalidField("query.to", "invalid_language")
    response = see_other(within_console(request.headers.get("referer"), request.url.netloc) or "/app/")
    response.set_cookie(LANG_COOKIE, wanted, max_age=365 * 86_400, path="/", samesite="strict",
                        secure=request.url.scheme == "https")
    return response
