"""A small CRM with something in every corner the reads show, made through the HTTP API
itself (any client: a TestClient, or an httpx client over the app): the contract tests
read every route of the live OpenAPI document against it."""

from __future__ import annotations

from typing import Any

from helpers import STAGES

# Query parameters some reads require, by name; the rest of a read's parameters keep their defaults.
PERIOD = {"from": "2026-01-01T00:00:00Z", "to": "2026-04-01T00:00:00Z"}
SET_UP = "2025-12-01T09:00:00+01:00"  # the set-up is dated before the history it holds


def _ok(response: Any, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


def populate(client: Any) -> dict[str, Any]:
    """Ids by kind (the names path parameters carry, without `_id`) and the log position
    the last write reached (`position`: read with ?after= it to see them all)."""
    post = lambda path, body, status=201: _ok(client.post(path, json=body), status)  # noqa: E731
    ids: dict[str, Any] = {}
    rep = post("/reps", {"name": "Alice Martin", "email": "alice@seller.example", "occurred_at": SET_UP})
    ids["rep"] = rep["id"]
    ids["team"] = post("/teams", {"name": "West", "manager_id": ids["rep"], "occurred_at": SET_UP})["id"]
    post(f"/teams/{ids['team']}/members", {"rep_id": ids["rep"]}, 200)
    post(f"/reps/{ids['rep']}/quotas", {"period_start": "2026-01-01", "period_end": "2026-04-01", "amount": "50000.00",
                                        "currency": "EUR"})
    _ok(client.put(f"/reps/{ids['rep']}/signature", json={"signature": "Alice Martin, account manager"}), 200)
    ids["pipeline"] = post("/pipelines", {"name": "New business", "stages": STAGES, "occurred_at": SET_UP})["id"]
    ids["company"] = post("/companies", {"name": "Acme", "sector": "Retail", "annual_revenue": "1500000.00",
                                         "properties": {"tier": "gold"}, "occurred_at": SET_UP})["id"]
    ids["contact"] = post("/contacts", {
        "first_name": "Jean", "last_name": "Dupont", "email": "jean@acme.example", "phone": "+33 1 23 45 67 89",
        "company_id": ids["company"], "owner_id": ids["rep"], "source": "trade show", "tags": ["Gold"],
        "occurred_at": "2026-01-05T10:00:00+01:00"})["id"]
    deal = {"pipeline_id": ids["pipeline"], "stage": "Contact", "currency": "EUR", "owner_id": ids["rep"],
            "company_id": ids["company"], "contact_ids": [ids["contact"]], "source": "trade show",
            "occurred_at": "2026-01-10T09:00:00+01:00"}
    ids["deal"] = post("/deals", {**deal, "title": "Fleet renewal", "amount": "12000.00", "expected_close": "2026-04-30"})["id"]
    post(f"/deals/{ids['deal']}/stage", {"stage": "Demo", "occurred_at": "2026-02-01T09:00:00+01:00"}, 200)
    won = post("/deals", {**deal, "title": "Spare parts", "amount": "3000.00"})["id"]
    post(f"/deals/{won}/won", {"occurred_at": "2026-02-10T09:00:00+01:00"}, 200)
    lost = post("/deals", {**deal, "title": "Tyres", "amount": "800.00"})["id"]
    post(f"/deals/{lost}/lost", {"reason": "price", "occurred_at": "2026-02-12T09:00:00+01:00"}, 200)
    post(f"/contacts/{ids['contact']}/interactions", {"type": "call", "direction": "outbound", "duration_seconds": 240,
                                                      "deal_id": ids["deal"], "occurred_at": "2026-02-02T09:15:00+01:00"})
    post(f"/contacts/{ids['contact']}/interactions", {"type": "meeting_missed", "occurred_at": "2026-02-03T09:15:00+01:00"})
    ids["task"] = post("/tasks", {"type": "call", "title": "Call back about the demo", "due_at": "2026-03-02T10:00:00+01:00",
                                  "owner_id": ids["rep"], "contact_id": ids["contact"], "deal_id": ids["deal"]})["id"]
    ids["document"] = post("/documents", {"kind": "quote", "contact_id": ids["contact"], "currency": "EUR", "deal_id": ids["deal"],
                                          "lines": [{"description": "Fleet maintenance", "quantity": "2",
                                                     "unit_price": "1500.00"}]})["id"]
    ids["message"] = post(f"/contacts/{ids['contact']}/messages", {"subject": "Your quote", "body": "Here it is."}, 202)["id"]
    ids["dashboard"] = post("/dashboards", {"name": "My week", "reports": [
        {"report": "board", "params": {"pipeline": ids["pipeline"]}},
        {"report": "funnel", "params": {**PERIOD, "pipeline": ids["pipeline"]}},
    ]})["id"]
    last = _ok(client.put("/settings/statuses", json={"statuses": ["lead", "prospect", "customer"]}), 200)
    ids["position"] = last["position"]
    return ids


# Path parameters that name something else than a record of their kind: a value each.
NAMED = {"name": "quote", "record_type": "contact", "category": "potential"}


def filled(path: str, operation: dict[str, Any], ids: dict[str, Any]) -> str:
    """A read's path with the populated ids, its required query parameters and those
    naming a record (?rep=), and ?after= the populated position (the read side holds it all)."""
    query = {"after": ids["position"]}
    for param in operation.get("parameters", []):
        name = param["name"]
        if param["in"] == "path":
            value = ids.get(name.removesuffix("_id")) or NAMED[name]
            path = path.replace("{" + name + "}", value)
        elif param["in"] == "query" and (param.get("required") or name in ids):  # a record it is about
            query[name] = PERIOD.get(name) or ids[name]
    return path + "?" + "&".join(f"{k}={v}" for k, v in query.items())
