"""The ways in: HTTP (`http/`, the FastAPI app) and the `crm-es` command (`cli/`).

Everything here composes the layers below through `crm_es.bootstrap`; nothing below
imports this package (checked by import-linter, see pyproject.toml)."""
