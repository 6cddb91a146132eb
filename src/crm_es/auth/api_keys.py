"""API keys: a random secret shown once, stored as its SHA-256 hash, revocable.

A key reads ``crm_<id>_<secret>``: the id finds the row, the secret is checked against
the stored hash in constant time. The table lives in the event store's database, next
to the events (``api_keys`` on SQLite, ``crm_events_api_keys`` on PostgreSQL), kept by
the store (``store.api_keys``: crm_es.store.api_keys).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import asdict, dataclass
from typing import Any
from uuid import UUID

from crm_es.aggregates import Rep
from crm_es.auth.roles import Principal, Role, needs_rep
from crm_es.clock import Clock
from crm_es.store import EventStore

log = logging.getLogger("crm_es")

PREFIX = "crm_"


class KeyRefused(ValueError):
    """A key that cannot be made as asked (a rep's key without its rep, say)."""


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    role: Role
    rep_id: UUID | None
    created_at: str
    revoked_at: str | None = None

    @property
    def principal(self) -> Principal:
        return Principal(self.role, self.id, self.rep_id)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "role": str(self.role), "rep_id": str(self.rep_id) if self.rep_id else None}


def _hash(secret: str) -> str:
    # The secret is 256 random bits: a fast hash is enough, nothing can be guessed.
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKeys:
    """The key table: make, find, list and revoke keys."""

    def __init__(self, store: EventStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self.tables = store.api_keys  # the key table, kept by the store
        self._configured: bool | None = None  # not asked yet
        self.tables.create()

    def create(self, role: Role, rep_id: UUID | None = None, name: str = "") -> tuple[ApiKey, str]:
        """A new key and its token, which is shown now and never again."""
        if needs_rep(role) and rep_id is None:
            raise KeyRefused(f"a {role} key must name the rep it belongs to")
        if not needs_rep(role) and rep_id is not None:
            raise KeyRefused(f"a {role} key belongs to no rep: only rep and manager keys name one")
        if rep_id is not None:
            rep = self.store.load(Rep, rep_id)
            if rep is None:
                raise KeyRefused(f"rep {rep_id} does not exist")
            if not rep.active:
                raise KeyRefused(f"rep {rep_id} ({rep.name}) is deactivated: reactivate them first "
                                 f"(POST /reps/{rep_id}/reactivate)")
        key = ApiKey(secrets.token_hex(6), name, role, rep_id, self.clock.now().isoformat())
        secret = secrets.token_urlsafe(32)
        self.tables.insert(key.id, key.name, str(key.role), str(rep_id) if rep_id else None, _hash(secret), key.created_at)
        self._now_configured()
        return key, f"{PREFIX}{key.id}_{secret}"

    def authenticate(self, token: str) -> ApiKey | None:
        """The key this token is, unless it is unknown, revoked or not a key at all."""
        key_id, secret = _parts(token)
        return _valid(self.tables.find(key_id), secret) if key_id else None

    async def authenticate_on_loop(self, token: str) -> ApiKey | None:
        """As ``authenticate``, its one read awaited on the event loop (each request's check)."""
        key_id, secret = _parts(token)
        return _valid(await self.tables.find_on_loop(key_id), secret) if key_id else None

    def holder_deactivated(self, key: ApiKey) -> Rep | None:
        """The rep this key belongs to, when they are deactivated: their key is refused for
        everything (a person who left reads no customer's data either) until they are
        reactivated. Not revoked: reactivating the rep gives them their keys back. Asked
        of the event store, the truth, at each request (one remembered state)."""
        if key.rep_id is None:
            return None
        rep = self.store.load(Rep, key.rep_id)
        return rep if rep is not None and not rep.active else None

    def list(self) -> list[ApiKey]:
        return [_key(row) for row in self.tables.all()]

    def revoke(self, key_id: str) -> ApiKey | None:
        """The key, revoked from now on (a key revoked before keeps its time); None if unknown."""
        self.tables.revoke(key_id, self.clock.now().isoformat())
        row = self.tables.find(key_id)
        return _key(row) if row is not None else None

    @property
    def known_configured(self) -> bool:
        """True once this process has seen a key: ``configured()`` asks no more."""
        return self._configured is True

    def configured(self) -> bool:
        """True once any key has been made, revoked or not: revoking every key locks the
        service, it never reopens it. Asked of the database until the answer is yes."""
        if self._configured is not True:
            if self.tables.any():
                self._now_configured()
            else:
                self._configured = False
        return self._configured

    def _now_configured(self) -> None:
        if self._configured is False:  # this process announced open mode: say loudly that it is over
            log.warning("API keys exist now: open development mode is over; every request needs a key")
        self._configured = True


def _parts(token: str) -> tuple[str, str]:
    """The id and the secret of ``crm_<id>_<secret>``; no id when it is not such a token."""
    if not token.startswith(PREFIX):
        return "", ""
    key_id, _, secret = token.removeprefix(PREFIX).partition("_")
    return key_id, secret


def _valid(row: Any, secret: str) -> ApiKey | None:
    """The key of this row if the secret is its own (compared in constant time) and it is not revoked."""
    if row is None or not hmac.compare_digest(row["secret_hash"], _hash(secret)):
        return None
    key = _key(row)
    return None if key.revoked_at else key


def _key(row: Any) -> ApiKey:
    rep_id = row["rep_id"]
    return ApiKey(row["id"], row["name"], Role(row["role"]), UUID(rep_id) if rep_id else None, row["created_at"],
                  row["revoked_at"])
