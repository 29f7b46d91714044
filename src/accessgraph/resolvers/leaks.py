"""`reportLeakedToken`: anyone who finds a credential in the wild (a paste, a public repository,
a log) hands it in. A valid access token is revoked at once (a session token: its session is
ended), and its owner is told by email what was revoked, when, and that it was reported. The
answer is the same whatever was submitted, and arrives before the email is sent, so a report
never tells whether the credential was valid.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from accessgraph.auth import keys
from accessgraph.auth.principal import Principal
from accessgraph.auth.tokens import InvalidToken, TokenKind, same_digest, sha256_hex
from accessgraph.mail import OutgoingEmail
from accessgraph.models import AccessToken, EmailStatus, LoginSession, OutboxEmail, User
from accessgraph.resolvers import audit, outbox
from accessgraph.resolvers.tokens import mark_revoked
from accessgraph.services import Services

log = logging.getLogger("accessgraph.leaks")
MAX_REPORTED_LENGTH = 4096
REPORTER = "leaked-credential report"
# Deliveries in flight: kept referenced until done (a bare create_task may be collected).
_SENDING: set[asyncio.Task[None]] = set()


async def report_leaked_token(services: Services, value: str, address: str | None) -> None:
    """Revoke what `value` is, if it is a live credential of this service; else nothing."""
    await services.rate_limiter.leak_reported(address)
    value = value.strip()
    if not value or len(value) > MAX_REPORTED_LENGTH:
        return
    now = services.clock.now()
    kind = services.signer.kind_of(value)
    if kind is None:
        return
    try:
        claims = await keys.verify(services.db, services.signer, value, kind, now)
    except InvalidToken:
        return
    if kind == TokenKind.ACCESS:
        queued = await _revoke_access_token(services, value, claims.jti, now)
    else:
        queued = await _end_session(services, claims.jti, claims.subject, now)
    if queued is not None:
        task = asyncio.create_task(_deliver(services, queued))
        _SENDING.add(task)
        task.add_done_callback(_SENDING.discard)


async def _revoke_access_token(
    services: Services, value: str, username: str, now: datetime
) -> outbox.Queued | None:
    async with services.db.write() as session:
        found = (
            await session.execute(
                select(AccessToken, User)
                .join(User, col(User.id) == col(AccessToken.owner_id))
                .where(col(AccessToken.username) == username)
            )
        ).first()
        if found is None:
            return None
        token, owner = found
        live = token.revoked_at is None and (token.expires_at is None or token.expires_at > now)
        if not live or not same_digest(token.secret_hash, sha256_hex(value)):
            return None
        reporter = Principal(org_id=token.org_id, email=REPORTER)
        mark_revoked(session, reporter, token, now, reason="reported as leaked")
        what = f'the access token "{token.name}" ({token.username})'
        return await _queue(session, owner, what, now)


async def _end_session(
    services: Services, session_id: str, user_id: int, now: datetime
) -> outbox.Queued | None:
    async with services.db.write() as session:
        login = await session.get(LoginSession, session_id)
        if login is None or login.user_id != user_id:
            return None
        if login.revoked_at is not None or login.expires_at <= now:
            return None
        owner = await session.get(User, login.user_id)
        assert owner is not None
        login.revoked_at = now
        session.add(login)
        audit.record(
            session,
            Principal(org_id=owner.org_id, email=REPORTER),
            "session.revoke",
            org_id=owner.org_id,
            now=now,
            target=owner,
            after={"session": login.id, "reason": "reported as leaked"},
        )
        return await _queue(session, owner, "a console session of yours", now)


async def _queue(session: AsyncSession, owner: User, what: str, now: datetime) -> outbox.Queued:
    message = OutgoingEmail(
        to=owner.email,
        subject="accessgraph: a credential of yours was reported as leaked and revoked",
        body=(
            f"Someone reported {what} as found in public at {now:%Y-%m-%d %H:%M} UTC.\n"
            "It has been revoked and no longer works. If you still need access, create a new "
            "token, and check where the old one was stored or printed."
        ),
    )
    row = OutboxEmail(
        org_id=owner.org_id,
        to_address=message.to,
        subject=message.subject,
        body=message.body,
        status=EmailStatus.QUEUED,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return outbox.Queued(row, message)


async def _deliver(services: Services, queued: outbox.Queued) -> None:
    try:
        await outbox.send(services, [queued])
    except Exception:  # the revocation stands; the outbox row stays QUEUED for a retry
        log.exception("could not send the leaked-credential notice")
