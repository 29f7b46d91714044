"""Outgoing email: SMTP (aiosmtplib) when ACCESSGRAPH_SMTP_URL is set, else the log.

Either way the message is also kept in the outbox table by the caller, with its outcome.
SMTP URLs: `smtp://[user:password@]host[:port]` (STARTTLS if the server offers it, port 25),
`smtp+starttls://...` (STARTTLS required, port 587), `smtps://...` (implicit TLS, port 465).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib

log = logging.getLogger("accessgraph.mail")
SEND_TIMEOUT_SECONDS = 15


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    to: str
    subject: str
    body: str


class MailDeliveryError(Exception):
    """The message could not be handed to the mail server."""


class Mailer(Protocol):
    @property
    def delivers(self) -> bool:
        """True if messages leave the machine (SMTP); False if they only go to the log."""
        ...

    async def send(self, message: OutgoingEmail) -> None: ...


class LogMailer:
    delivers = False

    async def send(self, message: OutgoingEmail) -> None:
        log.info("email to %s: %s\n%s", message.to, message.subject, message.body)


class SmtpMailer:
    delivers = True

    def __init__(self, url: str, sender: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"smtp", "smtps", "smtp+starttls"} or not parts.hostname:
            raise ValueError("ACCESSGRAPH_SMTP_URL must look like smtp://user:pass@host:port")
        self._implicit_tls = parts.scheme == "smtps"
        self._require_starttls = parts.scheme == "smtp+starttls"
        default_port = 465 if self._implicit_tls else 587 if self._require_starttls else 25
        self._host = parts.hostname
        self._port = parts.port or default_port
        self._username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._sender = sender

    async def send(self, message: OutgoingEmail) -> None:
        email = EmailMessage()
        email["From"] = self._sender
        email["To"] = message.to
        email["Subject"] = message.subject
        email.set_content(message.body)
        try:
            await aiosmtplib.send(
                email,
                hostname=self._host,
                port=self._port,
                username=self._username,
                password=self._password,
                use_tls=self._implicit_tls,
                start_tls=True if self._require_starttls else None,
                timeout=SEND_TIMEOUT_SECONDS,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise MailDeliveryError(f"{type(exc).__name__}: {exc}") from exc


def mailer_for(smtp_url: str | None, sender: str) -> Mailer:
    return SmtpMailer(smtp_url, sender) if smtp_url else LogMailer()
