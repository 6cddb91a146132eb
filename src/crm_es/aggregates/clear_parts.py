"""What stays in clear beside a sealed free-text value: the part that analytics and
automations need, worked out when the fact is recorded (from the values given, never
from the clock), so that it outlives the value when the person is forgotten.

- A web address keeps its host and its path. Not its scheme, user info, port, query
  string or fragment (where addresses carry e-mails, tokens and names: ``?email=…``,
  ``#access_token=…``), nor a path segment's parameters (``;jsessionid=…``); a path
  segment holding an ``@`` (an e-mail address, encoded or not) is kept as ``@``.
- A call's outcome keeps its kind: one of a known vocabulary, else ``other``.

Upcasters use these on values stored in clear before they were sealed; a value already
sealed (a token) cannot be read, so its parts are null (``plain``).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, urlsplit

# The outcomes a call is counted by; anything else a rep typed is "other".
CALL_OUTCOMES = frozenset({
    "connected", "no_answer", "busy", "left_voicemail", "wrong_number", "interested", "not_interested", "call_back",
})
OTHER = "other"
_SEPARATORS = re.compile(r"[\s\-]+")


def plain(value: Any) -> str | None:
    """A stored value an upcaster may read: text in clear, else None (null, or a sealed
    token ``{"$sealed": …}``)."""
    return value if isinstance(value, str) else None


def outcome_kind(outcome: str | None) -> str | None:
    """``connected``, ``no_answer`` … when the outcome is one of them (ignoring case,
    spaces and hyphens: "No answer" is ``no_answer``), ``other`` when it is something else,
    None when there is none."""
    if outcome is None:
        return None
    word = _SEPARATORS.sub("_", outcome.strip().casefold())
    return word if word in CALL_OUTCOMES else OTHER


def _parts(url: str | None) -> tuple[str | None, str | None]:
    if url is None:
        return None, None
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname  # lower case, without user info or port
    except ValueError:  # not an address (an unclosed "[" of an IPv6 host …)
        return None, None
    path = parts.path if parts.path.startswith("/") else "/" if host and not parts.path else None
    return (host.rstrip(".") or None) if host else None, _masked(path)


def _masked(path: str | None) -> str | None:
    if path is None:
        return None
    segments = (segment.split(";", 1)[0] for segment in path.split("/"))
    return "/".join("@" if "@" in unquote(segment) else segment for segment in segments)


def host_of(url: str | None) -> str | None:
    """``acme.example`` for ``https://jean@acme.example:8443/pricing?x=1``; None when the
    value is not an absolute address."""
    return _parts(url)[0]


def path_of(url: str | None) -> str | None:
    """``/pricing`` for ``https://acme.example/pricing?email=jean@…#top`` (``/`` for a
    host alone); None when the value has no path (free text is not a path)."""
    return _parts(url)[1]
