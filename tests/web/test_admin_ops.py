"""The admin pages for API keys, the outbox and CSV imports through the real app (SQLite and
PostgreSQL): the keys page lists services.api_keys' keys and never a secret; a key made from
its form works on the JSON API and its secret is shown once; a revoked one gets 401; a form
without the session's token makes nothing; the outbox page counts what GET /outbox counts;
an import's dry run sent as static/admin_imports.js sends it writes nothing and reports what
the API reports; other roles get a 403 page; French."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient
from web_pages import Element, World, bearer, csrf_of, dom, ok, sign_in, world

from crm_es.aggregates import message as messages
from crm_es.aggregates.base import Meta
from crm_es.aggregates.message import Message
from crm_es.bootstrap import Services

PAGES = ("/app/admin/keys", "/app/admin/outbox", "/app/admin/imports")
CSV = "E-mail,Prénom,Nom,Notes\nada@example.com,Ada,Lovelace,met at a fair\nnot-an-email,Bob,Nobody,\n" \
      "client.rob@example.com,Rob,Client,\n"


@pytest.fixture
def w(client: TestClient, services: Services) -> World:
    return world(client, services)


def admin_page(w: World, path: str = "/app/admin/keys") -> Element:
    sign_in(w.client, w.tokens["admin"])
    answer = w.client.get(path)
    assert answer.status_code == 200, answer.text
    return dom(answer.text)


def post_form(w: World, path: str, page: Element, **form: str) -> Any:
    """As static/admin_keys.js sends a form: its fields (its csrf field among them) and the
    session's token in X-CSRF-Token."""
    return w.client.post(path, data={"csrf": page.one("#create-key").one("input[name=csrf]").attrs["value"], **form},
                         headers={"X-CSRF-Token": csrf_of(page)})


def key_ids(w: World) -> set[str]:
    return {key.id for key in w.services.api_keys.list()}


def test_the_keys_page_lists_every_key_and_never_a_secret(w: World) -> None:
    page = admin_page(w)
    rows = page.one("#keys").all("tr.key")
    assert {row.attrs["data-key-id"] for row in rows} == key_ids(w) and len(rows) == len(key_ids(w))
    by_id = {key.id: key for key in w.services.api_keys.list()}
    for row in rows:
        assert row.attrs["data-role"] == str(by_id[row.attrs["data-key-id"]].role)
    rob = next(row for row in rows if row.one(".name").text == "rob key")
    assert "Rob" in rob.text  # the rep's name, not their id
    html = w.client.get("/app/admin/keys").text
    for token in w.tokens.values():
        assert token not in html and token.split("_", 2)[2] not in html
    assert not page.all("#new-key")


def test_a_key_made_from_the_form_works_on_the_api_and_its_secret_is_shown_once(w: World) -> None:
    before = key_ids(w)
    made = post_form(w, "/app/admin/keys", admin_page(w), role="rep", rep_id=w.ids["rita"], name="Rita's laptop")
    assert made.status_code == 201, made.text
    shown = dom(made.text)
    secret = shown.one("#new-key-secret").text
    [new_id] = key_ids(w) - before
    assert shown.one("#new-key").attrs["data-key-id"] == new_id and secret.startswith(f"crm_{new_id}_")
    assert "never shown again" in shown.one("#new-key").text
    assert ok(w.client.get("/contacts", headers={"Authorization": f"Bearer {secret}"}), 200)["items"]
    [key] = [key for key in w.services.api_keys.list() if key.id == new_id]
    assert (str(key.role), str(key.rep_id), key.name) == ("rep", w.ids["rita"], "Rita's laptop")

    again = w.client.get("/app/admin/keys")
    assert secret not in again.text and secret.split("_", 2)[2] not in again.text
    assert not dom(again.text).all("#new-key")
    assert dom(again.text).one(f"tr[data-key-id={new_id}]").attrs["data-revoked"] == "false"


@pytest.mark.parametrize(("form", "field"), [
    ({"role": "boss"}, "form.role"),
    ({"role": "rep"}, "form.rep_id"),  # a rep's key names its rep
    ({"role": "analyst", "rep_id": "REP"}, "form.rep_id"),  # an analyst's key names none
    ({"role": "manager", "rep_id": "not-a-uuid"}, "form.rep_id"),
    ({"role": "rep", "rep_id": str(uuid4())}, "form.rep_id"),  # no such rep
])
def test_a_bad_role_or_rep_is_a_422_page_naming_the_field_and_nothing_is_made(w: World, form: dict[str, str],
                                                                            field: str) -> None:
    before = key_ids(w)
    form = {k: (w.ids["rob"] if v == "REP" else v) for k, v in form.items()}
    refused = post_form(w, "/app/admin/keys", admin_page(w), **form)
    assert refused.status_code == 422, refused.text
    assert dom(refused.text).one("p.error").attrs["data-field"] == field
    assert key_ids(w) == before


