"""/health, /livez and /readyz in process (SQLite and PostgreSQL): no key needed, even once
keys exist, and the OpenAPI document says so; /readyz names the check that failed — the
read side too far behind, the automations' runner not known — and is ready again once it
holds. (An unreachable store: tests/integration/test_outages.py, through a proxy.)"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from crm_es.entrypoints.http.app import create_app
from crm_es.entrypoints.http.routers import health as health_routes
from crm_es.auth.roles import Role
from crm_es.bootstrap import Services
from crm_es.policies.leader import ACTIVE, STANDING_BY, Leadership
from tests.http.helpers import assert_problem, ok

PUBLIC = ("/health", "/livez", "/readyz")


def test_health_livez_and_readyz_need_no_key_once_keys_exist(client: TestClient, services: Services) -> None:
    services.api_keys.create(Role.ADMIN, name="admin")
    assert client.get("/deals").status_code == 401  # keys exist: other routes need one
    assert ok(client.get("/livez"), 200) == {"status": "ok"}
    ready = ok(client.get("/readyz"), 200)
    assert ready["ready"] is True and set(ready["checks"]) == {"store", "read_side"}  # automations: run elsewhere here
    assert all(check["ok"] for check in ready["checks"].values())
    health = ok(client.get("/health"), 200)
    assert health["status"] == "ok"
    assert health["store"]["reachable"] is True and health["store"]["position"] == services.store.max_position()
    assert health["store"]["backend"] == ("postgresql" if services.store.is_postgres else "sqlite")


def test_readyz_names_the_check_that_failed(client: TestClient, services: Services,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as patched:
        patched.setattr(health_routes, "READY_MAX_LAG", -1)  # any lag is too much
        body = assert_problem(client.get("/readyz"), 503, "not-ready")
    assert body["checks"]["read_side"]["ok"] is False and body["checks"]["store"]["ok"] is True
    assert "read_side:" in body["detail"] and "behind the log" in body["detail"]

    # This process runs the automations: ready once their runner is known, this process or another.
    services.settings = replace(services.settings, run_policies=True)
    lock = services.settings.data_dir / "policies.lock"
    services.automations.leadership = mine = Leadership(services.store, lock)
    body = assert_problem(client.get("/readyz"), 503, "not-ready")
    assert body["checks"]["automations"] == {"ok": False, "detail": "not asked yet"}
    other = Leadership(services.store, lock)
    try:
        assert mine.acquire() and mine.status == ACTIVE
        assert ok(client.get("/readyz"), 200)["checks"]["automations"] == {"ok": True, "detail": ACTIVE}
        services.automations.leadership = other
        assert not other.acquire() and other.status == STANDING_BY
        assert ok(client.get("/readyz"), 200)["checks"]["automations"] == {"ok": True, "detail": STANDING_BY}
    finally:
        mine.release()
        other.release()


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return TestClient(create_app()).get("/openapi.json").json()


def test_the_document_says_they_need_no_key(doc: dict[str, Any]) -> None:
    for path in PUBLIC:
        assert doc["paths"][path]["get"]["security"] == [], path
    assert doc["paths"]["/deals"]["get"]["security"] == [{"HTTPBearer": []}]
    assert sorted(doc["paths"]["/livez"]["get"]["responses"]) == ["200"]
    not_ready = doc["paths"]["/readyz"]["get"]["responses"]["503"]
    assert list(not_ready["content"]) == ["application/problem+json"] and "Retry-After" in not_ready["headers"]
