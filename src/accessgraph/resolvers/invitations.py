"""Invitations (R7-R10): invite, resend, accept; the email goes out after the commit.

The sign-up link carries a random secret; only its SHA-256 is stored. A user shows as EXPIRED
once `invitation_expires_at` passes (no background job needed) and as FAILED when the email
could not be handed to the mail server. Resending replaces the link and restarts the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from accessgraph.auth.passwords import hash_password
from accessgraph.auth.policy import Action, require
from accessgraph.auth.principal import Principal
from accessgraph.auth.tokens import new_secret, sha256_hex
from accessgraph.errors import Rejected
from accessgraph.mail import OutgoingEmail
from accessgraph.models import (
    EmailStatus,
    Invitation,
    Organization,
    OutboxEmail,
    TeamRole,
    User,
    UserStatus,
)
from accessgraph.models.invitation import supersede_open_invitations
from accessgraph.resolvers import audit, outbox
from accessgraph.resolvers.actors import require_now
from accessgraph.resolvers.outbox import Queued
from accessgraph.resolvers.users import add_user, load_live_user
from accessgraph.resolvers.validation import check_password, clean_email, clean_name
from accessgraph.services import Services

PENDING = frozenset({UserStatus.INVITED, UserStatus.EXPIRED, UserStatus.FAILED})


@dataclass(frozen=True, slots=True)
class InviteInput:
    email: str
    role: TeamRole = TeamRole.DEVELOPER
    first_name: str | None = None
    last_name: str | None = None


def can_resend(user: User, now: datetime) -> bool:
    return resendable(user.status_at(now), user.deleted_at)


def resendable(status: UserStatus, deleted_at: datetime | None) -> bool:
    """R9: an invitation is sent again to a member not deleted whose status is pending."""
    return deleted_at is None and status in PENDING


async def invite_user(services: Services, principal: Principal, data: InviteInput) -> User:
    require(services.policy, principal, Action.INVITE_USER)
    email = clean_email(data.email)
    first = clean_name(data.first_name, "firstName")
    last = clean_name(data.last_name, "lastName")
    assert principal.org_id is not None
    await services.rate_limiter.invitation_sent(principal.org_id)
    now = services.clock.now()
    async with services.db.write() as session:
        await require_now(services, session, principal, Action.INVITE_USER)
        pending = await invite_in(services, session, principal, email, data.role, first, last, now)
    return await deliver(services, pending)


@dataclass(frozen=True, slots=True)
class PendingInvitation:
    """A user with a new invitation link, committed; its email is sent by `deliver`."""

    user: User
    queued: Queued


async def invite_in(
    services: Services,
    session: AsyncSession,
    principal: Principal,
    email: tuple[str, str],
    role: TeamRole,
    first: str | None,
    last: str | None,
    now: datetime,
) -> PendingInvitation:
    """Within the caller's transaction: a new INVITED user (R7) and their link, audited."""
    assert principal.org_id is not None
    if role == TeamRole.ADMIN:  # R33: inviting accounts is not making admins
        await require_now(services, session, principal, Action.GRANT_ADMIN_ROLE)
    user = await add_user(
        session,
        principal.org_id,
        *email,
        role,
        first,
        last,
        now,
        invitation_expires_at=now + _ttl(services),
    )
    queued = await _new_invitation(services, session, principal, user, now)
    audit.record(
        session,
        principal,
        "user.invite",
        org_id=principal.org_id,
        now=now,
        target=user,
        after=audit.user_snapshot(user, now),
    )
    return PendingInvitation(user, queued)


async def resend_invitation(services: Services, principal: Principal, user_id: int) -> User:
    """R9: a new link for an INVITED, EXPIRED or FAILED user; the old link stops working."""
    require(services.policy, principal, Action.INVITE_USER)
    assert principal.org_id is not None
    await services.rate_limiter.invitation_sent(principal.org_id)
    now = services.clock.now()
    async with services.db.write() as session:
        user = await load_live_user(session, principal.org_id, user_id)
        await require_now(services, session, principal, Action.INVITE_USER, user)
        if user.role == TeamRole.ADMIN:  # a sign-up link for an admin account is an admin's
            await require_now(services, session, principal, Action.GRANT_ADMIN_ROLE, user)
        pending = await resend_in(services, session, principal, user, now)
    return await deliver(services, pending)


async def resend_in(
    services: Services, session: AsyncSession, principal: Principal, user: User, now: datetime
) -> PendingInvitation:
    """Within the caller's transaction (authorization done): replace the user's link."""
    if not can_resend(user, now):
        raise Rejected("INVITATION_NOT_PENDING", "This user has already signed up.", ["userId"])
    before = audit.user_snapshot(user, now)
    user.status = UserStatus.INVITED
    user.invitation_expires_at = now + _ttl(services)
    queued = await _new_invitation(services, session, principal, user, now)
    audit.record(
        session,
        principal,
        "user.invitation_resend",
        org_id=user.org_id,
        now=now,
        target=user,
        before=before,
        after=audit.user_snapshot(user, now),
    )
    return PendingInvitation(user, queued)


