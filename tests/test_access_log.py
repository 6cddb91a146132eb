"""The access log of a real `crm-es serve`, on SQLite and PostgreSQL: one line per request
with the method, the route, the status and the time — never the query string, which names
people (`GET /contacts?q=jean.dupont@…`)."""

from __future__ import annotations

import re
import signal
from urllib.parse import quote

import httpx

from crm_es.settings import Settings
from tests.test_cli_status import Served, served  # noqa: F401 (a fixture: a real `crm-es serve` on a free port)

SEARCHED = "jean.accesslog-5521@query-probe.example"
LINE = re.compile(r"^INFO: +(?P<method>[A-Z]+) (?P<route>\S+) (?P<status>\d{3}) (?P<ms>\d+\.\d) ms$")


def test_the_access_log_shows_routes_and_statuses_never_query_strings(settings: Settings, served: Served) -> None:  # noqa: F811
    created = httpx.post(f"{served.url}/contacts", json={"first_name": "Jean", "last_name": "Log", "email": "jean.log@example.com"},
                         timeout=10)
    assert created.status_code == 201, created.text
    contact_id = created.json()["id"]
    searched = httpx.get(f"{served.url}/contacts", params={"q": SEARCHED, "after": created.json()["position"]}, timeout=10)
    assert searched.status_code == 200, searched.text
    shown = httpx.get(f"{served.url}/contacts/{contact_id}?fields={quote(SEARCHED)}", timeout=10)
    missing = httpx.get(f"{served.url}/no-such-page?email={quote(SEARCHED)}", timeout=10)
    assert missing.status_code == 404

    served.process.send_signal(signal.SIGTERM)  # its output complete
    assert served.process.wait(30) == 0, served.output()
    output = served.output()
    assert SEARCHED not in output and quote(SEARCHED) not in output and SEARCHED.split("@")[0] not in output, output

    requests = [m.groupdict() for line in output.splitlines() if (m := LINE.match(line.strip()))]
    seen = [(r["method"], r["route"], r["status"]) for r in requests]
    assert ("POST", "/contacts", "201") in seen, output
    assert ("GET", "/contacts", "200") in seen, output
    assert ("GET", "/contacts/{contact_id}", str(shown.status_code)) in seen, output  # the template: no id
    assert ("GET", "/no-such-page", "404") in seen, output  # no route: the path, still no query
    assert contact_id not in output, output
    assert "HTTP/1.1" not in output, "uvicorn's own access log is off"
