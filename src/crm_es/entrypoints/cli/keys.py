"""`crm-es keys`: make, list and revoke API keys.

These touch only the event store's database (never the read side), so they work while
`crm-es serve` runs; a new key counts from the next request. Exit codes as everywhere:
0 done, 1 failed (the message says why), 2 bad usage.
"""

from __future__ import annotations

from uuid import UUID

import click

from crm_es.auth.api_keys import ApiKey, KeyRefused
from crm_es.entrypoints.cli.console import fail, opened_store_tools, report
from crm_es.auth.roles import Role, needs_rep


def _line(key: ApiKey) -> str:
    rep = f" rep {key.rep_id}" if key.rep_id else ""
    state = f"revoked {key.revoked_at}" if key.revoked_at else "active"
    return f"{key.id}  {key.role:<8} {state}  created {key.created_at}{rep}  {key.name}".rstrip()


@click.group()
def keys() -> None:
    """API keys: each carries a role (admin, manager, rep, analyst, auditor).

    While no key exists the service runs in open development mode (anyone is admin);
    once one does, every request but /health, /livez, /readyz, /metrics and /docs needs Authorization: Bearer <key>.
    Make an admin key first: with only other keys, nobody can administer over HTTP.
    """


@keys.command()
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]), help="what the key may do")
@click.option("--rep", "rep_id", type=click.UUID, help="the rep the key belongs to (rep and manager keys)")
@click.option("--name", default="", help="a note on who or what uses the key")
@click.option("--json", "as_json", is_flag=True, help="print the key as JSON")
def create(role: str, rep_id: UUID | None, name: str, as_json: bool) -> None:
    """Make a key. It is printed once: only its hash is kept."""
    if needs_rep(Role(role)) != (rep_id is not None):
        raise click.UsageError("--rep names the rep of a rep or manager key, and only of those")
    with opened_store_tools() as tools:
        first = not tools.api_keys.configured()
        try:
            key, token = tools.api_keys.create(Role(role), rep_id, name)
        except KeyRefused as error:
            fail(str(error))
    report(as_json, {**key.as_dict(), "key": token, "first_key": first},
            f"{token}\n{_line(key)}\nKeep the key now: it is shown only this once.")
    if first:
        _open_mode_ended(key.role)


def _open_mode_ended(role: Role) -> None:
    """The first key closes the service to everyone without one: said on stderr, loudly
    when no admin can now manage the service over HTTP."""
    click.echo("crm-es: this is the first API key: open development mode ends now. From the next request on, "
               "every client of the service (apps, scripts, `crm-es sql`, the running `crm-es serve` too) must send "
               "Authorization: Bearer <key>; requests without one are refused (401).", err=True)
    if role is Role.ADMIN:
        return
    bar = "!" * 72
    click.echo("\n".join([
        bar,
        f"!! The first key is a {role} key, not an admin key: nobody can administer the service over",
        "!! HTTP (add reps, pipelines, settings, automations) until an admin key exists. Make one now:",
        "!!     crm-es keys create --role admin --name <who>",
        bar,
    ]), err=True)


@keys.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="print the keys as JSON")
def list_keys(as_json: bool) -> None:
    """Every key made, revoked or not (never their secrets)."""
    with opened_store_tools() as tools:
        found = tools.api_keys.list()
    report(as_json, {"keys": [key.as_dict() for key in found]}, "\n".join(map(_line, found)) or "no keys: open development mode")


@keys.command()
@click.argument("key_id")
@click.option("--json", "as_json", is_flag=True, help="print the revoked key as JSON")
def revoke(key_id: str, as_json: bool) -> None:
    """Revoke a key by its id: from the next request on it is refused (401)."""
    with opened_store_tools() as tools:
        key = tools.api_keys.revoke(key_id)
    if key is None:
        fail(f"no key has the id {key_id!r} (see `crm-es keys list`)")
    report(as_json, key.as_dict(), _line(key))
