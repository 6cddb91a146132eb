"""The auditors' pages through the real app (SQLite and PostgreSQL): the chain's verification
started from a form and followed to its verdict (the same as GET /audit/verify's, on a
sound log and on one tampered with plain SQL), a record as it was (the same as
GET /contacts/{id}/history), its export and the check of that file, and who may see them."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_pages import World, bearer, csrf_of, dom, ok, sign_in, world

from crm_es.bootstrap import Services
from crm_es.entrypoints.web.verifications import Runs
from crm_es.settings import Settings
from tests.integration.test_audit_chain import PlainSQL


@pytest.fixture
def w(client: TestClient, services: Services) -> World:
    return world(client, services)


@pytest.fixture
def plain_sql(settings: Settings) -> Any:
    sql = PlainSQL(settings)
    yield sql
    sql.conn.close()


def auditor_page(w: World, path: str = "/app/audit") -> Any:
    """Signed in as the auditor, the page at ``path`` (its CSRF token in <body data-csrf>)."""
    sign_in(w.client, w.tokens["auditor"])
    answer = w.client.get(path)
    assert answer.status_code == 200, answer.text
    return dom(answer.text)


def post_form(w: World, path: str, csrf: str, **form: Any) -> Any:
    """As static/audit.js sends a form: its fields, and the session's token in X-CSRF-Token."""
    files = form.pop("files", None)
    return w.client.post(path, data=form, files=files, headers={"X-CSRF-Token": csrf}, follow_redirects=False)


def verified(w: World, csrf: str, **form: str) -> tuple[str, dict[str, Any]]:
    """A verification started from the form, followed on its progress route until done:
    its page's address and the last progress answer."""
    started = post_form(w, "/app/audit/verifications", csrf, **form)
    assert started.status_code == 303, started.text
    address = started.headers["location"]
    deadline = time.monotonic() + 30
    while True:
        progress = ok(w.client.get(address.split("?")[0] + "/progress"), 200)
        if progress["done"] or time.monotonic() > deadline:
            return address, progress
        time.sleep(0.05)


def test_a_sound_log_is_verified_with_progress_and_the_head_the_api_gives(w: World) -> None:
    home = auditor_page(w)
    address, progress = verified(w, csrf_of(home))
    api = ok(w.client.get("/audit/verify", headers=bearer(w, "auditor")), 200)
    assert progress["done"] and progress["failure"] is None
    assert progress["verdict"] == api and api["ok"] is True
    assert progress["checked"] == progress["total"] == api["head"]["position"]

    page = dom(w.client.get(address).text)
    assert page.one("#verification").attrs["data-done"] == "true"
    assert page.one("#result").attrs["data-ok"] == "true"
    assert page.one("#head").attrs["data-hash"] == api["head"]["hash"]
    assert page.one("#verification-progress").attrs["value"] == page.one("#verification-progress").attrs["max"]
    assert not page.all("noscript")  # done: the page no longer refreshes itself
    listed = dom(w.client.get("/app/audit").text).all("li.run")
    assert [run.attrs["data-run-id"] for run in listed] == [address.rsplit("/", 1)[1]]


def test_a_tampered_log_shows_the_first_broken_link_the_api_names(w: World, plain_sql: PlainSQL) -> None:
    plain_sql.run("UPDATE {t} SET state = ? WHERE {pos} = 3", bytes(plain_sql.row(3)["state"]) + b" ")
    home = auditor_page(w)
    address, progress = verified(w, csrf_of(home))
    api = ok(w.client.get("/audit/verify", headers=bearer(w, "auditor")), 200)
    assert api["first_broken"]["position"] == 3 and api["first_broken"]["reason"] == "edited"
    assert progress["verdict"] == api

    page = dom(w.client.get(address).text)
    assert page.one("#result").attrs["data-ok"] == "false"
    broken = page.one("#first-broken")
    assert broken.attrs["data-position"] == "3" and broken.attrs["data-reason"] == "edited"
    assert broken.one(".detail").text == api["first_broken"]["detail"]
    assert page.one("#head").attrs["data-hash"] == api["head"]["hash"]  # the last intact event, position 2


