"""The README and the docs/ pages run as written: a wrong line fails the suite.

What runs. Every ```sh block of README.md, in order, in one bash session; then, each in a
session and a fresh service of its own, every ```sh block of each docs/*.md page. Blocks
marked ```console or ```text are shown, never run: a command that needs what the runner
cannot give (a second `serve`, the service stopped, a file the reader has). Any other
shell-like fence (bash, shell, zsh) is refused, so every block is visibly run or not.
Running the pages is cheap (a fresh empty service starts in ~2 s; each page creates the
records it shows), so they are run rather than trusted.

The first screen. README's first block is exactly `./dev serve --demo` and `./dev test`:
- `./dev test` is CI's command: the runner checks that `.ci/run` runs `./dev test` (and that
  the README says it runs the suite) instead of running the whole suite from inside itself.
- `./dev serve --demo` is replaced by the command it execs, `crm-es serve --demo`, taken from
  the virtualenv running these tests, on a free port, in a fresh directory: `./dev`'s own
  step first may reinstall the project (pip, network, minutes) when pyproject.toml changed,
  which is not what this test is about, and port 8000 would collide between pytest-xdist
  workers and with a developer's own service. That `./dev serve` execs exactly
  `crm-es serve "$@"` is checked on the script's text. The README runs with the demo
  loaded, as its reader has it; the docs pages on an empty service (they assume only open
  development mode).

How a block runs. One `bash --noprofile --norc` with `set -euo pipefail` and
`shopt -s inherit_errexit`; each block is sourced in turn, so variables carry from block to
block. The working directory is fresh, `.venv` in it is the virtualenv running the tests (a
symlink), and PATH holds no virtualenv: `crm-es` is reachable only the way the README tells
a reader (`. .venv/bin/activate`). In the blocks' text `localhost:8000` and
`127.0.0.1:8000` become the test server's address, and CRM_ES_URL names it (for `crm-es
sql`, whose default is port 8000; `crm-es status` then asks that address rather than finding
the service by its data folder). The service and the session run in the same directory
(`./var/`), or on PostgreSQL with the same CRM_ES_DATABASE_URL and a schema of their own
(CRM_ES_POSTGRES_SCHEMA), as a reader exports them for both.

Failing on purpose. Every `curl` either has `--fail-with-body` (a 4xx or 5xx where a 2xx is
expected exits 22 and stops the run) or shows a refusal on purpose, written so a reader sees
it and the shell checks it:
    curl -s … | jq -e 'select(.status == 409 and .rule == "deal-closed")'   # → 409 deal-closed
(`jq -e` fails unless the problem has that status). A command expected to exit non-zero is
`command || [ $? -eq 3 ]   # → exit 3 …`. A lint checks that each `# →` comment is one of
these and agrees with its check.

When a line fails, the test fails with the file, the block (its line and text), the line
and command that failed with their exit status, what the block printed, and the end of the
service's log.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import PG_URL, pg_schema

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
VENV = Path(sys.prefix)

RUN, NOT_RUN = "sh", ("console", "text")
REFUSED = ("bash", "shell", "zsh", "shell-session", "sh-session")
FIRST_SCREEN = ["./dev serve --demo", "./dev test"]
RUN_SECONDS = 170  # the budget of one file's blocks: each file must run in under ~3 minutes

FENCE = re.compile(r"^(`{3,}|~{3,})\s*([\w+-]*)")
CURL = re.compile(r"(?<![\w/.-])curl\s")
REFUSAL_CHECK = re.compile(r"\|\s*jq -e '?select\(\.status == (\d{3})")
EXIT_CHECK = re.compile(r"\|\|\s*\[ \$\? -eq (\d+) \]")
ARROW = re.compile(r"#\s*→\s*(exit\s+)?(\d+)")
BASH_ERROR = re.compile(r"^\S*block-\d+\.sh: line \d+: .*$", re.MULTILINE)  # bash's own diagnostics
HEREDOC = re.compile(r"<<-?\s*['\"]?(\w+)['\"]?")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # the opening fence's line, counted from 1
    lang: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path}:{self.line}"


def fenced_blocks(path: Path) -> list[Block]:
    """Every fenced block of a Markdown file, with its info string's first word."""
    blocks, lines, opened = [], path.read_text().splitlines(), None
    for number, line in enumerate(lines, 1):
        match = FENCE.match(line)
        if opened is None and match:
            opened, body = (number, match[1], match[2].lower()), []
        elif opened is not None and line.strip() == opened[1]:
            blocks.append(Block(path, opened[0], opened[2], "\n".join(body) + "\n"))
            opened = None
        elif opened is not None:
            body.append(line)
    assert opened is None, f"{path}:{opened[0]}: a fenced block is never closed"
    return blocks


def shell_blocks(path: Path) -> list[Block]:
    return [block for block in fenced_blocks(path) if block.lang == RUN]


