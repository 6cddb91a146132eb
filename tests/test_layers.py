"""The layers hold: lint-imports checks the contracts in pyproject.toml on every run (the
layers from the entry points down to the domain, the store's two backends apart, the
sample data on public interfaces), so a new crossing — a query importing HTTP schemas, the
domain importing the store, a command importing an automation — fails here, not in a
reviewer's memory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--config", str(config), "--no-cache"], cwd=ROOT, text=True,
                          capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})


def test_every_layer_contract_is_kept() -> None:
    result = lint(ROOT / "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout and "Contracts: 4 kept" in result.stdout


def test_a_crossing_breaks_its_contract(tmp_path: Path) -> None:
    """The checker sees real imports: the store does use the domain's events, so layers
    that put the domain above the store must break (else the contracts above would prove
    nothing)."""
    config = tmp_path / "crossing.toml"
    config.write_text('[tool.importlinter]\nroot_package = "crm_es"\n\n[[tool.importlinter.contracts]]\n'
                      'name = "the domain above the store"\ntype = "layers"\n'
                      'layers = ["crm_es.aggregates", "crm_es.store"]\n')
    result = lint(config)
    assert result.returncode == 1 and "crm_es.store.records -> crm_es.aggregates" in result.stdout
