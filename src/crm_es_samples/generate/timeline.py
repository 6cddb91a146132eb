"""The simulated timeline: facts come out in the order the CRM would have recorded them.

Each record's life is a *stream*: an iterator of ``Fact``s in business-time order (a
deal's opening, the calls about it, its moves…). The timeline merges every stream on one
heap keyed by recorded time and moves its clock (a ``FrozenClock``) along as facts come
out, so recorded times follow the log's order and never go backwards. A fact is recorded
a few seconds to two minutes after it happened — or, for the few marked ``late``, hours
or days after: those wait on the heap until then. A late *change of state* (``ordered``)
holds its stream until it is recorded, so the record's next change is decided after it,
as the service would have decided it.

Streams start when their first fact is due (``start`` takes a factory), so the memory
held is that of the records alive at the time, not of the whole plan.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from itertools import count
from typing import Any, NamedTuple

from crm_es.clock import FrozenClock

RECORDING_LAG_SECONDS = 120  # an on-time fact is recorded within this long of happening
MICROSECOND = timedelta(microseconds=1)


class Fact(NamedTuple):  # a tuple: millions are made
    at: datetime  # when it happened (business time)
    do: Callable[[datetime], Any]  # decides and records it, given its business time
    late: timedelta | None = None  # recorded this long after it happened (None: at once)
    ordered: bool = False  # a change of state: the stream's next facts wait until it is recorded


Stream = Iterator[Fact]


class Timeline:
    def __init__(self, clock: FrozenClock, end: datetime, rng: random.Random) -> None:
        self.clock = clock
        self.end = end  # nothing is recorded after it (now)
        self.rng = rng
        self.late = 0  # facts recorded late
        # (recorded time, tie-break, fact or None, its stream or a stream's factory)
        self._heap: list[tuple[datetime, int, Fact | None, Any]] = []
        self._seq = count()

    def start(self, at: datetime, factory: Callable[[], Stream]) -> None:
        """A stream that begins at ``at``; ``factory()`` makes it then."""
        heapq.heappush(self._heap, (at, next(self._seq), None, factory))

    def _next(self, stream: Stream) -> None:
        fact = next(stream, None)
        if fact is not None:
            lag = timedelta(seconds=self.rng.random() * RECORDING_LAG_SECONDS)
            heapq.heappush(self._heap, (min(fact.at + lag, self.end), next(self._seq), fact, stream))

    def __iter__(self) -> Iterator[Fact]:
        """Every fact, as it is recorded: the clock stands at its recorded time."""
        heap, pop, push = self._heap, heapq.heappop, heapq.heappush
        while heap:
            key, _, fact, stream = pop(heap)
            ahead = key - self.clock.now()
            if ahead > MICROSECOND:
                self.clock.advance(microseconds=ahead // MICROSECOND)
            if fact is None:  # a stream's start
                self._next(stream())
                continue
            if fact.late is not None:  # recorded later: back on the heap till then
                self.late += 1
                push(heap, (min(key + fact.late, self.end), next(self._seq), fact._replace(late=None),
                            stream if fact.ordered else None))
                if not fact.ordered:
                    self._next(stream)
                continue
            yield fact
            if stream is not None:
                self._next(stream)
