"""Console sessions: a browser signs in with an API key once and gets a cookie.

Kept in this process's memory (a restart signs everyone out; with several workers, each
has its own): a random 32-byte id names the key's token, a CSRF token and an expiry. The
key itself is checked again at every request (entrypoints/http/auth.py), so a revoked key
stops working at once even while its session lives.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

SESSION_COOKIE = "crm_es_session"
PRE_SESSION_COOKIE = "crm_es_csrf"  # the sign-in form's double-submit token, before any session
LIFETIME = timedelta(hours=12)


@dataclass(frozen=True)
class Session:
    token: str  # the API key signed in with, as a Bearer header would carry it
    csrf: str
    expires_at: datetime


class Sessions:
    def __init__(self, now: Callable[[], datetime]) -> None:
        self.now = now
        self._by_id: dict[str, Session] = {}
        self._lock = threading.Lock()

    def open(self, token: str) -> tuple[str, Session]:
        session_id = secrets.token_urlsafe(32)
        session = Session(token, secrets.token_urlsafe(32), self.now() + LIFETIME)
        with self._lock:
            self._drop_expired()
            self._by_id[session_id] = session
        return session_id, session

    def find(self, session_id: str | None) -> Session | None:
        """The live session of this id, or None (unknown, or expired: then dropped)."""
        if not session_id:
            return None
        with self._lock:
            session = self._by_id.get(session_id)
            if session is not None and session.expires_at <= self.now():
                del self._by_id[session_id]
                return None
            return session

    def close(self, session_id: str | None) -> None:
        with self._lock:
            self._by_id.pop(session_id or "", None)

    def _drop_expired(self) -> None:
        now = self.now()
        for session_id in [i for i, s in self._by_id.items() if s.expires_at <= now]:
            del self._by_id[session_id]


def sessions_of(app: Any) -> Sessions:
    """The app's sessions, made at first use; expiry on the services' clock (tests move it)."""
    sessions = getattr(app.state, "sessions", None)
    if sessions is None:
        sessions = app.state.sessions = Sessions(lambda: app.state.services.clock.now())
    return sessions
