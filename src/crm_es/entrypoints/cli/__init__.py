"""The `crm-es` command: one click group per concern (`main.py` gathers them), and what
they share (`console.py`: errors, `--json`, progress bars, opening bootstrap's assemblies;
`running.py`: where a running service advertises its address)."""
