"""The OpenAPI document is the contract: a client generated from it by openapi-python-client
drives the main flow, on SQLite and PostgreSQL, and parses every answer into its typed model
— the deal with its fields, the board, the timeline, and the refusals (412, 409, 404, 422)
as the one `Problem` with its `rule` and `errors`. The client is generated once, from the
live /openapi.json of the app; its requests reach the real app through a TestClient (an
httpx client over the ASGI app) handed to it."""

from __future__ import annotations

import importlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from types import ModuleType
from typing import Any

import pytest
from fastapi.testclient import TestClient

from crm_es.entrypoints.http.app import create_app

PACKAGE = "crm_es_generated_client"
CONFIG = f"""\
package_name_override: {PACKAGE}
post_hooks: []
content_type_overrides:
  application/pdf: application/octet-stream  # the tool reads binary answers under this name
"""


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The generated package, imported (once for the module: generating takes seconds)."""
    where = tmp_path_factory.mktemp("generated_client")
    document = TestClient(create_app()).get("/openapi.json")
    assert document.status_code == 200
    (where / "openapi.json").write_bytes(document.content)
    (where / "config.yaml").write_text(CONFIG)
    run = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(where / "openapi.json"),
         "--config", str(where / "config.yaml"), "--meta", "none", "--output-path", str(where / PACKAGE)],
        capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Warning" not in run.stdout, run.stdout  # every operation and answer was understood
    sys.path.insert(0, str(where))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(where))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


class Api:
    """The generated client's operations, called by their operation ids (the routes' names)."""

    def __init__(self, package: ModuleType, client: TestClient) -> None:
        self.package = package
        self.client = importlib.import_module(f"{PACKAGE}.client").AuthenticatedClient(
            base_url=str(client.base_url), token="unused in open mode").set_httpx_client(client)

    def model(self, name: str) -> Any:
        return getattr(importlib.import_module(f"{PACKAGE}.models"), name)

    def __call__(self, tag: str, operation: str, *args: Any, **kwargs: Any) -> Any:
        module = importlib.import_module(f"{PACKAGE}.api.{tag}.{operation}")
        return module.sync_detailed(*args, client=self.client, **kwargs)


def parsed(response: Any, status: int, model: Any) -> Any:
    assert response.status_code == status, response.content
    assert isinstance(response.parsed, model), response.parsed
    return response.parsed


def test_a_generated_client_drives_the_main_flow_and_parses_every_answer(generated: ModuleType, client: TestClient) -> None:
    api = Api(generated, client)
    m = api.model
    answer, problem = m("CommandAnswer"), m("Problem")

    stages = [m("StageIn")(name=name, probability=p) for name, p in (("Contact", "0.1"), ("Demo", "0.5"), ("Signature", "0.9"))]
    start = datetime.fromisoformat("2026-01-05T09:00:00+01:00")
    pipeline = parsed(api("pipelines", "post_pipeline", body=m("PipelineCreate")(
        name="New business", stages=stages, occurred_at=start)), 201, answer)
    rep = parsed(api("reps_and_teams", "post_rep", body=m("RepCreate")(
        name="Alice Martin", email="alice@example.com", occurred_at=start)), 201, answer)
    company = parsed(api("companies_and_contacts", "post_company", body=m("CompanyCreate")(
        name="Acme", sector="Retail", occurred_at=start)), 201, answer)
    contact = parsed(api("companies_and_contacts", "post_contact", body=m("ContactCreate")(
        first_name="Jean", last_name="Dupont", email="jean@acme.example", company_id=company.id, owner_id=rep.id)),
        201, answer)
    deal = parsed(api("deals", "post_deal", body=m("DealCreate")(
        title="Fleet renewal", pipeline_id=pipeline.id, stage="Contact", amount="12000.00", currency="EUR",
        owner_id=rep.id, company_id=company.id, contact_ids=[contact.id], expected_close=date(2026, 6, 30))),
        201, answer)
    assert deal.version == 1 and isinstance(deal.id, uuid.UUID)

    moved = parsed(api("deals", "post_stage", deal.id, body=m("StageMove")(stage="Demo"), if_match='"1"'), 200, answer)
    assert moved.version == 2

    read = parsed(api("deals", "get_deal", deal.id, after=moved.position), 200, m("DealDetail"))
    assert (read.title, read.stage, read.status, read.currency, read.version) == ("Fleet renewal", "Demo", "open", "EUR", 2)
    assert float(read.amount) == 12000 and read.pipeline_id == pipeline.id and read.contact_ids == [contact.id]
    assert read.expected_close == date(2026, 6, 30) and isinstance(read.created_at, datetime)
    page = parsed(api("deals", "get_deals", after=moved.position), 200, m("DealPage"))
    assert [d.id for d in page.items] == [deal.id] and page.next_cursor is None

    board = parsed(api("pipelines", "get_board", pipeline.id, after=moved.position), 200, m("Board"))
    assert [(s.name, s.count) for s in board.stages] == [("Contact", 0), ("Demo", 1), ("Signature", 0)]
    assert [d.id for d in board.stages[1].deals] == [deal.id] and float(board.stages[1].weighted_amount) == 6000

    timeline = parsed(api("interactions_and_timelines", "get_deal_timeline", deal.id), 200, m("TimelinePage"))
    assert [item.type_ for item in timeline.items] == ["deal_opened", "deal_stage_changed"]
    assert all(isinstance(item.occurred_at, datetime) for item in timeline.items)

    # Refusals, each parsed into the problem with the rule that said no.
    stale = parsed(api("deals", "post_stage", deal.id, body=m("StageMove")(stage="Signature"), if_match='"1"'),
                   412, problem)
    assert (stale.rule, stale.status, stale.current_version) == ("version-mismatch", 412, 2)
    parsed(api("deals", "post_won", deal.id, body=m("DealClose")()), 200, answer)
    closed = parsed(api("deals", "post_stage", deal.id, body=m("StageMove")(stage="Contact")), 409, problem)
    assert closed.rule == "deal-closed" and closed.type_ == "urn:crm-es:problem:deal-closed" and closed.detail
    missing = parsed(api("deals", "get_deal", uuid.uuid4()), 404, problem)
    assert missing.rule == "not-found" and missing.kind == "deal"
    invalid = parsed(api("deals", "post_deal", body=m("DealCreate")(
        title="Bad", pipeline_id=pipeline.id, stage="Contact", amount="10.00", currency="EURO")), 422, problem)
    assert invalid.rule == "invalid-field" and [e.field for e in invalid.errors] == ["currency"]
    assert invalid.errors[0].message
