"""English and French: chosen by the browser's Accept-Language, or by the person (a cookie);
dates and amounts written the way each language writes them."""

from __future__ import annotations

from fastapi.testclient import TestClient
from web_pages import dom

from crm_es.entrypoints.web.i18n import CATALOG, Words


def test_a_french_browser_gets_french_pages(client: TestClient) -> None:
    for path in ("/app/sign-in", "/app/board"):
        page = dom(client.get(path, headers={"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.8"}).text)
        assert page.one("html").attrs["lang"] == "fr"
    assert "Tableau du pipeline" in page.one("h1").text
    english = dom(client.get("/app/board", headers={"Accept-Language": "de-DE, en;q=0.5"}).text)
    assert english.one("html").attrs["lang"] == "en" and "Pipeline board" in english.one("h1").text


def test_the_persons_choice_outlasts_the_browsers(client: TestClient) -> None:
    answer = client.get("/app/lang?to=fr", headers={"Referer": "http://testserver/app/board?as_of=2026-03-01"},
                        follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/app/board?as_of=2026-03-01"
    page = dom(client.get("/app/board", headers={"Accept-Language": "en"}).text)
    assert page.one("html").attrs["lang"] == "fr"
    assert page.one("a.lang").attrs["href"] == "/app/lang?to=en"
    elsewhere = client.get("/app/lang?to=en", headers={"Referer": "https://evil.example/app/board"}, follow_redirects=False)
    assert elsewhere.headers["location"] == "/app/"  # never back to another site
    assert client.get("/app/lang?to=de").status_code == 422


def test_both_catalogs_hold_the_same_strings() -> None:
    assert set(CATALOG["en"]) == set(CATALOG["fr"])
    assert all(CATALOG["fr"][key] != "" for key in CATALOG["fr"])


def test_amounts_and_dates_are_written_per_language() -> None:
    assert Words("fr").money("1234.50", "EUR") == "1\u202f234,50\u00a0€"
    assert Words("en").money("1234.50", "EUR") == "€1,234.50"
    assert Words("en").money("-1200", "JPY") == "-¥1,200"
    assert Words("en").money("5.250", "KWD") == "5.250 KWD"
    assert Words("fr").day("2026-03-01T09:00:00+00:00") == "1 mars 2026"
    assert Words("en").day("2026-03-01T09:00:00+00:00") == "1 Mar 2026"