def test_a_form_without_the_sessions_token_makes_and_revokes_nothing(w: World) -> None:
    page = admin_page(w)
    before, field = key_ids(w), page.one("#create-key").one("input[name=csrf]").attrs["value"]
    forged = w.client.post("/app/admin/keys", data={"csrf": "forged", "role": "analyst"})  # a plain form, no script
    assert forged.status_code == 403 and dom(forged.text).one("#problem").attrs["data-rule"] == "csrf-token-required"
    assert field == csrf_of(page)
    no_field = w.client.post("/app/admin/keys", data={"role": "analyst"}, headers={"X-CSRF-Token": csrf_of(page)})
    assert no_field.status_code == 403 and dom(no_field.text).one("#problem").attrs["data-rule"] == "csrf-token-required"
    auditor = next(key for key in w.services.api_keys.list() if key.name == "auditor key")
    revoke = w.client.post(f"/app/admin/keys/{auditor.id}/revoke", data={"csrf": "forged"},
                           headers={"X-CSRF-Token": csrf_of(page)})
    assert revoke.status_code == 403
    assert key_ids(w) == before
    assert ok(w.client.get("/contacts", headers=bearer(w, "auditor")), 200)


def test_a_revoked_key_is_refused_by_the_api_from_its_next_request(w: World) -> None:
    page = admin_page(w)
    auditor = next(key for key in w.services.api_keys.list() if key.name == "auditor key")
    form = page.one(f"tr[data-key-id={auditor.id}]").one("form.revoke")
    assert form.attrs["action"] == f"/app/admin/keys/{auditor.id}/revoke" and "auditor key" in form.attrs["data-confirm"]
    revoked = w.client.post(form.attrs["action"], data={"csrf": form.one("input[name=csrf]").attrs["value"]},
                            headers={"X-CSRF-Token": csrf_of(page)})
    assert revoked.status_code == 200, revoked.text
    shown = dom(revoked.text)
    assert shown.one("#revoked").attrs["data-key-id"] == auditor.id and not shown.all("#revoked-self")
    assert shown.one(f"tr[data-key-id={auditor.id}]").attrs["data-revoked"] == "true"
    assert not shown.one(f"tr[data-key-id={auditor.id}]").all("form")
    assert w.client.get("/contacts", headers=bearer(w, "auditor")).status_code == 401


def test_revoking_the_sessions_own_key_signs_it_out_at_its_next_click(w: World) -> None:
    page = admin_page(w)
    own = next(key for key in w.services.api_keys.list() if key.name == "admin key")
    assert page.one(f"tr[data-key-id={own.id}]").all(".own")
    revoked = w.client.post(f"/app/admin/keys/{own.id}/revoke", data={"csrf": csrf_of(page)},
                            headers={"X-CSRF-Token": csrf_of(page)})
    assert revoked.status_code == 200 and dom(revoked.text).all("#revoked-self")
    next_click = w.client.get("/app/admin/keys")
    assert next_click.status_code == 401 and dom(next_click.text).all("#sign-in")


def test_an_unknown_key_is_a_404_page(w: World) -> None:
    page = admin_page(w)
    answer = w.client.post("/app/admin/keys/nosuchkey/revoke", data={"csrf": csrf_of(page)},
                           headers={"X-CSRF-Token": csrf_of(page)})
    assert answer.status_code == 404


# --- the outbox ---------------------------------------------------------------------------


def queue(services: Services, clock: Any, contact_id: str | None = None) -> str:
    """A message an automation queued (as tests/http/test_outbox_route.py does)."""
    message_id = uuid4()
    meta = Meta(clock.now(), clock.now(), "policy:quote-ready", "req-1")
    events, row = messages.queue(message_id, "email", "ines@example.com", "Your quote", "quote-ready", meta,
                                 contact_id=UUID(contact_id) if contact_id else None, subject="Quote")
    services.store.save(events, outbox=[row])
    return str(message_id)


