"""The body of ``POST /interactions:batch``, read in ONE parse and validation.

A tracking feed sends 10,000 items a request. Read the usual way, the body was walked
four times before the command saw it: the JSON guard's parse and walk (middleware),
FastAPI's parse, BatchIn, then each item's own validation — more than the batch's save.
Here pydantic-core parses and validates every item at once (in Rust: BatchInOnePass),
and the JSON guard's checks ride along, so the middleware leaves this route's JSON
bodies alone (json_guard.CHECKED_BY_ROUTE).

What that parse cannot tell is counted or scanned: a key sent twice (the parser keeps the
last: the body's keys are counted in its bytes), a NUL (only the escape \\u0000 writes
one), and whatever sits in an item kept as it came. At the least doubt
``json_guard.refusal`` decides, exactly as for any other route; a body it accepts that
the fast parse did not is read as FastAPI would. The answers are the same, sooner. (One
difference of order: the route's dependencies — the key, its role — are checked first,
so a bad body from a caller without a key is a 401, not a 400.)
"""

from __future__ import annotations

import codecs
import json
from typing import Any

from fastapi import Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from crm_es.aggregates.interactions import InteractionSpec
from crm_es.commands.interactions import BatchItem, ItemResult
from crm_es.entrypoints.http import json_guard
from crm_es.entrypoints.http.interaction_schemas import (
    INTERACTION,
    BatchIn,
    BatchInOnePass,
    BatchTarget,
    item_own_fields,
    spec_of,
)
from crm_es.entrypoints.http.problems import untagged

Read = tuple[list[BatchItem], list[ItemResult]] | Response  # the items to record and the answers known; or a refusal
ITEM_DEPTH = 3  # an item's level in the body: {"items": [{...}]}


def read_batch(body: bytes, content_type: str | None) -> Read:
    """The items to record, and the answers already known (items refused by their schema);
    or the JSON guard's refusal. A batch refused whole raises RequestValidationError."""
    if not body or not is_json(content_type):  # FastAPI parses no other body
        return _read_slowly(body, content_type)
    body = body.removeprefix(codecs.BOM_UTF8)  # allowed (RFC 8259 §8.1); FastAPI's parser skips it too
    try:
        batch = BatchInOnePass.model_validate_json(body)
    except ValidationError:  # not JSON, or not a batch: as the guard and BatchIn say
        return _read_slowly(body, content_type)
    items, results = [], []
    keys: int | None = 1  # "items"
    for index, item in enumerate(batch.items):
        if isinstance(item, dict):  # not an interaction naming its contact: checked on its own
            found = json_guard.leftover_keys(item, ITEM_DEPTH)
            keys = None if found is None or keys is None else keys + found
            parsed = _item(index, item)
        else:
            keys = None if keys is None else keys + len(item.model_fields_set)  # (unknown keys are refused)
            parsed = _from_model(index, item)
        (results if isinstance(parsed, ItemResult) else items).append(parsed)
    # The parse kept fewer keys than the body holds (one came twice), or a doubt: the guard decides.
    if keys is None or keys != json_guard.quoted_keys(body) or json_guard.may_hold_nul(body):
        refusal = json_guard.refusal(body)
        if refusal is not None:
            return refusal
    return items, results


def is_json(content_type: str | None) -> bool:
    """As FastAPI decides to parse a body as JSON (application/json or application/*+json)."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media.startswith("application/") and media.endswith(("/json", "+json"))


def _from_model(index: int, item: Any) -> BatchItem | ItemResult:
    if (item.contact_id is None) == (item.email is None):
        return _no_single_contact(index)
    spec = InteractionSpec(item.type, item_own_fields(item), item.rep_id, item.deal_id)
    return BatchItem(index, spec, item.contact_id, item.email, item.occurred_at, item.event_id)


def _read_slowly(body: bytes, content_type: str | None) -> Read:
    """As before the one-pass read: the guard, FastAPI's parse and BatchIn, then each item."""
    if not body:
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}])
    sent: Any = body  # a body of another type is not parsed: BatchIn refuses it as it is
    if is_json(content_type):
        refusal = json_guard.refusal(body)
        if refusal is not None:
            return refusal
        sent = json.loads(body)
    try:
        batch = BatchIn.model_validate(sent, from_attributes=True)  # as FastAPI validates a body
    except ValidationError as error:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in error.errors()], body=sent) from None
    items, results = [], []
    for index, raw in enumerate(batch.items):
        parsed = _item(index, raw)
        (results if isinstance(parsed, ItemResult) else items).append(parsed)
    return items, results


def _item(index: int, raw: dict[str, Any]) -> BatchItem | ItemResult:
    """One batch item checked on its own: an interaction body plus its contact."""
    raw = dict(raw)
    target_fields = {name: raw.pop(name) for name in ("contact_id", "email") if name in raw}
    try:
        target = BatchTarget.model_validate(target_fields)
        body = INTERACTION.validate_python(raw)
    except ValidationError as error:
        return _invalid(index, error, raw.get("type"))
    if (target.contact_id is None) == (target.email is None):
        return _no_single_contact(index)
    return BatchItem(index, spec_of(body), target.contact_id, target.email, body.occurred_at, body.event_id)


def _no_single_contact(index: int) -> ItemResult:
    return ItemResult(index, "error", error={
        "status": 422, "rule": "invalid-field", "field": f"items[{index}].contact_id",
        "detail": "name the contact by contact_id or by email (one of them)",
    })


def _invalid(index: int, error: ValidationError, tag: Any) -> ItemResult:
    errors = []
    for e in error.errors():
        name = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in untagged(tuple(e["loc"]), (tag,) if isinstance(tag, str) else (), e))
        errors.append({"field": f"items[{index}]{name}", "message": e["msg"]})
    return ItemResult(index, "error", error={
        "status": 422, "rule": "invalid-field", "detail": "invalid field(s): " + ", ".join(e["field"] for e in errors),
        "errors": errors,
    })
