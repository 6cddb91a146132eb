"""Importing contacts from messy CSV files, on SQLite AND PostgreSQL: every row through
the normal commands, failed rows reported and left out, a dry run that writes nothing,
re-runs that create no duplicates, many rows per store transaction."""

from __future__ import annotations

import codecs
import json
from datetime import datetime, timezone
from typing import Any
from uuid import UUID, uuid4

from crm_es.aggregates import Contact
from crm_es.aggregates.company import CompanyDetails
from crm_es.aggregates.contact import ContactDetails
from crm_es.bootstrap import Services
from crm_es.commands import CommandContext, execute
from crm_es.commands.imports import import_contacts
from crm_es.commands.records import RegisterCompany, RegisterContact, register_company, register_contact
from crm_es.imports.contacts import prepare, run
from crm_es.queries.directory import ReadSideDirectory

MAP = ["Courriel=email", "Prénom=first_name", "Nom=last_name", "Ville=city", "Société=company",
       "Étiquettes=tags", "Créé le=occurred_at", "Budget=properties.budget", "Signé le=properties.signed_on:date"]

# Exported by a French CRM: BOM, `;`, CRLF, a quoted newline, blank lines, dates as people write them.
MESSY = codecs.BOM_UTF8 + (
    "Courriel;Prénom;Nom;Ville;Société;Étiquettes;Créé le;Budget;Signé le;Commentaire\r\n"
    "jean.dupont@acme.example;Jean;Dupont;Paris;Acme;Gold, VIP;2024-03-01;12000;01/03/2025;\r\n"
    "\r\n"
    'francoise@acme.example;Françoise;"Lefèvre\r\ndite Fanfan";Nîmes;ACME ;Silver;1.3.2024;;2.4.2025;"dit ""oui"""\r\n'
    "pas-un-courriel;Paul;Martin;Lyon;;;;;;\r\n"
    "zoe@initech.example;Zoé;Müller;Zürich;;;2024-03-01T09:30:00+01:00;;;\r\n"
    ";;;;;;;;;\r\n"
    "marc@acme.example;Marc;Garçon;Nantes;Nowhere Ltd;;31/02/2024;;;\r\n"
).encode()


def importer(services: Services, **ctx_fields: Any):
    def do(data: bytes, mapping: list[str] = MAP, *, dry_run: bool = False, **options: Any) -> dict[str, Any]:
        services.projector.catch_up()
        with services.read_side.cursor() as cur:
            prepared = prepare(data, mapping, ReadSideDirectory(cur), timezone="Europe/Paris", **options)
        return run(prepared, services.context(actor="importer", **ctx_fields), dry_run=dry_run)
    return do


def company(services: Services, name: str) -> UUID:
    return execute(register_company, RegisterCompany(CompanyDetails(name)), services.context()).id


def contacts(services: Services) -> list[dict[str, Any]]:
    services.projector.catch_up()
    with services.read_side.cursor() as cur:
        rows = cur.execute("SELECT email, first_name, last_name, city, company_id, tags, properties, created_at "
                           "FROM contacts ORDER BY email").fetchall()
    names = ("email", "first_name", "last_name", "city", "company_id", "tags", "properties", "created_at")
    found = [dict(zip(names, row, strict=True)) for row in rows]
    return [{**c, "properties": json.loads(c["properties"] or "{}")} for c in found]


def statuses(report: dict[str, Any]) -> list[tuple[int, str]]:
    return [(row["row"], row["status"]) for row in report["rows"]]


def test_a_messy_file_imports_its_good_rows_and_says_why_the_others_failed(services: Services) -> None:
    acme = company(services, "Acme")
    report = importer(services)(MESSY)
    assert report["file"] | {"columns": None} == {"encoding": "utf-8-sig", "delimiter": ";", "columns": None,
                                                   "rows": 5, "blank_lines": 2}
    assert report["ignored_columns"] == ["Commentaire"]
    assert report["counts"] == {"imported": 3, "updated": 0, "skipped": 0, "failed": 2}
    assert statuses(report) == [(2, "imported"), (4, "imported"), (5, "failed"), (6, "imported"), (8, "failed")]
    failed = {row["row"]: row["errors"] for row in report["rows"] if row["status"] == "failed"}
    assert failed[5] == [{"field": "email", "column": "Courriel", "rule": "invalid-input",
                          "message": "not a valid e-mail address"}]
    assert {(e["column"], e["rule"]) for e in failed[8]} == {("Société", "unknown-company"),
                                                              ("Créé le", "invalid-date")}
    assert report["rows"][1]["line"] == 4  # row 4 of the spreadsheet starts on line 4; the next is on line 6
    assert report["rows"][2]["line"] == 6

    francoise, jean, zoe = contacts(services)  # by e-mail
    assert (francoise["last_name"], francoise["city"]) == ("Lefèvre\ndite Fanfan", "Nîmes")
    assert francoise["company_id"] == jean["company_id"] == acme  # "ACME " is Acme
    assert jean["tags"] == ["Gold", "VIP"]
    assert jean["properties"] == {"budget": "12000", "signed_on": "2025-03-01"}
    assert francoise["properties"] == {"signed_on": "2025-04-02"}
    # The dates of the old CRM are kept: each contact was created when it says, in Paris time.
    assert jean["created_at"] == datetime(2024, 2, 29, 23, 0, tzinfo=timezone.utc)
    assert francoise["created_at"] == datetime(2024, 2, 29, 23, 0, tzinfo=timezone.utc)
    assert zoe["created_at"] == datetime(2024, 3, 1, 8, 30, tzinfo=timezone.utc)
    assert zoe["last_name"] == "Müller" and zoe["company_id"] is None


