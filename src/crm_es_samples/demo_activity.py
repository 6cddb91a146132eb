"""The demo company's daily life: what its reps and contacts did around the deals, and the
reps' agendas as they stand now.

Planned as more ``Step``s into the ``Scenario`` from what ``demo.py`` planned in it — contacts
with their registration times, deals with the times and owners of their steps:

* interactions logged by the reps through ``record_interaction``: calls, e-mails,
  meetings (a few missed), demos, visits, notes, SMS. The rep is the contact's owner, or
  the deal's owner then for one about a deal, which it names. About one in five is logged
  late (hours or days after it happened): it keeps its real time.
* what a tracking feed reports — e-mails opened and clicked, quotes opened, pages of the
  website visited (a few pages minutes apart, a return visit days later) — through
  ``record_batch``, one batch a week, as a feed sends them.
* one or two welcome e-mails that bounce hard; one address is corrected weeks later.
* tasks: each open deal's next step and the account managers' check-ins, due around now
  (a few overdue, some today and tomorrow, the others later), some done, one
  rescheduled, one cancelled. A task is planned when the demo loads (the command takes no
  business time): it is the agenda the reps have today.

Everything draws from the scenario's second random stream (``Scenario.more``).
"""

from __future__ import annotations

import inspect
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from uuid import UUID

from crm_es.aggregates.interactions import KINDS, InteractionSpec
from crm_es.aggregates.task import TaskPlan
from crm_es.commands.interactions import BatchItem, RecordBatch, RecordInteraction, record_batch, record_interaction
from crm_es.commands.records import ChangeContact, change_contact
from crm_es.commands.tasks import (
    CancelTask, CompleteTask, PlanTask, RescheduleTask, cancel_task, complete_task, plan_task, reschedule_task,
)
from crm_es_samples.scenario import Contact, DealLife, Scenario
from crm_es_samples.world import (
    BOUNCE_REASON, FIRST_NOTES, INBOUND_CALL_NOTES, LATER_NOTES, PAGES, QUESTIONS, REFERRERS, RENEWALS, REP_EMAIL_DOMAIN,
    SITE, SMS_TEXTS, WEB_SOURCES, WELCOME_SUBJECTS, slug,
)

# ==== the daily life's own tables (the vocabulary is world.py's) ====================

LOGGED_LATE = 0.2  # share of rep-logged interactions recorded hours or days after they happened
LATE_KINDS = {"call", "voicemail", "meeting_held", "meeting_missed", "demo", "visit", "note"}  # emails are synced at once
OPENED, CLICKED = 0.6, 0.3  # share of e-mails sent that are opened, of those opened that are clicked
BOUNCES = 2  # welcome e-mails that bounce hard; the first address is corrected later
CHECK_IN_EVERY = (50, 110)  # days between an account manager's check-ins with a customer contact
FEED_EVERY = timedelta(days=7)  # the tracking feed sends its items once a week

# The next step of an open deal in each stage: (activity type, title, minutes)
NEXT_STEPS = {
    "Contact": ("call", "Call to qualify the need", 15),
    "Qualification": ("meeting_phone", "Qualification call with the team", 30),
    "Demo": ("demo", "Product demo", 60),
    "Proposal": ("email", "Follow up on the proposal", None),
    "Negotiation": ("meeting_video", "Negotiation meeting", 45),
    "Signature": ("call", "Chase the signature", 15),
    "Renewal due": ("email", "Send the renewal reminder", None),
    "Account review": ("customer_visit", "Account review on site", 90),
    "Offer sent": ("call", "Discuss the renewal offer", 20),
    "Awaiting signature": ("call", "Chase the signed renewal", 15),
}
DONE_OUTCOMES = ["Connected: they want the proposal by Friday.", "Left a voicemail; will try again.",
                 "Sent the documents they asked for.", "Good meeting: next step agreed."]
WHEN = ("overdue", "today", "tomorrow", "later")  # open tasks' due days, in turn
BUSINESS_HOURS = (8, 18)


