"""Every console page goes through the same check as the JSON API (entrypoints/http/auth.py:
the role rules, a Bearer key or the session's), and answers its refusals as pages: the
sign-in form (401), not allowed (403), not found (404), an invalid field (422)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps

from fastapi.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from crm_es.aggregates.base import DomainError
from crm_es.entrypoints.http.auth import UNSAFE, authorize, bearer, open_mode
from crm_es.entrypoints.http.problems import ProblemError
from crm_es.entrypoints.http.statuses import status_of
from crm_es.entrypoints.web.render import Viewer, error_page, sign_in_form
from crm_es.entrypoints.web.session import SESSION_COOKIE

PageHandler = Callable[[Request, Viewer], Awaitable[Response]]


class InvalidField(Exception):
    """A page's parameter that cannot be read (``as_of=yesterday``): 422, naming it and
    saying why (``message``: a key of the catalog, i18n.py)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


async def read_position(request: Request) -> None:
    """Wait (bounded, as the API's ?after= does) for the read side to reach ``?after=P``,
    the position a command answered: the console reads what it has just written. Then
    note the position the page is read at (the X-Position header)."""
    services = request.app.state.services
    after = request.query_params.get("after", "")
    if after.isdigit() and int(after) > services.projector.position:
        await run_in_threadpool(services.projector.wait_for, int(after), services.settings.read_wait_seconds)
    request.state.read_position = services.projector.position


FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


async def form_token(request: Request) -> None:
    """A page's form posted by the browser itself (no script) carries the session's CSRF token
    as its ``csrf`` field, where a script sends the X-CSRF-Token header: the field is handed
    to the check (auth.py) as that header. Only for a session's request (no one else's is
    checked); the form is read once, and the page reads it again from Starlette's cache."""
    if request.method not in UNSAFE or "x-csrf-token" in request.headers or SESSION_COOKIE not in request.cookies:
        return
    if not request.headers.get("content-type", "").startswith(FORMS):
        return
    try:
        token = (await request.form(max_files=1, max_fields=16)).get("csrf")  # the console's forms are small
    except HTTPException:  # a broken or oversized form: no token, so the check refuses it
        return
    if isinstance(token, str) and token.isascii():
        request.scope["headers"] = [*request.scope["headers"], (b"x-csrf-token", token.encode())]
        request.__dict__.pop("_headers", None)  # the headers Starlette had read: read again


def guarded(handler: PageHandler, route: BaseRoute) -> Callable[[Request], Awaitable[Response]]:
    """The page's endpoint: the caller checked against ``route``'s rule first. (FastAPI
    names the route in the request for its own routes only; the rules, the access log and
    the metrics read it there.)"""

    @wraps(handler)
    async def endpoint(request: Request) -> Response:
        request.scope["route"] = route
        try:
            await form_token(request)
            principal = await authorize(request, await bearer(request))
        except ProblemError as refused:
            return refusal(request, refused.status, refused.rule, None)
        viewer = Viewer(principal, getattr(request.state, "api_key", None), await open_mode(request))
        try:
            return await handler(request, viewer)
        except ProblemError as refused:
            return refusal(request, refused.status, refused.rule, viewer)
        except DomainError as refused:
            return refusal(request, status_of(refused), refused.rule, viewer)
        except InvalidField as invalid:
            return error_page(request, viewer, 422, "invalid-field", invalid.field, invalid.message)

    return endpoint


def refusal(request: Request, status: int, rule: str, viewer: Viewer | None) -> Response:
    if status == 401:
        unknown = rule == "api-key-unknown"  # a session whose key was revoked since
        return sign_in_form(request, 401, error_key="sign_in_unknown" if unknown else None,
                            notice_key=None if unknown else "sign_in_needed", next_page=request.url.path)
    return error_page(request, viewer, status, rule)
