"""The channels the outbox delivers on, and the setting that configures each: e-mail
through an SMTP server (CRM_ES_SMTP_URL), SMS through an HTTP gateway (CRM_ES_SMS_URL),
webhooks always (each message names its receiver).

What one process may send is what its settings configure: a person's send on a channel
that is not configured is refused at once (409 ``channel-not-configured``, nothing
written), rather than queued to fail in the outbox; what an automation queues on such a
channel waits in the outbox, untouched, and the automation's status says so. `crm-es
serve` and `crm-es policies` read the same environment: give both the same settings.
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import urlsplit

from crm_es.aggregates.base import RuleViolated
from crm_es.aggregates.message import CHANNELS, EMAIL, SMS, WEBHOOK
from crm_es.settings import Settings

# The environment variable that configures each channel (webhooks need none), and an example.
SETTING = {EMAIL: "CRM_ES_SMTP_URL", SMS: "CRM_ES_SMS_URL"}
EXAMPLE = {EMAIL: "smtp://user:password@mail.example.com:587", SMS: "https://sms-gateway.example.com/send"}
LABEL = {EMAIL: "e-mail", SMS: "SMS", WEBHOOK: "webhooks"}


def _url(settings: Settings, channel: str) -> str | None:
    return {EMAIL: settings.smtp_url, SMS: settings.sms_url}.get(channel)


def configured(settings: Settings) -> frozenset[str]:
    """The channels these settings give a sender."""
    return frozenset(c for c in CHANNELS if c not in SETTING or _url(settings, c))


def _where(url: str) -> str:
    """Where a URL delivers, without what it may carry in secret (a password, a token
    in the query)."""
    parts = urlsplit(url)
    host = f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)
    return f"{parts.scheme}://{host}{parts.path}"


def describe(settings: Settings) -> list[str]:
    """One line a channel, as `crm-es serve` says them at start."""
    lines = []
    if settings.smtp_url:
        parts = urlsplit(settings.smtp_url)
        default_port = 465 if parts.scheme == "smtps" else 25
        tls = ", TLS" if parts.scheme == "smtps" else ""
        lines.append(f"e-mail: SMTP {parts.hostname}:{parts.port or default_port}{tls}, From {settings.smtp_from}")
    else:
        lines.append(_missing(EMAIL))
    lines.append(f"SMS: gateway {_where(settings.sms_url)}" if settings.sms_url else _missing(SMS))
    lines.append("webhooks: on (each automation's settings name the receiver)")
    return lines


def _missing(channel: str) -> str:
    return (f"{LABEL[channel]}: not configured (set {SETTING[channel]}, e.g. {EXAMPLE[channel]}); until then "
            f"a person's send is refused and automations' messages wait in the outbox")


class ChannelNotConfigured(RuleViolated):
    def __init__(self, channel: str, field: str | None = None) -> None:
        setting = SETTING.get(channel)
        super().__init__(
            "channel-not-configured",
            f"{LABEL.get(channel, channel)} cannot be sent: this service has no {LABEL.get(channel, channel)} channel "
            f"configured (the setting {setting}, e.g. {setting}={EXAMPLE.get(channel)}); nothing was queued",
            channel=channel, setting=setting,
            **({"field": field} if field else {}),
        )


def check_configured(channels: Collection[str], channel: str, field: str | None = None) -> None:
    """A send on a channel without a sender cannot go: refused now, not failed later."""
    if channel not in channels:
        raise ChannelNotConfigured(channel, field)