def test_an_expected_head_is_checked_and_a_malformed_one_is_a_422_naming_it(w: World) -> None:
    home = auditor_page(w)
    head = ok(w.client.get("/audit/verify", headers=bearer(w, "auditor")), 200)["head"]
    address, progress = verified(w, csrf_of(home), expected_head=head["hash"].upper())
    assert progress["verdict"]["expected_head"] == {"hash": head["hash"], "position": head["position"]}
    assert dom(w.client.get(address).text).one("#expected-head").attrs["data-position"] == str(head["position"])

    _, elsewhere = verified(w, csrf_of(home), expected_head="ab" * 32)
    assert elsewhere["verdict"]["ok"] is False and elsewhere["verdict"]["expected_head"]["position"] is None

    bad = post_form(w, "/app/audit/verifications", csrf_of(home), expected_head="xyz")
    assert bad.status_code == 422 and dom(bad.text).one(".error").attrs["data-field"] == "form.expected_head"


def test_a_start_sent_with_the_cookie_but_without_the_token_is_refused(w: World) -> None:
    home = auditor_page(w)
    for form in ({}, {"csrf": "forged"}):  # a plain form (no script): its token in its field, or none
        refused = w.client.post("/app/audit/verifications", data=form, follow_redirects=False)
        assert refused.status_code == 403 and dom(refused.text).one("#problem").attrs["data-rule"] == "csrf-token-required"
    assert not dom(w.client.get("/app/audit").text).all("li.run")  # nothing started
    started = w.client.post("/app/audit/verifications", data={"csrf": csrf_of(home)}, follow_redirects=False)
    assert started.status_code == 303  # the form works without a script too


class GatedStore:
    """The test's real store, whose log walk waits at its first page until the test opens
    the gate: a run that stays running as long as the test needs."""

    def __init__(self, store: Any) -> None:
        self.store, self.gate = store, threading.Event()

    def chain(self, after: int, limit: int) -> Any:
        assert self.gate.wait(30)
        return self.store.chain(after, limit)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def test_one_run_at_a_time_a_second_start_answers_the_running_one(w: World) -> None:
    store = GatedStore(w.services.store)
    runs = Runs(store, w.services.clock.now)
    first, new = runs.start(None)
    again, second_new = runs.start(bytes(32))
    assert new and not second_new and again.id == first.id and not again.done
    store.gate.set()
    deadline = time.monotonic() + 30
    while not (run := runs.find(first.id)).done and time.monotonic() < deadline:  # type: ignore[union-attr]
        time.sleep(0.02)
    assert run is not None and run.verdict is not None and run.verdict.ok and run.walked == run.total
    third, third_new = runs.start(None)
    assert third_new and third.id != first.id
    assert [r.id for r in runs.recent()][1] == first.id
    runs.stop()


def test_a_run_stopped_as_the_service_closes_ends_at_its_next_page_and_says_so(w: World) -> None:
    store = GatedStore(w.services.store)
    runs = Runs(store, w.services.clock.now)
    run, _ = runs.start(None)
    runs.stop(0)  # the service closing: told, not waited for
    store.gate.set()
    runs.stop()
    stopped = runs.find(run.id)
    assert stopped is not None and stopped.done and stopped.verdict is None
    assert stopped.failure == "Stopped: the service is closing"


def test_the_page_of_a_running_verification_refreshes_itself_without_a_script(w: World) -> None:
    sign_in(w.client, w.tokens["auditor"])
    gated = GatedStore(w.services.store)
    w.client.app.state.verification_runs = Runs(gated, w.services.clock.now)  # type: ignore[attr-defined]
    home = dom(w.client.get("/app/audit").text)
    started = post_form(w, "/app/audit/verifications", csrf_of(home))
    again = post_form(w, "/app/audit/verifications", csrf_of(home))
    assert again.headers["location"] == started.headers["location"] + "?already=1"
    running = dom(w.client.get(again.headers["location"]).text)
    assert running.one("#verification").attrs["data-done"] == "false" and running.one("#already")
    assert running.one("noscript").one("meta").attrs == {"http-equiv": "refresh", "content": "2"}
    progress = ok(w.client.get(started.headers["location"] + "/progress"), 200)
    assert progress["done"] is False and "verdict" not in progress
    gated.gate.set()
    w.client.app.state.verification_runs.stop()  # type: ignore[attr-defined]  # the walk done before the store closes
    assert w.client.get("/app/audit/verifications/no-such-run").status_code == 404


