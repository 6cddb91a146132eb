"""/health, /livez and /readyz: what a monitor or an orchestrator asks, with no key.

All three answer within a second whatever the store does: they run on the event loop
(not in the thread pool, which commands waiting on an unreachable store may fill) and
ask the store through a probe of their own, bounded in time (store/probe.py).

- /livez: the process answers (no store access): restart it only when this fails.
- /readyz: send it traffic? 200 when the store answers, the read side keeps up with the
  log and, when this process runs the automations, their runner is known; else 503.
- /health: the figures behind it (positions, lag, the projector's last error).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from crm_es.entrypoints.http.answers import Health, Liveness, Readiness
from crm_es.entrypoints.http.problems import problem
from crm_es.bootstrap import Services
from crm_es.store.probe import Reach, StoreProbe

router = APIRouter(tags=["health"])

PROBE_WAIT = 0.8  # seconds the store's probe may take before it counts as unreachable
READY_MAX_LAG = 10_000  # events the read side may be behind and still be ready: one projector batch


async def _reach(services: Services) -> Reach:
    return await StoreProbe.of(services.store).reach(PROBE_WAIT)


@router.get("/health", response_model=Health,
            responses={503: {"model": Health, "description": "The event store cannot be reached"}})
async def health(request: Request, response: Response) -> dict[str, Any]:
    services: Services = request.app.state.services
    read_position = services.projector.position
    request.state.read_position = read_position
    reach = await _reach(services)
    store: dict[str, Any] = {"reachable": reach.reachable}
    if not reach.reachable:
        store["error"] = reach.error
        response.status_code = 503
    return {
        "status": "ok" if reach.reachable and services.projector.last_error is None else "degraded",
        "store": {**store, "backend": services.store.backend, "position": reach.position},
        "read_side": {
            "position": read_position,
            "lag": None if reach.position is None else max(reach.position - read_position, 0),
            "last_error": services.projector.last_error,
        },
    }


@router.get("/livez", response_model=Liveness)
async def livez() -> dict[str, Any]:
    return {"status": "ok"}


@router.get("/readyz", response_model=Readiness,
            responses={503: {"description": "Not ready: `checks` says which check failed and why"}})
async def readyz(request: Request) -> Any:
    services: Services = request.app.state.services
    reach = await _reach(services)
    checks = {"store": _store_check(reach), "read_side": _read_side_check(services, reach)}
    leadership = services.automations.leadership
    if services.settings.run_policies and leadership is not None:  # this process runs the automations
        checks["automations"] = {"ok": leadership.known, "detail": leadership.status}
    failed = [f"{name}: {check['detail']}" for name, check in checks.items() if not check["ok"]]
    if failed:
        return problem(503, "not-ready", "not ready: " + "; ".join(failed), {"Retry-After": "1"}, extra={"checks": checks})
    return {"ready": True, "checks": checks}


def _store_check(reach: Reach) -> dict[str, Any]:
    if reach.reachable:
        return {"ok": True, "detail": f"reached, at position {reach.position}"}
    return {"ok": False, "detail": f"unreachable: {reach.error}"}


def _read_side_check(services: Services, reach: Reach) -> dict[str, Any]:
    projector = services.projector
    if projector.last_error is not None:
        return {"ok": False, "detail": f"the projector fails: {projector.last_error}"}
    if reach.position is None:
        return {"ok": False, "detail": "lag unknown: the store cannot be reached"}
    lag = max(reach.position - projector.position, 0)
    if lag > READY_MAX_LAG:
        return {"ok": False, "detail": f"{lag} events behind the log (at most {READY_MAX_LAG})"}
    return {"ok": True, "detail": f"{lag} events behind the log"}
