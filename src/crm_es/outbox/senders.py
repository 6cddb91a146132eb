"""How the outbox reaches the world: one sender per channel.

A sender delivers one message or raises (``DeliveryFailed``, with a message that says
what went wrong: it becomes the outbox row's ``last_error``). Every delivery carries
the delivery id, so a receiver can drop a second copy: the dispatcher delivers at least
once (it may crash after sending, before recording that it did). Only an e-mail carries
files (a document's PDF): an SMS or a webhook given some refuses the message.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Protocol
from urllib.parse import unquote, urlsplit

import httpx
import orjson

from crm_es.aggregates.message import Message, header_message_id

DELIVERY_HEADER = "X-CRM-ES-Delivery-Id"
TIMEOUT_SECONDS = 10.0


class DeliveryFailed(Exception):
    """The receiver could not be reached, or refused the message."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # maintype/subtype: application/pdf
    content: bytes


class Sender(Protocol):
    def send(self, message: Message, delivery_id: str, attachments: Sequence[Attachment] = ()) -> None: ...


def _refuse_attachments(what: str, attachments: Sequence[Attachment]) -> None:
    if attachments:
        names = ", ".join(a.filename for a in attachments)
        raise DeliveryFailed(f"{what} cannot carry attachments ({names}): only an e-mail can")


class SmtpSender:
    """E-mail over SMTP: ``smtp://[user:password@]host:port`` (STARTTLS when the server
    offers it and credentials are given) or ``smtps://…`` (TLS from the start)."""

    def __init__(self, url: str, from_address: str, timeout: float = TIMEOUT_SECONDS) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(f"an SMTP URL is smtp://[user:password@]host:port, not {url!r}")
        self.tls = parts.scheme == "smtps"
        self.host, self.port = parts.hostname, parts.port or (465 if self.tls else 25)
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password or "")
        self.from_address, self.timeout = from_address, timeout

    def email(self, message: Message, delivery_id: str, attachments: Sequence[Attachment] = ()) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.from_address
        email["To"] = message.to
        if message.subject is not None:
            email["Subject"] = message.subject
        email["Date"] = formatdate(usegmt=True)
        # The same id each attempt: a mail system that got it once sees the retry as a copy.
        email["Message-ID"] = header_message_id(delivery_id)
        email[DELIVERY_HEADER] = delivery_id
        email.set_content(message.body or "")
        for attachment in attachments:
            maintype, _, subtype = attachment.content_type.partition("/")
            email.add_attachment(attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename)
        return email

    def send(self, message: Message, delivery_id: str, attachments: Sequence[Attachment] = ()) -> None:
        where = f"SMTP server {self.host}:{self.port}"
        try:
            connect = smtplib.SMTP_SSL if self.tls else smtplib.SMTP
            with connect(self.host, self.port, timeout=self.timeout) as smtp:
                if self.user is not None:
                    if not self.tls and smtp.has_extn("starttls"):
                        smtp.starttls(context=ssl.create_default_context())
                    smtp.login(self.user, self.password)
                smtp.send_message(self.email(message, delivery_id, attachments))
        except smtplib.SMTPRecipientsRefused as error:
            answers = "; ".join(f"{code} {_text(text)}" for code, text in error.recipients.values())
            raise DeliveryFailed(f"{where} refused the recipient: {answers}") from error
        except smtplib.SMTPResponseException as error:
            raise DeliveryFailed(f"{where} answered {error.smtp_code} {_text(error.smtp_error)}") from error
        except (smtplib.SMTPException, OSError) as error:  # refused, unreachable, timed out, cut off
            raise DeliveryFailed(f"{where} could not be reached: {type(error).__name__}: {error}") from error


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _post(client: httpx.Client, url: str, what: str, content: bytes, delivery_id: str) -> None:
    headers = {"Content-Type": "application/json", DELIVERY_HEADER: delivery_id}
    try:
        response = client.post(url, content=content, headers=headers)
    except httpx.HTTPError as error:
        raise DeliveryFailed(f"{what} could not be reached: {type(error).__name__}: {error}") from error
    if not response.is_success:  # a redirect is not followed: the receiver is to be given as it is
        raise DeliveryFailed(f"{what} answered {response.status_code} {response.reason_phrase}".rstrip())


class WebhookSender:
    """POSTs the message's body (JSON text) to its ``to`` URL; any answer but 2xx fails."""

    def __init__(self, timeout: float = TIMEOUT_SECONDS) -> None:
        self.client = httpx.Client(timeout=timeout, follow_redirects=False)

    def send(self, message: Message, delivery_id: str, attachments: Sequence[Attachment] = ()) -> None:
        _refuse_attachments("a webhook", attachments)
        _post(self.client, message.to or "", "webhook receiver", (message.body or "").encode(), delivery_id)

    def close(self) -> None:
        self.client.close()


class SmsSender:
    """Text messages through an HTTP SMS gateway: POST ``{"to": ..., "body": ...}``."""

    def __init__(self, url: str, timeout: float = TIMEOUT_SECONDS) -> None:
        self.url = url
        self.client = httpx.Client(timeout=timeout, follow_redirects=False)

    def send(self, message: Message, delivery_id: str, attachments: Sequence[Attachment] = ()) -> None:
        _refuse_attachments("an SMS", attachments)
        content = orjson.dumps({"to": message.to, "body": message.body})
        _post(self.client, self.url, "SMS gateway", content, delivery_id)

    def close(self) -> None:
        self.client.close()