def record_with_history(w: World, clock: Any) -> str:
    """A contact registered on 10 Jan (recorded 1 Mar 09:00), changed on 10 Feb, recorded an
    hour later (back-dated), and changed again at 11:00, recorded at once."""
    contact = w.write("POST", "/contacts", {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
                                            "job_title": "Analyst", "occurred_at": "2026-01-10T10:00:00+01:00"})
    clock.advance(hours=1)
    w.write("PATCH", f"/contacts/{contact['id']}", {"job_title": "Engineer", "occurred_at": "2026-02-10T10:00:00+01:00"},
            200)
    clock.advance(hours=1)
    w.write("PATCH", f"/contacts/{contact['id']}", {"job_title": "Director"}, 200)
    return contact["id"]


def shown_state(page: Any) -> dict[str, Any]:
    return {dd.attrs["data-field"]: json.loads(dd.attrs["data-value"]) for dd in page.one("#state").all("dd.field")}


def shown_events(page: Any) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """The events the state is made of (as the API lists them), and why the others are left out."""
    rows = page.one("#history-events").all("tr.event")
    made = [{"version": int(row.attrs["data-version"]), "type": row.attrs["data-type"],
             "occurred_at": row.one("time.occurred-at").attrs["datetime"],
             "recorded_at": row.one("time.recorded-at").attrs["datetime"], "actor": row.one(".actor").attrs["data-actor"]}
            for row in rows if "absent" not in row.classes]
    return made, {int(row.attrs["data-version"]): row.attrs["data-absent"] for row in rows if "absent" in row.classes}


def api_events(answer: dict[str, Any]) -> list[dict[str, Any]]:
    return [{k: e[k] for k in ("version", "type", "occurred_at", "recorded_at", "actor")} for e in answer["events"]]


@pytest.mark.parametrize(("page_query", "api_query", "left_out"), [
    pytest.param({}, {}, {}, id="now"),
    pytest.param({"as_of": "2026-03-01T10:30"}, {"as_of": "2026-03-01T10:30:00Z"},
                 {3: "absent_happened_later"}, id="as of 10:30"),
    pytest.param({"as_of": "2026-03-01T10:30", "known_at": "2026-03-01T09:30"},
                 {"as_of": "2026-03-01T10:30:00Z", "known_at": "2026-03-01T09:30:00Z"},
                 {2: "absent_recorded_later", 3: "absent_recorded_later"}, id="as known at 9:30"),
    pytest.param({"as_of": "2026-02-01"}, {"as_of": "2026-02-01T23:59:59.999999+00:00"},
                 {2: "absent_happened_later", 3: "absent_happened_later"}, id="a day alone"),
    pytest.param({"as_of": "2026-01-01T00:00:00+01:00"}, {"as_of": "2026-01-01T00:00:00+01:00"},
                 {1: "absent_happened_later", 2: "absent_happened_later", 3: "absent_happened_later"}, id="before it"),
])
def test_a_contact_as_it_was_is_the_apis_history_with_both_times(
        w: World, clock: Any, page_query: dict[str, str], api_query: dict[str, str], left_out: dict[int, str]) -> None:
    contact_id = record_with_history(w, clock)
    api = ok(w.client.get(f"/contacts/{contact_id}/history", params=api_query, headers=bearer(w, "auditor")), 200)
    page = auditor_page(w, f"/app/contacts/{contact_id}/history?" + "&".join(f"{k}={v}".replace("+", "%2B")
                                                                              for k, v in page_query.items()))
    section = page.one("#history")
    assert section.attrs["data-version"] == str(api["version"])
    assert section.attrs["data-as-of"] == (api["as_of"] or "") and section.attrs["data-known-at"] == (api["known_at"] or "")
    made, absent = shown_events(page)
    assert made == api_events(api) and absent == left_out
    if api["state"] is None:
        assert page.one("#no-state") and not page.all("#state")
    else:
        assert shown_state(page) == api["state"]
    if left_out:
        assert str(len(left_out)) in page.one("#history-notice").text


