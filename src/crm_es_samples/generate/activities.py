"""The interactions around the records: what reps log and what the tracking feed reports.

An *activity* is something that happens at one time and leaves one or more interactions:
a visit to the website (a few pages, seconds to minutes apart), an e-mail (sent, maybe
opened hours later, maybe clicked), a call that goes to voicemail, a proposal whose quote
is opened again and again… ``paced`` spreads exactly ``count`` interactions over a
stretch of time as activities, at times drawn like sorted uniform draws (so they cover
the whole stretch), and yields them in time order.

A rep logs calls, meetings, demos, visits and notes, sometimes late (hours to a few days
after); e-mails are synced at once; the feed reports opens, clicks, quotes opened and page
visits as they come (now and then a day late, a retry). Who logs it is decided when it
is recorded (the deal's owner then, else the contact's).
"""

from __future__ import annotations

import heapq
import inspect
import random
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from functools import partial
from itertools import accumulate
from typing import Any
from uuid import UUID

from crm_es.aggregates.interactions import KINDS
from crm_es_samples.generate.records import FEED, FEED_ABOUT_REP, REP_LOGGED, Records
from crm_es_samples.generate.timeline import Fact
from crm_es_samples.world import (
    BOUNCE_REASON, FIRST_NOTES, INBOUND_CALL_NOTES, LATER_NOTES, PAGES, QUESTIONS, REFERRERS, SITE, SMS_TEXTS,
    WEB_SOURCES, WELCOME_SUBJECTS,
)

# Every own field of each kind's event, but the session flag the decision adds.
FIELDS = {kind: tuple(n for n in inspect.get_annotations(cls) if n != "new_session") for kind, cls in KINDS.items()}

LOGGED_LATE, LOGGED_DELAY_HOURS = 0.08, (2, 72)  # a rep back from the road logs the day's calls
FED_LATE, FED_DELAY_HOURS = 0.01, (1, 24)  # the feed retries what it could not send
LATE_KINDS = {"call", "voicemail", "meeting_held", "meeting_missed", "demo", "visit", "note"}
OPENED, CLICKED = 0.55, 0.3  # e-mails opened; of those opened, clicked
NEWSLETTERS = ["Lumen CRM news: what is new this month", "Webinar: running a weekly pipeline review",
               "Customer story: how a logistics firm doubled its win rate", "Your CRM checklist for the new quarter"]
PAGES_IN_A_VISIT = [1, 1, 2, 2, 3, 3, 4, 5, 6]
EMAILS_OUT = {"newsletter", "rep_email", "proposal"}

# What a contact's own life is made of, (activity, weight) before and after it buys
PROSPECT_LIFE = [("visit_site", 30), ("newsletter", 12), ("rep_email", 12), ("call", 10), ("email_in", 4),
                 ("note", 5), ("sms", 2), ("meeting", 3)]
CUSTOMER_LIFE = [("visit_site", 12), ("newsletter", 12), ("rep_email", 10), ("call", 12), ("email_in", 12),
                 ("note", 4), ("sms", 3), ("meeting", 10), ("visit", 5)]
# The work on a deal in each stage
STAGE_WORK = {
    "Contact": [("rep_email", 4), ("call", 4), ("note", 1), ("sms", 1)],
    "Qualification": [("call", 4), ("meeting", 3), ("rep_email", 2), ("email_in", 1)],
    "Demo": [("demo", 5), ("rep_email", 2), ("call", 2), ("missed", 1)],
    "Proposal": [("proposal", 4), ("call", 2), ("email_in", 2)],
    "Negotiation": [("meeting", 4), ("call", 3), ("email_in", 2), ("rep_email", 2)],
    "Signature": [("rep_email", 3), ("call", 3), ("sms", 1), ("quote", 2)],
    "Renewal due": [("rep_email", 4), ("call", 2)],
    "Account review": [("visit", 4), ("meeting", 3), ("call", 1)],
    "Offer sent": [("proposal", 4), ("call", 2)],
    "Awaiting signature": [("call", 3), ("rep_email", 2), ("quote", 1)],
}


