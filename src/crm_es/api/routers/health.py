"""/health: liveness, the store's reach and the read side's lag."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from crm_es.api.answers import Health
from crm_es.api.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health,
            responses={503: {"model": Health, "description": "The event store cannot be reached"}})
def health(request: Request, response: Response, services: ServicesDep) -> dict[str, Any]:
    read_position = services.projector.position
    request.state.read_position = read_position
    try:
        store_position, store = services.store.max_position(), {"reachable": True}
    except Exception as error:  # report, don't raise: health must answer
        store_position, store = None, {"reachable": False, "error": f"{type(error).__name__}: {error}"}
    healthy = store["reachable"] and services.projector.last_error is None
    if not store["reachable"]:
        response.status_code = 503
    return {
        "status": "ok" if healthy else "degraded",
        "store": {**store, "backend": "postgresql" if services.store.is_postgres else "sqlite", "position": store_position},
        "read_side": {
            "position": read_position,
            "lag": None if store_position is None else max(store_position - read_position, 0),
            "last_error": services.projector.last_error,
        },
    }
