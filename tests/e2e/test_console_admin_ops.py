"""The admin pages for API keys and CSV imports in a real browser: a CSV file chosen, its
columns guessed in the mapping preview, a dry run's report (nothing written), the import and
its report, and the contacts then in GET /contacts; a key made from the form, its secret
shown once and working on the API, then revoked (401)."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import httpx

from tests.e2e.pages import expect, shoot
from tests.e2e.served import Console


def test_an_admin_previews_dry_runs_and_imports_a_csv_file(console: Console, browse: Any) -> None:
    mark = uuid4().hex[:10]  # this test's contacts, found again by it
    csv = (f"E-mail;First name;Last name;Job title;Notes\n"
           f"ada.{mark}@example.com;Ada;Lovelace;Analyst;met at a fair\n"
           f"not-an-email;Bob;Nobody;;\n"
           f"grace.{mark}@example.com;Grace;Hopper;Admiral;\n")
    page = browse(console.url, console.admin)
    page.goto("/app/admin/imports")
    page.locator("#import-file").set_input_files({"name": "old-crm.csv", "mimeType": "text/csv",
                                                  "buffer": csv.encode()})

    mapping = page.locator("#mapping tr.column")
    expect(mapping).to_have_count(5)
    guessed = {row.get_attribute("data-column"): row.locator("select").input_value() for row in mapping.all()}
    assert guessed == {"E-mail": "email", "First name": "first_name", "Last name": "last_name",
                       "Job title": "job_title", "Notes": ""}
    expect(page.locator('#mapping tr.column[data-column="First name"] .values')).to_have_text("Ada · Bob · Grace")
    expect(page.locator("#run-import")).to_be_disabled()  # a dry run first
    shoot(page, "admin-imports-mapping")

    page.locator("#dry-run").click()
    report = page.locator("#report")
    expect(report).to_have_attribute("data-state", "dry-run")
    expect(report.locator('[data-count="imported"] .count')).to_have_text("2")
    expect(report.locator('[data-count="failed"] .count')).to_have_text("1")
    expect(report.locator('#report-rows tr.row[data-status="failed"]')).to_have_attribute("data-line", "3")
    assert console.get("/contacts", q=mark)["items"] == []  # nothing written
    shoot(page, "admin-imports-dry-run")

    expect(page.locator("#run-import")).to_be_enabled()
    page.locator("#run-import").click()
    expect(report).to_have_attribute("data-state", "done")
    expect(report.locator('[data-count="imported"] .count')).to_have_text("2")
    expect(report.locator("#see-contacts")).to_be_visible()
    position = report.get_attribute("data-position")
    found = console.get("/contacts", q=mark, after=position)["items"]
    assert sorted(contact["email"] for contact in found) == [f"ada.{mark}@example.com", f"grace.{mark}@example.com"]
    assert {contact["job_title"] for contact in found} == {"Analyst", "Admiral"}
    shoot(page, "admin-imports-done")


def test_an_admin_makes_a_key_sees_its_secret_once_and_revokes_it(console: Console, browse: Any) -> None:
    name = f"e2e-made-{uuid4().hex[:6]}"
    page = browse(console.url, console.admin)
    page.goto("/app/admin/keys")
    expect(page.locator(f'#keys tr.key[data-key-id="{console.admin.id}"] .own')).to_be_visible()
    form = page.locator("#create-key")
    form.locator("select[name=role]").select_option("auditor")
    expect(form.locator("select[name=rep_id]")).to_be_disabled()  # an auditor's key names no rep
    form.locator("input[name=name]").fill(name)
    form.locator("button[type=submit]").click()

    secret = page.locator("#new-key-secret")
    expect(secret).to_be_visible()
    expect(page.locator("#new-key")).to_contain_text("never shown again")
    token, key_id = secret.text_content(), page.locator("#new-key").get_attribute("data-key-id")
    assert token.startswith(f"crm_{key_id}_")
    with httpx.Client(base_url=console.url, headers={"Authorization": f"Bearer {token}"}) as client:
        assert client.get("/contacts").status_code == 200
    shoot(page, "admin-keys-made")

    page.reload()
    expect(page.locator(f'#keys tr.key[data-key-id="{key_id}"]')).to_be_visible()
    expect(page.locator("#new-key")).to_have_count(0)
    assert token not in page.content()

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f'#keys tr.key[data-key-id="{key_id}"] form.revoke button').click()
    expect(page.locator("#revoked")).to_have_attribute("data-key-id", key_id)
    expect(page.locator(f'#keys tr.key[data-key-id="{key_id}"]')).to_have_attribute("data-revoked", "true")
    with httpx.Client(base_url=console.url, headers={"Authorization": f"Bearer {token}"}) as client:
        assert client.get("/contacts").status_code == 401
    shoot(page, "admin-keys-revoked")


def test_the_outbox_page_counts_what_get_outbox_counts_in_french(console: Console, browse: Any) -> None:
    page = browse(console.url, console.admin, locale="fr-FR")
    page.goto("/app/admin/outbox")
    expect(page.locator("h1")).to_have_text("File d'envoi")
    shown = page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('#outbox-counts li')]
        .map(li => [li.dataset.state, Number(li.querySelector('.count').dataset.count)]))""")
    assert shown == console.get("/outbox")["counts"]
    shoot(page, "admin-outbox-fr")
