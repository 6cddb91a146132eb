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
import binascii
import os
from functools import lru_cache
from collections.abc import Mapping
from typing import Any

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crm_es.store.chain import uuid_text
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
    return None if value is None else value if type(value) is str else uuid_text(value)


@lru_cache(maxsize=4096)
def _cipher(key: bytes) -> AESGCM:
    """One cipher object per key (making one costs more than sealing a short value)."""
    return AESGCM(key)


def forget_ciphers() -> None:
    """Drop the cipher objects (they hold keys): a forgotten person's key leaves memory too."""
    _cipher.cache_clear()


def seal_value(value: Any, key: bytes, subject: str) -> dict[str, str]:
    return Sealer({subject: key}).seal(value, subject)


class Sealer:
    """Seals the personal values of one save (one thread): the ciphers looked up once a
    key, the nonces cut from one read of the OS's random source (a read per value cost
    more than the encryption). Each nonce is 96 fresh random bits, as before."""

    def __init__(self, keys: Mapping[str, bytes]) -> None:
        self.keys = keys
        self._random, self._used = b"", 0
        # The same value of the same person, sealed again in this save (a visitor id on
        # each of their page visits), gets the same token: the same message under the
        # same nonce gives the same ciphertext and tells nothing the equal tokens do not.
        self._sealed: dict[tuple[str, bytes], dict[str, str]] = {}

    def _nonce(self) -> bytes:
        if self._used + NONCE_BYTES > len(self._random):
            self._random, self._used = os.urandom(NONCE_BYTES * 512), 0
        start = self._used
        self._used += NONCE_BYTES
        return self._random[start:self._used]

    def seal(self, value: Any, subject: str) -> dict[str, str]:
        plain = dumps(value)
        known = self._sealed.get((subject, plain))
        if known is not None:
            return dict(known)
        nonce = self._nonce()
        # The subject as associated data: a token moved to another person's event fails to open.
        sealed = _cipher(self.keys[subject]).encrypt(nonce, plain, subject.encode())
        token = self._sealed[(subject, plain)] = {TOKEN: binascii.b2a_base64(nonce + sealed, newline=False).decode()}
        return dict(token)

    def seal_state(self, cls: type, state: dict[str, Any]) -> None:
        """Replace the personal values of an event's fields (a copy, ids included) by
        their tokens, sealed with the key of the person they are about."""
        subject = None
        for name in personal_fields(cls):
            value = state.get(name)
            if value is not None:
                subject = subject or subject_of(cls, state, state["originator_id"])
                state[name] = self.seal(value, subject)


def open_value(token: Mapping[str, str], key: bytes | None, subject: str) -> Any:
    """The value, or None when the key is gone (the person was forgotten)."""
    if key is None:
        return None
    raw = base64.b64decode(token[TOKEN])
    return orjson.loads(_cipher(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], subject.encode()))


def needs_key(event: Any) -> str | None:
    """The subject whose key is needed to store this event, or None (nothing to seal)."""
    cls = type(event)
    state = event.__dict__
    for name in personal_fields(cls):
        if state.get(name) is not None:
            return subject_of(cls, state, state["originator_id"])
    return None


def seal_event(event: Any, keys: Mapping[str, bytes]) -> Any:
    """A copy of the event with its personal values sealed (the original is untouched)."""
    if needs_key(event) is None:
        return event
    state = dict(vars(event))
    Sealer(keys).seal_state(type(event), state)
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
    # Upcast: a subject field added by a later class version (a task's ``subject_id``) is
    # worked out by the upcaster from the fields an older event has.
    value = upcast(cls, orjson.loads(state_bytes)).get(field)
    return None if value is None else str(value)
