"""The tracking batch's body read in one pass answers exactly as the reading it replaced.

``read_batch`` parses and validates the body once (pydantic-core) and does the JSON
guard's checks on the way; ``_read_slowly`` is the reading as it was — the guard's parse
and walk, FastAPI's parse, BatchIn, then each item on its own. Hypothesis writes batch
bodies by hand, byte by byte: items of every type, good and bad, and what the guard is
there for — a key twice (with a null, a number or text for its first value, spelled with
escapes), NUL characters, lone surrogates, NaN, numbers past 64 bits or past any float,
nesting, escaped quotes, colons and backslashes, spaces around colons, a byte order mark.
Law: the same refusal (status and body), the same 422 for the whole batch, or the same
items to record and the same answers for the refused ones.
"""

from __future__ import annotations

import json
import random
from typing import Any
from uuid import UUID

from fastapi.exceptions import RequestValidationError
from hypothesis import example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from crm_es.entrypoints.http import batch_body, json_guard
from crm_es.entrypoints.http.batch_body import read_batch
from crm_es.entrypoints.http.routers.interactions import BATCH_PATH

CONTACT = "6f1c1a52-7c5e-4b8e-9d1f-0a3b2c4d5e6f"
KINDS: dict[str, dict[str, Any]] = {  # each type with its own fields: required ones first
    "call": {"direction": "inbound", "duration_seconds": 60, "outcome": "connected", "notes": "n"},
    "email_sent": {"subject": "Hello", "message_id": "<m@x>"},
    "email_received": {"subject": "Re", "message_id": "<r@x>"},
    "email_opened": {"message_id": "<m@x>"},
    "email_clicked": {"link": "https://example.com/", "message_id": "<m@x>"},
    "email_bounced": {"bounce": "hard", "message_id": "<m@x>", "reason": "gone"},
    "voicemail": {"duration_seconds": 20, "notes": "n"},
    "meeting_held": {"mode": "video", "duration_minutes": 30, "notes": "n"},
    "meeting_missed": {"mode": "phone", "notes": "n"},
    "demo": {"duration_minutes": 45, "notes": "n"},
    "visit": {"duration_minutes": 60, "notes": "n"},
    "page_visited": {"url": "https://example.com/p", "title": "P", "seconds_on_page": 5, "referrer": "https://a.b/",
                     "visitor_id": "v", "session_id": "s"},
    "quote_opened": {"quote_id": "Q1"},
    "note": {"text": "likes golf"},
    "sms_sent": {"text": "see you"},
}
REQUIRED = {"email_clicked": "link", "email_bounced": "bounce", "page_visited": "url", "quote_opened": "quote_id",
            "note": "text", "sms_sent": "text"}

# Text as the wire may carry it: what the guard is for, and what only looks like it.
texts = st.one_of(
    st.text(max_size=12),
    st.text(max_size=12),
    st.sampled_from(["a:b", 'say "hi"', "ends with \\", "\\", "\x00", "a\x00b", "\ud800", "x\udfff", "🚀", ":", '":',
                     "\\u0000", "null", "é", " : ", "\\\"", "2026-03-01T09:30:00Z"]),
)
numbers = st.one_of(
    st.integers(min_value=-5, max_value=10**6),
    st.sampled_from([0, 7 * 86_400 + 1, 2**63 - 1, 2**63, -(2**63) - 1, 10**30]),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999999", "5.0", "5.5", "1E2", "-0"]).map(lambda raw: Raw(raw)),
    st.booleans(),
)
scalars = st.one_of(st.none(), texts, numbers)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(texts, inner, max_size=3)), max_leaves=6)


class Raw(str):
    """A number written as it is (NaN, 1e999999): json.dumps would not."""


def now_and_then(draw: st.DrawFn, one_in: int) -> bool:
    """True about once in ``one_in`` draws (st.integers would say 0 far more often); False
    as a failing example shrinks."""
    return draw(st.sampled_from([False] * (one_in - 1) + [True]))


