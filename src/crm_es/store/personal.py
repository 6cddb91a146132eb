"""Personal fields sealed with their data subject's own key (crypto-shredding).

An event class names its personal fields (``personal_fields``) and the field holding
the id of the person they are about (``subject_field``, by default the record's own
id). In the store each such value, when not null, is replaced by a token
``{"$sealed": "<base64 of nonce | ciphertext | tag>"}``: the value's JSON, encrypted
with AES-256-GCM under the subject's key. Forgetting a person deletes the key: every
token of theirs, in every event, becomes unreadable at once, while the events, their
hashes and every other field stay as they were.

Upcasters see the stored shape, so a personal value reaches them as a token they may
move but cannot read.
"""

from __future__ import annotations

import base64
from functools import lru_cache
import os
from collections.abc import Mapping
from typing import Any

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crm_es.store.codec import TOKEN, dumps, is_token, upcast

KEY_BYTES = 32
NONCE_BYTES = 12


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def personal_fields(cls: type) -> tuple[str, ...]:
    return getattr(cls, "personal_fields", ())


def subject_of(cls: type, state: Mapping[str, Any], originator_id: Any) -> str | None:
    """The id (text) of the person whose key seals this event's personal fields."""
    field = getattr(cls, "subject_field", "originator_id")
    value = originator_id if field == "originator_id" else state.get(field)
    return None if value is None else str(value)


@lru_cache(maxsize=4096)
def _cipher(key: bytes) -> AESGCM:
    """One cipher object per key (making one costs more than sealing a short value)."""
    return AESGCM(key)


def forget_ciphers() -> None:
    """Drop the cipher objects (they hold keys): a forgotten person's key leaves memory too."""
    _cipher.cache_clear()


def seal_value(value: Any, key: bytes, subject: str) -> dict[str, str]:
    nonce = os.urandom(NONCE_BYTES)
    # The subject as associated data: a token moved to another person's event fails to open.
    sealed = _cipher(key).encrypt(nonce, dumps(value), subject.encode())
    return {TOKEN: base64.b64encode(nonce + sealed).decode()}


def open_value(token: Mapping[str, str], key: bytes | None, subject: str) -> Any:
    """The value, or None when the key is gone (the person was forgotten)."""
    if key is None:
        return None
    raw = base64.b64decode(token[TOKEN])
    return orjson.loads(_cipher(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], subject.encode()))


def needs_key(event: Any) -> str | None:
    """The subject whose key is needed to store this event, or None (nothing to seal)."""
    fields = personal_fields(type(event))
    if any(getattr(event, name, None) is not None for name in fields):
        return subject_of(type(event), vars(event), event.originator_id)
    return None


def seal_event(event: Any, keys: Mapping[str, bytes], subject: str | None = None) -> Any:
    """A copy of the event with its personal values sealed (the original is untouched).
    ``subject``: ``needs_key(event)``, when the caller has it already."""
    subject = subject or needs_key(event)
    if subject is None:
        return event
    key = keys[subject]
    state = dict(vars(event))
    for name in personal_fields(type(event)):
        value = state.get(name)
        if value is not None:
            state[name] = seal_value(value, key, subject)
    sealed = object.__new__(type(event))  # as the mapper builds events: no copy protocol (slow)
    object.__setattr__(sealed, "__dict__", state)
    return sealed


def sealed_subject(cls: type, state: Mapping[str, Any], originator_id: Any) -> str | None:
    """The subject whose key opens this stored state, or None when it holds no token."""
    if any(is_token(state.get(name)) for name in personal_fields(cls)):
        return subject_of(cls, state, originator_id)
    return None


def open_state(cls: type, state: dict[str, Any], originator_id: Any, keys: Mapping[str, bytes]) -> dict[str, Any]:
    """Replace the tokens of a stored state (in place) by their values, or by None for a
    forgotten person. Plain values (an event stored before sealing existed) stay."""
    subject = sealed_subject(cls, state, originator_id)
    if subject is not None:
        key = keys.get(subject)
        for name in personal_fields(cls):
            if is_token(state.get(name)):
                state[name] = open_value(state[name], key, subject)
    return state


def readable(cls: type, state: dict[str, Any], originator_id: Any, keys: Mapping[str, bytes]) -> dict[str, Any]:
    """A stored state (decoded JSON) in today's shape, its personal fields opened: what
    the projector and the auditors' exports read."""
    return open_state(cls, upcast(cls, state), originator_id, keys)


def raw_subject(cls: type, originator_id: str, state_bytes: bytes) -> str | None:
    """The subject a stored event's personal fields would belong to, read cheaply
    (without decoding the JSON when the subject is the record itself)."""
    if not personal_fields(cls):
        return None
    field = getattr(cls, "subject_field", "originator_id")
    if field == "originator_id":
        return str(originator_id)
    value = orjson.loads(state_bytes).get(field)
    return None if value is None else str(value)
