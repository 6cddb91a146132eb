"""The service the browser tests run against: `crm-es serve --demo` as a real process on a
data folder of its own (SQLite + DuckDB), and the API keys an operator makes for it with
`crm-es keys create` while it runs."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from crm_es.entrypoints.cli.main import main
from tests.erasure.real_service import Service, Store, until


def demo_store(data_dir: Path) -> Store:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_ES_")}
    # The automations stay off: one acting in the background could write on a deal between a
    # move in the browser and the test's look at that deal's timeline.
    env.update(CRM_ES_DATA_DIR=str(data_dir), CRM_ES_POLICIES="off")
    return Store(data_dir=data_dir, env=env, schema=None)


class DemoService(Service):
    """real_service.Service (its wait for /health, its stop, its log), started with ``--demo``
    as the README's `./dev serve --demo` does: the demo company loaded before it listens."""

    def __init__(self, store: Store) -> None:
        super().__init__(store, "--demo")
        self.url = f"http://127.0.0.1:{self.port}"


@dataclass(frozen=True)
class Key:
    """A key as `crm-es keys create --json` printed it."""

    id: str
    role: str
    name: str
    secret: str
    rep_id: str | None

    @property
    def actor(self) -> str:
        """Who the events written with this key name (auth.roles.Principal.actor)."""
        return f"rep:{self.rep_id}" if self.rep_id else f"key:{self.id}"


def create_key(store: Store, role: str, name: str, rep_id: str | None = None) -> Key:
    """`crm-es keys create` on the running service's store, in this process (a process of its
    own costs seconds of imports); the key counts from the service's next request."""
    args = ["keys", "create", "--role", role, "--name", name, "--json", *(["--rep", rep_id] if rep_id else [])]
    # The store's settings, and none of ours: CRM_ES_* set in this process read as unset.
    env = {**{k: "" for k in os.environ if k.startswith("CRM_ES_")}, "CRM_ES_DATA_DIR": str(store.data_dir)}
    done = CliRunner().invoke(main, args, env=env, catch_exceptions=False)
    assert done.exit_code == 0, f"crm-es {' '.join(args)}: exit {done.exit_code}\n{done.output[-3000:]}"
    made: dict[str, Any] = json.loads(done.stdout)
    return Key(id=made["id"], role=made["role"], name=made["name"], secret=made["key"], rep_id=made["rep_id"])


def api(service: Service, key: Key) -> httpx.Client:
    """The JSON API as a client of the key's holder (Bearer), to check what the pages show."""
    return httpx.Client(base_url=service.url, timeout=30, headers={"Authorization": f"Bearer {key.secret}"})


@dataclass
class Console:
    """The running service, its keys, and the JSON API to check what the pages show."""

    service: DemoService
    admin: Key
    auditor: Key
    rep: Key
    pipeline_id: str  # the first pipeline, the board's default
    taken: set[str] = field(default_factory=set)  # deals a test of this worker has moved

    @property
    def url(self) -> str:
        return self.service.url

    def api(self, key: Key | None = None) -> httpx.Client:
        return api(self.service, key or self.admin)

    def get(self, path: str, key: Key | None = None, **params: Any) -> dict[str, Any]:
        with self.api(key) as client:
            answer = client.get(path, params=params)
        assert answer.status_code == 200, f"GET {path}: {answer.status_code} {answer.text}"
        return answer.json()

    def board(self, pipeline_id: str | None = None, **params: Any) -> dict[str, Any]:
        return self.get(f"/pipelines/{pipeline_id or self.pipeline_id}/board", **params)

    def timeline(self, record: str, record_id: str) -> list[dict[str, Any]]:
        """Every event of ``/{record}/{id}/timeline``, oldest first, all pages."""
        items, cursor = [], None
        while True:
            page = self.get(f"/{record}/{record_id}/timeline", limit=1000, **({"cursor": cursor} if cursor else {}))
            items += page["items"]
            if not (cursor := page.get("next_cursor")):
                return items

    def take_deal(self, owner_id: str | None = None, left: int = 0, right: int = 1) -> tuple[dict[str, Any], list[str]]:
        """An open deal of the first pipeline that no test of this worker has moved, with at
        least ``left`` stages before its own and ``right`` after it; and the stages' names."""
        stages = self.board()["stages"]
        names = [stage["name"] for stage in stages]
        for index, stage in enumerate(stages[left:len(stages) - right], start=left):
            for deal in stage["deals"]:
                if deal["id"] not in self.taken and owner_id in (None, deal["owner_id"]):
                    self.taken.add(deal["id"])
                    return {**deal, "stage": names[index], "stage_index": index}, names
        pytest.fail(f"the demo's first pipeline has no deal left to move (owner {owner_id})")

    def deal_once_in(self, deal_id: str, stage: str) -> dict[str, Any]:
        """``GET /deals/{id}`` once the read side (a moment behind the log) has it in ``stage``."""
        def in_stage() -> dict[str, Any] | None:
            deal = self.get(f"/deals/{deal_id}")
            return deal if deal["stage"] == stage else None

        return self.settled(f"deal {deal_id} in {stage}", in_stage)

    def settled(self, what: str, check: Callable[[], Any]) -> Any:
        """``check()`` once the read side has caught up with what the browser just did."""
        return until(what, check, seconds=15)