@st.composite
def items(draw: st.DrawFn) -> list[tuple[str, Any]]:
    """One item as key/value pairs, in order, a key possibly twice."""
    kind = draw(st.sampled_from([*KINDS, "teleport"]))
    pairs: list[tuple[str, Any]] = [("type", kind)]
    named = draw(st.sampled_from(["id", "email", "both", "neither", "bad id"]))
    if named in ("id", "both"):
        pairs.append(("contact_id", CONTACT if draw(st.booleans()) else CONTACT.upper()))
    if named in ("email", "both"):
        pairs.append(("email", draw(st.sampled_from(["jean@example.com", "JEAN@example.com", "not an e-mail"]))))
    if named == "bad id":
        pairs.append(("contact_id", draw(st.sampled_from(["nope", 42, None]))))
    own = KINDS.get(kind, {})
    required = REQUIRED.get(kind)
    for name, good in own.items():
        if name == required or draw(st.booleans()):
            pairs.append((name, draw(st.sampled_from([good, good, "of its kind", "anything"]))))
            if pairs[-1][1] == "of its kind":  # text for text, a number for a number: valid, or nearly
                pairs[-1] = (name, draw(texts if isinstance(good, str) else numbers))
            elif pairs[-1][1] == "anything":
                pairs[-1] = (name, draw(values))
    if now_and_then(draw, 20):  # nesting near the guard's limit, inside an item (level 3)
        depth = draw(st.integers(58, 63))
        pairs.append((draw(st.sampled_from(["notes", "extra"])), Raw("[" * depth + "1" + "]" * depth)))
    for name, good in (("occurred_at", "2026-02-01T08:00:00+01:00"), ("event_id", "e-1"), ("rep_id", CONTACT)):
        if draw(st.booleans()):
            pairs.append((name, draw(scalars) if now_and_then(draw, 4) else good))
    if now_and_then(draw, 20):
        pairs.append((draw(st.sampled_from(["extra", "items"])), draw(values)))  # a key no interaction has
    if now_and_then(draw, 30):  # a key twice: the parsers that let it keep the second
        name, _ = draw(st.sampled_from(pairs))
        pairs.insert(draw(st.integers(0, len(pairs))), (name, draw(scalars)))
    return draw(st.permutations(pairs))


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    style = Style(draw(st.booleans()), draw(st.sampled_from([(",", ":"), (", ", ": "), (" , ", " : ")])),
                  draw(st.integers(0, 8)), random.Random(draw(st.integers(0, 2**32))))
    some = draw(st.lists(items(), min_size=1, max_size=6))
    if now_and_then(draw, 20):  # an item that is not an object: the whole batch is refused
        some.insert(draw(st.integers(0, len(some))), draw(st.sampled_from([Raw("1"), Raw('"x"'), Raw("null"), Raw("[]")])))
    top: list[tuple[str, Any]] = [("items", Items(some))]
    if now_and_then(draw, 10):
        top.append((draw(st.sampled_from(["items", "more"])), draw(values)))
    if now_and_then(draw, 30):
        top.append(("deep", Raw("[" * 70 + "]" * 70)))
    text = style.write(draw(st.permutations(top)))
    body = text.encode("utf-8", "surrogatepass")  # a lone surrogate unescaped: bytes no UTF-8 decoder takes
    return (b"\xef\xbb\xbf" if now_and_then(draw, 15) else b"") + body


class Items(list):  # type: ignore[type-arg]
    """The list of items, each a list of pairs (written as an object)."""


