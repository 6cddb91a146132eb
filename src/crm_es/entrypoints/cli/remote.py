"""The maintenance commands (`rebuild`, `project`, `export`, `import`) while `crm-es serve`
runs: its process holds the read side's DuckDB file, which no other process may open, so
they ask it to do the work (admins' routes: docs/cli.md) rather than fail.

Which service: the one ``--url`` (or CRM_ES_URL) names; else the one running on this data
directory (`running.py`); else none, and the command works on the files itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from crm_es.entrypoints.cli.console import fail
from crm_es.entrypoints.cli.running import running_service
from crm_es.settings import Settings

STARTING_SECONDS = 3.0  # a service whose process lives may not listen yet: asked again meanwhile
Command = TypeVar("Command", bound=Callable[..., Any])


def service_options(command: Command) -> Command:
    """``--url`` and ``--api-key``, as `crm-es sql` takes them."""
    command = click.option("--api-key", envvar="CRM_ES_API_KEY",
                           help="an admin's key for the running service (env CRM_ES_API_KEY); none in open "
                                "development mode")(command)
    return click.option("--url", envvar="CRM_ES_URL", default=None,
                        help="the running service to ask (env CRM_ES_URL); by default the one `crm-es serve` runs "
                             "on this data directory, else the command works on the files")(command)


class Unreachable(Exception):
    pass


@dataclass(frozen=True)
class Service:
    url: str
    api_key: str | None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        """The JSON answer of a request; a refusal is a failure saying the service's reason."""
        import httpx

        try:
            response = httpx.request(method, f"{self.url}{path}", headers=self.headers,
                                     timeout=httpx.Timeout(10.0, read=None), **kwargs)
        except httpx.HTTPError as error:
            fail(f"the request to {self.url} failed: {error}")
        if response.status_code != expect:
            self.refused(response)
        return _json(response, self.url)

    def download(self, path: str, into: Path, **params: Any) -> None:
        """A file answer (an export) streamed into ``into``."""
        import httpx

        try:
            with httpx.stream("GET", f"{self.url}{path}", params=params, headers=self.headers,
                              timeout=httpx.Timeout(10.0, read=None)) as response:
                if response.status_code != 200:
                    response.read()
                    self.refused(response)
                with into.open("wb") as out:
                    for chunk in response.iter_bytes(1 << 20):
                        out.write(chunk)
        except httpx.HTTPError as error:
            fail(f"the request to {self.url} failed: {error}")

    def refused(self, response: Any) -> None:
        body = _json(response, self.url) if response.content else {}
        detail = body.get("detail") if isinstance(body, dict) else None
        rule = f" ({body['rule']})" if isinstance(body, dict) and body.get("rule") else ""
        fail(f"the service at {self.url} answered {response.status_code}{rule}: {detail or response.text}")


def _json(response: Any, url: str) -> Any:
    try:
        return response.json()
    except ValueError:
        fail(f"{url} answered {response.status_code} with something that is not JSON: is it crm-es?")


def running(url: str | None, api_key: str | None) -> Service | None:
    """The service to ask, or None: no service runs on this data directory."""
    if url:  # an empty CRM_ES_URL names none
        if not url.startswith(("http://", "https://")):
            fail(f"--url {url!r} is not an http:// or https:// URL")
        service = Service(url.rstrip("/"), api_key)
        try:
            _health(service, patience=0.0)
        except Unreachable as error:
            fail(str(error))
        return service
    try:
        found = running_service(Settings.from_env().data_dir)
    except ValueError as error:
        fail(str(error))
    if found is None:
        return None
    service = Service(found, api_key)
    try:
        _health(service, patience=STARTING_SECONDS)
    except Unreachable:
        return None  # its process id is now another program's: the files are free
    return service


def health(service: Service) -> dict[str, Any]:
    """GET /health (no key): the store's position and the read side's."""
    try:
        return _health(service, patience=0.0)
    except Unreachable as error:
        fail(str(error))


def _health(service: Service, patience: float) -> dict[str, Any]:
    import httpx

    deadline = time.monotonic() + patience
    while True:
        try:
            response = httpx.get(f"{service.url}/health", timeout=10.0)
            break
        except httpx.TransportError as error:
            if time.monotonic() >= deadline:
                raise Unreachable(f"cannot reach the service at {service.url} (is `crm-es serve` running?): "
                                  f"{error}") from None
            time.sleep(0.2)
    found = _json(response, service.url)
    if not isinstance(found, dict) or not {"store", "read_side"} <= found.keys():
        fail(f"{service.url} answered {response.status_code} with no status in it: is it crm-es?")
    if not found["store"].get("reachable"):
        fail(f"the service at {service.url} cannot reach its event store: {found['store'].get('error')}")
    return found