def delivered(services: Services, clock: Any, delivery_id: str, error: str | None = None) -> None:
    meta = Meta(clock.now(), clock.now(), "outbox", "req-1")
    message = services.store.load(Message, UUID(delivery_id))
    events, row = messages.failed(message, error, 8, meta) if error else messages.sent(message, meta)
    services.store.save(events, outbox=[row])


def outbox_counts(page: Element) -> dict[str, int]:
    return {li.attrs["data-state"]: int(li.one(".count").text) for li in page.one("#outbox-counts").all("li")}


def test_the_outbox_page_counts_and_lists_what_get_outbox_does(w: World, clock: Any) -> None:
    ids = []
    for n in range(53):  # more than a page
        ids.append(queue(w.services, clock, w.ids["rob_contact"] if n % 2 else None))
        clock.advance(seconds=1)
    delivered(w.services, clock, ids[0])
    delivered(w.services, clock, ids[1], "SMTP server said no")

    page = admin_page(w, "/app/admin/outbox")
    api = ok(w.client.get("/outbox", headers=bearer(w, "admin")), 200)
    assert outbox_counts(page) == api["counts"] and api["counts"]["pending"] == 51
    rows = page.one("#outbox").all("tr.message")
    assert [row.attrs["data-delivery-id"] for row in rows] == [item["delivery_id"] for item in api["items"]]
    older = dom(w.client.get(page.one("#next-page").attrs["href"]).text)
    api_older = ok(w.client.get("/outbox", params={"cursor": api["next_cursor"]}, headers=bearer(w, "admin")), 200)
    assert [r.attrs["data-delivery-id"] for r in older.one("#outbox").all("tr.message")] == \
        [item["delivery_id"] for item in api_older["items"]]
    assert older.all("#first-page") and not older.all("#next-page")

    failed = dom(w.client.get("/app/admin/outbox?status=failed").text)
    [row] = failed.one("#outbox").all("tr.message")
    assert row.attrs["data-delivery-id"] == ids[1] and row.one(".attempts").text == "1"
    assert "SMTP server said no" in row.one(".last-error").text
    assert outbox_counts(failed) == api["counts"]  # the counts are of the whole outbox
    assert "ines@example.com" not in w.client.get("/app/admin/outbox").text


@pytest.mark.parametrize(("query", "field"), [("status=lost", "query.status"), ("cursor=not-ours", "query.cursor")])
def test_bad_outbox_parameters_are_a_422_page_naming_the_field(w: World, query: str, field: str) -> None:
    admin_page(w, "/app/admin/outbox")
    answer = w.client.get(f"/app/admin/outbox?{query}")
    assert answer.status_code == 422 and dom(answer.text).one("p.error").attrs["data-field"] == field


# --- CSV imports --------------------------------------------------------------------------


def sent_as_the_script_does(w: World, page: Element, mapping: list[str], dry_run: bool) -> Any:
    """POST /imports/contacts as static/admin_imports.js sends it: multipart (file, map
    repeated, dry_run), the session cookie, X-CSRF-Token and an Idempotency-Key."""
    form = {"map": mapping, "dry_run": "true" if dry_run else "false"}
    return w.client.post(page.one("#import").attrs["data-path"], data=form,
                         files={"file": ("old-crm.csv", CSV.encode(), "text/csv")},
                         headers={"X-CSRF-Token": csrf_of(page), "Idempotency-Key": str(uuid4())})


def without_new_ids(report: dict[str, Any]) -> dict[str, Any]:
    rows = [{k: v for k, v in row.items() if not (k == "id" and row["status"] == "imported")} for row in report["rows"]]
    return {**report, "rows": rows}


def emails(w: World) -> set[str]:
    return {c["email"] for c in ok(w.client.get("/contacts?limit=1000", headers=bearer(w, "admin")), 200)["items"]}


