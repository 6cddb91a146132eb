"""Lead scoring and the hand-over to a rep (F18).

Points per page visited (patterns of its host and path: the address itself is sealed),
per behaviour (an e-mail opened or clicked, a quote opened, a return visit) and per
profile field (once, when the field takes the value); each change is a
``LeadScoreChanged`` on the contact's ``LeadScore`` saying which rule, how many points,
and which event caused it. Scores may decay: the loss since the last change is
recorded, lazily, when the next scoring event comes (dated by that event, never by a
clock read).

The first time the score reaches the threshold the lead is handed over, in the same
reaction: its owner if it has one (no reassignment), else the rep who owns its company
(the rep owning most of the company's other contacts), else the next rep of a team in
turn — the contact's owner changes, a "call this lead" task goes in the rep's agenda,
and ``LeadHandedToRep`` says to whom and how. Below the threshold nothing more is done
(nurturing is another policy's). Engagement may also move a customer up a tier (tags).
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Literal
from uuid import UUID

from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator

from crm_es.aggregates import contact as contacts
from crm_es.aggregates import lead_score as leads
from crm_es.aggregates import task as tasks
from crm_es.aggregates.activity_types import ACTIVITY_TYPES_ID, ActivityTypes
from crm_es.aggregates.activity_types import current as current_types
from crm_es.aggregates.base import Aggregate, Event, InvalidInput, Meta
from crm_es.aggregates.company import Company
from crm_es.aggregates.contact import Contact
from crm_es.aggregates.interactions import EmailClicked, EmailOpened, PageVisited, QuoteOpened
from crm_es.aggregates.lead_score import LeadScore, RoundRobin, lead_score_id, round_robin_id
from crm_es.aggregates.rep import Rep
from crm_es.aggregates.team import Team
from crm_es.policies.base import NOTHING, Loader, Policy, PolicyContext, PolicySettingsModel, Reaction, cause_of, task_for
from crm_es.queries import automations

Points = int
PROFILE_FIELDS = ("job_title", "city", "source", "status", "lifecycle", "tags", "company.sector")
Value = str | int | float | bool


class PageRule(PolicySettingsModel):
    match: Literal["glob", "regex"] = "glob"  # before ``pattern``: its check depends on it
    pattern: str = Field(min_length=1, max_length=500,
                         description="matched against the page's host and path (`acme.example/pricing`: no scheme, "
                                     "query string or fragment), ignoring case")
    points: Points = Field(ge=-1000, le=1000)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str, info: ValidationInfo) -> str:
        if info.data.get("match") == "regex":
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"not a regular expression: {error}") from None
        return pattern

    def matches(self, page: str) -> bool:
        compiled = _compiled(self.match, self.pattern)
        if self.match == "regex":
            return compiled.search(page) is not None
        return compiled.match(page.lower()) is not None


# A contact's lead score id, worked out once (a uuid5: twice per reaction otherwise).
_lead_of = functools.lru_cache(maxsize=65_536)(lead_score_id)


@functools.lru_cache(maxsize=1024)
def _compiled(match: str, pattern: str) -> re.Pattern[str]:
    """A rule's pattern compiled once: ``re.search`` looks it up in its own cache at every
    page, which costs more than the match (its flags are an enum, slow to read)."""
    if match == "regex":
        return re.compile(pattern, re.IGNORECASE)
    return re.compile(fnmatch.translate(pattern.lower()))


class Behaviours(PolicySettingsModel):
    email_opened: Points = Field(1, ge=-1000, le=1000)
    email_clicked: Points = Field(5, ge=-1000, le=1000)
    quote_opened: Points = Field(15, ge=-1000, le=1000)
    return_visit: Points = Field(3, ge=-1000, le=1000)  # a page visit starting a new session, not the first


class ProfileRule(PolicySettingsModel):
    """``field`` equals a value, or is one of (``in``); for ``tags``: the contact has it.
    Strings compare ignoring case."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True, serialize_by_alias=True)

    field: str = Field(description=f"one of {', '.join(PROFILE_FIELDS)}, or properties.<name>")
    equals: Value | None = None
    one_of: list[Value] | None = Field(None, alias="in", min_length=1, max_length=100)
    points: Points = Field(ge=-1000, le=1000)

    @field_validator("field")
    @classmethod
    def _known(cls, name: str) -> str:
        if name not in PROFILE_FIELDS and not (name.startswith("properties.") and len(name) > len("properties.")):
            raise ValueError(f"unknown profile field {name!r} (known: {', '.join(PROFILE_FIELDS)}, properties.<name>)")
        return name

    @model_validator(mode="after")
    def _one_condition(self) -> ProfileRule:
        if (self.equals is None) == (self.one_of is None):
            raise ValueError("give exactly one of equals or in")
        return self

    @property
    def name(self) -> str:
        """The rule as events name it: what it looks for, so each applies once per contact."""
        if self.one_of is not None:
            return f"{self.field} in [{', '.join(str(v) for v in self.one_of)}]"
        return f"{self.field}={self.equals}"

    def matches(self, value: Any) -> bool:
        wanted = [self.equals] if self.one_of is None else self.one_of
        wanted_keys = {_key(v) for v in wanted}
        if isinstance(value, (tuple, list)):  # tags: the contact has one of them
            return any(_key(v) in wanted_keys for v in value)
        return value is not None and _key(value) in wanted_keys