@dataclass
class _Segment:
    """A stretch of an open deal's life in one stage with one owner, from one of its steps
    to the next (``ends_with``: move, win, lose, hand-over — or now, still there)."""

    life: DealLife
    stage: str
    start: datetime
    end: datetime
    owner: UUID
    ends_with: str
    argument: str  # the ending step's (a lost deal's reason)
    taken_over: bool  # it starts with a hand-over: the new owner introduces themselves


def own_fields(kind: str, given: dict[str, Any]) -> dict[str, Any]:
    """Every own field of the kind's event class, None where not given (the decision
    adds a page visit's ``new_session``)."""
    names = [name for name in inspect.get_annotations(KINDS[kind]) if name != "new_session"]
    unknown = set(given) - set(names)
    assert not unknown, f"{kind} has no field(s) {unknown}"
    return {name: given.get(name) for name in names}


class DemoActivity:
    """Adds the daily life's steps to a scenario whose records are planned (``plan``)."""

    def __init__(self, scenario: Scenario) -> None:
        self.s = scenario
        self.rng = scenario.more
        self.latest = scenario.latest
        self.feed: list[tuple[datetime, UUID, InteractionSpec]] = []
        self.no_email: dict[UUID, tuple[datetime, datetime]] = {}  # contact -> (bounced, corrected or the end)
        self.quotes = 0
        self.rep_names = {rep_id: name for name, rep_id in scenario.reps.items()}

    def plan(self) -> None:
        self.bounces()
        for contact in self.s.contacts:
            self.contact_life(contact)
            self.page_visits(contact)
        for life in self.s.lives:
            for segment in self.segments(life):
                self.deal_work(segment)
        self.tracking_feed()
        self.agendas()

    # --- helpers ----------------------------------------------------------------------

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def between(self, start: datetime, end: datetime, f: float | None = None) -> datetime:
        """A time in [start, end] (at fraction ``f``, else anywhere)."""
        return (start + (end - start) * (self.rng.random() if f is None else f)).replace(microsecond=0)

    def message_id(self) -> str:
        return f"<{self.rng.getrandbits(48):012x}@{REP_EMAIL_DOMAIN}>"

    def log(self, at: datetime, contact: Contact, kind: str, rep: UUID, deal: UUID | None = None, **given: Any) -> bool:
        """One interaction a rep records (now and then late); False if it would be too recent."""
        at = at.replace(microsecond=0)
        if at > self.latest or at <= contact.registered_at:
            return False
        recorded = at
        if kind in LATE_KINDS and self.chance(LOGGED_LATE):
            recorded = min(at + timedelta(hours=self.rng.uniform(2, 72)), self.latest)
        spec = InteractionSpec(kind, own_fields(kind, given), rep, deal)
        self.s.add(recorded, record_interaction, RecordInteraction(contact.id, spec, at), "interactions")
        return True

    def track(self, at: datetime, contact: Contact, kind: str, rep: UUID | None, deal: UUID | None = None,
              **given: Any) -> None:
        """One item for the tracking feed (sent in the week's batch)."""
        at = at.replace(microsecond=0)
        if contact.registered_at < at <= self.latest:
            self.feed.append((at, contact.id, InteractionSpec(kind, own_fields(kind, given), rep, deal)))

    def may_email(self, contact: Contact, at: datetime) -> bool:
        bounced, corrected = self.no_email.get(contact.id, (at, at))
        return not bounced <= at < corrected

    def email(self, at: datetime, contact: Contact, rep: UUID, deal: UUID | None, subject: str) -> None:
        """An e-mail sent, then maybe opened and clicked (as the feed reports)."""
        if not self.may_email(contact, at):
            return
        message_id = self.message_id()
        if not self.log(at, contact, "email_sent", rep, deal, subject=subject, message_id=message_id):
            return
        if self.chance(OPENED):
            opened = at + timedelta(minutes=self.rng.uniform(3, 30 * 60))
            self.track(opened, contact, "email_opened", rep, deal, message_id=message_id)
            if self.chance(CLICKED):
                clicked = opened + timedelta(minutes=self.rng.uniform(0.5, 10))
                link = SITE + self.rng.choice(PAGES)[0]
                self.track(clicked, contact, "email_clicked", rep, deal, message_id=message_id, link=link)

    def call(self, at: datetime, contact: Contact, rep: UUID, deal: UUID | None, notes: str | None,
             minutes: tuple[int, int] = (5, 25), direction: str = "outbound") -> None:
        seconds = int(self.rng.uniform(*minutes) * 60)
        self.log(at, contact, "call", rep, deal, direction=direction, duration_seconds=seconds, outcome="connected",
                 notes=notes)

    def unanswered_call(self, at: datetime, contact: Contact, rep: UUID, deal: UUID | None) -> None:
        self.log(at, contact, "call", rep, deal, direction="outbound", duration_seconds=0, outcome="no_answer")
        self.log(at + timedelta(minutes=1), contact, "voicemail", rep, deal, duration_seconds=self.rng.randint(15, 50),
                 notes="Left a message asking them to call back.")

    # --- the contacts' own life -------------------------------------------------------

    def bounces(self) -> None:
        """Welcome e-mails to a few new contacts (preferably ones in no deal) bounce
        hard; the first one's address is corrected a few weeks later."""
        in_deals = {c.id for life in self.s.lives for c in life.contacts}
        new = [c for c in self.s.contacts if not c.company.customer and not c.decision_maker
               and c.registered_at < self.latest - timedelta(days=60)]
        pool = [c for c in new if c.id not in in_deals] or new
        for k, contact in enumerate(self.rng.sample(pool, min(BOUNCES, len(pool)))):
            rep = contact.company.owner_id
            sent = contact.registered_at + timedelta(hours=self.rng.uniform(2, 20))
            self.log(sent, contact, "email_sent", rep, subject=self.rng.choice(WELCOME_SUBJECTS),
                     message_id=self.message_id())
            bounced = sent + timedelta(minutes=2)
            self.log(bounced, contact, "email_bounced", rep, message_id=None, bounce="hard", reason=BOUNCE_REASON)
            corrected = self.latest + timedelta(seconds=1)
            if k == 0:  # the rep found the right address
                corrected = (bounced + timedelta(days=self.rng.uniform(10, 30))).replace(microsecond=0)
                self.corrected_email(contact, corrected, rep)
            self.no_email[contact.id] = (sent, corrected)

    def corrected_email(self, contact: Contact, at: datetime, rep: UUID) -> None:
        domain = contact.email.partition("@")[2]
        email, n = f"{slug(contact.first_name)[0]}.{slug(contact.last_name)}@{domain}", 1
        while email in self.s.emails:
            n += 1
            email = f"{slug(contact.first_name)[0]}.{slug(contact.last_name)}{n}@{domain}"
        self.s.emails.add(email)
        contact.email = email
        self.s.add(at, change_contact, ChangeContact(contact.id, {"email": email}, occurred_at=at))
        self.log(at + timedelta(minutes=5), contact, "note", rep,
                 text="Welcome e-mail bounced: got the right address by phone.")

    def contact_life(self, contact: Contact) -> None:
        """A note when they came in, a welcome e-mail, the account managers' check-ins with
        customers, and a few odd touches over the year."""
        rep, start = contact.company.owner_id, contact.registered_at
        imported = contact.company.customer and contact.decision_maker
        if not imported and self.chance(0.6):
            self.log(start + timedelta(minutes=self.rng.uniform(5, 90)), contact, "note", rep,
                     text=FIRST_NOTES[contact.source])
        if not imported and contact.id not in self.no_email and self.chance(0.7):
            self.email(start + timedelta(hours=self.rng.uniform(2, 48)), contact, rep, None,
                       self.rng.choice(WELCOME_SUBJECTS))
        if contact.company.customer and (contact.decision_maker or self.chance(0.4)):
            at = start + timedelta(days=self.rng.uniform(10, 40))
            while at < self.latest:
                self.check_in(at, contact, rep)
                at += timedelta(days=self.rng.uniform(*CHECK_IN_EVERY))
        for _ in range(self.rng.choice([0, 1, 1, 2, 3])):
            self.odd_touch(self.between(start, self.latest), contact, rep)

    def check_in(self, at: datetime, contact: Contact, rep: UUID) -> None:
        kind = self.rng.choice(["call", "call", "visit", "meeting_held"])
        if kind == "call":
            self.call(at, contact, rep, None, "Quarterly check-in: happy with the service.", (10, 25))
        elif kind == "visit":
            self.log(at, contact, "visit", rep, duration_minutes=self.rng.choice([60, 90, 120]),
                     notes="Visited their office: usage review and new needs.")
        elif self.chance(0.15):
            self.log(at, contact, "meeting_missed", rep, mode="video", notes="They did not join; rebooked.")
        else:
            self.log(at, contact, "meeting_held", rep, mode="video", duration_minutes=self.rng.choice([30, 45]),
                     notes="Check-in meeting: usage and roadmap.")

    def odd_touch(self, at: datetime, contact: Contact, rep: UUID) -> None:
        kind = self.rng.choice(["inbound", "question", "sms", "no_answer", "missed", "note"])
        if kind == "inbound":
            self.call(at, contact, rep, None, self.rng.choice(INBOUND_CALL_NOTES), (3, 15), "inbound")
        elif kind == "question" and self.may_email(contact, at):
            self.log(at, contact, "email_received", rep, subject=self.rng.choice(QUESTIONS), message_id=self.message_id())
        elif kind == "sms":
            self.log(at, contact, "sms_sent", rep, text=self.rng.choice(SMS_TEXTS))
        elif kind == "no_answer":
            self.unanswered_call(at, contact, rep, None)
        elif kind == "missed":
            self.log(at, contact, "meeting_missed", rep, mode="phone", notes="Did not pick up at the agreed time.")
        else:
            self.log(at, contact, "note", rep, text=self.rng.choice(LATER_NOTES))

    def page_visits(self, contact: Contact) -> None:
        """Visits to the website: a few pages minutes apart, and return visits days later
        (no rep did anything: the feed names none)."""
        if not self.chance(0.8 if contact.source in WEB_SOURCES else 0.35):
            return
        visitor = f"v-{self.rng.getrandbits(40):010x}"
        at = contact.registered_at + timedelta(hours=self.rng.uniform(1, 20 * 24))
        for _ in range(self.rng.choice([1, 2, 2, 3, 4])):
            session, referrer = f"s-{self.rng.getrandbits(48):012x}", self.weighted_referrer()
            pages = self.rng.sample(PAGES, self.rng.randint(2, 5))
            for i, (path, title) in enumerate(pages):
                gap = timedelta(seconds=self.rng.randint(40, 360))
                seconds = int(gap.total_seconds()) if i < len(pages) - 1 else None  # the last page's time is unknown
                self.track(at, contact, "page_visited", None, url=SITE + path, title=title,
                           seconds_on_page=seconds, referrer=referrer, visitor_id=visitor, session_id=session)
                referrer, at = SITE + path, at + gap
            at += timedelta(days=self.rng.uniform(2, 25))  # the return visit

    def weighted_referrer(self) -> str | None:
        values, weights = zip(*REFERRERS)
        return self.rng.choices(values, weights)[0]

    # --- the work on each deal --------------------------------------------------------

    def segments(self, life: DealLife) -> Iterator[_Segment]:
        """The deal's stretches while open: from a step (or the opening) to the next."""
        stage, start, owner, is_open, taken_over = life.opens_in, life.opened, life.owner, True, False
        for at, what, argument, owner_after in life.steps:
            if what == "discount":
                continue
            if is_open and what in ("move", "win", "lose", "hand-over"):
                yield _Segment(life, stage, start, at, owner, what, argument, taken_over)
            if what == "move":
                stage = argument
            elif what in ("win", "lose"):
                is_open = False
            elif what == "reopen":
                is_open, stage = True, argument or stage
            start, owner, taken_over = at, owner_after, what == "hand-over"
        if is_open:
            yield _Segment(life, stage, start, self.latest, owner, "now", "", taken_over)

    def deal_work(self, s: _Segment) -> None:
        """What the owner does in a stage, then what closes it."""
        contact, rep, deal = self.rng.choice(s.life.contacts), s.owner, s.life.id

        def at(f: float) -> datetime:
            return self.between(s.start, s.end, f)

        if s.taken_over:
            previous = self.rep_names.get(self.previous_owner(s), "the previous owner")
            self.log(at(0.2), contact, "note", rep, deal, text=f"Took the deal over from {previous}; introduced myself.")
        else:
            self.stage_work(s, contact, rep, deal, at)
        if s.ends_with == "win":
            subject = "Signed renewal" if s.life.pipeline == RENEWALS else "Signed contract attached"
            if self.may_email(contact, at(0.95)):
                self.log(at(0.95), contact, "email_received", rep, deal, subject=subject, message_id=self.message_id())
        elif s.ends_with == "lose":
            self.call(at(0.95), contact, rep, deal, f"They told us: {s.argument.lower()}.", (5, 15))

    def stage_work(self, s: _Segment, contact: Contact, rep: UUID, deal: UUID,
                   at: Callable[[float], datetime]) -> None:
        product = s.life.title.partition(" — ")[2]
        match s.stage:
            case "Contact":
                self.email(at(0.2), contact, rep, deal, f"Introduction: {product}")
                if self.chance(0.5):
                    self.unanswered_call(at(0.6), contact, rep, deal)
            case "Qualification":
                self.call(at(0.4), contact, rep, deal, "Discovery call: team size, current tools, timing.", (15, 40))
            case "Demo":
                if self.chance(0.25):
                    self.log(at(0.3), contact, "meeting_missed", rep, deal, mode="video",
                             notes="No-show for the demo; rebooked.")
                self.log(at(0.6), contact, "demo", rep, deal, duration_minutes=self.rng.choice([45, 60, 75]),
                         notes="Demo of the pipeline and reporting modules.")
            case "Proposal" | "Offer sent":
                sent = at(0.3)
                self.email(sent, contact, rep, deal, f"Our proposal: {product}")
                self.quotes += 1
                quote = f"Q-{sent.year}-{self.quotes:04d}"
                for _ in range(self.rng.randint(1, 3)):
                    self.track(sent + timedelta(hours=self.rng.uniform(0.2, 72)), contact, "quote_opened", rep, deal,
                               quote_id=quote)
            case "Negotiation":
                if self.may_email(contact, at(0.3)):
                    self.log(at(0.3), contact, "email_received", rep, deal, subject=f"Re: Our proposal: {product}",
                             message_id=self.message_id())
                self.log(at(0.6), contact, "meeting_held", rep, deal, mode=self.rng.choice(["on_site", "video"]),
                         duration_minutes=self.rng.choice([45, 60, 90]), notes="Went through the terms and the discount.")
            case "Signature":
                self.email(at(0.3), contact, rep, deal, "Contract for signature")
                if self.chance(0.5):
                    self.log(at(0.7), contact, "sms_sent", rep, deal,
                             text="The contract is in your inbox; any question, call me.")
            case "Renewal due":
                self.email(at(0.3), contact, rep, deal, f"Your renewal: {product}")
            case "Account review":
                self.log(at(0.5), contact, "visit", rep, deal, duration_minutes=self.rng.choice([60, 90, 120]),
                         notes="Account review on site: usage, seats, new needs.")
            case "Awaiting signature":
                self.call(at(0.5), contact, rep, deal, "Reminder: the signed renewal is with their finance team.")

    def previous_owner(self, s: _Segment) -> UUID:
        """Who owned the deal before the hand-over that starts ``s``."""
        return ([s.life.owner] + [owner for at, _, _, owner in s.life.steps if at < s.start])[-1]

    # --- the tracking feed ------------------------------------------------------------

    def tracking_feed(self) -> None:
        """The feed's items, one batch a week, sent at the week's end (all before now)."""
        weeks: dict[int, list[tuple[datetime, UUID, InteractionSpec]]] = defaultdict(list)
        last_sent = self.latest + (self.s.now - self.latest) / 2
        for item in self.feed:
            weeks[int((last_sent - item[0]) / FEED_EVERY)].append(item)
        for week in sorted(weeks, reverse=True):
            items = sorted(weeks[week], key=lambda item: item[0])
            batch = [BatchItem(i, spec, contact_id, None, at, f"feed-{self.rng.getrandbits(64):016x}")
                     for i, (at, contact_id, spec) in enumerate(items)]
            sent = last_sent - week * FEED_EVERY
            self.s.add(sent, record_batch, RecordBatch(batch), "interactions", amount=len(batch))

    # --- the agendas ------------------------------------------------------------------

    def agendas(self) -> None:
        """Planned now: each open deal's next step, the account managers' check-ins, the
        managers' reviews; some earlier tasks done, one moved, one cancelled."""
        turn = 0
        for life in self.s.lives:
            current = [s for s in self.segments(life) if s.ends_with == "now"]
            if not current:
                continue
            s = current[0]
            kind, title, minutes = NEXT_STEPS[s.stage]
            contact = s.life.contacts[0]
            title = f"{title} — {contact.company.name}"
            if turn % 3 == 0:  # the step before it, done
                done = self.task(kind, title, self.due("past"), s.owner, contact, life.id, minutes)
                self.s.add(self.s.now, complete_task, CompleteTask(done, self.rng.choice(DONE_OUTCOMES)))
            self.task(kind, title, self.due(WHEN[turn % len(WHEN)]), s.owner, contact, life.id, minutes)
            turn += 1
        customers = [c for c in self.s.contacts if c.company.customer and c.decision_maker]
        for k, contact in enumerate(customers):
            when = WHEN[(k + 1) % len(WHEN)]
            task = self.task("customer_visit", f"Check-in visit — {contact.company.name}", self.due(when),
                             contact.company.owner_id, contact, None, 60, "Bring the usage report.")
            if k == 0:  # the customer asked to postpone: a week later
                self.s.add(self.s.now, reschedule_task, RescheduleTask(task, self.due("later") + timedelta(days=7)))
            elif k == 1:  # the customer cancelled
                self.s.add(self.s.now, cancel_task, CancelTask(task))
        for team, manager_id in self.s.managers.items():
            self.task("task", f"Weekly pipeline review — {team}", self.due("tomorrow"), manager_id, None, None, 60)

    def task(self, kind: str, title: str, due: datetime, owner: UUID, contact: Contact | None, deal: UUID | None,
             minutes: int | None, notes: str | None = None) -> UUID:
        task_id = self.s.new_id()
        plan = TaskPlan(kind, title, due, minutes, contact.id if contact else None, deal, notes)
        self.s.add(self.s.now, plan_task, PlanTask(plan, owner), "tasks", task_id)
        return task_id

    def due(self, when: str) -> datetime:
        """A due time in business hours: on a past day (overdue), earlier (past), later
        today, tomorrow, or within two weeks."""
        now = self.s.now
        if when == "today":
            return self.later_today()
        days = {"overdue": -self.rng.randint(1, 6), "past": -self.rng.randint(0, 2), "tomorrow": 1,
                "later": self.rng.randint(2, 14)}[when]
        hour, minute = self.rng.randint(*BUSINESS_HOURS), self.rng.choice([0, 15, 30, 45])
        due = datetime.combine(now.date() + timedelta(days=days), time(hour, minute), tzinfo=now.tzinfo)
        while when == "past" and due > now - timedelta(minutes=30):  # done already: it was due before now
            due -= timedelta(days=1)
        return due

    def later_today(self) -> datetime:
        """A quarter hour left today (in business hours if any are left), else the next one."""
        now = self.s.now
        first = (now + timedelta(minutes=30)).replace(second=0, microsecond=0)
        first += timedelta(minutes=-first.minute % 15)
        slots = []
        while first.date() == now.date():
            slots.append(first)
            first += timedelta(minutes=15)
        working = [t for t in slots if BUSINESS_HOURS[0] <= t.hour < BUSINESS_HOURS[1]]
        return self.rng.choice(working or slots or [first])
