"""The auditors' home (GET /app/audit), the chain's verification started from it and
followed while it runs (…/verifications, …/verifications/{id}, …/{id}/progress), and the
check of an uploaded export (POST /app/audit/export-check).

The verdicts are crm_es.audit's own (verify_store, verify_export), the ones
GET /audit/verify and `crm-es audit verify-export` answer."""

from __future__ import annotations

import json
import re
from typing import Any
from uuid import UUID

from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from crm_es.aggregates.base import NotFound
from crm_es.audit.export import verify_export
from crm_es.audit.history import record_then
from crm_es.entrypoints.web.guard import InvalidField
from crm_es.entrypoints.web.history_page import KINDS
from crm_es.entrypoints.web.render import Viewer, error_page, page
from crm_es.entrypoints.web.verifications import runs_of

_HASH = re.compile(r"^[0-9a-fA-F]{64}$")


async def audit_home(request: Request, viewer: Viewer) -> Response:
    """The home, or, given ``?record=<id>``, that contact's or deal's history."""
    wanted = request.query_params.get("record", "").strip()
    if wanted:
        try:
            the_id = UUID(wanted)
        except ValueError:
            raise InvalidField("query.record", "invalid_id") from None
        kind = await run_in_threadpool(_kind_of, request.app.state.services.store, the_id)
        if kind is None:
            raise NotFound("record", the_id)
        return RedirectResponse(f"/app/{kind}s/{the_id}/history", status_code=303)
    return page(request, "audit.html", viewer, runs=runs_of(request.app).recent(), upload_cap=upload_cap(request),
                upload_mb=f"{upload_cap(request) / 1e6:g}")


def upload_cap(request: Request) -> int:
    """The largest export the page checks: the cap on an import's body (its form around the
    file included; app.py), past which the app's plumbing answers 413 before any page runs
    (crm-es audit verify-export checks a larger file)."""
    return int(request.app.state.services.settings.max_import_bytes)


def _kind_of(store: Any, the_id: UUID) -> str | None:
    return next((kind for kind, cls in KINDS.items() if record_then(store, cls, the_id, as_of=None) is not None), None)


async def start_verification(request: Request, viewer: Viewer) -> Response:
    form = await request.form(max_files=0, max_fields=8)
    text = str(form.get("expected_head") or "").strip()
    if text and not _HASH.match(text):
        raise InvalidField("form.expected_head", "audit_invalid_head")
    expected = bytes.fromhex(text) if text else None
    run, new = await run_in_threadpool(runs_of(request.app).start, expected)
    return RedirectResponse(f"/app/audit/verifications/{run.id}{'' if new else '?already=1'}", status_code=303)


async def verification_page(request: Request, viewer: Viewer) -> Response:
    run = runs_of(request.app).find(request.path_params["id"])
    if run is None:
        return error_page(request, viewer, 404, "not-found")
    verdict = run.progress().get("verdict")
    return page(request, "audit_verification.html", viewer, run=run, verdict=verdict,
                already=bool(request.query_params.get("already")) and not run.done)


async def verification_progress(request: Request, viewer: Viewer) -> Response:
    run = runs_of(request.app).find(request.path_params["id"])
    if run is None:
        return JSONResponse({"detail": "no such verification"}, status_code=404)
    return JSONResponse(run.progress(), headers={"Cache-Control": "no-store"})


async def check_export(request: Request, viewer: Viewer) -> Response:
    upload = await uploaded_file(request, "file")
    if upload is None:
        raise InvalidField("form.file", "audit_no_file")
    name, content = upload
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return _checked(request, viewer, name, None, "audit_not_utf8")
    lines = text.split("\n")  # not splitlines(): a JSON string may hold U+2028, which is no line break here
    verdict = await run_in_threadpool(_export_verdict, lines)
    problem = "audit_empty_export" if verdict["ok"] and verdict["checked"] == 0 else None
    return _checked(request, viewer, name, verdict, problem, _last_hash(lines) if verdict["checked"] else None)


def _export_verdict(lines: list[str]) -> dict[str, Any]:
    return verify_export(lines).as_dict()


def _checked(request: Request, viewer: Viewer, name: str, verdict: dict[str, Any] | None, problem: str | None,
             last: dict[str, Any] | None = None) -> Response:
    return page(request, "audit_export_check.html", viewer, name=name, verdict=verdict, last=last, problem=problem)


def _last_hash(lines: list[str]) -> dict[str, Any] | None:
    """The file's last line's hash and position: what to compare with the chain (its head,
    or the expected head of a verification, which says whether the log holds it)."""
    for text in reversed(lines):
        if text.strip():
            try:
                line = json.loads(text)
                digest = line["hash"]
            except (ValueError, KeyError, TypeError):
                return None
            return {"hash": digest, "position": line.get("position")} if isinstance(digest, str) and _HASH.match(digest) else None
    return None



async def uploaded_file(request: Request, field: str) -> tuple[str, bytes] | None:
    """The form's file ``field`` (its name and bytes), or None when the form has none or
    cannot be read. The body is already whole and within the service's cap (the app's
    plumbing refuses a larger one: 413)."""
    try:
        form = await request.form(max_files=1, max_fields=8)
    except (HTTPException, MultiPartException):  # not a form Starlette can read (a broken multipart body)
        return None
    try:
        upload = form.get(field)
        if not isinstance(upload, UploadFile):
            return None
        return upload.filename or "", await upload.read()
    finally:
        await form.close()  # a part over 1 MiB was spooled to a temporary file
