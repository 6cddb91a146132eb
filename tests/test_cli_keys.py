"""`crm-es keys`: create, list, revoke (SQLite and PostgreSQL), beside a running service."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from crm_es.entrypoints.cli.main import main
from crm_es.commands import execute
from crm_es.commands.people import AddRep, add_rep


@pytest.mark.parametrize("command", [["keys"], ["keys", "create"], ["keys", "list"], ["keys", "revoke"]])
def test_every_keys_command_has_help(command):
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


def test_a_key_is_shown_once_then_listed_without_its_secret_and_revoked(run, services):
    """`services` holds the store and the read side open, as `crm-es serve` would."""
    rep_id = execute(add_rep, AddRep("Alice", "alice@example.com"), services.context()).id
    made = run("keys", "create", "--role", "rep", "--rep", str(rep_id), "--name", "Alice's phone", "--json")
    assert made.exit_code == 0, made.output
    key = json.loads(made.stdout)
    assert key["key"].startswith(f"crm_{key['id']}_") and key["rep_id"] == str(rep_id)
    assert services.api_keys.authenticate(key["key"]).principal.rep_id == rep_id

    listed = json.loads(run("keys", "list", "--json").stdout)["keys"]
    assert [k["id"] for k in listed] == [key["id"]] and "key" not in listed[0]
    assert key["key"] not in run("keys", "list").stdout

    revoked = run("keys", "revoke", key["id"], "--json")
    assert revoked.exit_code == 0 and json.loads(revoked.stdout)["revoked_at"]
    assert services.api_keys.authenticate(key["key"]) is None


@pytest.mark.parametrize("args, exit_code", [
    (["--role", "rep"], 2),  # a rep's key names its rep
    (["--role", "auditor", "--rep", "6f1c1a52-8a46-4b8e-9d43-2a4f7a9b3c11"], 2),
    (["--role", "owner"], 2),
    (["--role", "manager", "--rep", "6f1c1a52-8a46-4b8e-9d43-2a4f7a9b3c11"], 1),  # no such rep
])
def test_a_key_that_cannot_be_made_is_refused(run, args, exit_code):
    result = run("keys", "create", *args)
    assert result.exit_code == exit_code
    assert json.loads(run("keys", "list", "--json").stdout) == {"keys": []}


def test_revoking_an_unknown_key_fails(run):
    result = run("keys", "revoke", "nope")
    assert result.exit_code == 1 and "crm-es:" in result.stderr


def test_the_first_key_says_open_development_mode_ends_and_a_non_admin_one_warns_loudly(run, services):
    alice = execute(add_rep, AddRep("Alice", "alice@example.com"), services.context()).id
    first = run("keys", "create", "--role", "rep", "--rep", str(alice), "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["first_key"] is True
    assert "open development mode ends now" in first.stderr and "every client of the service" in first.stderr
    assert "not an admin key: nobody can administer the service over" in first.stderr
    assert "crm-es keys create --role admin" in first.stderr

    second = run("keys", "create", "--role", "admin", "--json")
    assert json.loads(second.stdout)["first_key"] is False
    assert second.stderr == "", "only the first key ends open mode"


def test_an_admin_first_key_says_open_mode_ends_without_the_warning(run):
    made = run("keys", "create", "--role", "admin", "--name", "ops")
    assert made.exit_code == 0, made.output
    assert made.stdout.startswith("crm_") and "open development mode ends now" in made.stderr
    assert "not an admin key" not in made.stderr
