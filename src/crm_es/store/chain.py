"""The hash chain that makes tampering with the log evident.

Each stored event carries ``hash`` = SHA-256 over, unambiguously (every part prefixed
by its length):

- ``prev_hash``: the hash of the event just before it in the global log (zeros for the
  first), so the order of the whole log is attested;
- the hash of the same record's event at version - 1 (zeros for version 1), so a
  record's own history can be checked on its own (an export of one customer);
- originator id (dashed lowercase UUID), version, topic, and the state bytes exactly as
  stored (personal fields there are ciphertext, so erasing a key keeps the chain valid).

The position is not hashed: PostgreSQL sequences leave gaps, and the chain's order is
what attests the order. SHA-256 has no secret: someone who rewrites the whole chain
(or cuts its tail) is caught only against a head hash kept elsewhere (an anchor).

One module used by the recorders (write time), the verifier and the export checker
(crm_es.audit): it lives with the store, which writes the chain; the audit only reads it.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple
from uuid import UUID

GENESIS = bytes(32)  # the "previous hash" of the first event, and of every version 1
_TAG = b"crm-es/event/v1"  # another layout later gets another tag, never the same hash
_LENGTH = struct.Struct(">Q").pack  # each part's length, 8 bytes big-endian


@lru_cache(maxsize=1 << 16)
def uuid_text(value: UUID) -> str:
    """``str(value)``, remembered: a UUID's text is built in Python, and a tracking batch
    asks for the same few thousand several times an event (hash, key, claims)."""
    return str(value)


def canonical_id(originator_id: UUID | str) -> str:
    """The form that is hashed, whichever way a backend stores the id (SQLite: 32 hex)."""
    return uuid_text(originator_id if isinstance(originator_id, UUID) else UUID(originator_id))


def event_hash(prev_hash: bytes, record_prev_hash: bytes, originator_id: str, version: int, topic: str, state: bytes) -> bytes:
    oid, ver, top = originator_id.encode(), str(version).encode(), topic.encode()
    # One buffer, one update: the same bytes as updating part by part, in fewer calls (a
    # tracking batch hashes 10,000 events).
    return hashlib.sha256(b"".join((
        _TAG, _LENGTH(len(prev_hash)), prev_hash, _LENGTH(len(record_prev_hash)), record_prev_hash,
        _LENGTH(len(oid)), oid, _LENGTH(len(ver)), ver, _LENGTH(len(top)), top, _LENGTH(len(state)), state,
    ))).digest()


class Link(NamedTuple):
    prev_hash: bytes
    hash: bytes


class Chain:
    """Links events one after the other, as they are appended to the log.

    ``tail`` is the hash of the log's last event; ``record_tails`` maps an originator
    id to (version, hash) of its last stored event, for the records whose earlier
    versions are already in the log. Events linked here become tails in turn, so the
    events of one save chain among themselves.
    """

    def __init__(self, tail: bytes | None = None, record_tails: dict[str, tuple[int, bytes]] | None = None) -> None:
        self.tail = tail or GENESIS
        self.record_tails = record_tails or {}

    def link(self, originator_id: str, version: int, topic: str, state: bytes) -> Link:
        known = self.record_tails.get(originator_id)
        # A missing version - 1 is linked to zeros: the verifier reports the gap.
        record_prev = known[1] if known is not None and known[0] == version - 1 else GENESIS
        link = Link(self.tail, event_hash(self.tail, record_prev, originator_id, version, topic, state))
        self.tail = link.hash
        self.record_tails[originator_id] = (version, link.hash)
        return link

    def learn(self, record_tails: Mapping[str, tuple[int, bytes]]) -> None:
        """Tails read for the next events; those this chain linked since stay (later)."""
        for originator_id, tail in record_tails.items():
            known = self.record_tails.get(originator_id)
            if known is None or known[0] < tail[0]:
                self.record_tails[originator_id] = tail

    def kept(self) -> tuple[bytes, dict[str, tuple[int, bytes]]]:
        """Where the chain stands, to go back to if the next events are not written."""
        return self.tail, dict(self.record_tails)

    def restore(self, kept: tuple[bytes, dict[str, tuple[int, bytes]]]) -> None:
        self.tail, self.record_tails = kept[0], dict(kept[1])


def record_tails_wanted(
    events: Iterable[tuple[str, int]], known: Mapping[str, tuple[int, bytes]] | None = None
) -> list[tuple[str, int]]:
    """(originator id, version - 1) of each record's first event in a batch, when that
    earlier version must come from the log (it is not version 0, nor in the batch, nor
    ``known`` already: the hash the caller read with the record)."""
    first: dict[str, int] = {}
    for originator_id, version in events:
        first.setdefault(originator_id, version)
    known = known or {}
    return [
        (originator_id, version - 1)
        for originator_id, version in first.items()
        if version > 1 and known.get(originator_id, (None,))[0] != version - 1
    ]


@dataclass(frozen=True, slots=True)
class ChainRow:
    """A stored event with its links, as the verifier and the export read it."""

    position: int
    originator_id: str  # canonical (dashed lowercase)
    version: int
    topic: str
    state: bytes
    hash: bytes | None  # None only in a row the service did not write
    prev_hash: bytes | None
    record_prev_hash: bytes | None  # hash of the record's version - 1; None for version 1 or when missing

    def recomputed(self) -> bytes | None:
        """The hash this row's content and links make; None when it cannot be computed
        (a link is missing: no prev_hash, or the record's previous version is gone)."""
        record_prev = GENESIS if self.version == 1 else self.record_prev_hash
        if self.prev_hash is None or record_prev is None:
            return None
        return event_hash(self.prev_hash, record_prev, self.originator_id, self.version, self.topic, self.state)
