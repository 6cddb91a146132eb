"""POST /imports/deals end to end (SQLite and PostgreSQL): a multipart upload of a deals
file (and its stage changes), the per-row report, dry runs, re-runs, what cannot be
imported at all, its Idempotency-Key, and who may import."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient
from helpers import STAGES, assert_problem, ok, read

from crm_es.auth.roles import Role
from crm_es.bootstrap import Services

URL = "/imports/deals"
SINCE = "2024-01-01T00:00:00+00:00"
# A Pipedrive-like export: its "Deal - " headers, one currency for the file, stage changes in the same file.
FILE = (
    b"Deal - ID,Row type,Deal - Title,Deal - Value,Deal - Organization,Deal - Owner,Deal - Stage,Deal - Status,"
    b"Deal - Deal created,Deal - Close time,Deal - Lost reason,Changed at\n"
    b"7,deal,Fleet renewal,\"1,250.00\",Acme,Rob Roe,Demo,won,2025-01-10 09:00,2025-02-01 16:30,,\n"
    b"7,stage,,,,,Contact,,,,,2025-01-10 09:00\n"
    b"7,stage,,,,,Demo,,,,,2025-01-20 11:00\n"
    b"8,deal,Spare parts,300,Acme,rob@example.com,Contact,lost,2025-01-12 10:00,2025-01-30 10:00,Price,\n"
    b"9,deal,Broken,12abc,Acme,Rob Roe,Contact,open,2025-01-12 10:00,,,\n"
)


def upload(client: TestClient, data: bytes = FILE, mapping: list[str] | None = None,
           headers: dict[str, str] | None = None, stages: bytes | None = None, **fields: Any) -> Any:
    form = {"map": mapping or [], "pipeline": "New business", "currency": "EUR", "timezone": "Europe/Paris",
            **{k: str(v).lower() if isinstance(v, bool) else v for k, v in fields.items()}}
    files = {"file": ("deals.csv", data, "text/csv")}
    if stages is not None:
        files["stages"] = ("stages.csv", stages, "text/csv")
    return client.post(URL, files=files, data=form, headers=headers or {})


def set_up(client: TestClient) -> dict[str, str]:
    return {
        "pipeline": ok(client.post("/pipelines", json={"name": "New business", "stages": STAGES,
                                                       "occurred_at": SINCE}))["id"],
        "rob": ok(client.post("/reps", json={"name": "Rob Roe", "email": "rob@example.com", "occurred_at": SINCE}))["id"],
    }


def test_an_upload_imports_the_deals_with_their_history_and_reports_every_row(client: TestClient) -> None:
    ids = set_up(client)
    report = ok(upload(client), 200)
    assert [(r["row"], r["kind"], r["old_id"], r["status"]) for r in report["rows"]] == [
        (2, "deal", "7", "imported"), (3, "stage_change", "7", "imported"), (4, "stage_change", "7", "imported"),
        (5, "deal", "8", "imported"), (6, "deal", "9", "failed")]
    assert report["rows"][4]["errors"] == [{"field": "amount", "column": "Deal - Value", "rule": "invalid-input",
                                            "message": report["rows"][4]["errors"][0]["message"]}]
    assert report["mapping"]["Deal - Organization"] == "company" and report["mapping"]["Row type"] == "row_type"
    assert [c["name"] for c in report["companies_created"]] == ["Acme"]
    fleet = read(client, f"/deals/{report['rows'][0]['id']}", report["position"])
    assert (fleet["status"], fleet["stage"], fleet["owner_id"]) == ("won", "Demo", ids["rob"])
    assert Decimal(fleet["amount"]) == Decimal(1250)
    board = read(client, f"/pipelines/{ids['pipeline']}/board?as_of=2025-01-25T00:00:00%2B00:00", report["position"])
    assert {s["name"]: s["count"] for s in board["stages"]} == {"Contact": 1, "Qualification": 0, "Demo": 1,
                                                                "Signature": 0}


def test_the_stage_changes_may_come_as_a_second_file(client: TestClient) -> None:
    set_up(client)
    deals = b"Deal ID,Title,Stage,Amount,Created\nA1,One,,10,2025-01-02 10:00\n"
    changes = b"Deal ID,Stage,Date entered\nA1,Contact,2025-01-02 10:00\nA1,Demo,2025-01-05 10:00\n"
    report = ok(upload(client, deals, stages=changes), 200)
    assert [(r["file"], r["row"], r["status"]) for r in report["rows"]] == [
        ("deals", 2, "imported"), ("stages", 2, "imported"), ("stages", 3, "imported")]
    assert report["stages_file"]["mapping"] == {"Deal ID": "old_id", "Stage": "stage", "Date entered": "changed_at"}
    assert read(client, f"/deals/{report['rows'][0]['id']}", report["position"])["stage"] == "Demo"


def test_a_dry_run_answers_the_report_and_writes_nothing(client: TestClient, services: Services) -> None:
    set_up(client)
    before = services.store.max_position()
    report = ok(upload(client, dry_run=True), 200)
    assert report["dry_run"] is True and report["counts"] == {"imported": 4, "updated": 0, "skipped": 0, "failed": 1}
    assert services.store.max_position() == before


def test_sending_the_file_again_writes_nothing(client: TestClient, services: Services) -> None:
    set_up(client)
    first = ok(upload(client), 200)
    again = ok(upload(client), 200)
    assert again["counts"] == {"imported": 0, "updated": 0, "skipped": 4, "failed": 1}
    assert again["position"] == first["position"] == services.store.max_position()


def test_what_cannot_be_imported_at_all_is_a_422_naming_the_field(client: TestClient, services: Services) -> None:
    set_up(client)
    before = services.store.max_position()
    for response, field in [
        (upload(client, mapping=["Nowhere=title"]), "map"),
        (upload(client, mapping=["Deal - Title=nickname"]), "map"),
        (upload(client, b"Title,Stage\r\nx,y\r\n"), "map"),  # nothing names the deal's id in the old CRM
        (upload(client, b""), "file"),
        (upload(client, stages=b""), "stages"),
        (upload(client, stages=b"Deal ID,Stage\nA,B\n"), "map"),  # stage changes without their time
        (upload(client, timezone="Mars/Olympus"), "timezone"),
        (upload(client, currency="ZZZ"), "currency"),
        (client.post(URL, json={"map": []}), "body"),
    ]:
        problem = assert_problem(response, 422)
        assert [e["field"] for e in problem["errors"]] == [field], problem
    assert services.store.max_position() == before


def test_an_idempotency_key_answers_the_first_report_again(client: TestClient) -> None:
    set_up(client)
    first = upload(client, headers={"Idempotency-Key": "deals-1"})
    again = upload(client, headers={"Idempotency-Key": "deals-1"})
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json() and first.json()["counts"]["imported"] == 4
    assert_problem(upload(client, FILE + b"10,deal,X,1,Acme,Rob Roe,Contact,open,2025-01-12,,,\n",
                          headers={"Idempotency-Key": "deals-1"}), 422, "idempotency-key-reused")


def test_only_admins_import_deals(client: TestClient, services: Services) -> None:
    ids = set_up(client)
    _, admin_key = services.api_keys.create(Role.ADMIN, name="admin")
    _, rep_key = services.api_keys.create(Role.REP, UUID(ids["rob"]), "rob")
    assert_problem(upload(client, headers={"Authorization": f"Bearer {rep_key}"}), 403)
    report = ok(upload(client, headers={"Authorization": f"Bearer {admin_key}"}), 200)
    [opened, *_] = services.store.events(UUID(report["rows"][0]["id"]))
    assert opened.actor.startswith("key:") and report["counts"]["imported"] == 4


def test_the_route_documents_its_answer(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"][URL]["post"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/DealImportAnswer")