def shell_commands(text: str) -> list[str]:
    """The text split into top-level commands, each with its continuation lines, quoted
    newlines and trailing comment (a here-document's lines are data: skipped): enough shell
    grammar to lint them."""
    commands, start, i, stack = [], 0, 0, ["top"]
    at_word_start = True
    while i < len(text):
        ch, context = text[i], stack[-1]
        if context == '"':
            if ch == "\\":
                i += 1
            elif ch == '"':
                stack.pop()
            elif text.startswith("$(", i):
                stack.append("$(")
                i += 1
            i += 1
            continue
        if ch == "\\":
            i += 2
            continue
        if ch == "'":
            closing = text.find("'", i + 1)
            i = closing + 1 if closing >= 0 else len(text)  # an unclosed quote runs to the end
        elif ch == '"':
            stack.append('"')
            i += 1
        elif text.startswith("$(", i):
            stack.append("$(")
            i += 2
        elif ch == ")" and context == "$(":
            stack.pop()
            i += 1
        elif ch == "#" and at_word_start:
            i = text.find("\n", i) if "\n" in text[i:] else len(text)
        elif ch == "\n" and len(stack) == 1:
            command = text[start:i]
            heredoc = HEREDOC.search(command)
            if heredoc:  # the document's lines are the command's data, up to its delimiter
                end = re.compile(rf"^\s*{heredoc[1]}$", re.MULTILINE).search(text, i + 1)
                i = end.end() if end else len(text)
            if command.strip():
                commands.append(command.strip())
            i += 1
            start = i
        else:
            i += 1
        at_word_start = 0 < i <= len(text) and text[i - 1] in " \t\n;|&("
    if text[start:].strip():
        commands.append(text[start:].strip())
    return commands


def lint(block: Block) -> list[str]:
    """What is wrong with a run block's commands: a curl that would hide a 4xx, or a `# →`
    comment its command does not check."""
    problems = []
    for command in shell_commands(block.text):
        arrow = ARROW.search(command)
        refusal, exit_check = REFUSAL_CHECK.search(command), EXIT_CHECK.search(command)
        wrong = []
        if CURL.search(command) and "--fail-with-body" not in command and not refusal:
            wrong.append("this curl neither has --fail-with-body nor checks the refusal it shows")
        if refusal and not (arrow and not arrow[1] and arrow[2] == refusal[1]):
            wrong.append(f"a refusal checked by jq needs a comment `# → {refusal[1]} …` saying so")
        if exit_check and not (arrow and arrow[1] and arrow[2] == exit_check[1]):
            wrong.append(f"an expected exit status needs a comment `# → exit {exit_check[1]} …`")
        if arrow and not (refusal if not arrow[1] else exit_check):
            wrong.append(f"`{arrow[0]}` says this fails, but nothing checks it "
                         "(`| jq -e 'select(.status == N …)'` or `|| [ $? -eq N ]`)")
        problems += [f"{block.where}: {why}:\n{command}" for why in wrong]
    return problems


class BlockFailed(AssertionError):
    pass


def for_port(text: str, port: int) -> str:
    return text.replace("localhost:8000", f"localhost:{port}").replace("127.0.0.1:8000", f"127.0.0.1:{port}")


