"""`crm-es audit`: check the log's hash chain, replay a record as it was, export a
customer's history and check such an export offline.

Only the event store is opened (never the read side), so these run beside
`crm-es serve`. Exit codes: 0 all holds, 1 a problem was found (or the store cannot be
reached), 2 bad usage. ``--json`` prints one JSON object on stdout; progress and
messages go to stderr.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any
from uuid import UUID

import click

from crm_es.aggregates import Contact, Deal
from crm_es.audit.export import export_record, verify_export
from crm_es.audit.history import record_then
from crm_es.audit.verify import verify_store
from crm_es.entrypoints.cli.console import fail, opened_store_tools, progress, report


class AwareTime(click.ParamType):
    """An ISO 8601 time with its offset (a time without one is ambiguous)."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 time", param, ctx)
        if parsed.tzinfo is None:
            self.fail(f"{value!r} has no offset: write it like 2026-03-01T09:30:00+01:00", param, ctx)
        return parsed


def _finish(as_json: bool, ok: bool, data: dict[str, Any], text: str) -> None:
    report(as_json, data, text)
    sys.exit(0 if ok else 1)


@click.group()
def audit() -> None:
    """The auditor's tools: the log's hash chain, records as they were, exports."""


@audit.command()
@click.option("--expect-head", metavar="HASH", help="a head hash kept earlier: fail unless the log still holds it")
@click.option("--json", "as_json", is_flag=True, help="print the verdict as JSON")
def verify(expect_head: str | None, as_json: bool) -> None:
    """Walk the whole log, check its hash chain and report the first broken link
    (an edited, deleted, inserted or reordered event).

    Cutting the log's last events, or recomputing the whole chain, is caught only
    against a head hash kept elsewhere: keep the head this prints, pass it back with
    --expect-head.
    """
    expected = _digest(expect_head)
    with opened_store_tools() as tools, progress(tools.store.max_position(), "verifying the log", as_json) as tick:
        verdict = verify_store(tools.store, expected_head=expected, progress=tick)
    lines = []
    if verdict.first_broken is not None:
        broken = verdict.first_broken
        lines.append(f"BROKEN at position {broken.position} ({broken.reason}): {broken.detail}")
    if expected is not None and verdict.expected_head_position is None:
        lines.append(f"the expected head {expect_head} is not in the log: it was cut or rewritten since")
    if verdict.head is not None and verdict.head.hash is not None:
        lines.append(f"{verdict.checked} events intact; head at position {verdict.head.position}: {verdict.head.hash.hex()}")
    _finish(as_json, verdict.ok, verdict.as_dict(), "\n".join(lines) or "the log is empty")


def _digest(text: str | None) -> bytes | None:
    if text is None:
        return None
    try:
        digest = bytes.fromhex(text)
    except ValueError:
        digest = b""
    if len(digest) != 32:
        raise click.BadParameter("a SHA-256 hash: 64 hex digits", param_hint="--expect-head")
    return digest


@audit.command()
@click.argument("record_id", metavar="CONTACT_ID", type=click.UUID)
@click.option("--as-of", type=AwareTime(), help="business time: the events that had happened by then")
@click.option("--known-at", type=AwareTime(), help="recorded time: what the system knew at that moment")
@click.option("--json", "as_json", is_flag=True, help="print compact JSON")
def history(record_id: UUID, as_of: datetime | None, known_at: datetime | None, as_json: bool) -> None:
    """A contact (or a deal) as it was then, replayed from the event store: its state,
    its version and the events that made it."""
    with opened_store_tools() as tools:
        found = (record_then(tools.store, cls, record_id, as_of=as_of, known_at=known_at) for cls in (Contact, Deal))
        answer = next((a for a in found if a is not None), None)
    if answer is None:
        fail(f"no contact or deal has the id {record_id}")
    click.echo(json.dumps(answer) if as_json else json.dumps(answer, indent=2, ensure_ascii=False))


@audit.command()
@click.argument("record_id", metavar="CONTACT_ID", type=click.UUID)
@click.option("-o", "--output", type=click.File("w"), default="-", help="the file to write (default: stdout)")
def export(record_id: UUID, output: Any) -> None:
    """The contact's complete history as JSON lines: one event per line, with the
    stored bytes and the hashes, so that `verify-export` can check it offline.

    Only the contact's own events: deals name their contacts, but finding every deal
    that ever named one needs the read side, which is not the truth.
    """
    with opened_store_tools() as tools:
        lines = export_record(tools.store, record_id)
    if not lines:
        fail(f"no record has the id {record_id}")
    for line in lines:
        output.write(json.dumps(line, ensure_ascii=False) + "\n")
    click.echo(f"crm-es: exported {len(lines)} events of {record_id}", err=True)


@audit.command("verify-export")
@click.argument("file", type=click.File("r"))
@click.option("--json", "as_json", is_flag=True, help="print the verdict as JSON")
def verify_export_command(file: Any, as_json: bool) -> None:
    """Check an export offline (no store needed): every line's hash, and each record's
    versions following one another from version 1, each chained to the one before."""
    verdict = verify_export(file)
    bad = verdict.first_bad
    text = f"the export holds: {verdict.checked} events" if bad is None else f"BAD line {bad.line} ({bad.reason}): {bad.detail}"
    _finish(as_json, verdict.ok, verdict.as_dict(), text)