def test_latin1_files_keep_their_accents(services: Services) -> None:
    data = "email,first_name,last_name,city\nleon@example.com,Léon,Façade,Düsseldorf\n".encode("latin-1")
    report = importer(services)(data, [])
    assert report["file"]["encoding"] == "cp1252" and report["counts"]["imported"] == 1
    [leon] = contacts(services)
    assert (leon["first_name"], leon["last_name"], leon["city"]) == ("Léon", "Façade", "Düsseldorf")


def test_a_dry_run_reports_the_same_rows_and_writes_nothing(services: Services) -> None:
    company(services, "Acme")
    before = services.store.max_position()
    dry = importer(services)(MESSY, dry_run=True)
    assert services.store.max_position() == before
    assert contacts(services) == []
    assert dry["dry_run"] is True and dry["position"] == before
    real = importer(services)(MESSY)
    assert statuses(dry) == statuses(real)
    assert [r.get("errors") for r in dry["rows"]] == [r.get("errors") for r in real["rows"]]


def test_running_the_same_file_again_creates_no_duplicate(services: Services) -> None:
    company(services, "Acme")
    first = importer(services)(MESSY)
    position, listed = services.store.max_position(), contacts(services)
    again = importer(services)(MESSY)
    assert again["counts"] == {"imported": 0, "updated": 0, "skipped": 3, "failed": 2}
    assert [r.get("id") for r in again["rows"]] == [r.get("id") for r in first["rows"]]
    assert services.store.max_position() == position and contacts(services) == listed


def test_a_changed_file_updates_adding_to_what_the_contact_has(services: Services) -> None:
    do = importer(services)
    do(b"email,first_name,last_name,tags,properties.size\nann@example.com,Ann,Lee,Gold,10\n", [])
    changed = do(b"Email,first_name,city,tags,properties.region\nANN@example.com,Ann,Lyon,VIP,West\n", [])
    assert statuses(changed) == [(2, "updated")]
    [ann] = contacts(services)
    assert (ann["email"], ann["last_name"], ann["city"]) == ("ann@example.com", "Lee", "Lyon")
    assert ann["tags"] == ["Gold", "VIP"] and ann["properties"] == {"size": "10", "region": "West"}


def test_two_rows_with_one_email_are_one_contact(services: Services) -> None:
    data = (b"email,first_name,last_name,city\n"
            b"bo@example.com,Bo,Ek,Oslo\nBO@example.com ,Bo,Ek,Bergen\nbo@example.com,Bo,Ek,Bergen\n")
    report = importer(services)(data, [])
    assert statuses(report) == [(2, "imported"), (3, "updated"), (4, "skipped")]
    assert report["rows"][1]["note"] == "same e-mail as row 2"
    assert len({row["id"] for row in report["rows"]}) == 1
    [bo] = contacts(services)
    assert bo["city"] == "Bergen"


def test_a_new_contact_needs_its_names_an_existing_one_does_not(services: Services) -> None:
    do = importer(services)
    refused = do(b"email,city\nnew@example.com,Oslo\n", [])
    assert refused["rows"][0]["errors"][0]["field"] == "first_name"
    do(b"email,first_name,last_name\nnew@example.com,Nils,Berg\n", [])
    assert statuses(do(b"email,city\nnew@example.com,Oslo\n", [])) == [(2, "updated")]