@dataclass(frozen=True, slots=True)
class AcceptInput:
    token: str
    password: str
    first_name: str | None = None
    last_name: str | None = None


async def accept_invitation(services: Services, data: AcceptInput) -> User:
    """R10: public; the secret proves the email. Sets password and name; the user is ACTIVE."""
    check_password(data.password)
    first = clean_name(data.first_name, "firstName")
    last = clean_name(data.last_name, "lastName")
    password_hash = hash_password(data.password)
    now = services.clock.now()
    async with services.db.write() as session:
        invitation = await session.scalar(
            select(Invitation)
            .where(col(Invitation.secret_hash) == sha256_hex(data.token.strip()))
            # Single use (R8) under concurrency: a second accept waits, then sees used_at.
            .with_for_update()
        )
        user = await session.get(User, invitation.user_id) if invitation else None
        if invitation is None or user is None or user.deleted_at is not None:
            raise Rejected("INVITATION_INVALID", "This invitation link is not valid.", ["token"])
        if invitation.used_at is not None or user.status == UserStatus.ACTIVE:
            raise Rejected("INVITATION_USED", "This invitation link was already used.", ["token"])
        if invitation.superseded_at is not None:
            raise Rejected(
                "INVITATION_REPLACED", "A newer invitation replaced this link.", ["token"]
            )
        if invitation.expires_at <= now:
            raise Rejected(
                "INVITATION_EXPIRED",
                "This invitation link has expired; ask an admin to resend it.",
                ["token"],
            )
        before = audit.user_snapshot(user, now)
        invitation.used_at = now
        user.password_hash = password_hash
        user.first_name = first or user.first_name
        user.last_name = last or user.last_name
        user.status = UserStatus.ACTIVE
        user.invitation_expires_at = None
        assert user.id is not None
        actor = Principal(org_id=user.org_id, user_id=user.id, role=user.role, email=user.email)
        audit.record(
            session,
            actor,
            "user.invitation_accept",
            org_id=user.org_id,
            now=now,
            target=user,
            before=before,
            after=audit.user_snapshot(user, now),
        )
    return user


def _ttl(services: Services) -> timedelta:
    return timedelta(hours=services.settings.invitation_ttl_hours)


REDACTED = "[link redacted: the sign-up secret is stored only as a hash]"


async def _new_invitation(
    services: Services, session: AsyncSession, principal: Principal, user: User, now: datetime
) -> Queued:
    """Supersede the user's open links, store a new one, and queue its email."""
    assert user.id is not None
    assert user.invitation_expires_at is not None
    await session.execute(supersede_open_invitations(user.id, now))
    secret = new_secret()
    session.add(
        Invitation(
            org_id=user.org_id,
            user_id=user.id,
            secret_hash=sha256_hex(secret),
            created_at=now,
            expires_at=user.invitation_expires_at,
        )
    )
    org = await session.get(Organization, user.org_id)
    assert org is not None
    message = invitation_email(services, org.name, principal.label, user.email, secret)
    row = OutboxEmail(
        org_id=user.org_id,
        to_address=message.to,
        subject=message.subject,
        # R8: the secret is stored only as a hash, so the outbox keeps the email without it.
        body=message.body.replace(invitation_link(services, secret), REDACTED),
        status=EmailStatus.QUEUED,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return Queued(row, message)


def invitation_link(services: Services, secret: str) -> str:
    return f"{services.settings.public_url}/signup?token={quote(secret)}"


def invitation_email(
    services: Services, org_name: str, inviter: str, to: str, secret: str
) -> OutgoingEmail:
    hours = services.settings.invitation_ttl_hours
    link = invitation_link(services, secret)
    body = (
        f"Welcome to accessgraph!\n\n"
        f"{inviter} has invited you to join the team {org_name}.\n\n"
        f"Sign up here:\n{link}\n\n"
        f"The link works once and expires in {hours:g} hours. If you did not expect this "
        f"invitation, you can ignore this email.\n"
    )
    return OutgoingEmail(
        to=to, subject=f"You're invited to join {org_name} on accessgraph", body=body
    )


async def deliver(services: Services, pending: PendingInvitation) -> User:
    """Send after the commit; a failed delivery shows the user as FAILED (R9)."""
    user = pending.user
    [error] = await outbox.send(services, [pending.queued])
    async with services.db.write() as session:
        if error:
            # Only if this is still the user's pending link (a resend may have replaced it).
            await session.execute(
                update(User)
                .where(
                    col(User.id) == user.id,
                    col(User.status) == UserStatus.INVITED,
                    col(User.invitation_expires_at) == user.invitation_expires_at,
                )
                .values(status=UserStatus.FAILED)
            )
        fresh = await session.get(User, user.id, populate_existing=True)
    assert fresh is not None
    return fresh
