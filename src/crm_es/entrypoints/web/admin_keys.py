"""The API keys page (GET /app/admin/keys): every key, never a secret nor a hash; a key made
(POST /app/admin/keys, its secret shown on the answer once) and one revoked
(POST /app/admin/keys/{key_id}/revoke). The keys are services.api_keys', the table
`crm-es keys` reads and writes: there is no JSON route for them, so these forms post here.

A form posted with the session cookie carries the session's token twice: in X-CSRF-Token
(the guard's check, as for every command; static/admin_keys.js sends it) and in its `csrf`
field, compared here. In open development mode there is no session: the field is checked
against a double-submit cookie, as the sign-in form's (render.sign_in_form)."""

from __future__ import annotations

import hmac
import secrets
from typing import Any
from uuid import UUID

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from crm_es.auth.api_keys import ApiKey, KeyRefused
from crm_es.auth.roles import Role, needs_rep
from crm_es.entrypoints.web.guard import InvalidField
from crm_es.entrypoints.web.render import Viewer, error_page, page
from crm_es.entrypoints.web.session import (
    PRE_SESSION_COOKIE,
    SESSION_COOKIE,
    sessions_of,
)
from crm_es.queries.records import list_reps
from crm_es.queries.sql import LARGEST_PAGE, every_item

MAX_NAME = 200


async def keys_page(request: Request, viewer: Viewer) -> Response:
    return await _keys(request, viewer)


async def create_key(request: Request, viewer: Viewer) -> Response:
    form = await _checked_form(request)
    if form is None:
        return error_page(request, viewer, 403, "csrf-token-required")
    role_text = str(form.get("role") or "")
    if role_text not in {role.value for role in Role}:
        raise InvalidField("form.role", "ops_invalid_role")
    role, rep_id = Role(role_text), _rep_of(str(form.get("rep_id") or "").strip())
    if needs_rep(role) and rep_id is None:
        raise InvalidField("form.rep_id", "ops_rep_needed")
    if not needs_rep(role) and rep_id is not None:
        raise InvalidField("form.rep_id", "ops_rep_not_wanted")
    name = str(form.get("name") or "").strip()
    if len(name) > MAX_NAME:
        raise InvalidField("form.name", "ops_name_too_long")
    api_keys = request.app.state.services.api_keys
    first = not await run_in_threadpool(api_keys.configured)
    try:
        key, token = await run_in_threadpool(api_keys.create, role, rep_id, name)
    except KeyRefused:  # the rep is unknown or deactivated (checked on the event store)
        raise InvalidField("form.rep_id", "ops_rep_unusable") from None
    return await _keys(request, viewer, 201, made=key, token=token, first_key=first)


async def revoke_key(request: Request, viewer: Viewer) -> Response:
    if await _checked_form(request) is None:
        return error_page(request, viewer, 403, "csrf-token-required")
    key = await run_in_threadpool(request.app.state.services.api_keys.revoke, request.path_params["key_id"])
    if key is None:
        return error_page(request, viewer, 404, "not-found")
    return await _keys(request, viewer, revoked=key, revoked_self=viewer.key is not None and viewer.key.id == key.id)


async def _keys(request: Request, viewer: Viewer, status: int = 200, **shown: Any) -> Response:
    services = request.app.state.services
    keys, reps = await run_in_threadpool(_read, services)
    token = _form_token(request)
    response = page(request, "admin_keys.html", viewer, status, keys=keys, reps=reps, roles=[role.value for role in Role],
                    needs_rep=[role.value for role in Role if needs_rep(role)], form_csrf=token,
                    own_key=viewer.key.id if viewer.key is not None else None,
                    **{"made": None, "token": None, "first_key": False, "revoked": None, "revoked_self": False, **shown})
    if _session(request) is None:  # open development mode: the form's token is also a cookie's
        response.set_cookie(PRE_SESSION_COOKIE, token, httponly=True, samesite="strict", path="/app",
                            secure=request.url.scheme == "https")
    return response


def _read(services: Any) -> tuple[list[ApiKey], dict[str, dict[str, Any]]]:
    """Every key, newest first, and every rep by id (their names; the active ones can be chosen)."""
    keys = sorted(services.api_keys.list(), key=lambda key: key.created_at, reverse=True)
    with services.read_side.cursor() as cur:
        reps = every_item(lambda cursor: list_reps(cur, limit=LARGEST_PAGE, cursor=cursor))
    return keys, {str(rep["id"]): rep for rep in reps}


def _rep_of(text: str) -> UUID | None:
    if not text:
        return None
    try:
        return UUID(text)
    except ValueError:
        raise InvalidField("form.rep_id", "invalid_id") from None


def _session(request: Request) -> Any:
    return sessions_of(request.app).find(request.cookies.get(SESSION_COOKIE))


def _form_token(request: Request) -> str:
    session = _session(request)
    if session is not None:
        return str(session.csrf)
    return request.cookies.get(PRE_SESSION_COOKIE) or secrets.token_urlsafe(32)


async def _checked_form(request: Request) -> Any:
    """The posted form if its `csrf` field is the session's token (or the double-submit
    cookie's), else None. A caller with a Bearer key sends no ambient credential: nothing to check."""
    form = await request.form(max_files=0, max_fields=8)
    if request.headers.get("authorization"):
        return form
    session = _session(request)
    expected = session.csrf if session is not None else request.cookies.get(PRE_SESSION_COOKIE) or ""
    sent = str(form.get("csrf") or "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        return None
    return form