class Style:
    def __init__(self, ascii_only: bool, separators: tuple[str, str], escape_one_in: int, rng: Any) -> None:
        self.ascii_only, (self.comma, self.colon), self.escape_one_in, self.rng = ascii_only, separators, escape_one_in, rng

    def write(self, value: Any) -> str:
        if isinstance(value, Raw):
            return str(value)
        if isinstance(value, Items):
            return "[" + self.comma.join(self.write(item) if isinstance(item, Raw) else self.write_object(item)
                                         for item in value) + "]"
        if isinstance(value, list) and value and all(isinstance(p, tuple) for p in value):
            return self.write_object(value)
        if isinstance(value, list):
            return "[" + self.comma.join(self.write(v) for v in value) + "]"
        if isinstance(value, dict):
            return self.write_object(list(value.items()))
        if isinstance(value, str):
            return self.string(value)
        return json.dumps(value)

    def write_object(self, pairs: list[tuple[str, Any]]) -> str:
        return "{" + self.comma.join(self.string(k) + self.colon + self.write(v) for k, v in pairs) + "}"

    def string(self, text: str) -> str:
        """JSON text, now and then a character written as \\uXXXX (a colon, a quote, a letter of a key)."""
        out = []
        for char in text:
            if self.escape_one_in and self.rng.randrange(self.escape_one_in) == 0 and ord(char) < 0x10000:
                out.append(f"\\u{ord(char):04x}")
            else:
                out.append(json.dumps(char, ensure_ascii=self.ascii_only)[1:-1])
        return '"' + "".join(out) + '"'


def outcome(read: Any) -> Any:
    try:
        answer = read()
    except RequestValidationError as error:
        return ("batch refused", [(e["type"], e["loc"], e["msg"]) for e in error.errors()])
    if isinstance(answer, tuple):
        recorded, refused = answer
        return ("read", recorded, repr(recorded), refused)
    return ("guard refused", answer.status_code, answer.body)


NOTE = f'{{"type": "note", "contact_id": "{CONTACT}", '


@hypothesis_settings(max_examples=600, deadline=None)
@given(bodies())
@example(b'{"items": [' + NOTE.encode() + b'"text": "a", "text": "b", "x": {"k\\\\": 1}}]}')  # a key ends with \
@example(b'{"items": [' + NOTE.encode() + b'"text": "a", "t\\u0065xt": "b"}]}')  # "text" twice, once escaped
@example(b'{"items": [' + NOTE.encode() + b'"text": "a\\u003a", "text": 1}]}')  # an escaped colon
@example(b'{"items": [' + NOTE.encode() + b'"text": "a\\u0000"}]}')
@example(b'{"items": [' + NOTE.encode() + b'"text": "x", "notes": ' + b"[" * 62 + b"]" * 62 + b"}]}")
def test_the_one_pass_read_answers_as_the_guard_fastapi_and_each_item_did(body: bytes) -> None:
    one_pass = outcome(lambda: read_batch(body, "application/json"))
    as_before = outcome(lambda: batch_body._read_slowly(body, "application/json"))
    assert one_pass == as_before


def test_a_clean_batch_is_read_in_one_pass_without_the_guard(monkeypatch: Any) -> None:
    """The point of it: a batch with nothing wrong is never parsed a second time (nor by
    the middleware: the route is the one it leaves to itself)."""
    assert json_guard.checked_by_route("POST", BATCH_PATH, "application/json")

    def guard(_: bytes) -> None:
        raise AssertionError("the guard's own parse ran")

    monkeypatch.setattr(json_guard, "refusal", guard)
    items = [{"type": "page_visited", "contact_id": CONTACT, "url": f"https://example.com/{i}", "title": 'a "b": c 🚀',
              "seconds_on_page": i, "event_id": f"e-{i}", "occurred_at": "2026-02-01T08:00:00Z"} for i in range(100)]
    items.append({"type": "teleport", "email": "jean@example.com"})  # a bad item is no doubt about the body
    recorded, refused = read_batch(json.dumps({"items": items}).encode(), "application/json")
    assert len(recorded) == 100 and [r.index for r in refused] == [100]
    assert recorded[7].contact_id == UUID(CONTACT) and recorded[7].spec.fields["seconds_on_page"] == 7
