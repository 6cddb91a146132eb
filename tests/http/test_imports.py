"""POST /imports/contacts end to end (SQLite and PostgreSQL): a multipart upload with its
mapping, the per-row report, dry runs, re-runs, a rep's import, its own body limit and
its Idempotency-Key."""

from __future__ import annotations

import codecs
from dataclasses import replace
from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient
from helpers import assert_problem, ok, read

from crm_es.entrypoints.http.app import create_app
from crm_es.auth.roles import Role
from crm_es.bootstrap import Services

URL = "/imports/contacts"
FILE = codecs.BOM_UTF8 + (
    "Mail;Prénom;Nom;Ville;Étiquettes;Depuis\r\n"
    "ines@example.com;Inès;Garçon;Besançon;Gold|Retail;01/03/2025\r\n"
    "\r\n"
    'oskar@example.com;Oskar;"Müller\r\nSohn";Köln;;1.3.2025\r\n'
    "broken@;Bad;Mail;Nice;;\r\n"
).encode()
MAP = ["Mail=email", "Prénom=first_name", "Nom=last_name", "Ville=city", "Étiquettes=tags", "Depuis=occurred_at"]


def upload(client: TestClient, data: bytes = FILE, mapping: list[str] = MAP, headers: dict[str, str] | None = None,
           **fields: Any) -> Any:
    form = {"map": mapping, **{k: str(v).lower() if isinstance(v, bool) else v for k, v in fields.items()}}
    return client.post(URL, files={"file": ("contacts.csv", data, "text/csv")}, data=form, headers=headers or {})


def test_an_upload_imports_the_good_rows_and_reports_every_row(client: TestClient) -> None:
    report = ok(upload(client, timezone="Europe/Paris"), 200)
    assert report["counts"] == {"imported": 2, "updated": 0, "skipped": 0, "failed": 1}
    assert [(r["row"], r["line"], r["status"]) for r in report["rows"]] == [(2, 2, "imported"), (4, 4, "imported"),
                                                                            (5, 6, "failed")]
    assert report["rows"][2]["errors"] == [{"field": "email", "column": "Mail", "rule": "invalid-input",
                                            "message": "not a valid e-mail address"}]
    oskar = read(client, f"/contacts/{report['rows'][1]['id']}", report["position"])
    assert (oskar["last_name"], oskar["city"]) == ("Müller\nSohn", "Köln")
    assert oskar["created_at"].startswith("2025-02-28T23:00:00")  # midnight in Paris
    ines = read(client, f"/contacts/{report['rows'][0]['id']}", report["position"])
    assert ines["tags"] == ["Gold", "Retail"]


def test_the_mapping_may_be_one_json_object(client: TestClient) -> None:
    data = b"E-mail,Given,Family\nada@example.com,Ada,Lovelace\n"
    report = ok(upload(client, data, ['{"E-mail": "email", "Given": "first_name", "Family": "last_name"}']), 200)
    assert report["counts"]["imported"] == 1 and report["mapping"] == {"E-mail": "email", "Given": "first_name",
                                                                        "Family": "last_name"}


def test_a_dry_run_answers_the_report_and_writes_nothing(client: TestClient, services: Services) -> None:
    before = services.store.max_position()
    report = ok(upload(client, dry_run=True), 200)
    assert report["dry_run"] is True and report["counts"]["imported"] == 2
    assert services.store.max_position() == before


def test_sending_the_file_again_creates_no_duplicate(client: TestClient, services: Services) -> None:
    first = ok(upload(client), 200)
    again = ok(upload(client), 200)
    assert again["counts"] == {"imported": 0, "updated": 0, "skipped": 2, "failed": 1}
    assert again["position"] == first["position"] == services.store.max_position()
    assert len(read(client, "/contacts", first["position"])["items"]) == 2


def test_what_cannot_be_imported_at_all_is_a_422_naming_the_field(client: TestClient, services: Services) -> None:
    before = services.store.max_position()
    for response, field in [
        (upload(client, mapping=["Nowhere=email"]), "map"),
        (upload(client, mapping=["Mail=nickname"]), "map"),
        (upload(client, b"Who;Name\r\nx;y\r\n", []), "map"),  # no column is the e-mail
        (upload(client, b""), "file"),
        (upload(client, timezone="Mars/Olympus"), "timezone"),
        (client.post(URL, json={"map": MAP}), "body"),
        (client.post(URL, data={"map": MAP}, files={"other": ("x", b"y")}), "file"),
    ]:
        problem = assert_problem(response, 422)
        assert [e["field"] for e in problem["errors"]] == [field], problem
    assert services.store.max_position() == before


def test_imports_have_a_body_limit_of_their_own(services: Services) -> None:
    services.settings = replace(services.settings, max_body_bytes=2_000, max_import_bytes=20_000)
    rows = "".join(f"p{i}@example.com;P;Q\r\n" for i in range(300)).encode()  # about 6 KB
    with TestClient(create_app(services)) as client:
        report = ok(upload(client, b"email;first_name;last_name\r\n" + rows, []), 200)
        assert report["counts"]["imported"] == 300
        assert_problem(upload(client, b"email;first_name;last_name\r\n" + rows * 4, []), 413, "body-too-large")
        big_company = {"name": "Acme", "properties": {"notes": "x" * 3_000}}
        assert_problem(client.post("/companies", json=big_company), 413, "body-too-large")  # others keep theirs


def test_an_idempotency_key_answers_the_first_report_again(client: TestClient) -> None:
    first = upload(client, headers={"Idempotency-Key": "import-1"})
    again = upload(client, headers={"Idempotency-Key": "import-1"})  # another multipart boundary, same upload
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json() and first.json()["counts"]["imported"] == 2
    assert_problem(upload(client, FILE + b"x@example.com;X;Y;;;\r\n", headers={"Idempotency-Key": "import-1"}),
                   422, "idempotency-key-reused")


def test_a_reps_rows_are_theirs_and_others_contacts_are_refused(client: TestClient, services: Services) -> None:
    rob = ok(client.post("/reps", json={"name": "Rob", "email": "rob@example.com"}))["id"]
    eve = ok(client.post("/reps", json={"name": "Eve", "email": "eve@example.com"}))["id"]
    _, admin_key = services.api_keys.create(Role.ADMIN, name="admin")
    _, rob_key = services.api_keys.create(Role.REP, UUID(rob), "rob")
    client.headers["Authorization"] = f"Bearer {admin_key}"
    as_rob = {"Authorization": f"Bearer {rob_key}"}
    eva = {"first_name": "Eva", "last_name": "E", "email": "eva@example.com", "owner_id": eve}
    ok(client.post("/contacts", json=eva))
    data = (b"email,first_name,last_name,owner\n"
            b"mine@example.com,Mi,Ne,\n"
            b"eva@example.com,Eva,E,\n"
            b"given@example.com,Gi,Ven,eve@example.com\n")
    report = ok(upload(client, data, [], headers=as_rob), 200)
    assert [r["status"] for r in report["rows"]] == ["imported", "failed", "failed"]
    assert {e["rule"] for r in report["rows"][1:] for e in r["errors"]} == {"not-your-record"}
    assert report["rows"][2]["errors"][0]["column"] == "owner"
    mine = read(client, f"/contacts/{report['rows'][0]['id']}", report["position"])
    assert mine["owner_id"] == rob
    # The events say who imported: the rep, through the normal contact commands.
    [registered] = services.store.events(UUID(mine["id"]))
    assert registered.actor == f"rep:{rob}" and type(registered).__name__ == "Registered"
