"""The auditors' pages in a real browser: the chain verified with its progress bar filled to
the end and the API's head shown; a contact's history at a past date, the same as the API's;
an export downloaded, checked, and its last hash found in the log."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.e2e.pages import expect, shoot
from tests.e2e.served import Console


def a_contact_with_a_past(console: Console) -> tuple[str, list[dict[str, Any]]]:
    """A contact of the demo whose events happened at three moments or more, and its events."""
    deals = [deal for stage in console.board()["stages"] for deal in stage["deals"]]
    for deal in deals:
        for contact_id in console.get(f"/deals/{deal['id']}")["contact_ids"]:
            events = console.get(f"/contacts/{contact_id}/history", console.auditor)["events"]
            if len({event["occurred_at"] for event in events}) >= 3:
                return contact_id, events
    raise AssertionError("no contact of the demo has events at three moments")


def test_an_auditor_verifies_the_chain_and_the_bar_fills_to_the_apis_head(console: Console, browse: Any) -> None:
    page = browse(console.url, console.auditor)
    page.goto("/app/audit")
    expect(page.locator("#verify-chain")).to_be_visible()
    shoot(page, "audit-home")
    page.locator("#verify-chain button[type=submit]").click()
    page.wait_for_url("**/app/audit/verifications/*")
    expect(page.locator("#result")).to_be_visible()  # filled from …/progress by audit.js, then drawn

    api = console.get("/audit/verify", console.auditor)
    bar = page.locator("#verification-progress")
    assert bar.evaluate("bar => [bar.value, bar.max]") == [api["head"]["position"]] * 2
    expect(page.locator("#progress-text .walked")).to_have_text(str(api["head"]["position"]))
    expect(page.locator("#result")).to_have_attribute("data-ok", "true")
    expect(page.locator("#result")).to_have_attribute("data-checked", str(api["checked"]))
    expect(page.locator("#head")).to_have_attribute("data-hash", api["head"]["hash"])
    shoot(page, "audit-verification")


def test_a_contacts_history_at_a_past_date_is_the_apis(console: Console, browse: Any) -> None:
    contact_id, events = a_contact_with_a_past(console)
    moments = sorted({datetime.fromisoformat(event["occurred_at"]).astimezone(UTC) for event in events})
    then = moments[len(moments) // 2].replace(microsecond=0)  # some events had happened, some not yet
    field, instant = then.strftime("%Y-%m-%dT%H:%M:%S"), then.strftime("%Y-%m-%dT%H:%M:%SZ")
    api = console.get(f"/contacts/{contact_id}/history", console.auditor, as_of=instant)

    page = browse(console.url, console.auditor)
    page.goto(f"/app/contacts/{contact_id}")
    page.locator("#history-link").click()
    page.wait_for_url(f"**/app/contacts/{contact_id}/history")
    form = page.locator("#history-when")
    form.locator("input[name=as_of]").fill(field)
    form.locator("button[type=submit]").click()
    page.wait_for_url("**as_of=*")

    expect(page.locator("#history")).to_have_attribute("data-version", str(api["version"]))
    shown = page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('#state > dd')]
        .map(dd => [dd.dataset.field, JSON.parse(dd.dataset.value)]))""")
    assert shown == api["state"]
    rows = page.evaluate("""() => [...document.querySelectorAll('#history-events tr.event')]
        .map(row => ({version: Number(row.dataset.version), absent: row.dataset.absent || null,
                      occurred: row.querySelector('time.occurred-at').getAttribute('datetime'),
                      recorded: row.querySelector('time.recorded-at').getAttribute('datetime')}))""")
    assert [row["version"] for row in rows if not row["absent"]] == [event["version"] for event in api["events"]]
    assert {row["absent"] for row in rows if row["absent"]} == {"absent_happened_later"}
    assert [(row["occurred"], row["recorded"]) for row in rows] == [(e["occurred_at"], e["recorded_at"]) for e in events]
    expect(page.locator("#history-notice")).to_contain_text(str(len(events) - len(api["events"])))
    shoot(page, "audit-history-as-of")

    # As known then: the demo was recorded today, so on that date the log knew nothing of it.
    form.locator("input[name=known_at]").fill(field)
    form.locator("button[type=submit]").click()
    page.wait_for_url("**known_at=*")
    expect(page.locator("#no-state")).to_be_visible()
    expect(page.locator("#history-events tr.event:not(.absent)")).to_have_count(0)
    assert console.get(f"/contacts/{contact_id}/history", console.auditor, as_of=instant, known_at=instant)["state"] is None
    shoot(page, "audit-history-known-then")


def test_an_export_downloaded_then_checked_holds_and_the_log_holds_its_last_hash(
        console: Console, browse: Any, tmp_path: Path) -> None:
    contact_id, events = a_contact_with_a_past(console)
    page = browse(console.url, console.auditor)
    page.goto(f"/app/contacts/{contact_id}/history")
    with page.expect_download() as download:
        page.locator("#export-link").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    lines = [json.loads(line) for line in saved.read_text().splitlines()]
    assert [line["version"] for line in lines] == [event["version"] for event in events]

    page.goto("/app/audit")
    page.locator("#export-check input[name=file]").set_input_files(str(saved))
    page.locator("#export-check button[type=submit]").click()
    verdict = page.locator("#export-verdict")
    expect(verdict).to_have_attribute("data-ok", "true")
    expect(page.locator("#export-verdict .checked")).to_have_attribute("data-checked", str(len(lines)))
    expect(page.locator("#last-hash")).to_have_attribute("data-hash", lines[-1]["hash"])
    shoot(page, "audit-export-check")

    page.locator("#verify-against button[type=submit]").click()
    page.wait_for_url("**/app/audit/verifications/*")
    expect(page.locator("#expected-head")).to_have_attribute("data-position", str(lines[-1]["position"]))
    expect(page.locator("#result")).to_have_attribute("data-ok", "true")
    shoot(page, "audit-verified-against-export")
