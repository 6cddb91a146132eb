"""`crm-es sql "SELECT …"`: analysts' SQL through the running service (POST /sql).

It goes over HTTP, never to the DuckDB file: the service's process owns that file while
it runs (DuckDB allows one writing process per file), and the service applies the
checks, the limits and the key's role.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from typing import Any

import click

from crm_es.entrypoints.cli.console import fail

FORMATS = ("table", "csv", "json")
DEFAULT_URL = "http://127.0.0.1:8000"
NUMERIC = re.compile(r"U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|DECIMAL\(.*\)|DOUBLE|FLOAT|REAL")


def _base_url(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise click.BadParameter(f"{value!r} is not an http:// or https:// URL")
    return value.rstrip("/")


@click.command("sql")
@click.argument("query")
@click.option("--url", envvar="CRM_ES_URL", default=DEFAULT_URL, show_default=True, callback=_base_url,
              help="the running service (env CRM_ES_URL)")
@click.option("--api-key", envvar="CRM_ES_API_KEY", help="an analyst's or admin's key (env CRM_ES_API_KEY)")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="table: aligned columns; csv: a header row, then the rows; json: the service's answer")
@click.option("--json", "as_json", is_flag=True, help="the same as --format json")
def sql(query: str, url: str, api_key: str | None, fmt: str, as_json: bool) -> None:
    """Run one read-only SELECT over the read side's tables, through the running service.

    QUERY is the SQL, or - to read it from stdin. The tables and their columns are in
    docs/tables.md; `SHOW TABLES` and `DESCRIBE deals` list them too.
    """
    if query == "-":
        query = sys.stdin.read()
    answer = _post(url, api_key, query)
    if answer.get("truncated"):
        click.echo(f"crm-es: only the first {len(answer['rows'])} rows: the service's row limit "
                   "(CRM_ES_SQL_MAX_ROWS) cut the answer", err=True)
    fmt = "json" if as_json else fmt
    if fmt == "json":
        click.echo(json.dumps(answer))
    elif fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(answer["columns"])
        writer.writerows([_csv_cell(v) for v in row] for row in answer["rows"])
    else:
        click.echo(table(answer["columns"], answer.get("types") or [], answer["rows"]))


def _post(url: str, api_key: str | None, query: str) -> dict[str, Any]:
    try:
        import httpx
    except ImportError:
        fail("`crm-es sql` needs httpx: pip install httpx")

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        # No read timeout here: the service stops a query at its own limit (CRM_ES_SQL_TIMEOUT_SECONDS).
        response = httpx.post(f"{url}/sql", json={"sql": query}, headers=headers,
                              timeout=httpx.Timeout(10.0, read=None))
    except httpx.ConnectError as error:
        fail(f"cannot reach the service at {url} (is `crm-es serve` running?): {error}")
    except httpx.HTTPError as error:
        fail(f"the request to {url} failed: {error}")
    try:
        body = response.json()
    except ValueError:
        fail(f"{url} answered {response.status_code} with something that is not JSON: is it crm-es?")
    if response.status_code >= 400:
        detail = body.get("detail") if isinstance(body, dict) else None
        rule = f" ({body['rule']})" if isinstance(body, dict) and body.get("rule") else ""
        fail(f"{response.status_code}{rule}: {detail or response.text}")
    if not isinstance(body, dict) or not {"columns", "rows"} <= body.keys():
        fail(f"{url} answered {response.status_code} without columns and rows: is it crm-es?")
    return body


def _csv_cell(value: Any) -> Any:
    """As the service's CSV lists: null an empty cell, lists and objects as JSON."""
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return value


def _text(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, dict)):
        value = json.dumps(value, ensure_ascii=False)
    return str(value).replace("\r", "\\r").replace("\n", "\\n")  # one line per row


def table(columns: list[str], types: list[str], rows: list[list[Any]]) -> str:
    """Aligned columns for a terminal, numbers (decimals too) to the right, and how many rows."""
    cells = [[_text(v) for v in row] for row in rows]
    widths = [max([len(name), *(len(row[i]) for row in cells)]) for i, name in enumerate(columns)]
    numeric = [bool(NUMERIC.fullmatch(type_)) for type_ in types] if len(types) == len(columns) else [False] * len(columns)

    def line(values: list[str]) -> str:
        return " | ".join(v.rjust(w) if right else v.ljust(w)
                          for v, w, right in zip(values, widths, numeric, strict=True)).rstrip()

    out = [line(columns), "-+-".join("-" * w for w in widths), *(line(row) for row in cells)]
    out.append(f"({len(rows)} row{'' if len(rows) == 1 else 's'})")
    return "\n".join(out)
