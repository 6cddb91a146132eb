"""JSON request bodies, checked before any route parses them.

Python's JSON parser recurses once per nesting level, takes the last of two equal keys
without a word, accepts NaN and Infinity (not JSON) and UTF-16, and hands back values
the event store cannot keep: NUL characters (PostgreSQL's jsonb refuses them, so one
would break the auditors' ``crm_events_json`` view), lone UTF-16 surrogates and
integers beyond 64 bits (the orjson codec refuses them: a 500 after validation), and
infinite numbers (which orjson writes as null). Such a body gets a clear problem+json
here, so no route, codec or database ever meets it.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from fastapi.responses import JSONResponse

from crm_es.entrypoints.http.problems import problem

MAX_DEPTH = 64  # our deepest body is a few levels; properties may nest, but not like this
UNSTORABLE = "unstorable"  # the `type` of these errors in a 422: values the store cannot keep, whatever the schema

# A JSON string, escapes included; an unterminated one runs to the end. Possessive
# quantifiers keep it linear on hostile input (no backtracking into a string).
_STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"?', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_OPENERS = b"[{"
_SURROGATE = re.compile("[\ud800-\udfff]")  # json.loads joins escaped pairs: these are unpaired
_INT64 = range(-(2**63), 2**63)
_KEY = re.compile(rb'"[ \t\r\n]*:')  # a string's closing quote, then a colon: a key (quoted_keys)
_SPACED_KEY = re.compile(rb'"[ \t\r\n]+:')
_ESCAPED_KEY = re.compile(rb'\\"[ \t\r\n]*:')


# Routes that run these checks themselves, in the one parse of their body (with a JSON
# content type: without one they never parse it, and the guard here answers as for any
# route). A tracking batch is 10,000 items: parsed and walked here, then parsed again by
# FastAPI and walked again by the route, its edge cost more than its save.
CHECKED_BY_ROUTE = frozenset({("POST", "/interactions:batch")})


class _DuplicateKey(ValueError):
    pass


def checked_by_route(method: str, path: str, content_type: str | None) -> bool:
    return content_type is not None and (method, path) in CHECKED_BY_ROUTE


def refusal(body: bytes) -> JSONResponse | None:
    """The problem+json answer to a JSON body no route should see, or None if it is fine."""
    if _too_deep(body):
        return problem(400, "json-too-deep", f"the JSON body nests deeper than {MAX_DEPTH} levels")
    try:
        # Strict UTF-8 (RFC 8259): json.loads(bytes) would also guess UTF-16 or UTF-32,
        # and let surrogates encoded in UTF-8 through.
        text = body.decode("utf-8-sig")
        document = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_not_json, parse_int=_int)
    except _DuplicateKey as error:
        return problem(400, "duplicate-key", f'the key "{error}" appears twice in one object')
    except ValueError as error:  # syntax, NaN, encoding (UnicodeDecodeError is a ValueError)
        return problem(400, "malformed-json", f"the request body is not valid JSON: {error}")
    errors: list[dict[str, str]] = []
    _find_unstorable(document, "", errors)
    if errors:
        names = ", ".join(e["field"] for e in errors)
        return problem(422, "invalid-field", f"invalid field(s): {names}", extra={"errors": errors})
    return None


# --- for a route that checks its body in its own parse ----------------------------------
# pydantic-core's parser already refuses what is not JSON, lone surrogates, raw control
# characters and nesting past 200 levels; it lets through a key twice (the last wins),
# NaN, numbers past 64 bits, and NUL characters. A route that parses with it calls
# ``refusal`` whenever these helpers leave a doubt (keys counted in the bytes that the
# parse did not keep: one came twice); they cost a few scans of the bytes.


def may_hold_nul(body: bytes) -> bool:
    """Whether a string of the body may hold a NUL: only the escape \\u0000 writes one."""
    return b"\\u0000" in body


def quoted_keys(body: bytes) -> int | None:
    """How many keys a JSON body holds, from its bytes alone: a key is a string followed by
    a colon, and inside a string a quote is escaped. Never fewer than there are (a string
    value that opens with a colon counts too); None when unsure: a backslash before an
    escaped quote's backslash (``\\\\"``)."""
    if b'\\\\"' in body:
        return None
    if _SPACED_KEY.search(body) is None:  # the usual: "key":value
        return body.count(b'":') - body.count(b'\\":')
    return len(_KEY.findall(body)) - len(_ESCAPED_KEY.findall(body))


def leftover_keys(value: Any, depth: int) -> int | None:
    """The keys in a parsed value at ``depth`` (the body is level 1), or None when it holds
    what ``refusal`` would refuse: nesting past MAX_DEPTH, a value the store cannot keep."""
    if isinstance(value, str):
        return None if _unstorable_text(value) else 0
    if isinstance(value, dict | list):
        keys = list(value) if isinstance(value, dict) else []
        if depth > MAX_DEPTH or any(_unstorable_text(key) for key in keys):
            return None
        counts = [leftover_keys(item, depth + 1) for item in (value.values() if isinstance(value, dict) else value)]
        return None if None in counts else len(keys) + sum(counts)  # type: ignore[arg-type]
    if (isinstance(value, int) and value not in _INT64) or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return 0


def _unstorable_text(text: str) -> bool:
    return "\x00" in text or _SURROGATE.search(text) is not None


def _too_deep(body: bytes) -> bool:
    """Counts brackets outside strings, without parsing: linear, no recursion."""
    depth = 0
    for byte in _STRING.sub(b"", body).translate(None, _NOT_BRACKETS):
        depth += 1 if byte in _OPENERS else -1
        if depth > MAX_DEPTH:
            return True
    return False


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(_printable(key))
            seen.add(key)
    return document


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _int(digits: str) -> int | float:
    # int() refuses over 4,300 digits with a message about interpreter limits; anything
    # past 20 characters is out of the 64-bit range anyway, and is named below as such.
    return int(digits) if len(digits) <= 20 else math.inf


def _find_unstorable(value: Any, field: str, errors: list[dict[str, str]]) -> None:
    """Adds an error for each value the event store cannot write, fields named as in 422s."""
    where = field or "body"
    if isinstance(value, str):
        if "\x00" in value:
            errors.append({"field": where, "message": "must not contain a NUL character", "type": UNSTORABLE})
        elif _SURROGATE.search(value):
            errors.append({"field": where, "message": "must not contain an unpaired UTF-16 surrogate", "type": UNSTORABLE})
    elif (isinstance(value, int) and value not in _INT64) or (isinstance(value, float) and not math.isfinite(value)):
        errors.append({"field": where, "message": "number out of range (integers are 64-bit, decimals finite)", "type": UNSTORABLE})
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{field}.{_printable(key)}" if field else _printable(key)
            if "\x00" in key or _SURROGATE.search(key):
                errors.append({"field": name, "message": "a key must not contain a NUL character or an unpaired surrogate",
                           "type": UNSTORABLE})
            _find_unstorable(item, name, errors)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _find_unstorable(item, f"{field}[{index}]", errors)


def _printable(text: str) -> str:
    """The text with NULs and lone surrogates escaped, safe to echo back in an answer."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