def test_many_rows_are_saved_per_store_transaction(services: Services) -> None:
    saves: list[int] = []
    services.store.on_saved(saves.append)
    lines = "\n".join(f"p{i}@example.com,P{i},Q{i}" for i in range(7))
    before = services.store.max_position()
    services.projector.catch_up()
    with services.read_side.cursor() as cur:
        prepared = prepare(f"email,first_name,last_name\n{lines}\n".encode(), [], ReadSideDirectory(cur))
    ticks: list[int] = []
    report = import_contacts(prepared.rows, services.context(), batch_rows=3, progress=ticks.append)
    assert report.counts["imported"] == 7 and ticks == [3, 3, 1]
    assert len(saves) == 3 and services.store.max_position() - before == 7


def test_a_writer_that_gets_there_first_is_decided_again_row_by_row(services: Services) -> None:
    """Between the batch's decisions and its save, someone registers one of its e-mails:
    the batch's transaction fails whole, its rows are decided again one by one, and the
    row finds the new contact instead of duplicating it."""
    other = services.context(actor="someone-else")
    made = [uuid4() for _ in range(10)]
    pending = iter(made)

    def new_id() -> UUID:
        given = next(pending)
        if given == made[1]:  # the import is deciding its second row: the other writer acts now
            execute(register_contact, RegisterContact(ContactDetails("Kim", "Other", "kim@example.com")), other)
        return given

    services.projector.catch_up()
    with services.read_side.cursor() as cur:
        prepared = prepare(b"email,first_name,last_name\nana@example.com,Ana,A\nkim@example.com,Kim,K\n", [],
                           ReadSideDirectory(cur))
    report = run(prepared, CommandContext(services.store, services.clock, services.context().lookups, new_id=new_id))
    assert statuses(report) == [(2, "imported"), (3, "updated")]
    assert sorted(c["email"] for c in contacts(services)) == ["ana@example.com", "kim@example.com"]
    kim = services.store.load(Contact, UUID(report["rows"][1]["id"]))
    assert kim is not None and kim.details.last_name == "K"


def test_companies_are_found_by_name_or_id_never_guessed(services: Services) -> None:
    acme, twin_a, _ = company(services, "Acme"), company(services, "Twin"), company(services, "twin")
    data = (f"email,first_name,last_name,company\n"
            f"a@example.com,A,A,{acme}\nb@example.com,B,B,twin\n"
            f"c@example.com,C,C,{uuid4()}\nd@example.com,D,D,{twin_a}\n")
    report = importer(services)(data.encode(), [])
    assert statuses(report) == [(2, "imported"), (3, "failed"), (4, "failed"), (5, "imported")]
    assert report["rows"][1]["errors"][0]["rule"] == "ambiguous-company"
    assert report["rows"][2]["errors"][0] | {"message": None} == {"field": "company", "column": "company",
                                                                  "rule": "not-found", "message": None}


def test_cells_get_the_same_limits_as_a_request(services: Services) -> None:
    report = importer(services)(f"email,first_name,last_name\nz@example.com,{'x' * 201},Z\n".encode(), [])
    assert report["rows"][0]["errors"][0]["field"] == "first_name"


def test_the_configuration_holds_for_imports_and_dated_properties_read_any_format(services: Services) -> None:
    """The record configuration (typed and required properties, configured sources) is
    checked by the contact commands themselves: an import meets it row by row."""
    from crm_es.aggregates.setup import PropertyDefinition
    from crm_es.commands.setup import DefineProperty, define_property
    from crm_es.imports.contacts import dated_properties

    for definition in (PropertyDefinition("contact", "signed_on", "date"),
                       PropertyDefinition("contact", "region", "text", required=True)):
        execute(define_property, DefineProperty(definition), services.context())
    data = ("email,first_name,last_name,properties.signed_on,properties.region,source\n"
            "a@example.com,A,A,1.3.2026,West,referral\n"
            "b@example.com,B,B,01/03/2026,,referral\n"
            "c@example.com,C,C,2026-03-01,East,a flyer\n"
            "d@example.com,D,D,31/02/2026,East,referral\n").encode()
    services.projector.catch_up()
    with services.read_side.cursor() as cur:
        prepared = prepare(data, [], ReadSideDirectory(cur), dated=dated_properties(services.store))
    report = run(prepared, services.context())
    assert statuses(report) == [(2, "imported"), (3, "failed"), (4, "failed"), (5, "failed")]
    assert [e["field"] for row in report["rows"][1:] for e in row["errors"]] == [
        "properties.region", "source", "properties.signed_on"]
    assert report["mapping"]["properties.signed_on"] == "properties.signed_on:date"
    [a] = contacts(services)
    assert a["properties"] == {"signed_on": "2026-03-01", "region": "West"}
