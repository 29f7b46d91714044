"""Invitation email through the real mailers: SMTP (aiosmtplib to an aiosmtpd server) and the
default without SMTP (outbox row + log). No RecordingMailer here: the app builds its own."""

from __future__ import annotations

import email
import email.policy
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlmodel import col

from accessgraph.app import create_app
from accessgraph.clock import FrozenClock
from accessgraph.mail import LogMailer, SmtpMailer
from accessgraph.models import EmailStatus, OutboxEmail
from accessgraph.services import Services
from accessgraph.settings import Settings
from tests.conftest import START, Api, World, payload

INVITE_USER = """
mutation Invite($email: String!) {
  inviteUser(input: {email: $email}) { user { id email status } errors { code message } }
}"""
RESEND_INVITATION = """
mutation Resend($userId: ID!) {
  resendInvitation(input: {userId: $userId}) { user { id status } errors { code } }
}"""
ACCEPT_INVITATION = """
mutation Accept($token: String!, $password: String!) {
  acceptInvitation(input: {token: $token, password: $password, firstName: "Sam"}) {
    user { email status firstName } errors { code }
  }
}"""
LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) { token viewer { email status } errors { code } }
}"""
USER = "query User($id: ID!) { user(id: $id) { status } }"

INVITEE = "sam@acme.test"
PASSWORD = "sam's long passphrase"
SENDER = "Acme Console <console@acme.test>"


@dataclass
class Inbox:
    """An aiosmtpd handler that keeps every message it is handed."""

    envelopes: list[Any] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        parsed = []
        for envelope in self.envelopes:
            raw = envelope.original_content or envelope.content
            message = email.message_from_bytes(raw, policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            parsed.append(message)
        return parsed


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@asynccontextmanager
async def smtp_server(port: int) -> AsyncIterator[Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


@asynccontextmanager
async def app_api(settings: Settings, clock: FrozenClock) -> AsyncIterator[tuple[Api, Services]]:
    """The app as `accessgraph serve` builds it: the mailer comes from the settings."""
    services = Services.build(settings, clock=clock)
    app = create_app(settings, services=services)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield Api(http), services
    finally:
        await services.db.dispose()


def secret_in(body: str) -> str:
    return body.split("token=", 1)[1].split()[0]


def body_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    content: str = part.get_content()  # type: ignore[attr-defined]
    return content


async def outbox(services: Services, to: str) -> list[OutboxEmail]:
    async with services.db.session() as session:
        rows = await session.execute(
            select(OutboxEmail)
            .where(col(OutboxEmail.to_address) == to)
            .order_by(col(OutboxEmail.id))
        )
        return list(rows.scalars().all())


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def smtp_settings(settings: Settings, port: int) -> Settings:
    return replace(settings, smtp_url=f"smtp://127.0.0.1:{port}", mail_from=SENDER)


@pytest.fixture
async def inbox(port: int) -> AsyncIterator[Inbox]:
    async with smtp_server(port) as handler:
        yield handler


# --- SMTP -------------------------------------------------------------------------------------


async def test_app_with_smtp_url_uses_smtp_mailer(
    smtp_settings: Settings, clock: FrozenClock
) -> None:
    async with app_api(smtp_settings, clock) as (_, services):
        assert isinstance(services.mailer, SmtpMailer)


async def test_invite_user_over_smtp_delivers_one_message(
    smtp_settings: Settings, clock: FrozenClock, inbox: Inbox, world: World
) -> None:
    async with app_api(smtp_settings, clock) as (api, services):
        body = await api(INVITE_USER, {"email": INVITEE}, as_=world.admin)
        assert payload(body, "inviteUser")["user"]["status"] == "INVITED"
        [row] = await outbox(services, INVITEE)
    assert len(inbox.envelopes) == 1
    envelope = inbox.envelopes[0]
    assert envelope.rcpt_tos == [INVITEE]
    assert envelope.mail_from == "console@acme.test"
    [message] = inbox.messages()
    assert message["To"] == INVITEE
    assert message["From"] == SENDER
    assert "Acme" in message["Subject"]
    text = body_of(message)
    assert "welcome" in text.lower()
    assert "Acme" in text
    assert f"http://console.test/signup?token={secret_in(text)}" in text
    assert row.status == EmailStatus.SENT
    assert row.sent_at == START
    assert row.error is None


async def test_accept_invitation_with_secret_from_smtp_message(
    smtp_settings: Settings, clock: FrozenClock, inbox: Inbox, world: World
) -> None:
    async with app_api(smtp_settings, clock) as (api, _):
        payload(await api(INVITE_USER, {"email": INVITEE}, as_=world.admin), "inviteUser")
        [message] = inbox.messages()
        secret = secret_in(body_of(message))
        accepted = await api(ACCEPT_INVITATION, {"token": secret, "password": PASSWORD})
        result = payload(accepted, "acceptInvitation")
        assert result["errors"] == []
        assert result["user"] == {"email": INVITEE, "status": "ACTIVE", "firstName": "Sam"}
        login = payload(await api(LOGIN, {"email": INVITEE, "password": PASSWORD}), "login")
        assert login["errors"] == []
        assert login["viewer"] == {"email": INVITEE, "status": "ACTIVE"}


async def test_invite_user_smtp_unreachable_marks_failed(
    smtp_settings: Settings, clock: FrozenClock, world: World
) -> None:
    # Nothing listens on the port.
    async with app_api(smtp_settings, clock) as (api, services):
        body = await api(INVITE_USER, {"email": INVITEE}, as_=world.admin)
        result = payload(body, "inviteUser")
        assert result["errors"] == []
        assert result["user"]["status"] == "FAILED"
        stored = await api(USER, {"id": result["user"]["id"]}, as_=world.admin)
        assert stored["data"]["user"]["status"] == "FAILED"
        [row] = await outbox(services, INVITEE)
    assert row.status == EmailStatus.FAILED
    assert row.error
    assert row.sent_at is None


class Refusing(Inbox):
    """A server that answers but refuses every recipient (a full mailbox, a bad domain)."""

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        return "550 5.1.1 Mailbox unavailable"


async def test_invite_user_smtp_refusing_marks_failed_and_loses_nothing(
    smtp_settings: Settings, clock: FrozenClock, world: World, port: int
) -> None:
    """Issue 7: the server refuses; the mutation still answers, the user shows FAILED, the
    outbox keeps the row with the server's reason, and the rest of the request stands."""
    controller = Controller(Refusing(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        async with app_api(smtp_settings, clock) as (api, services):
            body = await api(INVITE_USER, {"email": INVITEE}, as_=world.admin)
            result = payload(body, "inviteUser")
            assert result["errors"] == [] and result["user"]["status"] == "FAILED"
            [row] = await outbox(services, INVITEE)
            assert row.status == EmailStatus.FAILED and "550" in (row.error or "")
            # The invited user exists (an admin can resend once mail works again).
            stored = await api(USER, {"id": result["user"]["id"]}, as_=world.admin)
            assert stored["data"]["user"]["status"] == "FAILED"
    finally:
        controller.stop()


async def test_resend_invitation_after_smtp_recovers_delivers_and_invites(
    smtp_settings: Settings, clock: FrozenClock, world: World, port: int
) -> None:
    async with app_api(smtp_settings, clock) as (api, services):
        user = payload(await api(INVITE_USER, {"email": INVITEE}, as_=world.admin), "inviteUser")[
            "user"
        ]
        assert user["status"] == "FAILED"
        async with smtp_server(port) as inbox:
            body = await api(RESEND_INVITATION, {"userId": user["id"]}, as_=world.admin)
            assert payload(body, "resendInvitation")["user"]["status"] == "INVITED"
        stored = await api(USER, {"id": user["id"]}, as_=world.admin)
        assert stored["data"]["user"]["status"] == "INVITED"
        assert [r.status for r in await outbox(services, INVITEE)] == [
            EmailStatus.FAILED,
            EmailStatus.SENT,
        ]
        [message] = inbox.messages()
        assert message["To"] == INVITEE
        secret = secret_in(body_of(message))
        accepted = await api(ACCEPT_INVITATION, {"token": secret, "password": PASSWORD})
        assert payload(accepted, "acceptInvitation")["user"]["status"] == "ACTIVE"


# --- no SMTP: the outbox and the log ----------------------------------------------------------


async def test_app_without_smtp_url_uses_log_mailer(settings: Settings, clock: FrozenClock) -> None:
    assert settings.smtp_url is None
    async with app_api(settings, clock) as (_, services):
        assert isinstance(services.mailer, LogMailer)


async def test_invite_user_without_smtp_logs_message_and_outbox_row(
    settings: Settings, clock: FrozenClock, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="accessgraph.mail")
    async with app_api(settings, clock) as (api, services):
        body = await api(INVITE_USER, {"email": INVITEE}, as_=world.admin)
        result = payload(body, "inviteUser")
        assert result["user"]["status"] == "INVITED"
        [row] = await outbox(services, INVITEE)
    assert row.status == EmailStatus.LOGGED
    assert row.error is None
    # R8: the secret is stored only as a hash; the outbox keeps the email without the link.
    assert "token=" not in row.body
    assert "[link redacted" in row.body
    logged = [r for r in caplog.records if r.name == "accessgraph.mail"]
    assert len(logged) == 1
    text = logged[0].getMessage()
    assert INVITEE in text
    assert "Acme" in text
    assert "http://console.test/signup?token=" in text
    assert secret_in(text) not in row.body


async def test_accept_invitation_with_secret_from_log(
    settings: Settings, clock: FrozenClock, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="accessgraph.mail")
    async with app_api(settings, clock) as (api, _):
        payload(await api(INVITE_USER, {"email": INVITEE}, as_=world.admin), "inviteUser")
        [record] = [r for r in caplog.records if r.name == "accessgraph.mail"]
        secret = secret_in(record.getMessage())
        accepted = await api(ACCEPT_INVITATION, {"token": secret, "password": PASSWORD})
        assert payload(accepted, "acceptInvitation")["user"]["status"] == "ACTIVE"
