"""The console is pages, not API: /openapi.json is the same with or without it, and its own
files are served without a key or a CDN."""

from __future__ import annotations

from fastapi.testclient import TestClient

from crm_es.auth.roles import Role
from crm_es.entrypoints.http.app import create_app
from crm_es.entrypoints.web.console import PAGES


def test_the_openapi_document_is_unchanged_by_the_console() -> None:
    with_console = create_app()
    without = create_app()
    console = {(path, method) for path, _, method in PAGES}
    without.router.routes[:] = [r for r in without.router.routes
                                if not any((getattr(r, "path", None), m) in console for m in getattr(r, "methods", ()) or ())]
    assert len(without.router.routes) == len(with_console.router.routes) - len(PAGES)
    document = with_console.openapi()
    assert document == without.openapi()
    assert not [path for path in document["paths"] if path == "/" or path.startswith("/app")]
    parameters = [p for item in document["paths"].values() for op in item.values() for p in op.get("parameters", [])]
    assert not [p for p in parameters if p["in"] == "cookie" or p["name"].lower() == "x-csrf-token"]


def test_the_consoles_own_script_and_styles_need_no_key(client: TestClient) -> None:
    client.app.state.services.api_keys.create(Role.ADMIN)
    script = client.get("/app/static/console.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "X-CSRF-Token" in script.text and "If-Match" in script.text
    assert client.get("/app/static/console.css").headers["content-type"].startswith("text/css")
    assert client.get("/app/static/app.py").status_code == 404
    assert client.get("/app/static/..%2F..%2Fsession.py").status_code == 404
    page = client.get("/app/sign-in").text
    assert "http://" not in page and "https://" not in page  # nothing from the internet
