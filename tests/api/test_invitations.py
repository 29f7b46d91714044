"""Invitations (R7-R10) and admin-created users (R11), through the GraphQL API."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col

from accessgraph.app import create_app
from accessgraph.clock import FrozenClock
from accessgraph.models import EmailStatus, Invitation, OutboxEmail, User
from accessgraph.services import Services
from accessgraph.settings import Settings
from tests.conftest import (
    ANONYMOUS,
    START,
    Actor,
    Api,
    RecordingMailer,
    World,
    assert_no_permission,
    payload,
    user_error_codes,
)

INVITE_USER = """
mutation Invite($input: InviteUserInput!) {
  inviteUser(input: $input) {
    user { id email firstName lastName role status viewerCanResendInvitation }
    errors { code message field }
  }
}"""
RESEND_INVITATION = """
mutation Resend($userId: ID!) {
  resendInvitation(input: {userId: $userId}) {
    user { id email status }
    errors { code message field }
  }
}"""
ACCEPT_INVITATION = """
mutation Accept($input: AcceptInvitationInput!) {
  acceptInvitation(input: $input) {
    user { id email firstName lastName status role }
    errors { code message field }
  }
}"""
CREATE_USER = """
mutation Create($input: CreateUserInput!) {
  createUser(input: $input) {
    user { id email role status lastLoginAt }
    errors { code message field }
  }
}"""
DELETE_USER = """
mutation Delete($userId: ID!) {
  deleteUser(input: {userId: $userId}) { deletedUserId errors { code } }
}"""
LOGIN = """
mutation Login($email: String!, $password: String!, $org: String) {
  login(input: {email: $email, password: $password, organization: $org}) {
    token viewer { email status lastLoginAt } errors { code }
  }
}"""
USER = """
query User($id: ID!) {
  user(id: $id) { id email firstName lastName role status lastLoginAt viewerCanResendInvitation }
}"""
USERS_BY_STATUS = """
query Users($status: UserStatus) {
  users(filter: {status: $status}) { totalCount nodes { email status } }
}"""
USER_EMAILS = "{ users(first: 100) { totalCount nodes { email status role } } }"

NEW_PASSWORD = "a brand new passphrase"
INVITEE = "new.person@acme.test"


# --- helpers ----------------------------------------------------------------------------------


async def invite(api: Api, actor: Actor, email: str = INVITEE, **fields: Any) -> dict[str, Any]:
    body = await api(INVITE_USER, {"input": {"email": email, **fields}}, as_=actor)
    return body


async def invited_user(
    api: Api, actor: Actor, email: str = INVITEE, **fields: Any
) -> dict[str, Any]:
    """Invite and return the created user (the invitation must succeed)."""
    result = payload(await invite(api, actor, email, **fields), "inviteUser")
    assert result["errors"] == [], result
    user: dict[str, Any] = result["user"]
    return user


async def read_user(api: Api, actor: Actor, user_id: str) -> dict[str, Any] | None:
    body = await api(USER, {"id": user_id}, as_=actor)
    assert not body.get("errors"), body
    user: dict[str, Any] | None = body["data"]["user"]
    return user


async def accept(
    api: Api, token: str, password: str = NEW_PASSWORD, **names: str
) -> dict[str, Any]:
    return await api(ACCEPT_INVITATION, {"input": {"token": token, "password": password, **names}})


async def user_emails(api: Api, actor: Actor) -> list[str]:
    body = await api(USER_EMAILS, as_=actor)
    return sorted(n["email"] for n in body["data"]["users"]["nodes"])


async def invitation_rows(services: Services, email: str) -> list[Invitation]:
    async with services.db.session() as session:
        rows = await session.execute(
            select(Invitation)
            .join(User, col(User.id) == col(Invitation.user_id))
            .where(col(User.email_normalized) == email.casefold())
            .order_by(col(Invitation.id))
        )
        return list(rows.scalars().all())


async def outbox_rows(services: Services, to: str) -> list[OutboxEmail]:
    async with services.db.session() as session:
        rows = await session.execute(
            select(OutboxEmail)
            .where(col(OutboxEmail.to_address) == to)
            .order_by(col(OutboxEmail.id))
        )
        return list(rows.scalars().all())


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@pytest.fixture
async def short_ttl_api(
    settings: Settings, clock: FrozenClock, mailer: RecordingMailer
) -> AsyncIterator[Api]:
    """The app with INVITATION_TTL_HOURS=0.001 (3.6 s), on the same database and clock."""
    services = Services.build(
        replace(settings, invitation_ttl_hours=0.001), clock=clock, mailer=mailer
    )
    app = create_app(services.settings, services=services)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield Api(http)
    await services.db.dispose()


# --- inviteUser -------------------------------------------------------------------------------


async def test_invite_user_creates_invited_user(api: Api, world: World) -> None:
    user = await invited_user(api, world.admin, role="ADMIN", firstName="New", lastName="Person")
    assert user["email"] == INVITEE
    assert (user["firstName"], user["lastName"]) == ("New", "Person")
    assert user["role"] == "ADMIN"
    assert user["status"] == "INVITED"
    stored = await read_user(api, world.admin, user["id"])
    assert stored is not None
    assert stored["status"] == "INVITED"
    assert stored["role"] == "ADMIN"
    assert stored["lastLoginAt"] is None


async def test_invite_user_default_role_is_developer(api: Api, world: World) -> None:
    user = await invited_user(api, world.admin)
    assert user["role"] == "DEVELOPER"
    assert (user["firstName"], user["lastName"]) == (None, None)


async def test_invite_user_sends_email_with_welcome_org_and_link(
    api: Api, world: World, mailer: RecordingMailer
) -> None:
    await invited_user(api, world.admin)
    assert [m.to for m in mailer.sent] == [INVITEE]
    message = mailer.sent[0]
    secret = mailer.last_secret(INVITEE)
    assert "Acme" in message.subject
    assert "welcome" in message.body.lower()
    assert "Acme" in message.body
    assert f"http://console.test/signup?token={secret}" in message.body


async def test_invite_user_stores_only_a_hash_of_the_secret(
    api: Api, world: World, mailer: RecordingMailer, services: Services
) -> None:
    await invited_user(api, world.admin)
    secret = mailer.last_secret(INVITEE)
    assert len(secret) >= 32
    [row] = await invitation_rows(services, INVITEE)
    assert row.secret_hash == sha256(secret)
    columns = [str(value) for value in row.model_dump().values()]
    assert not any(secret in value for value in columns), columns


async def test_invite_user_records_outbox_row_as_sent(
    api: Api, world: World, services: Services
) -> None:
    await invited_user(api, world.admin)
    [row] = await outbox_rows(services, INVITEE)
    assert row.status == EmailStatus.SENT
    assert row.error is None
    assert row.sent_at == START


@pytest.mark.parametrize("email", ["dev@acme.test", "Dev@Acme.TEST", "  DEV@acme.test "])
async def test_invite_user_existing_email_is_email_taken(
    api: Api, world: World, mailer: RecordingMailer, email: str
) -> None:
    body = await invite(api, world.admin, email)
    assert user_error_codes(body, "inviteUser") == ["EMAIL_TAKEN"]
    assert payload(body, "inviteUser")["user"] is None
    assert await user_emails(api, world.admin) == [
        "admin@acme.test",
        "dev2@acme.test",
        "dev@acme.test",
    ]
    assert mailer.sent == []


async def test_invite_user_twice_is_email_taken(
    api: Api, world: World, mailer: RecordingMailer
) -> None:
    await invited_user(api, world.admin)
    body = await invite(api, world.admin, INVITEE.upper())
    assert user_error_codes(body, "inviteUser") == ["EMAIL_TAKEN"]
    assert len(mailer.sent) == 1
    assert (await user_emails(api, world.admin)).count(INVITEE) == 1


@pytest.mark.parametrize(
    "email", ["not-an-email", "two@@acme.test", "no-domain@", "@acme.test", "a b@acme.test", ""]
)
async def test_invite_user_malformed_email_is_invalid_email(
    api: Api, world: World, mailer: RecordingMailer, email: str
) -> None:
    body = await invite(api, world.admin, email)
    errors = payload(body, "inviteUser")["errors"]
    assert [e["code"] for e in errors] == ["INVALID_EMAIL"]
    assert errors[0]["field"] == ["email"]
    assert len(await user_emails(api, world.admin)) == 3
    assert mailer.sent == []


@pytest.mark.parametrize(
    ("field", "value"),
    [("firstName", ""), ("firstName", "   "), ("lastName", "x" * 101), ("firstName", "x" * 101)],
    ids=["empty-first", "blank-first", "long-last", "long-first"],
)
async def test_invite_user_bad_name_is_invalid_name(
    api: Api, world: World, mailer: RecordingMailer, field: str, value: str
) -> None:
    body = await invite(api, world.admin, **{field: value})
    errors = payload(body, "inviteUser")["errors"]
    assert [e["code"] for e in errors] == ["INVALID_NAME"]
    assert errors[0]["field"] == [field]
    assert INVITEE not in await user_emails(api, world.admin)
    assert mailer.sent == []


async def test_invite_user_name_of_100_characters_is_accepted(api: Api, world: World) -> None:
    user = await invited_user(api, world.admin, lastName="x" * 100)
    assert user["lastName"] == "x" * 100


async def test_invite_user_same_email_in_another_org_is_allowed(api: Api, world: World) -> None:
    # admin@globex.test exists in Globex only; Acme may invite the same address (R2).
    user = await invited_user(api, world.admin, "Admin@Globex.test")
    assert user["status"] == "INVITED"
    assert "admin@globex.test" in [e.casefold() for e in await user_emails(api, world.admin)]
    assert await user_emails(api, world.other_admin) == ["admin@globex.test"]


async def test_invite_user_by_developer_is_forbidden(
    api: Api, world: World, mailer: RecordingMailer
) -> None:
    body = await invite(api, world.dev)
    assert_no_permission(body, "inviteUser")
    assert INVITEE not in await user_emails(api, world.admin)
    assert mailer.sent == []


async def test_invite_user_by_anonymous_is_unauthenticated(api: Api, world: World) -> None:
    body = await invite(api, ANONYMOUS)
    assert body["data"]["inviteUser"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert INVITEE not in await user_emails(api, world.admin)


async def test_invite_user_mail_failure_marks_user_and_outbox_failed(
    api: Api, world: World, mailer: RecordingMailer, services: Services
) -> None:
    mailer.fail = True
    body = await invite(api, world.admin)
    user = payload(body, "inviteUser")["user"]
    assert payload(body, "inviteUser")["errors"] == []
    assert user["status"] == "FAILED"
    assert (await read_user(api, world.admin, user["id"]) or {})["status"] == "FAILED"
    [row] = await outbox_rows(services, INVITEE)
    assert row.status == EmailStatus.FAILED
    assert row.error and "connection refused" in row.error
    assert row.sent_at is None


async def test_users_filter_failed_lists_failed_invitation(
    api: Api, world: World, mailer: RecordingMailer
) -> None:
    mailer.fail = True
    await invite(api, world.admin)
    body = await api(USERS_BY_STATUS, {"status": "FAILED"}, as_=world.admin)
    assert body["data"]["users"]["nodes"] == [{"email": INVITEE, "status": "FAILED"}]


# --- expiry (R8) ------------------------------------------------------------------------------


async def test_invitation_just_before_24_hours_is_still_invited(
    api: Api, world: World, advance: Any
) -> None:
    user = await invited_user(api, world.admin)
    await advance(hours=23, minutes=59, seconds=59)
    assert (await read_user(api, world.admin, user["id"]) or {})["status"] == "INVITED"


async def test_invitation_after_24_hours_shows_expired(
    api: Api, world: World, advance: Any
) -> None:
    user = await invited_user(api, world.admin)
    await advance(hours=24)
    assert (await read_user(api, world.admin, user["id"]) or {})["status"] == "EXPIRED"


async def test_users_filter_expired_lists_only_expired_invitations(
    api: Api, world: World, advance: Any
) -> None:
    await invited_user(api, world.admin)
    await advance(hours=12)
    await invited_user(api, world.admin, "fresh@acme.test")
    await advance(hours=12)
    expired = await api(USERS_BY_STATUS, {"status": "EXPIRED"}, as_=world.admin)
    assert expired["data"]["users"]["nodes"] == [{"email": INVITEE, "status": "EXPIRED"}]
    assert expired["data"]["users"]["totalCount"] == 1
    invited = await api(USERS_BY_STATUS, {"status": "INVITED"}, as_=world.admin)
    assert invited["data"]["users"]["nodes"] == [{"email": "fresh@acme.test", "status": "INVITED"}]


async def test_accept_invitation_expired_is_refused(
    api: Api, world: World, mailer: RecordingMailer, advance: Any
) -> None:
    user = await invited_user(api, world.admin)
    await advance(hours=24)
    body = await accept(api, mailer.last_secret(INVITEE))
    assert user_error_codes(body, "acceptInvitation") == ["INVITATION_EXPIRED"]
    assert payload(body, "acceptInvitation")["user"] is None
    assert (await read_user(api, world.admin, user["id"]) or {})["status"] == "EXPIRED"
    login = await api(LOGIN, {"email": INVITEE, "password": NEW_PASSWORD})
    assert user_error_codes(login, "login") == ["INVALID_CREDENTIALS"]


async def test_invitation_ttl_hours_is_a_decimal(
    short_ttl_api: Api, api: Api, world: World, mailer: RecordingMailer, advance: Any
) -> None:
    # 0.001 hours = 3.6 seconds of clock time.
    user = await invited_user(short_ttl_api, world.admin)
    await advance(seconds=3)
    assert (await read_user(api, world.admin, user["id"]) or {})["status"] == "INVITED"
    await advance(seconds=1)
    assert (await read_user(api, world.admin, user["id"]) or {})["status"] == "EXPIRED"
    body = await accept(short_ttl_api, mailer.last_secret(INVITEE))
    assert user_error_codes(body, "acceptInvitation") == ["INVITATION_EXPIRED"]


async def test_invitation_ttl_hours_decimal_link_works_before_expiry(
    short_ttl_api: Api, world: World, mailer: RecordingMailer, advance: Any
) -> None:
    await invited_user(short_ttl_api, world.admin)
    await advance(seconds=3)
    body = await accept(short_ttl_api, mailer.last_secret(INVITEE))
    assert payload(body, "acceptInvitation")["user"]["status"] == "ACTIVE"


# --- resendInvitation (R9) --------------------------------------------------------------------


async def test_resend_invitation_issues_a_new_link(
    api: Api, world: World, mailer: RecordingMailer, services: Services
) -> None:
    user = await invited_user(api, world.admin)
    first_secret = mailer.last_secret(INVITEE)
    body = await api(RESEND_INVITATION, {"userId": user["id"]}, as_=world.admin)
    result = payload(body, "resendInvitation")
    assert result["errors"] == []
    assert result["user"]["status"] == "INVITED"
    assert [m.to for m in mailer.sent] == [INVITEE, INVITEE]
    second_secret = mailer.last_secret(INVITEE)
    assert second_secret != first_secret
    assert "Acme" in mailer.sent[1].body
    rows = await invitation_rows(services, INVITEE)
    assert [r.secret_hash for r in rows] == [sha256(first_secret), sha256(second_secret)]


async def test_resend_invitation_old_link_is_replaced(
    api: Api, world: World, mailer: RecordingMailer
) -> None:
    user = await invited_user(api, world.admin)
    old = mailer.last_secret(INVITEE)
    payload(
        await api(RESEND_INVITATION, {"userId": user["id"]}, as_=world.admin), "resendInvitation"
    )
    body = await accept(api, old)
    assert user_error_codes(body, "acceptInvitation") == ["INVITATION_REPLACED"]
    assert (await read_user(api, world.admin, user["id"]) or {})["status"] == "INVITED"
    body = await accept(api, mailer.last_secret(INVITEE))
    assert payload(body, "acceptInvitation")["user"]["status"] == "ACTIVE"


async def test_resend_invitation_expired_user_restarts_24_hours(
    api: Api, world: World, mailer: RecordingMailer, advance: Any
) -> None:
    user = await invited_user(api, world.admin)
    await advance(hours=30)
    assert (await read_user(api, world.admin, user["id"]) or {})["status"] == "EXPIRED"
    body = await api(RESEND_INVITATION, {"userId": user["id"]}, as_=world.admin)
    assert payload(body, "resendInvitation")["user"]["status"] == "INVITED"
    await advance(hours=23, minutes=59)
    assert (await read_user(api, world.admin, user["id"]) or {})["status"] == "INVITED"
    await advance(minutes=1)
    assert (await read_user(api, world.admin, user["id"]) or {})["status"] == "EXPIRED"


async def test_resend_invitation_expired_user_new_link_works(
    api: Api, world: World, mailer: RecordingMailer, advance: Any
) -> None:
    user = await invited_user(api, world.admin)
    await advance(hours=30)
    payload(
        await api(RESEND_INVITATION, {"userId": user["id"]}, as_=world.admin), "resendInvitation"
    )
    await advance(hours=23)
    body = await accept(api, mailer.last_secret(INVITEE))
    assert payload(body, "acceptInvitation")["user"]["status"] == "ACTIVE"


async def test_resend_invitation_failed_user_becomes_invited(
    api: Api, world: World, mailer: RecordingMailer, services: Services
) -> None:
    mailer.fail = True
    user = payload(await invite(api, world.admin), "inviteUser")["user"]
    assert user["status"] == "FAILED"
    mailer.fail = False
    body = await api(RESEND_INVITATION, {"userId": user["id"]}, as_=world.admin)
    assert payload(body, "resendInvitation")["user"]["status"] == "INVITED"
    assert (await read_user(api, world.admin, user["id"]) or {})["status"] == "INVITED"
    assert [r.status for r in await outbox_rows(services, INVITEE)] == [
        EmailStatus.FAILED,
        EmailStatus.SENT,
    ]
    body = await accept(api, mailer.last_secret(INVITEE))
    assert payload(body, "acceptInvitation")["user"]["status"] == "ACTIVE"


async def test_resend_invitation_failing_again_stays_failed(
    api: Api, world: World, mailer: RecordingMailer
) -> None:
    user = await invited_user(api, world.admin)
    mailer.fail = True
    body = await api(RESEND_INVITATION, {"userId": user["id"]}, as_=world.admin)
    assert payload(body, "resendInvitation")["user"]["status"] == "FAILED"
    assert (await read_user(api, world.admin, user["id"]) or {})["status"] == "FAILED"


async def test_resend_invitation_active_user_is_not_pending(
    api: Api, world: World, mailer: RecordingMailer
) -> None:
    body = await api(RESEND_INVITATION, {"userId": world.dev.id}, as_=world.admin)
    assert user_error_codes(body, "resendInvitation") == ["INVITATION_NOT_PENDING"]
    assert payload(body, "resendInvitation")["user"] is None
    assert mailer.sent == []
    assert (await read_user(api, world.admin, world.dev.id) or {})["status"] == "ACTIVE"


async def test_resend_invitation_accepted_user_is_not_pending(
    api: Api, world: World, mailer: RecordingMailer
) -> None:
    user = await invited_user(api, world.admin)
    payload(await accept(api, mailer.last_secret(INVITEE)), "acceptInvitation")
    body = await api(RESEND_INVITATION, {"userId": user["id"]}, as_=world.admin)
    assert user_error_codes(body, "resendInvitation") == ["INVITATION_NOT_PENDING"]
    assert len(mailer.sent) == 1


async def test_resend_invitation_by_developer_is_forbidden(
    api: Api, world: World, mailer: RecordingMailer
) -> None:
    user = await invited_user(api, world.admin)
    secret = mailer.last_secret(INVITEE)
    body = await api(RESEND_INVITATION, {"userId": user["id"]}, as_=world.dev)
    assert_no_permission(body, "resendInvitation")
    assert len(mailer.sent) == 1
    # The original link still works: nothing was replaced.
    assert payload(await accept(api, secret), "acceptInvitation")["errors"] == []


async def test_resend_invitation_other_org_user_is_not_found(
    api: Api, world: World, mailer: RecordingMailer
) -> None:
    user = await invited_user(api, world.admin)
    secret = mailer.last_secret(INVITEE)
    body = await api(RESEND_INVITATION, {"userId": user["id"]}, as_=world.other_admin)
    assert user_error_codes(body, "resendInvitation") == ["NOT_FOUND"]
    assert len(mailer.sent) == 1
    assert payload(await accept(api, secret), "acceptInvitation")["errors"] == []


# --- acceptInvitation (R10) -------------------------------------------------------------------


async def test_accept_invitation_activates_user_with_password_and_names(
    api: Api, world: World, mailer: RecordingMailer
) -> None:
    user = await invited_user(api, world.admin, firstName="Old", lastName="Name")
    body = await accept(api, mailer.last_secret(INVITEE), firstName="Ada", lastName="Lovelace")
    result = payload(body, "acceptInvitation")
    assert result["errors"] == []
    assert result["user"]["id"] == user["id"]
    assert result["user"]["status"] == "ACTIVE"
    stored = await read_user(api, world.admin, user["id"])
    assert stored is not None
    assert (stored["firstName"], stored["lastName"], stored["status"]) == (
        "Ada",
        "Lovelace",
        "ACTIVE",
    )
    assert stored["viewerCanResendInvitation"] is False


async def test_accept_invitation_without_names_keeps_invited_names(
    api: Api, world: World, mailer: RecordingMailer
) -> None:
    user = await invited_user(api, world.admin, firstName="Grace", lastName="Hopper")
    payload(await accept(api, mailer.last_secret(INVITEE)), "acceptInvitation")
    stored = await read_user(api, world.admin, user["id"])
    assert stored is not None
    assert (stored["firstName"], stored["lastName"]) == ("Grace", "Hopper")


async def test_accept_invitation_then_login_with_new_password(
    api: Api, world: World, mailer: RecordingMailer
) -> None:
    await invited_user(api, world.admin, role="ADMIN")
    payload(await accept(api, mailer.last_secret(INVITEE)), "acceptInvitation")
    body = await api(LOGIN, {"email": INVITEE, "password": NEW_PASSWORD})
    result = payload(body, "login")
    assert result["errors"] == []
    assert result["token"]
    assert result["viewer"]["email"] == INVITEE
    assert result["viewer"]["status"] == "ACTIVE"


async def test_accept_invitation_used_link_is_refused(
    api: Api, world: World, mailer: RecordingMailer
) -> None:
    await invited_user(api, world.admin)
    secret = mailer.last_secret(INVITEE)
    payload(await accept(api, secret), "acceptInvitation")
    body = await accept(api, secret, password="another passphrase!", firstName="Mallory")
    assert user_error_codes(body, "acceptInvitation") == ["INVITATION_USED"]
    # The first password still works; the second was not set.
    ok = await api(LOGIN, {"email": INVITEE, "password": NEW_PASSWORD})
    assert payload(ok, "login")["errors"] == []
    bad = await api(LOGIN, {"email": INVITEE, "password": "another passphrase!"})
    assert user_error_codes(bad, "login") == ["INVALID_CREDENTIALS"]


async def test_accept_invitation_concurrent_use_succeeds_once(
    api: Api, world: World, mailer: RecordingMailer
) -> None:
    # Single use (R8) also when the link is opened twice at the same moment.
    for round_no in range(3):
        email = f"race{round_no}@acme.test"
        await invited_user(api, world.admin, email)
        secret = mailer.last_secret(email)
        results = await asyncio.gather(
            accept(api, secret, password="first passphrase!"),
            accept(api, secret, password="second passphrase!"),
        )
        codes = [user_error_codes(r, "acceptInvitation") for r in results]
        assert sorted(codes) == [[], ["INVITATION_USED"]], (round_no, codes)
        winner = "first passphrase!" if codes[0] == [] else "second passphrase!"
        login = await api(LOGIN, {"email": email, "password": winner})
        assert payload(login, "login")["errors"] == [], (round_no, codes)


async def test_accept_invitation_wrong_secret_is_invalid(
    api: Api, world: World, mailer: RecordingMailer
) -> None:
    user = await invited_user(api, world.admin)
    secret = mailer.last_secret(INVITEE)
    body = await accept(api, secret[:-2] + ("AA" if not secret.endswith("AA") else "BB"))
    assert user_error_codes(body, "acceptInvitation") == ["INVITATION_INVALID"]
    assert payload(body, "acceptInvitation")["user"] is None
    assert (await read_user(api, world.admin, user["id"]) or {})["status"] == "INVITED"


async def test_accept_invitation_empty_secret_is_invalid(api: Api, world: World) -> None:
    body = await accept(api, "")
    assert user_error_codes(body, "acceptInvitation") == ["INVITATION_INVALID"]


async def test_accept_invitation_weak_password_keeps_user_invited(
    api: Api, world: World, mailer: RecordingMailer
) -> None:
    user = await invited_user(api, world.admin)
    secret = mailer.last_secret(INVITEE)
    body = await accept(api, secret, password="short pass!")  # 11 characters
    errors = payload(body, "acceptInvitation")["errors"]
    assert [e["code"] for e in errors] == ["WEAK_PASSWORD"]
    assert errors[0]["field"] == ["password"]
    assert (await read_user(api, world.admin, user["id"]) or {})["status"] == "INVITED"
    # The link was not consumed.
    assert payload(await accept(api, secret), "acceptInvitation")["errors"] == []


async def test_accept_invitation_password_of_12_characters_is_accepted(
    api: Api, world: World, mailer: RecordingMailer
) -> None:
    await invited_user(api, world.admin)
    body = await accept(api, mailer.last_secret(INVITEE), password="twelve chars")
    assert payload(body, "acceptInvitation")["user"]["status"] == "ACTIVE"


async def test_accept_invitation_bad_name_is_invalid_name(
    api: Api, world: World, mailer: RecordingMailer
) -> None:
    user = await invited_user(api, world.admin)
    body = await accept(api, mailer.last_secret(INVITEE), firstName="x" * 101)
    assert user_error_codes(body, "acceptInvitation") == ["INVALID_NAME"]
    assert (await read_user(api, world.admin, user["id"]) or {})["status"] == "INVITED"


async def test_accept_invitation_of_deleted_user_is_invalid(
    api: Api, world: World, mailer: RecordingMailer
) -> None:
    user = await invited_user(api, world.admin)
    secret = mailer.last_secret(INVITEE)
    deleted = await api(DELETE_USER, {"userId": user["id"]}, as_=world.admin)
    assert payload(deleted, "deleteUser")["errors"] == []
    body = await accept(api, secret)
    assert user_error_codes(body, "acceptInvitation") == ["INVITATION_INVALID"]
    assert INVITEE not in await user_emails(api, world.admin)
    login = await api(LOGIN, {"email": INVITEE, "password": NEW_PASSWORD})
    assert user_error_codes(login, "login") == ["INVALID_CREDENTIALS"]


async def test_accept_invitation_old_link_of_reinvited_user_is_invalid(
    api: Api, world: World, mailer: RecordingMailer
) -> None:
    user = await invited_user(api, world.admin)
    old = mailer.last_secret(INVITEE)
    payload(await api(DELETE_USER, {"userId": user["id"]}, as_=world.admin), "deleteUser")
    again = await invited_user(api, world.admin)
    assert again["id"] != user["id"]
    body = await accept(api, old)
    assert user_error_codes(body, "acceptInvitation") == ["INVITATION_INVALID"]
    assert (await read_user(api, world.admin, again["id"]) or {})["status"] == "INVITED"


# --- viewerCanResendInvitation ----------------------------------------------------------------


async def test_viewer_can_resend_invitation_true_for_admin_on_pending_users(
    api: Api, world: World, mailer: RecordingMailer, advance: Any
) -> None:
    invited = await invited_user(api, world.admin)
    mailer.fail = True
    failed = payload(await invite(api, world.admin, "failed@acme.test"), "inviteUser")["user"]
    mailer.fail = False
    expired = await invited_user(api, world.admin, "expired@acme.test")
    await advance(hours=24)
    invited = payload(
        await api(RESEND_INVITATION, {"userId": invited["id"]}, as_=world.admin), "resendInvitation"
    )["user"]
    statuses = {}
    for user in (invited, failed, expired):
        stored = await read_user(api, world.admin, user["id"])
        assert stored is not None
        statuses[stored["status"]] = stored["viewerCanResendInvitation"]
    assert statuses == {"INVITED": True, "FAILED": True, "EXPIRED": True}


async def test_viewer_can_resend_invitation_false_for_developer(api: Api, world: World) -> None:
    user = await invited_user(api, world.admin)
    stored = await read_user(api, world.dev, user["id"])
    assert stored is not None
    assert stored["status"] == "INVITED"
    assert stored["viewerCanResendInvitation"] is False


async def test_viewer_can_resend_invitation_false_for_active_user(api: Api, world: World) -> None:
    stored = await read_user(api, world.admin, world.dev.id)
    assert stored is not None
    assert stored["viewerCanResendInvitation"] is False


async def test_invite_user_payload_offers_resend_to_admin(api: Api, world: World) -> None:
    user = await invited_user(api, world.admin)
    assert user["viewerCanResendInvitation"] is True


# --- createUser (R11) -------------------------------------------------------------------------


async def test_create_user_with_password_is_invited(
    api: Api, world: World, mailer: RecordingMailer
) -> None:
    body = await api(
        CREATE_USER,
        {"input": {"email": "made@acme.test", "password": NEW_PASSWORD, "role": "ADMIN"}},
        as_=world.admin,
    )
    result = payload(body, "createUser")
    assert result["errors"] == []
    assert result["user"]["status"] == "INVITED"
    assert result["user"]["role"] == "ADMIN"
    assert result["user"]["lastLoginAt"] is None
    stored = await read_user(api, world.admin, result["user"]["id"])
    assert stored is not None
    assert stored["status"] == "INVITED"


async def test_create_user_first_login_makes_active(api: Api, world: World, advance: Any) -> None:
    created = payload(
        await api(
            CREATE_USER,
            {"input": {"email": "made@acme.test", "password": NEW_PASSWORD}},
            as_=world.admin,
        ),
        "createUser",
    )["user"]
    assert created["role"] == "DEVELOPER"
    await advance(hours=48)  # no invitation link, so nothing expires
    assert (await read_user(api, world.admin, created["id"]) or {})["status"] == "INVITED"
    body = await api(LOGIN, {"email": "made@acme.test", "password": NEW_PASSWORD})
    result = payload(body, "login")
    assert result["errors"] == []
    assert result["viewer"]["status"] == "ACTIVE"
    stored = await read_user(api, world.admin, created["id"])
    assert stored is not None
    assert stored["status"] == "ACTIVE"
    assert stored["lastLoginAt"] is not None
    assert datetime.fromisoformat(stored["lastLoginAt"]) == START.replace(day=25)


async def test_create_user_wrong_password_login_keeps_invited(api: Api, world: World) -> None:
    created = payload(
        await api(
            CREATE_USER,
            {"input": {"email": "made@acme.test", "password": NEW_PASSWORD}},
            as_=world.admin,
        ),
        "createUser",
    )["user"]
    body = await api(LOGIN, {"email": "made@acme.test", "password": "not the password"})
    assert user_error_codes(body, "login") == ["INVALID_CREDENTIALS"]
    stored = await read_user(api, world.admin, created["id"])
    assert stored is not None
    assert (stored["status"], stored["lastLoginAt"]) == ("INVITED", None)


async def test_create_user_by_developer_is_forbidden(api: Api, world: World) -> None:
    body = await api(
        CREATE_USER,
        {"input": {"email": "made@acme.test", "password": NEW_PASSWORD}},
        as_=world.dev,
    )
    assert_no_permission(body, "createUser")
    assert "made@acme.test" not in await user_emails(api, world.admin)
    login = await api(LOGIN, {"email": "made@acme.test", "password": NEW_PASSWORD})
    assert user_error_codes(login, "login") == ["INVALID_CREDENTIALS"]


async def test_create_user_weak_password_is_refused(api: Api, world: World) -> None:
    body = await api(
        CREATE_USER,
        {"input": {"email": "made@acme.test", "password": "too short"}},
        as_=world.admin,
    )
    assert user_error_codes(body, "createUser") == ["WEAK_PASSWORD"]
    assert "made@acme.test" not in await user_emails(api, world.admin)


async def test_create_user_existing_email_is_email_taken(api: Api, world: World) -> None:
    body = await api(
        CREATE_USER,
        {"input": {"email": "DEV@acme.test", "password": NEW_PASSWORD, "role": "ADMIN"}},
        as_=world.admin,
    )
    assert user_error_codes(body, "createUser") == ["EMAIL_TAKEN"]
    users = (await api(USER_EMAILS, as_=world.admin))["data"]["users"]["nodes"]
    assert {"email": "dev@acme.test", "status": "ACTIVE", "role": "DEVELOPER"} in users
    assert len(users) == 3
