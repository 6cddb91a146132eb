"""Who is calling (``Authorization: Bearer <key>``) and whether their role may call the route.

Installed once for the whole app, so a route added later is closed to all but admins
until ``auth.roles.RULES`` gives it a rule. Until a first key is made the service runs in
open development mode: every request acts as an admin named 'dev'.

A browser signed in to the console (entrypoints/web) sends no header but the session
cookie: the key it signed in with is looked up again at each request, exactly as a Bearer
key, and a command sent that way must carry the session's ``X-CSRF-Token`` (another site
can make the browser send the cookie, never read the token).
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

import duckdb
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from crm_es.aggregates.base import NotFound
from crm_es.aggregates.contact import Contact
from crm_es.entrypoints.http.problems import ProblemError
from crm_es.entrypoints.web.session import SESSION_COOKIE, sessions_of
from crm_es.auth.roles import OPEN_MODE, Principal, allows, read_reach, rule_for
from crm_es.queries.visibility import Visibility

bearer = HTTPBearer(auto_error=False, description="an API key made with `crm-es keys create`")

CHALLENGE = {"WWW-Authenticate": "Bearer"}


async def authorize(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal | None:
    """The caller, allowed on this route: 401 without a valid key, 403 when their role
    may not call it. None on the routes that need no key — answered on the event loop, so
    /health and /readyz answer even while commands waiting on the store fill the thread pool.

    The key is read from the store at each request (a revoked key is refused from the next
    request on, whichever process revoked it), awaited on the event loop (store/loop_reads.py):
    on the thread pool, the hop and the pool's locks cost a loaded service half its throughput."""
    method, path = request.method, request.scope["route"].path
    rule = rule_for(method, path)
    if rule is not None and rule.public:
        return None
    if await open_mode(request):
        return OPEN_MODE
    api_keys = request.app.state.services.api_keys
    token = credentials.credentials if credentials is not None else _session_token(request, method)
    if token is None:
        raise ProblemError(401, "api-key-required", "send an API key: Authorization: Bearer <key>", CHALLENGE)
    key = await api_keys.authenticate_on_loop(token)
    request.state.api_key = key  # the console shows whose key it is (entrypoints/web)
    if key is None:
        raise ProblemError(401, "api-key-unknown", "this API key is unknown or revoked", CHALLENGE)
    if key.rep_id is not None and (rep := await run_in_threadpool(api_keys.holder_deactivated, key)) is not None:
        raise ProblemError(403, "rep-deactivated", f"this key belongs to rep {rep.id}, deactivated on "
                           f"{rep.deactivated_at.isoformat()}: it works again if they are reactivated", rep_id=str(rep.id))
    if not allows(key.role, method, path):
        raise ProblemError(403, "role-not-allowed", f"the {key.role} role may not call {method} {path}", role=key.role)
    return key.principal


async def open_mode(request: Request) -> bool:
    """Whether no key exists yet (open development mode). Known for good once one does, so
    only a service still without keys asks the store, on the thread pool."""
    api_keys = request.app.state.services.api_keys
    return not api_keys.known_configured and not await run_in_threadpool(api_keys.configured)


UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _session_token(request: Request, method: str) -> str | None:
    """The key a console session signed in with (None: no live session). A command sent
    with the cookie alone needs the session's CSRF token in ``X-CSRF-Token``: 403 if not."""
    session = sessions_of(request.app).find(request.cookies.get(SESSION_COOKIE))
    if session is None:
        return None
    if method in UNSAFE and not hmac.compare_digest(request.headers.get("x-csrf-token", "").encode(), session.csrf.encode()):
        raise ProblemError(403, "csrf-token-required", "a command sent with the console's session cookie needs its "
                           "token in the X-CSRF-Token header")
    return session.token


# None only on the public routes, which neither change nor read a record.
Caller = Annotated[Principal, Depends(authorize)]


async def visibility(request: Request, caller: Caller) -> Visibility:  # async: no thread pool hop (deps.services)
    settings = request.app.state.services.settings
    return Visibility(read_reach(caller.role, settings.rep_reads), caller.rep_id)


Visible = Annotated[Visibility, Depends(visibility)]


def readable(cur: duckdb.DuckDBPyConnection, visible: Visibility, row: dict[str, Any] | None) -> dict[str, Any] | None:
    """A contact or a deal, if its owner is within the caller's reach (403 if not)."""
    if row is not None and not visible.sees(cur, row["owner_id"]):
        raise ProblemError(403, "not-your-record", "this record belongs to someone outside this key's reach")
    return row


def contact_in_reach(store: Any, cur: duckdb.DuckDBPyConnection, visible: Visibility, contact_id: Any) -> None:
    """A contact read from the event store (its documents, its messages: records the read
    side does not hold), if its owner is within the caller's reach: 404, or 403 if not."""
    contact = store.load(Contact, contact_id)
    if contact is None:
        raise NotFound("contact", contact_id)
    if not visible.sees(cur, None if contact.owner_id is None else str(contact.owner_id)):
        raise ProblemError(403, "not-your-record", "this record belongs to someone outside this key's reach")