def run_blocks(blocks: list[Block], workdir: Path, env: dict[str, str], port: int,
               timeout: float = RUN_SECONDS, server_log: Path | None = None) -> None:
    """Source the blocks in order in one strict bash session; raise BlockFailed naming the
    block that failed, with its text and output."""
    runner = workdir.parent / f"{workdir.name}-runner"
    runner.mkdir()
    script = ["set -euo pipefail", "shopt -s inherit_errexit",
              """trap 'echo "✗ exit $? at line $LINENO of this block: $BASH_COMMAND" >&2' ERR"""]
    for index, block in enumerate(blocks):
        (runner / f"block-{index}.sh").write_text(for_port(block.text, port))
        source, out = (shlex.quote(str(runner / name)) for name in (f"block-{index}.sh", f"out-{index}"))
        script += [f"echo {index} > {shlex.quote(str(runner / 'current'))}", f"source {source} > {out} 2>&1"]
    script.append(f"echo done > {shlex.quote(str(runner / 'current'))}")
    (runner / "session.sh").write_text("\n".join(script) + "\n")
    session = subprocess.Popen(["bash", "--noprofile", "--norc", str(runner / "session.sh")], cwd=workdir, env=env,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        status, why = session.wait(timeout), ""
    except subprocess.TimeoutExpired:
        os.killpg(session.pid, signal.SIGKILL)
        status, why = session.wait(), f"still running after {timeout:.0f} s (the budget of one file)"
    current = (runner / "current").read_text().strip() if (runner / "current").exists() else "0"
    if status == 0 and current == "done":
        # bash goes on after an error inside $(…) given as an argument: its own message says so
        said = [(index, BASH_ERROR.search((runner / f"out-{index}").read_text())) for index in range(len(blocks))]
        current, why = next(((str(index), f"bash said {found[0]!r}") for index, found in said if found), ("done", ""))
        if current == "done":
            return
    block = blocks[int(current)]
    output = (runner / f"out-{current}").read_text() if (runner / f"out-{current}").exists() else ""
    log = server_log.read_text()[-3000:] if server_log and server_log.exists() else ""
    raise BlockFailed(f"{block.where}: the block failed{': ' + why if why else ''} (bash exit {status})\n"
                      f"--- the block ---\n{block.text}--- what it printed ---\n{output}"
                      + (f"--- the end of the service's log ---\n{log}" if log else ""))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def session_env(store_env: dict[str, str], port: int) -> dict[str, str]:
    """The reader's shell: no virtualenv on PATH, no crm-es settings but the store's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_ES_") and k not in ("VIRTUAL_ENV", "PYTHONHOME")}
    venv_bin = os.path.realpath(VENV / "bin")
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p and os.path.realpath(p) != venv_bin)
    return {**env, **store_env, "CRM_ES_URL": f"http://127.0.0.1:{port}"}


@dataclass
class Service:
    workdir: Path
    port: int
    env: dict[str, str]
    log: Path


@pytest.fixture
def store_env(backend: str) -> Iterator[dict[str, str]]:
    if backend == "postgres":
        for schema in pg_schema():
            yield {"CRM_ES_DATABASE_URL": PG_URL, "CRM_ES_POSTGRES_SCHEMA": schema}
    else:
        yield {}


def start_service(tmp_path: Path, store_env: dict[str, str], demo: bool) -> Iterator[Service]:
    """`crm-es serve [--demo]` in a fresh directory holding `.venv`, on a free port; stopped after."""
    assert (VENV / "bin" / "activate").exists() and (VENV / "bin" / "crm-es").exists(), \
        f"the tests must run in the project's virtualenv (./dev test), not {VENV}"
    workdir = tmp_path / "reader"
    workdir.mkdir()
    (workdir / ".venv").symlink_to(VENV)
    log = tmp_path / "serve.log"
    for _attempt in range(3):  # another process may take the free port before the server binds it
        port = free_port()
        env = session_env(store_env, port)
        with log.open("w") as out:
            server = subprocess.Popen([str(VENV / "bin" / "crm-es"), "serve", *(["--demo"] if demo else []),
                                       "--host", "127.0.0.1", "--port", str(port)],
                                      cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True)
        if wait_until_up(server, port):
            break
        stop(server)
        if "address already in use" not in log.read_text().lower():
            pytest.fail(f"crm-es serve did not start:\n{log.read_text()[-3000:]}")
    else:
        pytest.fail(f"crm-es serve found no free port:\n{log.read_text()[-3000:]}")
    try:
        yield Service(workdir, port, env, log)
    finally:
        stop(server)


def wait_until_up(server: subprocess.Popen, port: int, seconds: float = 120) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:
                if answer.status == 200:
                    return True
        except OSError:
            time.sleep(0.2)
    return False


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def pages_with_shell_blocks() -> list[Path]:
    return sorted(page for page in DOCS.glob("*.md") if shell_blocks(page))


# --- the documents' own shape ------------------------------------------------------------

def test_the_first_screen_is_the_two_commands_that_dev_and_ci_run():
    first = shell_blocks(README)[0]
    assert [c.split("#")[0].strip() for c in shell_commands(first.text)] == FIRST_SCREEN, first.text
    assert re.search(r"^\./dev test\b", (ROOT / ".ci" / "run").read_text(), re.MULTILINE), ".ci/run must run ./dev test"
    assert "./dev test            # the whole test suite" in first.text
    dev = (ROOT / "dev").read_text()
    assert re.search(r'serve\)\n\s*shift; setup\n\s*exec "\$VENV/bin/crm-es" serve "\$@"', dev), \
        "./dev serve must exec `crm-es serve` with its arguments, as this runner does"


def test_every_block_is_run_or_visibly_not_and_every_curl_says_what_it_expects():
    problems = []
    for path in [README, *sorted(DOCS.glob("*.md"))]:
        for block in fenced_blocks(path):
            if block.lang in REFUSED or (block.lang == "" and block.text.lstrip().startswith(("curl", "crm-es", "./"))):
                problems.append(f"{block.where}: mark the block ```{RUN} (run by the tests) "
                                f"or ```{' / ```'.join(NOT_RUN)} (not run)")
            elif block.lang == RUN:
                problems += lint(block)
    assert not problems, "\n\n".join(problems)


def test_the_pages_can_run_one_after_another_on_one_service():
    """A reader runs the tour, then page after page on the same service: no two files
    register the same e-mail address (the second would be refused, 409)."""
    address = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
    owners: dict[str, set[str]] = {}
    for path in [README, *sorted(DOCS.glob("*.md"))]:
        for block in shell_blocks(path):
            for found in address.findall(block.text):
                owners.setdefault(found, set()).add(path.name)
    shared = {found: sorted(files) for found, files in owners.items() if len(files) > 1}
    assert not shared, f"addresses used by several files: {shared}"


# --- the runner's own behaviour (no service needed) -----------------------------------------

def test_the_runner_carries_variables_and_stops_at_the_failing_line(tmp_path):
    workdir = tmp_path / "reader"
    workdir.mkdir()
    blocks = [Block(tmp_path / "doc.md", 3, RUN, "X=forty\n"),
              Block(tmp_path / "doc.md", 9, RUN, 'echo "X is $X"\nls /no/such/file\necho never\n')]
    with pytest.raises(BlockFailed) as failed:
        run_blocks(blocks, workdir, session_env({}, 1), port=1)
    message = str(failed.value)
    assert "doc.md:9" in message and "ls /no/such/file" in message  # the block, by its line, and its text
    assert "X is forty" in message and "never\n" not in message.split("what it printed")[1]
    assert "exit 2 at line 2 of this block: ls /no/such/file" in message


def test_the_runner_refuses_an_unset_variable_and_substitutes_the_port(tmp_path):
    for name in ("reader", "reader2"):
        (tmp_path / name).mkdir()
    run_blocks([Block(tmp_path / "doc.md", 1, RUN, '[ "localhost:8000" = "localhost:4242" ]\n')], tmp_path / "reader",
               session_env({}, 4242), port=4242)
    with pytest.raises(BlockFailed, match=r"(?s)echo \$NEVER_SET.*NEVER_SET: unbound variable"):
        run_blocks([Block(tmp_path / "doc.md", 1, RUN, "echo $NEVER_SET\n")], tmp_path / "reader2", session_env({}, 1),
                   port=1)


def test_the_runner_fails_on_an_error_bash_survives(tmp_path):
    (tmp_path / "reader").mkdir()
    quiet_failure = 'echo "body: $(echo ${UNSET_HERE})"\necho "the line after ran"\n'
    with pytest.raises(BlockFailed, match=r"(?s)bash said .*UNSET_HERE: unbound variable.*the line after ran"):
        run_blocks([Block(tmp_path / "doc.md", 1, RUN, quiet_failure)], tmp_path / "reader", session_env({}, 1), port=1)


def test_the_lint_catches_a_curl_that_hides_a_refusal_and_an_unchecked_arrow():
    doc = ROOT / "doc.md"
    hidden = lint(Block(doc, 1, RUN, "curl -s localhost:8000/deals -H \"$H\" -d '{\n  \"x\": 1}' | jq -r .id\n"))
    assert len(hidden) == 1 and "--fail-with-body" in hidden[0]
    unchecked = lint(Block(doc, 1, RUN, "curl -s --fail-with-body localhost:8000/x   # → 409 deal-closed\n"))
    assert len(unchecked) == 1 and "nothing checks it" in unchecked[0]
    disagreeing = lint(Block(doc, 1, RUN, "curl -s x | jq -e 'select(.status == 409)'   # → 412 stale\n"))
    assert disagreeing and all("409" in p or "412" in p for p in disagreeing)
    assert lint(Block(doc, 1, RUN, "curl -s localhost:8000/d -d '{}' | jq -e 'select(.status == 409 and .rule == \"x\")'"
                                   "   # → 409 x\ncrm-es import deals f.csv || [ $? -eq 3 ]   # → exit 3: some rows failed\n"
                                   "cat > f.csv <<'EOF'\ncurl it's not a command\nEOF\n")) == []


# --- the documents, run ---------------------------------------------------------------------

@pytest.fixture
def demo_service(tmp_path, store_env) -> Iterator[Service]:
    yield from start_service(tmp_path, store_env, demo=True)


@pytest.fixture
def empty_service(tmp_path, store_env) -> Iterator[Service]:
    yield from start_service(tmp_path, store_env, demo=False)


def test_the_readme_runs_as_written(demo_service: Service):
    blocks = shell_blocks(README)[1:]  # the first screen is checked above and stands in for the service
    assert blocks, "the README has no tour to run"
    run_blocks(blocks, demo_service.workdir, demo_service.env, demo_service.port, server_log=demo_service.log)


@pytest.mark.parametrize("page", pages_with_shell_blocks(), ids=lambda page: page.name)
def test_each_docs_page_runs_as_written_on_a_fresh_service(page: Path, empty_service: Service):
    run_blocks(shell_blocks(page), empty_service.workdir, empty_service.env, empty_service.port,
               server_log=empty_service.log)
