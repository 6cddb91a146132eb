"""What the tests that run `crm-es` as a real process share."""

from __future__ import annotations

import os

from crm_es.settings import Settings


def child_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a `crm-es` child process on the test's store (no CRM_ES_* of ours leaks in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_ES_")}
    env["CRM_ES_DATA_DIR"] = str(settings.data_dir)
    if settings.database_url:
        env["CRM_ES_DATABASE_URL"] = settings.database_url
    if settings.postgres_schema:
        env["CRM_ES_POSTGRES_SCHEMA"] = settings.postgres_schema
    return {**env, **extra}
