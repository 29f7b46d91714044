"""Starlette AuthenticationBackend: turns a request's credential into a `Principal`.

Accepted credentials (API.md): the session cookie set by `login`; `Authorization: Bearer`
with a session or access token; HTTP Basic with an access token's username and value (R17).
A credential sent in the Authorization header that does not verify is refused outright
(401, UNAUTHENTICATED); a stale session cookie is ignored so that the console can still log in.

Every request re-reads the token or session row and its user, so a revocation, a deletion or
a role change is seen by the very next request on every instance (R6, R14, R15).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import bindparam, join, or_, update
from sqlmodel import col
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
)
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response

from accessgraph.auth import keys
from accessgraph.auth.principal import ANONYMOUS, Principal, account_permissions_of
from accessgraph.auth.tokens import InvalidToken, TokenKind, same_digest, sha256_hex
from accessgraph.errors import UNAUTHENTICATED
from accessgraph.models import (
    AccessToken,
    LoginSession,
    Organization,
    TokenPermission,
    User,
    UserStatus,
)
from accessgraph.row_reads import RowRead
from accessgraph.services import Services

SESSION_COOKIE = "accessgraph_session"
CREDENTIAL_SOURCE = "accessgraph.credential"
# lastUsedAt is written at most once a minute per token, to keep reads from becoming writes.
LAST_USED_PRECISION = timedelta(minutes=1)
TOUCHED_MEMORY = 10_000  # tokens whose last write this process remembers


# Built once, and read on the driver (row_reads.py): through the ORM's session this one read
# was a third of a small request's CPU, on every authenticated request.
class _SessionFacts(NamedTuple):
    id: str
    user_id: int
    revoked_at: datetime | None
    expires_at: datetime


class _TokenFacts(NamedTuple):
    id: int
    owner_id: int
    secret_hash: str
    permission: TokenPermission
    subscription_id: int | None
    revoked_at: datetime | None
    expires_at: datetime | None
    last_used_at: datetime | None


def _credential_row(facts: Sequence[Any], user_id: Any, key: Any, name: str) -> RowRead:
    """The credential's facts (columns, not a whole row: an instance costs ~10 µs to build)
    by its key, with its user and the organization's access version."""
    return RowRead(
        *facts,
        User,
        col(Organization.access_version),
        source=join(facts[0].table, User, col(User.id) == user_id).join(
            Organization, col(Organization.id) == col(User.org_id)
        ),
        where=key == bindparam(name),
    )


_SESSION_ROW = _credential_row(
    [col(getattr(LoginSession, name)) for name in _SessionFacts._fields],
    col(LoginSession.user_id),
    col(LoginSession.id),
    "jti",
)
_TOKEN_ROW = _credential_row(
    [col(getattr(AccessToken, name)) for name in _TokenFacts._fields],
    col(AccessToken.owner_id),
    col(AccessToken.username),
    "username",
)


