"""Console sign-in: `login` issues a session JWT backed by a row that `logout` revokes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlmodel import col

from accessgraph.auth.passwords import verify_password
from accessgraph.auth.policy import Action, require
from accessgraph.auth.principal import Principal
from accessgraph.auth.tokens import TokenKind, new_id
from accessgraph.errors import Rejected
from accessgraph.models import LoginSession, Organization, User, UserStatus
from accessgraph.models.invitation import supersede_open_invitations
from accessgraph.resolvers.validation import clean_email
from accessgraph.services import Services

# Statuses that may hold a password: ACTIVE, and INVITED when an admin set one (R11).
_MAY_LOG_IN = (UserStatus.ACTIVE, UserStatus.INVITED)
_BAD_CREDENTIALS = Rejected("INVALID_CREDENTIALS", "The email or password is not correct.")


@dataclass(frozen=True, slots=True)
class LoginResult:
    token: str
    user: User
    expires_in: timedelta


async def login(
    services: Services,
    principal: Principal,
    email: str,
    password: str,
    organization: str | None = None,
    *,
    address: str | None = None,
) -> LoginResult:
    """A session for the user with this email and password. Failed attempts are counted per
    account and per client address, shared by every instance; past the limit, logins wait out
    the window (RATE_LIMITED, with retryAfter) before a password is even verified."""
    require(services.policy, principal, Action.AUTHENTICATE)
    try:
        _, normalized = clean_email(email)
    except Rejected:
        normalized = ""
    account = normalized or " ".join(email.split()).casefold()
    limiter = services.rate_limiter
    await limiter.check_login(account, address)
    async with services.db.session() as session:
        stmt = (
            select(User, col(Organization.name))
            .join(Organization, col(Organization.id) == col(User.org_id))
            .where(col(User.email_normalized) == normalized, col(User.deleted_at).is_(None))
            .order_by(col(User.id))
        )
        if organization is not None:
            stmt = stmt.where(col(Organization.name) == organization.strip())
        candidates = [
            (u, n) for u, n in (await session.execute(stmt)).all() if u.status in _MAY_LOG_IN
        ]
    # The same email may be a member of several organizations; the password picks one.
    # An unknown email costs one argon2 verification too (verify_password(None, ...)).
    matches = (
        [user for user, _ in candidates if verify_password(user.password_hash, password)]
        if candidates
        else []
    )
    if not candidates:
        verify_password(None, password)
    if not matches:
        await limiter.login_failed(address)
        raise _BAD_CREDENTIALS
    if len(matches) > 1:
        raise Rejected(
            "ORGANIZATION_REQUIRED",
            "This account exists in several organizations; give the organization's name.",
            ["organization"],
        )
    await limiter.login_succeeded(account)
    return await _start_session(services, matches[0])


async def _start_session(services: Services, user: User) -> LoginResult:
    now = services.clock.now()
    ttl = timedelta(hours=services.settings.session_ttl_hours)
    session_id = new_id()
    assert user.id is not None
    async with services.db.write() as session:
        fresh = await session.get(User, user.id, populate_existing=True)
        if fresh is None or fresh.deleted_at is not None:
            raise _BAD_CREDENTIALS
        if fresh.status == UserStatus.INVITED:
            # R11: the first successful login activates an admin-created user.
            fresh.status = UserStatus.ACTIVE
            fresh.invitation_expires_at = None
            assert fresh.id is not None
            await session.execute(supersede_open_invitations(fresh.id, now))
        fresh.last_login_at = now
        session.add(
            LoginSession(
                id=session_id,
                org_id=fresh.org_id,
                user_id=user.id,
                created_at=now,
                expires_at=now + ttl,
            )
        )
    token = services.signer.issue(
        TokenKind.SESSION,
        subject=user.id,
        org_id=fresh.org_id,
        jti=session_id,
        now=now,
        expires_at=now + ttl,
    )
    return LoginResult(token=token, user=fresh, expires_in=ttl)


async def logout(services: Services, principal: Principal) -> None:
    require(services.policy, principal, Action.AUTHENTICATE)
    if principal.session_id is None:
        return
    async with services.db.write() as session:
        await session.execute(
            update(LoginSession)
            .where(
                col(LoginSession.id) == principal.session_id, col(LoginSession.revoked_at).is_(None)
            )
            .values(revoked_at=services.clock.now())
        )