def _key(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


class Decay(PolicySettingsModel):
    """Points lost with time since the last change: so many a day, or half of them every
    ``half_life_days``."""

    points_per_day: float | None = Field(None, gt=0, le=1000)
    half_life_days: float | None = Field(None, gt=0, le=3650)

    @model_validator(mode="after")
    def _one_way(self) -> Decay:
        if (self.points_per_day is None) == (self.half_life_days is None):
            raise ValueError("give exactly one of points_per_day or half_life_days")
        return self

    @property
    def name(self) -> str:
        return f"points_per_day={self.points_per_day}" if self.points_per_day else f"half_life_days={self.half_life_days}"


class HandOver(PolicySettingsModel):
    team_id: UUID | None = Field(None, description="round-robin among this team's reps (none: among every rep)")
    task_type: str = Field("call", min_length=1, max_length=60)
    task_title: str = Field("Call this lead", min_length=1, max_length=200)
    due_after_hours: float = Field(4, ge=0, le=24 * 365)


class Tier(PolicySettingsModel):
    """A customer tagged ``from_tag`` whose score reaches ``min_score`` is tagged ``to_tag`` instead."""

    from_tag: str = Field(min_length=1, max_length=100)
    to_tag: str = Field(min_length=1, max_length=100)
    min_score: Points = Field(ge=0)


def _default_pages() -> list[PageRule]:
    return [PageRule(pattern="*/pricing*", points=10), PageRule(pattern="*/demo*", points=10),
            PageRule(pattern="*", points=1)]


class LeadScoring(Policy):
    name = "lead-scoring"
    description = ("Scores leads by pages, behaviours and profile; above the threshold, hands them to a rep "
                   "with a task to call.")
    reacts_to = (PageVisited, EmailOpened, EmailClicked, QuoteOpened, Contact.Registered, Contact.DetailsChanged,
                 Contact.StatusChanged, Contact.LifecycleChanged)

    class Settings(PolicySettingsModel):
        pages: list[PageRule] = Field(default_factory=_default_pages, max_length=200,
                                      description="the first pattern matching a visited page (host and path) "
                                                  "gives its points")
        behaviours: Behaviours = Field(default_factory=Behaviours)
        profile: list[ProfileRule] = Field(default_factory=list, max_length=200)
        threshold: Points = Field(50, ge=0)
        decay: Decay | None = None
        hand_over: HandOver = Field(default_factory=HandOver)
        tiers: list[Tier] = Field(default_factory=list, max_length=50)

    def check(self, settings: Settings, load: Loader) -> None:
        team_id = settings.hand_over.team_id
        if team_id is not None and load(Team, team_id) is None:
            raise InvalidInput("settings.hand_over.team_id", f"team {team_id} does not exist")
        if current_types(load(ActivityTypes, ACTIVITY_TYPES_ID)).named(settings.hand_over.task_type) is None:
            raise InvalidInput("settings.hand_over.task_type", f"unknown activity type {settings.hand_over.task_type!r}")

    def prefetch(self, events: Sequence[Event]) -> list[tuple[type[Aggregate], Any]]:
        contacts_ids = list(dict.fromkeys(e.originator_id for e in events))
        return [*((Contact, i) for i in contacts_ids), *((LeadScore, _lead_of(i)) for i in contacts_ids)]

    def react(self, event: Event, ctx: PolicyContext) -> Reaction:
        contact = ctx.load(Contact, event.originator_id)
        if contact is None or contact.forgotten:
            return NOTHING
        settings: LeadScoring.Settings = ctx.settings
        lead = ctx.load(LeadScore, _lead_of(contact.id)) or leads.new_lead(contact.id)
        gains = self._gains(event, contact, lead, settings, ctx)
        events: list[Event] = []
        if gains:
            # Decay is owed from the last change to this event, recorded before what it brings.
            decay = settings.decay
            lost = leads.decayed(lead, event.occurred_at, decay.points_per_day, decay.half_life_days) if decay else 0
            if lost and decay is not None:
                gains.insert(0, (-lost, "decay", decay.name))
            meta = ctx.meta(event.occurred_at)  # the score moved when the person did this
            for points, reason, rule in gains:
                new = leads.score(lead, points, reason, rule, cause_of(event), meta)
                events += new
                lead = _fold(lead, new)
        return Reaction(events) + self._consequences(event, contact, lead, settings, ctx)

    # --- points -------------------------------------------------------------------------

    def _gains(self, event: Event, contact: Contact, lead: LeadScore, settings: Settings,
               ctx: PolicyContext) -> list[tuple[int, str, str]]:
        """What this event brings: (points, reason, rule) of each rule that applies."""
        gains: list[tuple[int, str, str]] = []
        behaviours = settings.behaviours
        match event:
            case PageVisited():
                # The clear part of the address (the address itself is sealed: its query string
                # may name the person), so a rule never reads what forgetting erases.
                page = next((p for p in settings.pages if p.matches(event.page)), None)
                if page is not None:  # named by its pattern, not by the page
                    gains.append((page.points, "page", page.pattern))
                if event.new_session and behaviours.return_visit and _visited_before(event, ctx):
                    gains.append((behaviours.return_visit, "behaviour", "return_visit"))
            case EmailOpened():
                gains.append((behaviours.email_opened, "behaviour", "email_opened"))
            case EmailClicked():
                gains.append((behaviours.email_clicked, "behaviour", "email_clicked"))
            case QuoteOpened():
                gains.append((behaviours.quote_opened, "behaviour", "quote_opened"))
        # Profile rules apply once, the first time a scoring event finds the field with the value.
        applied = set(lead.applied)
        for rule in settings.profile:
            if rule.name not in applied and rule.matches(_profile_value(contact, rule.field, ctx)):
                gains.append((rule.points, "profile", rule.name))
                applied.add(rule.name)
        return [g for g in gains if g[0] != 0]

    # --- hand-over and tiers ---------------------------------------------------------------

    def _consequences(self, event: Event, contact: Contact, lead: LeadScore, settings: Settings,
                      ctx: PolicyContext) -> Reaction:
        if lead.version == 0:
            return NOTHING  # never scored
        # Acts now, on the contact as it is: never dated before its last change.
        now = ctx.now if contact.changed_at is None or ctx.now >= contact.changed_at else contact.changed_at
        meta = ctx.meta(now)
        events: list[Event] = []
        owner, owner_given = contact.owner_id, False
        if lead.handed_to is None and lead.score >= settings.threshold:
            chosen = self._rep_for(contact, settings, ctx, meta)
            if chosen is not None:
                rep_id, how, turned = chosen
                events += leads.hand_over(lead, rep_id, how, meta)
                events += turned
                if rep_id != contact.owner_id:
                    owner, owner_given = rep_id, True
                events += self._call_task(event, contact.id, rep_id, settings.hand_over, meta, ctx)
        tags = _tiered(contact.details.tags, lead.score, settings.tiers)
        details = {"tags": tags} if tags != contact.details.tags else {}
        if details or owner_given:
            events += contacts.change(contact, details, None, owner, owner_given, meta)
        return Reaction(events)

    def _rep_for(self, contact: Contact, settings: Settings, ctx: PolicyContext,
                 meta: Meta) -> tuple[UUID, str, list[Event]] | None:
        """The rep the lead goes to, how they were chosen, and the round-robin's turn (if taken).
        Only an active rep: the lead of a deactivated owner goes on to the next way of choosing."""
        if contact.owner_id is not None:
            owner = ctx.load(Rep, contact.owner_id)
            if owner is None or owner.active:
                return contact.owner_id, leads.OWNER, []
        team_id = settings.hand_over.team_id
        with ctx.cursor() as cur:
            if contact.details.company_id is not None:
                company_owner = automations.company_owner(cur, contact.details.company_id, contact.id)
                if company_owner is not None:
                    return company_owner, leads.COMPANY_OWNER, []
            reps = automations.active_reps(cur, team_id)
        pointer = ctx.load(RoundRobin, round_robin_id(team_id))
        rep_id = leads.next_rep(pointer, reps)
        if rep_id is None:
            return None  # nobody to hand it to: tried again at the next scoring event
        return rep_id, leads.ROUND_ROBIN, leads.turn(pointer, team_id, rep_id, meta)

    def _call_task(self, event: Event, contact_id: UUID, rep_id: UUID, hand_over: HandOver, meta: Meta,
                   ctx: PolicyContext) -> list[Event]:
        plan = tasks.TaskPlan(hand_over.task_type, hand_over.task_title,
                              meta.occurred_at + timedelta(hours=hand_over.due_after_hours), contact_id=contact_id)
        known = {t.name for t in current_types(ctx.load(ActivityTypes, ACTIVITY_TYPES_ID)).types}
        return tasks.plan(task_for(event, self.name), plan, rep_id, known, meta)



def _fold(lead: LeadScore, events: list[Event]) -> LeadScore:
    for e in events:
        lead = LeadScore.evolve(lead, e)
    return lead


def _visited_before(event: PageVisited, ctx: PolicyContext) -> bool:
    """A return visit: the contact had visited a page before this one (its earlier versions).
    Asked once for the new sessions of the whole batch: their contacts' first visits, on the
    read side before the batch or in the batch itself (not waiting for it to be projected)."""
    first = ctx.memo.get("first-page-visits")
    if first is None:
        visits = [e for e in ctx.batch if isinstance(e, PageVisited)]
        contact_ids = {e.originator_id for e in visits if e.new_session}
        with ctx.cursor_before_batch() as cur:
            first = automations.first_page_visits(cur, contact_ids)
        for visit in visits:
            if visit.originator_id in contact_ids:
                first[visit.originator_id] = min(first.get(visit.originator_id, visit.originator_version),
                                                 visit.originator_version)
        ctx.memo["first-page-visits"] = first
    version = first.get(event.originator_id)
    return version is not None and version < event.originator_version


def _profile_value(contact: Contact, field: str, ctx: PolicyContext) -> Any:
    if field == "company.sector":
        company = ctx.load(Company, contact.details.company_id)
        return company.details.sector if company is not None else None
    if field == "status":
        return contact.status
    if field == "lifecycle":
        return contact.lifecycle
    if field.startswith("properties."):
        return (contact.details.properties or {}).get(field.removeprefix("properties."))
    return getattr(contact.details, field)


def _tiered(tags: tuple[str, ...], score: int, tiers: list[Tier]) -> tuple[str, ...]:
    """The tags after every tier the score has reached: ``from_tag`` becomes ``to_tag``."""
    for tier in tiers:
        if score >= tier.min_score and tier.from_tag in tags:
            tags = tuple(dict.fromkeys(tier.to_tag if t == tier.from_tag else t for t in tags))
    return tags
