"""Small helpers for the HTTP tests: set up records through the API itself."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

PROBLEM = "application/problem+json"
STAGES = [
    {"name": "Contact", "probability": "0.1"},
    {"name": "Qualification", "probability": "0.25"},
    {"name": "Demo", "probability": "0.5"},
    {"name": "Signature", "probability": "0.9"},
]


def ok(response: Any, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()


def pipeline(client: TestClient, name: str = "New business", **fields: Any) -> dict[str, Any]:
    return ok(client.post("/pipelines", json={"name": name, "stages": STAGES, **fields}))


def deal(client: TestClient, pipeline_id: str, **fields: Any) -> dict[str, Any]:
    body = {"title": "Fleet renewal", "pipeline_id": pipeline_id, "stage": "Contact", "amount": "12000.00", "currency": "EUR"}
    return ok(client.post("/deals", json={**body, **fields}))


def read(client: TestClient, path: str, position: int) -> dict[str, Any]:
    """GET after the given write has reached the read side."""
    sep = "&" if "?" in path else "?"
    return ok(client.get(f"{path}{sep}after={position}"), 200)


def assert_problem(response: Any, status: int, rule: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"]
    if rule:
        assert body["rule"] == rule, body
    return body
