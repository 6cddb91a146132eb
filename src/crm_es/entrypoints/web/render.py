"""Pages written with Jinja2 (autoescaped), and what every page shows: the language, the
open-mode banner, who is signed in, the session's CSRF token."""

from __future__ import annotations

import secrets
from datetime import UTC
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from crm_es.auth.api_keys import ApiKey
from crm_es.auth.roles import DEV_ACTOR, Principal, Role, allows, write_reach
from crm_es.entrypoints.web.i18n import Words, language
from crm_es.entrypoints.web.session import (
    PRE_SESSION_COOKIE,
    SESSION_COOKIE,
    sessions_of,
)
from crm_es.queries.visibility import Visibility

templates = Environment(loader=PackageLoader("crm_es.entrypoints.web", "templates"),
                        autoescape=select_autoescape(["html"], default_for_string=True), undefined=StrictUndefined,
                        trim_blocks=True, lstrip_blocks=True)


@dataclass(frozen=True)
class Viewer:
    """Who looks at a page: their principal (None on a public page) and the key behind it
    (None in open development mode)."""

    principal: Principal | None
    key: ApiKey | None
    open_mode: bool

    @property
    def name(self) -> str:
        if self.key is not None:
            return self.key.name or self.key.id
        return DEV_ACTOR

    @property
    def role(self) -> Role | None:
        return None if self.principal is None else self.principal.role

    @property
    def signed_in(self) -> bool:
        return self.key is not None

    def writes(self) -> Visibility:
        """The owners whose records the viewer may change (auth.roles.write_reach); a signed-in page only."""
        assert self.principal is not None
        return Visibility(write_reach(self.principal.role), self.principal.rep_id)

    def may(self, method: str, path: str) -> bool:
        """Whether the role may call this route of the JSON API (its write controls show then)."""
        return self.principal is not None and allows(self.principal.role, method, path)


def page(request: Request, template: str, viewer: Viewer | None, status: int = 200, **values: Any) -> HTMLResponse:
    lang = language(request)
    session = sessions_of(request.app).find(request.cookies.get(SESSION_COOKIE))
    body = templates.get_template(template).render(
        t=Words(lang), lang=lang, viewer=viewer, open_mode=bool(viewer and viewer.open_mode),
        csrf=session.csrf if session is not None and viewer is not None and viewer.signed_in else "",
        here=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        today=request.app.state.services.clock.now().astimezone(UTC).date(), slider_days=SLIDER_DAYS, **values)
    # Pages hold people's data and a CSRF token: never kept by a shared cache, never framed,
    # their forms post only here. (No script-src rule yet: browser tests evaluate scripts.)
    return HTMLResponse(body, status_code=status, headers={
        "Cache-Control": "no-store", "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "frame-ancestors 'none'; form-action 'self'", "Content-Language": lang})


SLIDER_DAYS = 730  # how far back the time-travel slider reaches (the date field reaches any day)

ERROR_TITLES = {403: "forbidden_title", 404: "not_found_title", 422: "invalid_title"}


def error_page(request: Request, viewer: Viewer | None, status: int, rule: str, field: str | None = None,
               message: str | None = None) -> HTMLResponse:
    """A refusal as a page: its title said by its status, the problem's rule, and for an
    invalid parameter its name and why (``message``: a key of the catalog, i18n.py)."""
    return page(request, "error.html", viewer, status, title_key=ERROR_TITLES.get(status, "error_title"), rule=rule,
                field=field, message=message)


def sign_in_form(request: Request, status: int = 200, error_key: str | None = None, notice_key: str | None = None,
                 next_page: str | None = None, viewer: Viewer | None = None) -> HTMLResponse:
    """The sign-in form, with a double-submit CSRF token: the same random value in a cookie
    and in the form (a site that makes the browser post here can read neither)."""
    token = request.cookies.get(PRE_SESSION_COOKIE) or secrets.token_urlsafe(32)
    response = page(request, "sign_in.html", viewer, status, error_key=error_key, notice_key=notice_key,
                    next_page=next_page or "", form_csrf=token)
    response.set_cookie(PRE_SESSION_COOKIE, token, httponly=True, samesite="strict", path="/app",
                        secure=request.url.scheme == "https")
    return response
