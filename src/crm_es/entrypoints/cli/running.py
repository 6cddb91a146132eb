"""Where the `crm-es serve` of a data directory listens, for the commands that must ask it
rather than open its files (DuckDB lets one process hold the read side).

`serve` leaves its address in ``<data dir>/serve.json`` while it runs and takes it away
when it stops; a file left by a process that died is recognised by its process id.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

ADDRESS_FILE = "serve.json"


def url_for(host: str, port: int) -> str:
    """The URL a client on this machine reaches the service at (a wildcard address is
    reached on the loopback)."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def advertise(data_dir: Path, host: str, port: int) -> Path:
    path = data_dir / ADDRESS_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"url": url_for(host, port), "pid": os.getpid()}))
    return path


def withdraw(data_dir: Path) -> None:
    """Take the address away, if it is still this process's."""
    path = data_dir / ADDRESS_FILE
    if _read(path).get("pid") == os.getpid():
        path.unlink(missing_ok=True)


def running_service(data_dir: Path) -> str | None:
    """The URL of the service running on this data directory, or None (none left its
    address, or the process that did has died)."""
    found = _read(data_dir / ADDRESS_FILE)
    url, pid = found.get("url"), found.get("pid")
    if not isinstance(url, str) or not isinstance(pid, int) or not _alive(pid):
        return None
    return url


def _read(path: Path) -> dict:
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True