def test_a_deal_as_it_was_and_the_wrong_kind_of_record(w: World, clock: Any) -> None:
    deal_id = w.ids["rob_deal"]
    clock.advance(hours=2)
    w.write("POST", f"/deals/{deal_id}/stage", {"stage": "Demo"}, 200)
    api = ok(w.client.get(f"/deals/{deal_id}/history", params={"as_of": "2026-03-01T10:00:00Z"},
                          headers=bearer(w, "auditor")), 200)
    page = auditor_page(w, f"/app/deals/{deal_id}/history?as_of=2026-03-01T10:00:00")
    assert shown_state(page) == api["state"] and api["version"] == 1  # before the move
    assert shown_events(page) == (api_events(api), {2: "absent_happened_later"})
    assert w.client.get(f"/app/contacts/{deal_id}/history").status_code == 404
    assert w.client.get(f"/app/contacts/{deal_id}/export").status_code == 404
    assert w.client.get(f"/app/audit?record={deal_id}", follow_redirects=False).headers["location"] == \
        f"/app/deals/{deal_id}/history"


@pytest.mark.parametrize(("query", "field"), [
    ("as_of=yesterday", "query.as_of"), ("known_at=2026-02-30", "query.known_at"), ("as_of=2026-13-01T10:00", "query.as_of"),
])
def test_a_bad_moment_is_a_422_page_naming_it(w: World, query: str, field: str) -> None:
    sign_in(w.client, w.tokens["auditor"])
    answer = w.client.get(f"/app/contacts/{w.ids['rob_contact']}/history?{query}")
    assert answer.status_code == 422 and dom(answer.text).one(".error").attrs["data-field"] == field
    for path, named in (("/app/contacts/not-an-id/history", "path.contact_id"), ("/app/audit?record=nope", "query.record")):
        bad = w.client.get(path)
        assert bad.status_code == 422 and dom(bad.text).one(".error").attrs["data-field"] == named
    assert w.client.get("/app/audit?record=00000000-0000-4000-8000-000000000000").status_code == 404


def exported(w: World, contact_id: str) -> bytes:
    answer = w.client.get(f"/app/contacts/{contact_id}/export")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/x-ndjson")
    assert answer.headers["content-disposition"] == f'attachment; filename="contact-{contact_id}.jsonl"'
    return answer.content


def checked(w: World, csrf: str, content: bytes, name: str = "contact.jsonl") -> Any:
    return post_form(w, "/app/audit/export-check", csrf, files={"file": (name, content, "application/x-ndjson")})


def test_an_export_downloaded_then_checked_holds_and_an_edited_line_is_named(
        w: World, clock: Any, run: Any, tmp_path: Any) -> None:
    contact_id = record_with_history(w, clock)
    home = auditor_page(w)
    content = exported(w, contact_id)
    lines = content.decode().splitlines()
    assert [json.loads(line)["version"] for line in lines] == [1, 2, 3]
    cli = tmp_path / "cli.jsonl"
    assert run("audit", "export", contact_id, "-o", str(cli)).exit_code == 0
    assert cli.read_bytes() == content  # the file `crm-es audit export` writes

    answer = checked(w, csrf_of(home), content)
    assert answer.status_code == 200, answer.text
    verdict = dom(answer.text)
    assert verdict.one("#export-verdict").attrs["data-ok"] == "true"
    assert verdict.one(".checked").attrs["data-checked"] == "3"
    last = json.loads(lines[-1])
    assert verdict.one("#last-hash").attrs["data-hash"] == last["hash"]
    assert verdict.one("#verify-against").one("input[name=expected_head]").attrs["value"] == last["hash"]

    edited = json.loads(lines[1])
    edited["stored"] = edited["stored"][:-4] + ("AAAA" if edited["stored"][-4:] != "AAAA" else "BBBB")
    forged = "\n".join([lines[0], json.dumps(edited), lines[2]]).encode()
    bad = dom(checked(w, csrf_of(home), forged).text)
    assert bad.one("#export-verdict").attrs["data-ok"] == "false"
    assert bad.one("#first-bad").attrs["data-line"] == "2" and bad.one("#first-bad").attrs["data-reason"] == "edited"
    assert bad.one(".checked").attrs["data-checked"] == "1"