class Activities:
    """The interactions of one run: facts drawn from its random stream, decided by its records."""

    def __init__(self, rng: random.Random, records: Records, end: datetime) -> None:
        self.rng = rng
        self.records = records
        self.end = end  # nothing happens after it
        self.quotes = 0
        # (names, cumulative weights) of each table: random.choices adds the weights up on every call otherwise
        self._tables = {name: (names, list(accumulate(weights))) for name, table in
                        [("prospect", PROSPECT_LIFE), ("customer", CUSTOMER_LIFE), ("referrer", REFERRERS),
                         *STAGE_WORK.items()] for names, weights in [tuple(zip(*table))]}

    # --- one interaction ----------------------------------------------------------------

    def fact(self, at: datetime, contact: UUID, deal: UUID | None, kind: str, by: str, **given: Any) -> Fact:
        fields = {name: given.get(name) for name in FIELDS[kind]}
        late = None
        if by == REP_LOGGED:
            if kind in LATE_KINDS and self.rng.random() < LOGGED_LATE:
                late = timedelta(hours=self.rng.uniform(*LOGGED_DELAY_HOURS))
        elif self.rng.random() < FED_LATE:
            late = timedelta(hours=self.rng.uniform(*FED_DELAY_HOURS))
        return Fact(min(at, self.end), partial(self.records.interaction, contact, deal, kind, fields, by), late)

    # --- activities: a time and room for how many → the facts -----------------------------

    def choose(self, table: str) -> Any:
        names, cumulative = self._tables[table]
        return self.rng.choices(names, cum_weights=cumulative)[0]

    def activity(self, name: str, at: datetime, room: int, contact: UUID, deal: UUID | None, about: str) -> list[Fact]:
        """``about``: what e-mails and notes are about (a deal's title, or empty)."""
        rng, f = self.rng, self.fact
        if name in EMAILS_OUT and self.records.contacts[contact].email_invalid:
            name = "call"  # the address bounced: the rep phones instead
        match name:
            case "visit_site":
                return self.site_visit(at, room, contact)
            case "newsletter":
                return self.email(at, room, contact, None, rng.choice(NEWSLETTERS), FEED)
            case "rep_email":
                subject = f"{about}: next steps" if about else rng.choice(WELCOME_SUBJECTS)
                return self.email(at, room, contact, deal, subject, REP_LOGGED)
            case "proposal":
                return self.proposal(at, room, contact, deal, about)
            case "quote":
                return self.quote_opened(at, room, contact, deal, at.year)
            case "call":
                return self.call(at, room, contact, deal)
            case "email_in":
                subject = f"Re: {about}" if about else rng.choice(QUESTIONS)
                return [f(at, contact, deal, "email_received", REP_LOGGED, subject=subject,
                          message_id=self.message_id())]
            case "note":
                return [f(at, contact, deal, "note", REP_LOGGED, text=rng.choice(LATER_NOTES))]
            case "sms":
                return [f(at, contact, deal, "sms_sent", REP_LOGGED, text=rng.choice(SMS_TEXTS))]
            case "meeting" | "missed":
                mode = rng.choice(["on_site", "phone", "video"])
                if name == "missed" or rng.random() < 0.12:
                    return [f(at, contact, deal, "meeting_missed", REP_LOGGED, mode=mode, notes="No-show; rebooked.")]
                return [f(at, contact, deal, "meeting_held", REP_LOGGED, mode=mode,
                          duration_minutes=rng.choice([30, 45, 60, 90]), notes="Went through their needs and timing.")]
            case "demo":
                return [f(at, contact, deal, "demo", REP_LOGGED, duration_minutes=rng.choice([45, 60, 75]),
                          notes="Demo of the pipeline and reporting modules.")]
            case "visit":
                return [f(at, contact, deal, "visit", REP_LOGGED, duration_minutes=rng.choice([60, 90, 120]),
                          notes="Visited their office: usage review and new needs.")]
        raise ValueError(f"no activity {name!r}")

    def later(self, at: datetime, low: float, high: float) -> datetime:
        return at + timedelta(minutes=self.rng.uniform(low, high))

    def message_id(self) -> str:
        return f"<{self.rng.getrandbits(48):012x}@lumen-software.example>"

    def email(self, at: datetime, room: int, contact: UUID, deal: UUID | None, subject: str, by: str) -> list[Fact]:
        """Sent, then maybe opened (minutes to a day later), then maybe clicked."""
        message = self.message_id()
        facts = [self.fact(at, contact, deal, "email_sent", by, subject=subject, message_id=message)]
        if room > 1 and self.rng.random() < OPENED:
            at = self.later(at, 3, 30 * 60)
            facts.append(self.fact(at, contact, deal, "email_opened", FEED_ABOUT_REP, message_id=message))
            if room > 2 and self.rng.random() < CLICKED:
                link = SITE + self.rng.choice(PAGES)[0]
                facts.append(self.fact(self.later(at, 0.5, 10), contact, deal, "email_clicked", FEED_ABOUT_REP,
                                       message_id=message, link=link))
        return facts

    def bounce(self, at: datetime, contact: UUID) -> list[Fact]:
        """A welcome e-mail to an address that does not exist: the contact's e-mail is invalid."""
        message = self.message_id()
        sent = self.fact(at, contact, None, "email_sent", REP_LOGGED, subject=self.rng.choice(WELCOME_SUBJECTS),
                         message_id=message)
        bounced = self.fact(self.later(at, 1, 3), contact, None, "email_bounced", FEED_ABOUT_REP, message_id=message,
                            bounce="hard", reason=BOUNCE_REASON)
        return [sent, bounced]

    def proposal(self, at: datetime, room: int, contact: UUID, deal: UUID | None, about: str) -> list[Fact]:
        """The proposal e-mailed, then its quote opened once or more."""
        sent = self.fact(at, contact, deal, "email_sent", REP_LOGGED, subject=f"Our proposal: {about}",
                         message_id=self.message_id())
        return [sent, *self.quote_opened(self.later(at, 10, 48 * 60), room - 1, contact, deal, at.year)]

    def quote_opened(self, at: datetime, room: int, contact: UUID, deal: UUID | None, year: int) -> list[Fact]:
        self.quotes += 1
        quote = f"Q-{year}-{self.quotes:06d}"
        facts = []
        for _ in range(min(room, self.rng.choice([1, 1, 2, 3]))):
            facts.append(self.fact(at, contact, deal, "quote_opened", FEED_ABOUT_REP, quote_id=quote))
            at = self.later(at, 20, 3 * 24 * 60)
        return facts

    def call(self, at: datetime, room: int, contact: UUID, deal: UUID | None) -> list[Fact]:
        rng, f = self.rng, self.fact
        draw = rng.random()
        if draw < 0.25 and room > 1:  # no answer: a voicemail left
            return [f(at, contact, deal, "call", REP_LOGGED, direction="outbound", duration_seconds=0,
                      outcome="no_answer"),
                    f(self.later(at, 0.5, 2), contact, deal, "voicemail", REP_LOGGED,
                      duration_seconds=rng.randint(15, 50), notes="Left a message asking them to call back.")]
        inbound = draw > 0.85
        notes = rng.choice(INBOUND_CALL_NOTES) if inbound else None
        return [f(at, contact, deal, "call", REP_LOGGED, direction="inbound" if inbound else "outbound",
                  duration_seconds=rng.randint(60, 40 * 60), outcome="connected", notes=notes)]

    def site_visit(self, at: datetime, room: int, contact: UUID) -> list[Fact]:
        """A few pages of the website, seconds to minutes apart (the sessions are judged
        when recorded, against the contact's latest visit)."""
        rng = self.rng
        visitor, session = f"v-{contact.hex[:10]}", f"s-{rng.getrandbits(48):012x}"
        referrer = self.choose("referrer")
        facts = []
        pages = min(room, rng.choice(PAGES_IN_A_VISIT))
        for i, (path, title) in enumerate(rng.sample(PAGES, pages)):
            seconds = rng.randint(15, 300)
            facts.append(self.fact(at, contact, None, "page_visited", FEED, url=SITE + path, title=title,
                                   seconds_on_page=seconds if i < pages - 1 else None, referrer=referrer,
                                   visitor_id=visitor, session_id=session))
            referrer, at = SITE + path, at + timedelta(seconds=seconds)
        return facts

    def first_note(self, at: datetime, contact: UUID, source: str) -> Fact:
        return self.fact(at, contact, None, "note", REP_LOGGED, text=FIRST_NOTES[source])

    # --- many: spread over a stretch of time --------------------------------------------

    def paced(self, start: datetime, end: datetime, count: int,
              activity: Callable[[datetime, int], list[Fact]]) -> Iterator[Fact]:
        """Exactly ``count`` interactions between ``start`` and ``end``, in time order:
        each activity's first one at the earliest of the draws left, its later ones
        (an e-mail's opening) held back until their time."""
        held: list[tuple[datetime, int, Fact]] = []
        left, at, n = count, start, 0
        while left > 0:
            at += (end - at) * (1 - self.rng.random() ** (1 / left))
            while held and held[0][0] <= at:
                yield heapq.heappop(held)[2]
            facts = activity(at, left)
            left -= len(facts)
            yield facts[0]
            for later in facts[1:]:
                n += 1
                heapq.heappush(held, (later.at, n, later))
        while held:
            yield heapq.heappop(held)[2]

    def contact_life(self, contact: UUID, start: datetime, count: int, customer_since: datetime | None,
                     source: str, newsletter: bool) -> Iterator[Fact]:
        """The contact's own interactions (no deal named): website visits, newsletters,
        the rep's e-mails and calls — more calls and meetings once it is a customer."""

        def activity(at: datetime, room: int) -> list[Fact]:
            table = "customer" if customer_since is not None and customer_since <= at else "prospect"
            name = self.choose(table)
            if name == "newsletter" and not newsletter or name == "visit_site" and source not in WEB_SOURCES \
                    and self.rng.random() < 0.5:
                name = "call"
            return self.activity(name, at, room, contact, None, "")

        return self.paced(start, self.end, count, activity)

    def deal_work(self, start: datetime, end: datetime, count: int, stage: str, contacts: tuple[UUID, ...],
                  deal: UUID, about: str) -> Iterator[Fact]:
        """The work on a deal while it sits in ``stage``, with one of its contacts each time."""

        def activity(at: datetime, room: int) -> list[Fact]:
            return self.activity(self.choose(stage), at, room, self.rng.choice(contacts), deal, about)

        return self.paced(start, end, count, activity)
