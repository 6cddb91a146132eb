"""Command handlers through ``execute`` on SQLite AND PostgreSQL: retries answered once,
stale versions refused, uniqueness held, references checked, races decided."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from crm_es.aggregates import Contact, Deal, Pipeline
from crm_es.aggregates.base import NotFound, RuleViolated
from crm_es.aggregates.company import CompanyDetails
from crm_es.aggregates.contact import ContactDetails
from crm_es.aggregates.deal import DealDetails
from crm_es.aggregates.pipeline import StageSpec
from crm_es.bootstrap import Services
from crm_es.clock import Clock
from crm_es.commands import CommandContext, CommandResult, PreconditionFailed, execute
from crm_es.commands.context import IdempotencyKeyReused
from crm_es.entrypoints.http.statuses import status_of
from crm_es.store.event_store import IntegrityError
from crm_es.commands.deals import ChangeDeal, LoseDeal, MoveDeal, OpenDeal, WinDeal, change_deal, lose_deal, move_deal, open_deal, win_deal
from crm_es.commands.people import AddRep, add_rep
from crm_es.commands.pipelines import CreatePipeline, RevisePipeline, create_pipeline, revise_pipeline
from crm_es.commands.records import (
    ChangeContact,
    RegisterCompany,
    RegisterContact,
    change_contact,
    register_company,
    register_contact,
)

Handler = Callable[[Any, CommandContext], CommandResult]


@dataclass
class Crm:
    services: Services
    rep: UUID
    pipeline: UUID
    company: UUID
    deal: UUID  # open, in Lead

    def run(self, handler: Handler, command: Any, **ctx: Any) -> CommandResult:
        return execute(handler, command, self.services.context(**ctx))

    def open_deal(self, stage: str = "Lead", **details: Any) -> CommandResult:
        return self.run(open_deal, OpenDeal(DealDetails("Deal", **details), self.pipeline, stage, Decimal("100.00"), "EUR", self.rep))

    def register(self, email: str, **ctx: Any) -> CommandResult:
        return self.run(register_contact, RegisterContact(ContactDetails("Ada", "Lovelace", email)), **ctx)

    def deal_state(self, deal_id: UUID | None = None) -> Deal:
        deal = self.services.store.load(Deal, deal_id or self.deal)
        assert deal is not None
        return deal

    def stage_ids(self) -> dict[str, UUID]:
        pipeline = self.services.store.load(Pipeline, self.pipeline)
        assert pipeline is not None
        return {s.name: s.id for s in pipeline.stages}


@pytest.fixture
def crm(services: Services) -> Crm:
    def run(handler: Handler, command: Any) -> CommandResult:
        return execute(handler, command, services.context())

    rep = run(add_rep, AddRep("Alice", "alice@crm.test")).id
    stages = [StageSpec("Lead", Decimal("0.1")), StageSpec("Qualified", Decimal("0.3")), StageSpec("Proposal", Decimal("0.6"))]
    pipeline = run(create_pipeline, CreatePipeline("Sales", stages)).id
    company = run(register_company, RegisterCompany(CompanyDetails("Acme"))).id
    crm = Crm(services, rep, pipeline, company, uuid4())
    crm.deal = crm.open_deal().id
    return crm


class WritesNothing:
    """Asserts that the block wrote nothing to the log."""

    def __init__(self, services: Services) -> None:
        self.store = services.store

    def __enter__(self) -> None:
        self.before = self.store.max_position()

    def __exit__(self, *exc: object) -> None:
        assert self.store.max_position() == self.before


# --- idempotency ---------------------------------------------------------------------------


def test_a_retried_command_returns_the_first_answer_and_writes_nothing(crm: Crm, services: Services) -> None:
    key = {"actor": "rep:alice", "idempotency_key": "k-1", "fingerprint": "POST /companies {\"name\":\"Initech\"}"}
    first = crm.run(register_company, RegisterCompany(CompanyDetails("Initech")), **key)

    with WritesNothing(services):
        again = crm.run(register_company, RegisterCompany(CompanyDetails("Initech")), **key)

    assert (first.replayed, again.replayed) == (False, True)
    assert (again.id, again.version, again.position, again.status) == (first.id, first.version, first.position, 201)
    assert again.body() == first.body()


def test_a_retried_move_is_not_applied_twice(crm: Crm, services: Services) -> None:
    key = {"idempotency_key": "move-1", "fingerprint": "POST /deals/x/move Qualified"}
    first = crm.run(move_deal, MoveDeal(crm.deal, "Qualified"), **key)
    crm.run(move_deal, MoveDeal(crm.deal, "Proposal"))  # someone else moves it on

    again = crm.run(move_deal, MoveDeal(crm.deal, "Qualified"), **key)

    assert again.replayed and (again.version, again.position) == (first.version, first.position)
    assert crm.deal_state().stage_id == crm.stage_ids()["Proposal"]  # the retry did not move it back


def test_a_retried_command_that_changed_nothing_returns_the_first_answer(crm: Crm, services: Services) -> None:
    key = {"idempotency_key": "noop-1", "fingerprint": "POST /deals/x/move Lead"}
    first = crm.run(move_deal, MoveDeal(crm.deal, "Lead"), **key)  # already in Lead: nothing to record
    crm.run(move_deal, MoveDeal(crm.deal, "Proposal"))

    again = crm.run(move_deal, MoveDeal(crm.deal, "Lead"), **key)

    assert again.replayed and again.version == first.version
    assert crm.deal_state().stage_id == crm.stage_ids()["Proposal"]


def test_the_same_key_with_another_request_is_refused_and_writes_nothing(crm: Crm, services: Services) -> None:
    crm.run(register_company, RegisterCompany(CompanyDetails("Initech")), idempotency_key="k-1", fingerprint="body-1")

    with WritesNothing(services), pytest.raises(IdempotencyKeyReused) as error:
        crm.run(register_company, RegisterCompany(CompanyDetails("Globex")), idempotency_key="k-1", fingerprint="body-2")

    assert status_of(error.value) == 422
    assert error.value.extra["field"] == "Idempotency-Key"


def test_a_key_belongs_to_the_actor_that_used_it(crm: Crm, services: Services) -> None:
    alice = crm.run(register_company, RegisterCompany(CompanyDetails("A")), actor="rep:alice", idempotency_key="k", fingerprint="a")
    bob = crm.run(register_company, RegisterCompany(CompanyDetails("B")), actor="rep:bob", idempotency_key="k", fingerprint="b")

    assert not bob.replayed
    assert bob.id != alice.id
    assert bob.position > alice.position


# --- If-Match --------------------------------------------------------------------------------


def test_a_stale_expected_version_is_refused_with_the_current_version(crm: Crm, services: Services) -> None:
    crm.run(move_deal, MoveDeal(crm.deal, "Qualified"))  # version 2

    with WritesNothing(services), pytest.raises(PreconditionFailed) as error:
        crm.run(move_deal, MoveDeal(crm.deal, "Proposal"), expected_version=1)

    assert status_of(error.value) == 412
    assert error.value.rule == "version-mismatch"
    assert error.value.extra["current_version"] == 2
    assert crm.deal_state().version == 2


def test_the_current_expected_version_is_accepted(crm: Crm) -> None:
    result = crm.run(move_deal, MoveDeal(crm.deal, "Proposal"), expected_version=1)

    assert result.version == 2
    assert crm.deal_state().stage_id == crm.stage_ids()["Proposal"]


# --- e-mail uniqueness -------------------------------------------------------------------


def test_an_email_cannot_be_registered_twice_whatever_its_case(crm: Crm, services: Services) -> None:
    first = crm.register("Ada@Example.com")

    with WritesNothing(services), pytest.raises(RuleViolated) as error:
        crm.register("  ada@EXAMPLE.com ")

    assert error.value.rule == "email-already-registered"
    assert status_of(error.value) == 409
    assert error.value.extra["existing_id"] == str(first.id)


def test_changing_a_contacts_email_releases_the_old_one(crm: Crm, services: Services) -> None:
    ada = crm.register("ada@example.com")

    crm.run(change_contact, ChangeContact(ada.id, {"email": "ada@lovelace.org"}))

    other = crm.register("ADA@example.com")  # the old address is free again
    assert other.status == 201
    with pytest.raises(RuleViolated) as error:
        crm.register("ada@Lovelace.org")  # the new one is held
    assert error.value.extra["existing_id"] == str(ada.id)
    contact = services.store.load(Contact, ada.id)
    assert contact is not None and contact.details.email == "ada@lovelace.org"


def test_a_contact_may_change_the_case_of_its_own_email(crm: Crm, services: Services) -> None:
    ada = crm.register("ada@example.com")

    result = crm.run(change_contact, ChangeContact(ada.id, {"email": "Ada@Example.com"}))

    assert result.version == 2
    assert services.store.claim_owner("contact-email", "ada@example.com") == str(ada.id)


def test_a_contact_cannot_take_another_contacts_email(crm: Crm, services: Services) -> None:
    ada = crm.register("ada@example.com")
    grace = crm.register("grace@example.com")

    with WritesNothing(services), pytest.raises(RuleViolated) as error:
        crm.run(change_contact, ChangeContact(grace.id, {"email": "ADA@example.com", "city": "NYC"}))

    assert error.value.rule == "email-already-registered"
    assert services.store.claim_owner("contact-email", "grace@example.com") == str(grace.id)
    assert services.store.claim_owner("contact-email", "ada@example.com") == str(ada.id)


# --- references ------------------------------------------------------------------------------


UNKNOWN = UUID(int=12345)


def unknown_references(crm: Crm) -> dict[str, tuple[Handler, Any, str | None]]:
    contact = crm.register("ada@example.com").id
    details = DealDetails("D")
    return {
        "pipeline": (open_deal, OpenDeal(details, UNKNOWN, "Lead", Decimal("1"), "EUR"), "pipeline_id"),
        "owner": (open_deal, OpenDeal(details, crm.pipeline, "Lead", Decimal("1"), "EUR", owner_id=UNKNOWN), "owner_id"),
        "company is a contact": (open_deal, OpenDeal(DealDetails("D", company_id=contact), crm.pipeline, "Lead", Decimal("1"), "EUR"),
                                 "company_id"),
        "second contact": (open_deal, OpenDeal(DealDetails("D", contact_ids=(contact, UNKNOWN)), crm.pipeline, "Lead", Decimal("1"),
                                               "EUR"), "contact_ids[1]"),
        "contact's company": (register_contact, RegisterContact(ContactDetails("G", "H", "g@h.io", company_id=UNKNOWN)), "company_id"),
        "contact's owner": (register_contact, RegisterContact(ContactDetails("G", "H", "g@h.io"), owner_id=crm.company), "owner_id"),
        "deal's new contact": (change_deal, ChangeDeal(crm.deal, {"contact_ids": (UNKNOWN,)}), "contact_ids[0]"),
        "deal's new owner": (change_deal, ChangeDeal(crm.deal, owner_id=UNKNOWN, owner_given=True), "owner_id"),
        "the deal itself": (move_deal, MoveDeal(UNKNOWN, "Lead"), None),
    }


@pytest.mark.parametrize("case", [
    "pipeline", "owner", "company is a contact", "second contact", "contact's company", "contact's owner",
    "deal's new contact", "deal's new owner", "the deal itself",
])
def test_an_unknown_reference_is_not_found_naming_the_field(crm: Crm, services: Services, case: str) -> None:
    handler, command, field = unknown_references(crm)[case]

    with WritesNothing(services), pytest.raises(NotFound) as error:
        crm.run(handler, command)

    assert error.value.field == field
    assert status_of(error.value) == 404


# --- pipeline rules that need the read side -------------------------------------------------


def test_a_stage_holding_an_open_deal_cannot_be_removed(crm: Crm, services: Services) -> None:
    ids = crm.stage_ids()
    keep = [StageSpec("Qualified", Decimal("0.3"), ids["Qualified"]), StageSpec("Proposal", Decimal("0.6"), ids["Proposal"])]

    with WritesNothing(services), pytest.raises(RuleViolated) as error:
        crm.run(revise_pipeline, RevisePipeline(crm.pipeline, stages=keep))  # drops Lead, where the deal is

    assert error.value.rule == "stage-has-deals"
    assert error.value.extra == {"stage_id": str(ids["Lead"]), "deals": 1}


def test_a_stage_whose_deals_are_closed_can_be_removed(crm: Crm, services: Services) -> None:
    crm.run(lose_deal, LoseDeal(crm.deal, "no budget"))
    ids = crm.stage_ids()
    keep = [StageSpec("Qualified", Decimal("0.3"), ids["Qualified"]), StageSpec("Proposal", Decimal("0.6"), ids["Proposal"])]

    crm.run(revise_pipeline, RevisePipeline(crm.pipeline, stages=keep))

    assert list(crm.stage_ids()) == ["Qualified", "Proposal"]


def test_a_deal_moved_out_of_a_stage_no_longer_holds_it(crm: Crm) -> None:
    crm.run(move_deal, MoveDeal(crm.deal, "Qualified"))
    ids = crm.stage_ids()

    crm.run(revise_pipeline, RevisePipeline(crm.pipeline, stages=[StageSpec("Qualified", Decimal("0.3"), ids["Qualified"])]))

    assert list(crm.stage_ids()) == ["Qualified"]


def test_a_closed_deal_cannot_be_moved(crm: Crm, services: Services) -> None:
    crm.run(win_deal, WinDeal(crm.deal))

    with WritesNothing(services), pytest.raises(RuleViolated) as error:
        crm.run(move_deal, MoveDeal(crm.deal, "Proposal"))

    assert error.value.rule == "deal-closed"


# --- races -------------------------------------------------------------------------------------


class Rendezvous:
    """A clock that holds each thread's first reading until every racer has read it: handlers
    read the clock after loading and before saving, so all racers decide on the same state."""

    def __init__(self, clock: Clock, parties: int) -> None:
        self.clock = clock
        self.barrier = threading.Barrier(parties)
        self.local = threading.local()

    def now(self) -> datetime:
        if not getattr(self.local, "met", False):
            self.local.met = True
            self.barrier.wait(timeout=20)
        return self.clock.now()


@dataclass
class Race:
    results: list[CommandResult | BaseException]
    conflicts: int  # saves refused by the store because another racer wrote first


def race(services: Services, monkeypatch: pytest.MonkeyPatch, *commands: tuple[Handler, Any, dict[str, Any]]) -> Race:
    clock = Rendezvous(services.clock, len(commands))
    conflicts: list[IntegrityError] = []
    save = services.store.save

    def counting_save(*args: Any, **kwargs: Any) -> int | None:
        try:
            return save(*args, **kwargs)
        except IntegrityError as error:
            conflicts.append(error)
            raise

    monkeypatch.setattr(services.store, "save", counting_save)
    results: list[CommandResult | BaseException] = [RuntimeError("did not finish")] * len(commands)

    def worker(i: int, handler: Handler, command: Any, ctx: dict[str, Any]) -> None:
        try:
            results[i] = execute(handler, command, replace(services.context(**ctx), clock=clock))
        except BaseException as error:  # noqa: BLE001 (the test looks at it)
            results[i] = error

    threads = [threading.Thread(target=worker, args=(i, *c)) for i, c in enumerate(commands)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive()
    return Race(results, len(conflicts))


def test_of_two_writers_with_the_same_expected_version_exactly_one_wins(crm: Crm, services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    outcome = race(
        services,
        monkeypatch,
        (move_deal, MoveDeal(crm.deal, "Qualified"), {"expected_version": 1}),
        (move_deal, MoveDeal(crm.deal, "Proposal"), {"expected_version": 1}),
    )
    results = outcome.results

    won = [r for r in results if isinstance(r, CommandResult)]
    refused = [r for r in results if isinstance(r, PreconditionFailed)]
    assert len(won) == 1 and len(refused) == 1, results
    assert outcome.conflicts == 1  # the loser decided on version 1 too, and was refused at save
    assert won[0].version == 2
    assert refused[0].extra["current_version"] == 2
    winner = ["Qualified", "Proposal"][results.index(won[0])]
    deal = crm.deal_state()
    assert (deal.version, deal.stage_id) == (2, crm.stage_ids()[winner])


def test_two_writers_without_expected_version_both_succeed_one_after_the_other(crm: Crm, services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    outcome = race(
        services,
        monkeypatch,
        (move_deal, MoveDeal(crm.deal, "Qualified"), {}),
        (move_deal, MoveDeal(crm.deal, "Proposal"), {}),
    )
    results = outcome.results

    assert all(isinstance(r, CommandResult) for r in results), results
    assert outcome.conflicts == 1  # the loser's first save was refused, its retry decided again
    versions = sorted(r.version for r in results)  # type: ignore[union-attr]
    assert versions == [2, 3]
    deal = crm.deal_state()
    assert deal.version == 1 + 2
    last = ["Qualified", "Proposal"][[r.version for r in results].index(3)]  # type: ignore[union-attr]
    assert deal.stage_id == crm.stage_ids()[last]
    moves = [e for e in services.store.events(crm.deal) if isinstance(e, Deal.StageChanged)]
    first = "Qualified" if last == "Proposal" else "Proposal"
    assert [m.to_stage for m in moves] == [first, last]
    assert moves[1].from_stage == moves[0].to_stage  # the loser decided again on the winner's state


def test_of_two_registrations_of_one_email_exactly_one_wins(crm: Crm, services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    command = RegisterContact(ContactDetails("Ada", "Lovelace", "ada@example.com"))
    shouted = RegisterContact(ContactDetails("Ada", "Lovelace", "ADA@example.com"))

    outcome = race(services, monkeypatch, (register_contact, command, {}), (register_contact, shouted, {}))
    results = outcome.results

    won = [r for r in results if isinstance(r, CommandResult)]
    refused = [r for r in results if isinstance(r, RuleViolated)]
    assert len(won) == 1 and len(refused) == 1, results
    assert outcome.conflicts == 1  # both passed the claim check; the store refused the second claim
    assert refused[0].rule == "email-already-registered"
    assert refused[0].extra["existing_id"] == str(won[0].id)
    assert services.store.claim_owner("contact-email", "ada@example.com") == str(won[0].id)


def test_two_concurrent_retries_with_one_key_write_once(crm: Crm, services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    key = {"idempotency_key": "k-race", "fingerprint": "POST /companies Initech"}
    before = services.store.max_position()

    outcome = race(
        services,
        monkeypatch,
        (register_company, RegisterCompany(CompanyDetails("Initech")), key),
        (register_company, RegisterCompany(CompanyDetails("Initech")), key),
    )
    results = outcome.results

    assert all(isinstance(r, CommandResult) for r in results), results
    assert outcome.conflicts == 1  # both decided; the store refused the second use of the key
    first, second = sorted(results, key=lambda r: r.replayed)  # type: ignore[union-attr]
    assert (first.replayed, second.replayed) == (False, True)  # type: ignore[union-attr]
    assert first.body() == second.body()  # type: ignore[union-attr]
    assert services.store.max_position() == before + 1