class CredentialBackend(AuthenticationBackend):
    def __init__(self, services: Services) -> None:
        self._services = services
        # Token username -> the lastUsedAt this process wrote last (or is writing).
        self._touched: dict[str, datetime] = {}

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, Principal]:
        header = conn.headers.get("authorization")
        principal: Principal | None
        if header:
            principal = await self._from_header(header)
        else:
            cookie = conn.cookies.get(SESSION_COOKIE)
            principal = await self._from_session(cookie) if cookie else None
            if principal is not None:
                # The view runs GET queries without cookie credentials (CSRF: a page of another
                # site can make the browser send a GET with the cookie).
                conn.scope[CREDENTIAL_SOURCE] = "cookie"
        if principal is None:
            return AuthCredentials(), ANONYMOUS
        return AuthCredentials(["authenticated"]), principal

    async def _from_header(self, header: str) -> Principal:
        scheme, _, value = header.strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer" and value:
            kind = self._services.signer.kind_of(value)
            principal = (
                await self._from_session(value)
                if kind == TokenKind.SESSION
                else await self._from_access_token(value)
            )
        elif scheme.lower() == "basic" and value:
            username, secret = _basic_credentials(value)
            principal = await self._from_access_token(secret, username=username)
        else:
            raise AuthenticationError("Unsupported authorization scheme.")
        if principal is None:
            raise AuthenticationError("Invalid, expired or revoked credential.")
        return principal

    async def _from_session(self, value: str) -> Principal | None:
        now = self._services.clock.now()
        try:
            claims = await keys.verify(
                self._services.db, self._services.signer, value, TokenKind.SESSION, now
            )
        except InvalidToken:
            return None
        row = await _SESSION_ROW.one(self._services.db, jti=claims.jti)
        if row is None:
            return None
        login, user, access_version = _SessionFacts._make(row[:4]), row[4], row[5]
        if (
            login.revoked_at is not None
            or login.expires_at <= now
            or login.user_id != claims.subject
            or not _may_sign_in(user)
        ):
            return None
        return _principal(user, access_version, session_id=login.id)

    async def _from_access_token(
        self, value: str, *, username: str | None = None
    ) -> Principal | None:
        now = self._services.clock.now()
        try:
            claims = await keys.verify(
                self._services.db, self._services.signer, value, TokenKind.ACCESS, now
            )
        except InvalidToken:
            return None
        if username is not None and username != claims.jti:
            return None
        row = await _TOKEN_ROW.one(self._services.db, username=claims.jti)
        # The read connection is back in the pool before any write: holding it while asking
        # for a second one let a burst of token requests exhaust the pool and hang.
        if row is None:
            return None
        token, owner, access_version = _TokenFacts._make(row[:8]), row[8], row[9]
        if (
            not same_digest(token.secret_hash, sha256_hex(value))
            or token.owner_id != claims.subject
            or token.revoked_at is not None
            or (token.expires_at is not None and token.expires_at <= now)
            or not _may_sign_in(owner)
        ):
            return None
        if token.last_used_at is None or token.last_used_at <= now - LAST_USED_PRECISION:
            await self._touch(token, claims.jti, now)
        return _principal(owner, access_version, token=token)

    async def _touch(self, token: _TokenFacts, username: str, now: datetime) -> None:
        """Record use: once a minute per token from this process, whatever the burst (every
        request of a burst read the stale value, and each queued a write transaction behind
        SQLite's write lock: seconds at 32 in flight, once a minute); conditional in SQL, so
        other instances write it once too."""
        stale = now - LAST_USED_PRECISION
        # By username (unique for good): a deleted token's id may be given to a new one.
        mine = self._touched.get(username)
        if mine is not None and mine > stale:
            return
        if len(self._touched) >= TOUCHED_MEMORY:
            self._touched.clear()
        self._touched[username] = now
        try:
            await self._write_last_used(token, now, stale)
        except BaseException:
            if self._touched.get(username) is now:  # failed: the next request tries again
                del self._touched[username]
            raise

    async def _write_last_used(self, token: _TokenFacts, now: datetime, stale: datetime) -> None:
        async with self._services.db.write() as session:
            await session.execute(
                update(AccessToken)
                .where(
                    col(AccessToken.id) == token.id,
                    or_(
                        col(AccessToken.last_used_at).is_(None),
                        col(AccessToken.last_used_at) <= stale,
                    ),
                )
                .values(last_used_at=now)
            )


def _may_sign_in(user: User) -> bool:
    return user.deleted_at is None and user.status == UserStatus.ACTIVE


def _principal(
    user: User,
    access_version: int,
    *,
    token: _TokenFacts | None = None,
    session_id: str | None = None,
) -> Principal:
    assert user.id is not None
    return Principal(
        org_id=user.org_id,
        user_id=user.id,
        role=user.role,
        email=user.email,
        token_id=token.id if token else None,
        token_permission=token.permission if token else None,
        token_subscription_id=token.subscription_id if token else None,
        session_id=session_id,
        account_permissions=account_permissions_of(user),
        user_row=user,
        access_version=access_version,
    )


def _basic_credentials(value: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise AuthenticationError("Malformed basic credentials.") from None
    username, sep, secret = decoded.partition(":")
    if not sep or not username or not secret:
        raise AuthenticationError("Malformed basic credentials.")
    return username, secret


def on_auth_error(_conn: HTTPConnection, exc: Exception) -> Response:
    """A bad credential: a GraphQL-shaped error body (API.md) with HTTP 401."""
    body = {
        "data": None,
        "errors": [{"message": str(exc), "extensions": {"code": UNAUTHENTICATED}}],
    }
    return JSONResponse(
        body, status_code=401, headers={"WWW-Authenticate": 'Bearer, Basic realm="accessgraph"'}
    )