def test_an_import_dry_run_from_the_page_writes_nothing_and_reports_what_the_api_reports(w: World) -> None:
    page = admin_page(w, "/app/admin/imports")
    offered = json.loads(page.one("#import-targets").text)
    assert {"email", "first_name", "last_name", "tags", "owner", "company"} <= set(offered["targets"])
    assert offered["aliases"]["e_mail"] == "email" and page.all("#dry-run") and page.all("#run-import")
    mapping = ["E-mail=email", "Prénom=first_name", "Nom=last_name", "Notes="]
    before, position = emails(w), w.services.store.max_position()

    dry = sent_as_the_script_does(w, page, mapping, dry_run=True)
    report = ok(dry, 200)
    assert w.services.store.max_position() == position and emails(w) == before
    assert report["dry_run"] is True and report["counts"]["imported"] == 1 and report["counts"]["failed"] == 1
    assert report["ignored_columns"] == ["Notes"]
    [refused] = [row for row in report["rows"] if row["status"] == "failed"]
    assert refused["line"] == 3 and refused["errors"][0]["column"] == "E-mail"
    api = ok(w.client.post("/imports/contacts", data={"map": mapping, "dry_run": "true"},
                           files={"file": ("old-crm.csv", CSV.encode(), "text/csv")}, headers=bearer(w, "admin")), 200)
    assert without_new_ids(report) == without_new_ids(api)  # a dry run draws the ids it would give

    done = ok(sent_as_the_script_does(w, page, mapping, dry_run=False), 200)
    assert done["dry_run"] is False and done["counts"] == report["counts"]
    assert w.client.get("/contacts?limit=1000", headers=bearer(w, "admin"), params={"after": done["position"]}).status_code == 200
    assert "ada@example.com" in emails(w)


def test_an_import_sent_with_the_cookie_but_without_the_token_is_refused(w: World) -> None:
    page = admin_page(w, "/app/admin/imports")
    answer = w.client.post("/imports/contacts", data={"map": "E-mail=email", "dry_run": "false"},
                           files={"file": ("old-crm.csv", CSV.encode(), "text/csv")})
    assert answer.status_code == 403 and answer.json()["rule"] == "csrf-token-required"
    assert "ada@example.com" not in emails(w) and page.all("#import")


# --- who may, and in French -----------------------------------------------------------------


@pytest.mark.parametrize("who", ["rob", "mia", "analyst", "auditor"])
def test_other_roles_get_a_403_page(w: World, who: str) -> None:
    sign_in(w.client, w.tokens[who])
    for path in PAGES:
        answer = w.client.get(path)
        assert answer.status_code == 403 and dom(answer.text).one("#problem").attrs["data-rule"] == "role-not-allowed"
    board = dom(w.client.get("/app/board" if who != "analyst" else "/app/dashboards").text)
    before = key_ids(w)
    made = w.client.post("/app/admin/keys", data={"csrf": csrf_of(board), "role": "admin"},
                         headers={"X-CSRF-Token": csrf_of(board)})
    assert made.status_code == 403 and key_ids(w) == before


def test_the_pages_speak_french(w: World) -> None:
    sign_in(w.client, w.tokens["admin"])
    titles = {"/app/admin/keys": "Clés d'API", "/app/admin/outbox": "File d'envoi", "/app/admin/imports": "Importer des contacts"}
    for path, title in titles.items():
        page = dom(w.client.get(path, headers={"Accept-Language": "fr-FR,fr;q=0.9"}).text)
        assert page.one("html").attrs["lang"] == "fr" and page.one("h1").text == title
    keys = dom(w.client.get("/app/admin/keys", headers={"Accept-Language": "fr"}).text)
    assert "Créer la clé" in keys.one("#create-key").text and "administrateur" in keys.one("#keys").text
    outbox = dom(w.client.get("/app/admin/outbox", headers={"Accept-Language": "fr"}).text)
    assert "en attente" in outbox.one("#outbox-counts").text


def test_in_open_mode_the_first_key_is_made_with_the_forms_double_submit_token(client: TestClient,
                                                                              services: Services) -> None:
    page = client.get("/app/admin/keys")
    assert page.status_code == 200 and dom(page.text).all("#no-keys")
    field = dom(page.text).one("#create-key").one("input[name=csrf]").attrs["value"]
    forged = client.post("/app/admin/keys", data={"csrf": "forged", "role": "admin"})
    assert forged.status_code == 403 and services.api_keys.list() == []
    made = client.post("/app/admin/keys", data={"csrf": field, "role": "admin", "name": "first"})
    assert made.status_code == 201 and dom(made.text).all("#first-key")
    secret = dom(made.text).one("#new-key-secret").text
    assert client.get("/contacts").status_code == 401  # open mode is over
    assert ok(client.get("/contacts", headers={"Authorization": f"Bearer {secret}"}), 200) is not None


def test_the_key_form_works_without_a_script_its_token_in_its_field(w: World) -> None:
    page = admin_page(w)
    field = page.one("#create-key").one("input[name=csrf]").attrs["value"]
    made = w.client.post("/app/admin/keys", data={"csrf": field, "role": "analyst", "name": "no script"})
    assert made.status_code == 201, made.text
    assert [key.name for key in w.services.api_keys.list() if key.name == "no script"] == ["no script"]
