"""What the service says at start, beside open development mode: which outgoing channels
are configured (where they deliver, never their secrets), and for the others the setting
that would configure them. (A real `crm-es serve` says it too: tests/test_cli_status.py.)"""

from __future__ import annotations

import logging
from dataclasses import replace

from fastapi.testclient import TestClient

from crm_es.entrypoints.http.app import create_app
from crm_es.bootstrap import Services


def started(services: Services, caplog) -> list[str]:
    caplog.clear()
    caplog.set_level(logging.WARNING, logger="crm_es")
    with TestClient(create_app(services)):
        pass
    return [r.getMessage() for r in caplog.records if r.name == "crm_es"]


def test_the_start_up_says_which_channels_are_not_configured_and_how_to(services: Services, caplog) -> None:
    lines = started(services, caplog)
    assert "!! OPEN DEVELOPMENT MODE: no API keys are configured." in lines
    at = lines.index("outgoing channels:")
    assert lines[at + 1].startswith("  e-mail: not configured (set CRM_ES_SMTP_URL, e.g. smtp://")
    assert lines[at + 2].startswith("  SMS: not configured (set CRM_ES_SMS_URL, e.g. https://")
    assert "a person's send is refused and automations' messages wait in the outbox" in lines[at + 1]
    assert lines[at + 3] == "  webhooks: on (each automation's settings name the receiver)"


def test_the_start_up_says_where_configured_channels_deliver_without_their_secrets(services: Services, caplog) -> None:
    services.settings = replace(services.settings, smtp_url="smtps://crm:s3cret@mail.example.com",
                                smtp_from="crm@seller.example", sms_url="https://gw.example.com:8443/send?token=t0ken")
    lines = started(services, caplog)
    at = lines.index("outgoing channels:")
    assert lines[at + 1:at + 4] == [
        "  e-mail: SMTP mail.example.com:465, TLS, From crm@seller.example",
        "  SMS: gateway https://gw.example.com:8443/send",
        "  webhooks: on (each automation's settings name the receiver)",
    ]
    assert not [line for line in lines if "s3cret" in line or "t0ken" in line]