@pytest.mark.parametrize(("content", "problem"), [
    pytest.param(b"\xff\xfe not text", "audit_not_utf8", id="not UTF-8"),
    pytest.param(b"", "audit_empty_export", id="empty"),
    pytest.param(b"\n\n", "audit_empty_export", id="blank lines"),
])
def test_a_file_that_is_no_export_gets_a_clear_verdict(w: World, content: bytes, problem: str) -> None:
    answer = checked(w, csrf_of(auditor_page(w)), content)
    assert answer.status_code == 200
    page = dom(answer.text)
    assert page.one("#export-verdict").attrs["data-ok"] == "false" and page.one("#problem-line").attrs["data-problem"] == problem


@pytest.mark.parametrize("line", ['{"position": "x"}', "[1, 2]", '"text"', "42", "{not json", '{"position": 1, "originator_id": 5}',
                                  ('{"position": 1, "originator_id": "00000000-0000-4000-8000-000000000000", "version": 1, '
                                   '"topic": "t", "stored": "!!", "hash": "zz", "prev_hash": null, "record_prev_hash": null}')])
def test_garbage_lines_are_named_unreadable_never_a_500(w: World, line: str) -> None:
    answer = checked(w, csrf_of(auditor_page(w)), line.encode())
    assert answer.status_code == 200, answer.text
    bad = dom(answer.text).one("#first-bad")
    assert bad.attrs["data-line"] == "1" and bad.attrs["data-reason"] == "unreadable"


def test_uploads_are_capped_and_a_form_without_a_file_is_a_422(w: World) -> None:
    home = auditor_page(w)
    csrf, cap = csrf_of(home), w.services.settings.max_import_bytes
    assert home.one("#export-check").attrs["data-cap"] == str(cap)  # audit.js says so before sending a larger file
    assert checked(w, csrf, b"x" * cap).status_code == 413  # refused before any page runs, nothing kept
    missing = post_form(w, "/app/audit/export-check", csrf, other="value")
    assert missing.status_code == 422 and dom(missing.text).one(".error").attrs["data-field"] == "form.file"
    broken = w.client.post("/app/audit/export-check", content=b"--x\r\nnot a part", follow_redirects=False,
                           headers={"X-CSRF-Token": csrf, "Content-Type": "multipart/form-data; boundary=x"})
    assert broken.status_code == 422


@pytest.mark.parametrize("who", ["rob", "mia", "analyst"])
def test_only_auditors_and_admins_open_the_audit_pages(w: World, who: str) -> None:
    sign_in(w.client, w.tokens[who])
    for path in ("/app/audit", f"/app/contacts/{w.ids['rob_contact']}/history", f"/app/deals/{w.ids['rob_deal']}/history",
                 f"/app/contacts/{w.ids['rob_contact']}/export", "/app/audit/verifications/x",
                 "/app/audit/verifications/x/progress"):
        answer = w.client.get(path)
        assert answer.status_code == 403, path
        assert dom(answer.text).one("#problem").attrs["data-rule"] == "role-not-allowed"
    home = dom(w.client.get("/app/board").text) if who != "analyst" else None
    if home is not None:
        assert not [a for a in home.all("a") if a.attrs.get("href") == "/app/audit"]
        contact = dom(w.client.get(f"/app/contacts/{w.ids['rob_contact']}").text)
        assert not contact.all("#history-link")


def test_auditors_find_the_pages_from_the_nav_and_the_contact_page(w: World) -> None:
    sign_in(w.client, w.tokens["auditor"])
    contact = dom(w.client.get(f"/app/contacts/{w.ids['rob_contact']}").text)
    assert [a.attrs["href"] for a in contact.all("a") if a.attrs.get("href") == "/app/audit"]
    assert contact.one("#history-link").attrs["href"] == f"/app/contacts/{w.ids['rob_contact']}/history"
    french = dom(w.client.get("/app/audit", headers={"Accept-Language": "fr"}).text)
    assert french.one("html").attrs["lang"] == "fr" and "Vérifier la chaîne" in french.one("#verify").text
    for name in ("audit.js", "audit.css"):
        assert w.client.get(f"/app/static/{name}").status_code == 200
