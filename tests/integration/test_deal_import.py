"""Importing deals from an old CRM, on SQLite AND PostgreSQL: every deal opened, moved and
closed at its own dates through the normal deal commands, companies registered at the
earliest row naming them, failed rows reported (row, field, column, rule) and left out,
a dry run that writes nothing, re-runs that write only what is new."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from crm_es.aggregates import Company
from crm_es.aggregates.contact import ContactDetails
from crm_es.aggregates.pipeline import StageSpec
from crm_es.bootstrap import Services
from crm_es.commands import CommandContext, execute
from crm_es.commands.deal_imports import import_deals
from crm_es.commands.people import AddRep, add_rep
from crm_es.commands.pipelines import (
    CreatePipeline,
    RevisePipeline,
    create_pipeline,
    revise_pipeline,
)
from crm_es.commands.records import RegisterContact, register_contact
from crm_es.imports.deals import prepare, run
from crm_es.queries.directory import ReadSideDirectory

SINCE = datetime(2024, 1, 1, tzinfo=UTC)  # the set-up is dated before the file's deals
STAGES = [StageSpec("Contact", Decimal("0.1")), StageSpec("Demo", Decimal("0.5")), StageSpec("Proposal", Decimal("0.8"))]

# A HubSpot-like export: `;`, dates day first in Paris time, amounts written as people do.
DEALS = (
    b"Record ID;Deal Name;Pipeline;Deal Stage;Deal owner;Associated Company;Contact email;Amount;Currency;"
    b"Create Date;Close Date;Status;Closed Lost Reason;Notes\r\n"
    b'HS-1;Fleet renewal;New business;Proposal;ann@example.com;Acme;jo@acme.example;"12.000,50";EUR;'
    b"03/02/2025 09:30;14/03/2025;won;;big one\r\n"
    b"HS-2;Boats;new business;;Bob Ray;ACME ;;5000 USD;;10/01/2025;20/02/2025 17:00;lost;Too expensive;\r\n"
    b"HS-3;Cars;New business;Demo;ann@example.com;Initech;;800;EUR;2025-02-15T10:00:00+01:00;2025-06-30;open;;\r\n"
)
STAGE_CHANGES = (
    b"Deal ID,Stage,Changed at\n"
    b"HS-1,Contact,03/02/2025 09:30\n"
    b"HS-1,Demo,03/02/2025 09:30\n"  # at the very instant of the creation, as exports have it
    b"HS-1,Proposal,01/03/2025 14:00\n"
    b"HS-2,Contact,10/01/2025\n"
    b"HS-2,Demo,05/02/2025 11:00\n"
)


def set_up(services: Services) -> dict[str, UUID]:
    ctx = services.context()
    ids = {
        "pipeline": execute(create_pipeline, CreatePipeline("New business", STAGES, SINCE), ctx).id,
        "ann": execute(add_rep, AddRep("Ann Lee", "ann@example.com", None, SINCE), ctx).id,
        "bob": execute(add_rep, AddRep("Bob Ray", "bob@example.com", None, SINCE), ctx).id,
    }
    jo = RegisterContact(ContactDetails("Jo", "Doe", "jo@acme.example"), occurred_at=SINCE)
    ids["jo"] = execute(register_contact, jo, ctx).id
    return ids


def importer(services: Services, **ctx_fields: Any):
    def do(data: bytes = DEALS, mapping: tuple[str, ...] = (), *, stages: bytes | None = STAGE_CHANGES,
           dry_run: bool = False, **options: Any) -> dict[str, Any]:
        services.projector.catch_up()
        with services.read_side.cursor() as cur:
            prepared = prepare(data, list(mapping), ReadSideDirectory(cur), stages=stages, timezone="Europe/Paris",
                               **options)
        return run(prepared, services.context(actor="importer", **ctx_fields), dry_run=dry_run)
    return do


def deals(services: Services) -> dict[str, dict[str, Any]]:
    """The deals as the read side has them, by title."""
    services.projector.catch_up()
    with services.read_side.cursor() as cur:
        cur.execute("SELECT title, stage, status, amount, currency, owner_id, company_id, contact_ids, expected_close, "
                    "closed_at, lost_reason, created_at, id FROM deals ORDER BY title")
        names = [d[0] for d in cur.description]
        return {row[0]: dict(zip(names, row, strict=True)) for row in cur.fetchall()}


def moves(services: Services, deal_id: UUID) -> list[tuple[str, str, datetime]]:
    with services.read_side.cursor() as cur:
        return cur.execute("SELECT kind, to_stage, occurred_at FROM deal_stage_changes WHERE deal_id = ? "
                           "ORDER BY position", [str(deal_id)]).fetchall()


def statuses(report: dict[str, Any]) -> list[tuple[str, int, str]]:
    return [(row["file"], row["row"], row["status"]) for row in report["rows"]]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_a_file_becomes_deals_with_their_history_at_its_dates(services: Services) -> None:
    ids = set_up(services)
    report = importer(services)()
    assert report["counts_by_kind"] == {"deal": {"imported": 3, "updated": 0, "skipped": 0, "failed": 0},
                                        "stage_change": {"imported": 5, "updated": 0, "skipped": 0, "failed": 0}}
    assert report["mapping"]["Contact email"] == "contacts" and report["ignored_columns"] == ["Notes"]
    assert report["rows"][3]["note"] == "the deal opened in this stage"

    fleet, boats, cars = deals(services)["Fleet renewal"], deals(services)["Boats"], deals(services)["Cars"]
    assert (fleet["status"], fleet["stage"], fleet["amount"], fleet["currency"]) == ("won", "Proposal",
                                                                                      Decimal("12000.50"), "EUR")
    assert (fleet["owner_id"], fleet["contact_ids"]) == (ids["ann"], [ids["jo"]])
    # Paris time: created at 09:30 on 3 February, won on 14 March (a day: its start).
    assert moves(services, fleet["id"]) == [("opened", "Contact", utc(2025, 2, 3, 8, 30)),
                                            ("moved", "Demo", utc(2025, 2, 3, 8, 30)),
                                            ("moved", "Proposal", utc(2025, 3, 1, 13, 0))]
    assert fleet["closed_at"] == utc(2025, 3, 13, 23, 0)
    assert (boats["status"], boats["stage"], boats["lost_reason"]) == ("lost", "Demo", "Too expensive")
    assert (boats["amount"], boats["currency"], boats["owner_id"]) == (Decimal(5000), "USD", ids["bob"])
    assert boats["closed_at"] == utc(2025, 2, 20, 16, 0)
    # An open deal's "close date" is when it is expected to close; no changes: it opened in its stage.
    assert (cars["status"], cars["stage"], cars["expected_close"]) == ("open", "Demo", date(2025, 6, 30))
    assert moves(services, cars["id"]) == [("opened", "Demo", utc(2025, 2, 15, 9, 0))]

    # "Acme" and "ACME " are one company, registered at the earliest row naming it.
    acme, initech = report["companies_created"]
    assert (acme["name"], acme["occurred_at"]) == ("Acme", "2025-01-10T00:00:00+01:00")
    assert fleet["company_id"] == boats["company_id"] == UUID(acme["id"]) != cars["company_id"]
    registered = services.store.load(Company, UUID(initech["id"]))
    assert registered is not None and registered.details.name == "Initech"
    # The events are the API's own, each at its business time, by the importer.
    events = services.store.events(fleet["id"])
    assert [type(e).__name__ for e in events] == ["Opened", "StageChanged", "StageChanged", "Won"]
    assert {e.actor for e in events} == {"importer"}


def test_a_failed_row_says_its_field_column_and_rule_and_never_stops_the_others(services: Services) -> None:
    set_up(services)
    data = (
        b"Deal ID,Title,Pipeline,Stage,Owner,Company,Contacts,Amount,Currency,Created,Closed,Outcome\n"
        b"A,Good,New business,Demo,ann@example.com,Globex,,100,EUR,2025-01-02,,open\n"
        b"B,Nobody,New business,Demo,zed@example.com,,,100,EUR,2025-01-02,,open\n"
        b"C,Bad amount,New business,Demo,,,,12abc,EUR,2025-01-02,,open\n"
        b"D,Bad date,New business,Demo,,,,100,EUR,31/02/2025,,open\n"
        b"E,No pipeline,Old pipe,Demo,,,,100,EUR,2025-01-02,,open\n"
        b"F,No stage,New business,Closing,,,,100,EUR,2025-01-02,,open\n"
        b"G,Won later,New business,Demo,,Hooli,,100,EUR,2025-01-02,2027-01-01,won\n"
        b"H,Who,New business,Demo,,,who@example.com,100,EUR,2025-01-02,,open\n"
        b"I,No close,New business,Demo,,,,100,EUR,2025-01-02,,won\n"
        b"A,Twice,New business,Demo,,,,100,EUR,2025-01-02,,open\n"
    )
    report = importer(services)(data, stages=None)
    failed = {row["old_id"] + str(row["row"]): [(e["column"], e["rule"]) for e in row["errors"]]
              for row in report["rows"] if row["status"] == "failed"}
    assert failed == {
        "B3": [("Owner", "unknown-rep")], "C4": [("Amount", "invalid-input")], "D5": [("Created", "invalid-date")],
        "E6": [("Pipeline", "unknown-pipeline")], "F7": [("Stage", "unknown-stage")],
        "G8": [("Closed", "invalid-input")],  # won in the future: a fact is recorded once it has happened
        "H9": [("Contacts", "unknown-contact")], "I10": [("Closed", "required")], "A11": [("Deal ID", "duplicate-deal")],
    }
    assert statuses(report)[0] == ("deals", 2, "imported")
    # A deal row stands or falls whole: G's opening (and its new company) were not kept.
    assert list(deals(services)) == ["Good"]
    assert [c["name"] for c in report["companies_created"]] == ["Globex"]


def test_a_deal_cannot_be_dated_before_its_pipeline_or_its_stage(services: Services) -> None:
    ids = set_up(services)
    later = datetime(2025, 6, 1, tzinfo=UTC)
    stages = [*STAGES, StageSpec("Negotiation", Decimal("0.9"))]
    execute(revise_pipeline, RevisePipeline(ids["pipeline"], None, stages, later), services.context())
    data = (b"Deal ID,Title,Pipeline,Stage,Amount,Currency,Created\n"
            b"OLD,Too old,New business,Demo,1,EUR,2023-12-31\n"
            b"NEW,Fine,New business,,1,EUR,2025-01-02\n")
    changes = b"Deal ID,Stage,Changed at\nNEW,Negotiation,2025-05-01 10:00\nNEW,Negotiation,2025-07-01 10:00\n"
    report = importer(services)(data, stages=changes)
    errors = {(row["file"], row["row"]): row.get("errors") for row in report["rows"]}
    assert errors[("deals", 2)] == [{"field": "created_at", "column": "Created", "rule": "before-pipeline",
                                     "message": errors[("deals", 2)][0]["message"]}]
    assert errors[("stages", 2)][0] | {"message": None} == {"field": "changed_at", "column": "Changed at",
                                                            "rule": "stage-not-yet-added", "message": None}
    assert errors[("deals", 3)] is None and errors[("stages", 3)] is None  # in Negotiation once it existed
    assert deals(services)["Fine"]["stage"] == "Negotiation"


def test_a_dry_run_decides_the_same_and_writes_nothing(services: Services) -> None:
    set_up(services)
    before = services.store.max_position()
    dry = importer(services)(dry_run=True)
    assert services.store.max_position() == before and deals(services) == {}
    assert dry["dry_run"] is True and dry["position"] == before
    real = importer(services)()
    assert statuses(dry) == statuses(real) and dry["counts"] == real["counts"]
    assert [c["name"] for c in dry["companies_created"]] == [c["name"] for c in real["companies_created"]]


def test_the_same_file_again_writes_nothing_and_a_longer_one_only_its_new_rows(services: Services) -> None:
    set_up(services)
    first = importer(services)()
    position, listed = services.store.max_position(), deals(services)
    again = importer(services)()
    assert again["counts"] == {"imported": 0, "updated": 0, "skipped": 8, "failed": 0}
    assert again["companies_created"] == [] and services.store.max_position() == position
    assert [r.get("id") for r in again["rows"]] == [r.get("id") for r in first["rows"]] and deals(services) == listed

    # Exported again later: Cars moved on and was won, a new deal came, an old change is there again.
    longer = DEALS.replace(b"Demo;ann@example.com;Initech;;800;EUR;2025-02-15T10:00:00+01:00;2025-06-30;open;",
                           b"Proposal;ann@example.com;Initech;;800;EUR;2025-02-15T10:00:00+01:00;2025-07-02 12:00;won;")
    longer += (
        b"HS-4;Trains;New business;Contact;ann@example.com;Initech;;50;EUR;01/07/2025;;open;;\r\n")
    changes = STAGE_CHANGES + b"HS-3,Proposal,01/07/2025 10:00\n"
    report = importer(services)(longer, stages=changes)
    assert [(r["old_id"], r["kind"], r["status"]) for r in report["rows"] if r["status"] != "skipped"] == [
        ("HS-3", "deal", "updated"), ("HS-4", "deal", "imported"), ("HS-3", "stage_change", "imported")]
    cars, trains = deals(services)["Cars"], deals(services)["Trains"]
    assert (cars["status"], cars["stage"], cars["closed_at"]) == ("won", "Proposal", utc(2025, 7, 2, 10, 0))
    assert trains["company_id"] == cars["company_id"]  # found by its name, not registered twice
    assert report["companies_created"] == [] and services.store.max_position() == position + 3


def test_stage_rows_may_share_the_deals_file_with_a_row_type(services: Services) -> None:
    set_up(services)
    one_file = (b"Type,Deal ID,Title,Pipeline,Stage,Amount,Currency,Created,Closed,Outcome,Date\n"
                b"deal,X1,Solo,New business,,10,EUR,2025-01-02 09:00,2025-01-20,lost,\n"
                b"stage,X1,,,Contact,,,,,,2025-01-02 09:00\n"
                b"Stage change,X1,,,Proposal,,,,,,2025-01-09 15:00\n")
    report = importer(services)(one_file, stages=None)
    assert statuses(report) == [("deals", 2, "imported"), ("deals", 3, "imported"), ("deals", 4, "imported")]
    solo = deals(services)["Solo"]
    assert (solo["status"], solo["stage"], solo["lost_reason"]) == ("lost", "Proposal", "not given")
    assert [m[1] for m in moves(services, solo["id"])] == ["Contact", "Proposal"]


def test_many_deals_are_saved_per_store_transaction(services: Services) -> None:
    set_up(services)
    saves: list[int] = []
    services.store.on_saved(saves.append)
    lines = "".join(f"N{i},Deal {i},New business,Demo,10,EUR,2025-01-0{i + 1}\n" for i in range(5))
    services.projector.catch_up()
    with services.read_side.cursor() as cur:
        prepared = prepare(f"id,title,pipeline,stage,amount,currency,created\n{lines}".encode(), [],
                           ReadSideDirectory(cur))
    ticks: list[int] = []
    report = import_deals(prepared.deal_rows, prepared.stage_rows, services.context(), batch_deals=2,
                          progress=ticks.append)
    assert report.counts()["imported"] == 5 and ticks == [0, 2, 2, 1] and len(saves) == 3


def test_a_writer_that_imports_the_same_deal_first_makes_it_decided_again_alone(services: Services) -> None:
    """Between the batch's decisions and its save, another import brings deal N1 in: the
    batch's transaction fails whole (the old id is claimed), its deals are decided again
    one by one, and N1 is found instead of duplicated."""
    set_up(services)
    data = b"id,title,pipeline,stage,amount,currency,created\nN1,One,New business,Demo,1,EUR,2025-01-02\n" \
           b"N2,Two,New business,Demo,2,EUR,2025-01-03\n"
    made = [uuid4() for _ in range(10)]
    pending = iter(made)

    def new_id() -> UUID:
        given = next(pending)
        if given == made[1]:  # deciding the second deal: the other import saves the first now
            services.projector.catch_up()
            with services.read_side.cursor() as cur:
                other = prepare(data[:data.index(b"N2")], [], ReadSideDirectory(cur))
            import_deals(other.deal_rows, [], services.context(actor="someone-else"))
        return given

    services.projector.catch_up()
    with services.read_side.cursor() as cur:
        prepared = prepare(data, [], ReadSideDirectory(cur))
    ctx = CommandContext(services.store, services.clock, services.context().lookups, new_id=new_id)
    report = run(prepared, ctx)
    assert [(r["old_id"], r["status"]) for r in report["rows"]] == [("N1", "skipped"), ("N2", "imported")]
    assert sorted(deals(services)) == ["One", "Two"]
