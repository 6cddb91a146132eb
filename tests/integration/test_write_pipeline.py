"""The write pipeline (commands/pipeline.py, commands/unit_of_work.py), on both stores: a
decision reads and stages through a unit of work, nothing reaches the log before the
commit, a lost race is decided again on fresh state, and what waits for the commit runs
only once the events are in the log."""

from __future__ import annotations

from uuid import UUID

import pytest

from crm_es.aggregates import Company
from crm_es.aggregates import company as companies
from crm_es.aggregates.company import CompanyDetails
from crm_es.bootstrap import Services
from crm_es.commands import execute
from crm_es.commands.context import TooMuchContention
from crm_es.commands.pipeline import decide_and_append
from crm_es.commands.records import ChangeCompany, RegisterCompany, change_company, register_company
from crm_es.commands.unit_of_work import UnitOfWork
from crm_es.store import EventStore


def registered(services: Services, name: str = "Globex") -> UUID:
    return execute(register_company, RegisterCompany(CompanyDetails(name)), services.context()).id


def rename(work: UnitOfWork, services: Services, company_id: UUID, name: str) -> None:
    company = work.load(Company, company_id)
    assert company is not None
    work.save(companies.change(company, {"name": name}, services.context().meta()))


def test_a_decision_reads_what_it_staged_and_writes_nothing_before_the_commit(services: Services) -> None:
    company_id = registered(services)
    end = services.store.max_position()
    work = UnitOfWork(services.store)
    rename(work, services, company_id, "Initech")
    rename(work, services, company_id, "Umbrella")  # the second decision sees the first

    assert work.load(Company, company_id).details.name == "Umbrella"
    assert services.store.max_position() == end
    assert services.store.load(Company, company_id).version == 1

    position = work.commit()

    assert position == end + 2
    assert services.store.load(Company, company_id).details.name == "Umbrella"


def test_a_lost_race_is_decided_again_on_fresh_state(services: Services) -> None:
    company_id = registered(services)
    seen: list[int] = []

    def decide(work: UnitOfWork) -> str:
        company = work.load(Company, company_id)
        seen.append(company.version)
        if len(seen) == 1:  # another writer gets there first, after this decision read
            execute(change_company, ChangeCompany(company_id, {"sector": "Energy"}), services.context())
        work.save(companies.change(company, {"name": f"Initech {len(seen)}"}, services.context().meta()))
        return "renamed"

    answer, position = decide_and_append(services.store, decide)

    assert (answer, seen) == ("renamed", [1, 2])
    state = services.store.load(Company, company_id)
    assert (state.version, state.details.name, state.details.sector) == (3, "Initech 2", "Energy")
    assert position == services.store.max_position()


def test_a_race_lost_every_time_is_contention_and_writes_nothing_of_its_own(services: Services) -> None:
    company_id = registered(services)

    def decide(work: UnitOfWork) -> None:
        company = work.load(Company, company_id)
        execute(change_company, ChangeCompany(company_id, {"sector": f"s{company.version}"}), services.context())
        work.save(companies.change(company, {"name": "never"}, services.context().meta()))

    with pytest.raises(TooMuchContention):
        decide_and_append(services.store, decide, attempts=3)

    state = services.store.load(Company, company_id)
    assert (state.version, state.details.name) == (4, "Globex")  # the other writer's three changes only


def test_a_twins_answer_is_given_instead_of_deciding_again(services: Services) -> None:
    company_id = registered(services)

    def decide(work: UnitOfWork) -> str:
        company = work.load(Company, company_id)
        execute(change_company, ChangeCompany(company_id, {"sector": "Energy"}), services.context())
        work.save(companies.change(company, {"name": "mine"}, services.context().meta()))
        return "decided"

    answer, position = decide_and_append(services.store, decide, after_lost_race=lambda _error: "the twin's")

    assert (answer, position) == ("the twin's", None)
    assert services.store.load(Company, company_id).details.name == "Globex"


def test_what_waits_for_the_commit_runs_once_the_events_are_in_the_log(services: Services) -> None:
    company_id = registered(services)
    ran: list[str] = []

    def after(store: EventStore) -> None:
        ran.append(store.load(Company, company_id).details.name)

    dry = UnitOfWork(services.store)  # never committed: a dry run
    rename(dry, services, company_id, "dry")
    dry.after_commit(after)

    taken_back = UnitOfWork(services.store)  # staged, then rolled back before the commit
    mark = taken_back.mark()
    rename(taken_back, services, company_id, "taken back")
    taken_back.after_commit(after)
    taken_back.rollback(mark)
    taken_back.commit()

    work = UnitOfWork(services.store)
    rename(work, services, company_id, "Initech")
    work.after_commit(after)
    work.commit()

    assert ran == ["Initech"]
