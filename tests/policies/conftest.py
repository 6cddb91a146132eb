"""What the policy tests share: a real SMTP server in the test process (aiosmtpd), a
receiver we do not own, keeping what it accepts."""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Inbox:
    """An aiosmtpd handler: keeps what it accepts, answers 550 to the addresses in ``refused``."""

    refused: set[str] = field(default_factory=set)
    mails: list[Any] = field(default_factory=list)
    recipients_asked: int = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd's name)
        self.recipients_asked += 1
        if address in self.refused:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.mails.append(envelope)
        return "250 Message accepted for delivery"

    def parsed(self, index: int = -1) -> EmailMessage:
        return email.message_from_bytes(self.mails[index].content)


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()




def configure_smtp(services: Any, port: int) -> None:
    """The service configured with the test's SMTP server (CRM_ES_SMTP_URL), so that people
    may send e-mails (crm_es.channels); the tests deliver them with a dispatcher of their own."""
    services.settings = replace(services.settings, smtp_url=f"smtp://127.0.0.1:{port}")


def settle(services: Any, dispatcher: Any) -> None:
    """Rounds of the policies and the outbox until the log stops growing (a timer fired,
    a policy reacted, its e-mail went out …): what the service's worker does over time."""
    while True:
        before = services.store.max_position()
        services.policies.run_once()
        dispatcher.run_once()
        if services.store.max_position() == before:
            return
