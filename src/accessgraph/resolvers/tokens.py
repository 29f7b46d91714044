"""Access tokens (R12-R16): create (value shown once), list, revoke, delete."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, and_, bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from accessgraph.auth.policy import Action, Scope, require
from accessgraph.auth.principal import Principal
from accessgraph.auth.tokens import TokenKind, sha256_hex
from accessgraph.db import lock_organization
from accessgraph.errors import Rejected, not_found
from accessgraph.models import AccessToken, Organization, TokenPermission, TokenStatus
from accessgraph.models.token import TOKEN_NAME_MAX
from accessgraph.resolvers import audit
from accessgraph.resolvers.actors import require_now
from accessgraph.resolvers.pagination import KeptCount, Page, PageArgs, fetch_page
from accessgraph.resolvers.validation import check_future, has_control
from accessgraph.row_reads import RowsRead, detached
from accessgraph.services import Services

USERNAME_PREFIX = "agt-"


@dataclass(frozen=True, slots=True)
class TokenFilter:
    status: TokenStatus | None = None
    created_by: int | None = None


def status_condition(status: TokenStatus, now: datetime) -> ColumnElement[bool]:
    not_revoked = col(AccessToken.revoked_at).is_(None)
    if status == TokenStatus.REVOKED:
        return col(AccessToken.revoked_at).is_not(None)
    if status == TokenStatus.EXPIRED:
        return and_(
            not_revoked,
            col(AccessToken.expires_at).is_not(None),
            col(AccessToken.expires_at) <= now,
        )
    return and_(
        not_revoked, or_(col(AccessToken.expires_at).is_(None), col(AccessToken.expires_at) > now)
    )


def visible_tokens(services: Services, principal: Principal) -> ColumnElement[bool]:
    """The personal tokens the caller may see, as SQL: all of the org's, or their own (policy
    scope). A subscription's tokens are listed and managed on that subscription (R22)."""
    scope = require(services.policy, principal, Action.VIEW_TOKENS).scope
    return _visible(scope, principal.org_id, principal.user_id)


def _visible(scope: Scope, org_id: Any, user_id: Any) -> ColumnElement[bool]:
    condition = and_(col(AccessToken.org_id) == org_id, col(AccessToken.subscription_id).is_(None))
    if scope == Scope.OWN:
        condition = and_(condition, col(AccessToken.owner_id) == user_id)
    return condition


class TokenRow(NamedTuple):
    """A token's columns as a nested page reads them: values, not an ORM instance (~4 µs a row
    less for a page that shows only them); `instance()` makes the model's when needed."""

    id: int
    org_id: int
    owner_id: int
    subscription_id: int | None
    name: str
    permission: TokenPermission
    username: str
    secret_hash: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    revoked_by_id: int | None
    last_used_at: datetime | None

    def instance(self) -> AccessToken:
        """The token as a closed read session leaves it (detached, every column loaded)."""
        return detached(AccessToken, self._asdict())


def _of_owners(scope: Scope) -> RowsRead:
    """`visible_tokens` of a batch of owners, in id order, built once per scope."""
    return RowsRead(
        *(col(getattr(AccessToken, name)) for name in TokenRow._fields),
        shape=lambda selected: selected.where(
            _visible(scope, bindparam("org_id"), bindparam("user_id")),
            col(AccessToken.owner_id).in_(bindparam("owner_ids", expanding=True)),
        ).order_by(col(AccessToken.id)),
        lists=("owner_ids",),
    )


# Read on the driver (row_reads.py): a nested page's 250 tokens skip the ORM session's row
# loading (~10 µs a row).
_OF_OWNERS = {scope: _of_owners(scope) for scope in (Scope.ALL, Scope.OWN)}


async def visible_tokens_of(
    services: Services, principal: Principal, owner_ids: Sequence[int]
) -> list[TokenRow]:
    """The personal tokens of these owners that the caller may see (`visible_tokens`)."""
    scope = require(services.policy, principal, Action.VIEW_TOKENS).scope
    params: dict[str, Any] = {"org_id": principal.org_id, "owner_ids": list(owner_ids)}
    if scope == Scope.OWN:
        params["user_id"] = principal.user_id
    return [TokenRow._make(row) for row in await _OF_OWNERS[scope].values(services.db, **params)]


async def list_tokens(
    services: Services, principal: Principal, flt: TokenFilter, args: PageArgs
) -> Page[AccessToken]:
    conditions = [visible_tokens(services, principal)]
    if flt.status is not None:
        conditions.append(status_condition(flt.status, services.clock.now()))
    if flt.created_by is not None:
        conditions.append(col(AccessToken.owner_id) == flt.created_by)
    assert principal.org_id is not None
    every_token = (
        flt == TokenFilter() and services.policy.scope(principal, Action.VIEW_TOKENS) == Scope.ALL
    )
    # Every personal token of the organization, an admin's page: the number kept for it.
    kept = KeptCount(col(Organization.personal_tokens), principal.org_id)
    return await fetch_page(
        services.db, AccessToken, and_(*conditions), args, count=kept if every_token else None
    )


@dataclass(frozen=True, slots=True)
class CreateTokenInput:
    name: str
    permission: TokenPermission
    expires_at: datetime | None = None


def clean_token_name(raw: str) -> str:
    name = raw.strip()
    if not name or len(name) > TOKEN_NAME_MAX or has_control(name):
        raise Rejected(
            "INVALID_NAME",
            f"The token name must have 1 to {TOKEN_NAME_MAX} printable characters.",
            ["name"],
        )
    return name


async def create_token(
    services: Services, principal: Principal, data: CreateTokenInput
) -> tuple[AccessToken, str]:
    """A token owned by the caller. Returns the row and the value, which is never stored."""
    require(services.policy, principal, Action.CREATE_TOKEN)
    assert principal.user_id is not None
    await services.rate_limiter.token_created(principal.user_id)
    async with services.db.write() as session:
        await require_now(services, session, principal, Action.CREATE_TOKEN)
        return await insert_token(services, session, principal, data)


async def insert_token(
    services: Services,
    session: AsyncSession,
    principal: Principal,
    data: CreateTokenInput,
    *,
    subscription_id: int | None = None,
) -> tuple[AccessToken, str]:
    """Within the caller's transaction (authorization done): a new token owned by the caller,
    personal or scoped to a subscription, and its value (shown once, never stored)."""
    assert principal.org_id is not None
    assert principal.user_id is not None
    if subscription_id is None:
        # The insert's trigger updates the organization row (`personal_tokens`): take it first,
        # as every writer touching both does, so that none wait on each other in opposite orders.
        await lock_organization(session, principal.org_id)
    name = clean_token_name(data.name)
    now = services.clock.now()
    check_future(data.expires_at, now, "expiresAt")
    expires_at = data.expires_at.astimezone(UTC) if data.expires_at else None  # API dates are UTC
    username = USERNAME_PREFIX + secrets.token_hex(8)
    value = services.signer.issue(
        TokenKind.ACCESS,
        subject=principal.user_id,
        org_id=principal.org_id,
        jti=username,
        now=now,
        expires_at=expires_at,
    )
    if await _active_name_taken(session, principal.user_id, subscription_id, name, now):
        where = "this subscription" if subscription_id else "you"
        raise Rejected(
            "TOKEN_NAME_TAKEN", f"An active token of {where} is named {name!r}.", ["name"]
        )
    token = AccessToken(
        org_id=principal.org_id,
        owner_id=principal.user_id,
        subscription_id=subscription_id,
        name=name,
        permission=data.permission,
        username=username,
        secret_hash=sha256_hex(value),
        created_at=now,
        expires_at=expires_at,
    )
    session.add(token)
    await session.flush()
    audit.record(
        session,
        principal,
        "token.create",
        org_id=principal.org_id,
        now=now,
        target=token,
        after=audit.token_snapshot(token, now),
    )
    return token, value


async def _active_name_taken(
    session: AsyncSession, owner_id: int, subscription_id: int | None, name: str, now: datetime
) -> bool:
    """Personal tokens' names are unique per owner; a subscription's, per subscription."""
    scope = (
        col(AccessToken.subscription_id) == subscription_id
        if subscription_id is not None
        else and_(col(AccessToken.owner_id) == owner_id, col(AccessToken.subscription_id).is_(None))
    )
    count = await session.scalar(
        select(func.count())
        .select_from(AccessToken)
        .where(
            scope,
            col(AccessToken.name) == name,
            status_condition(TokenStatus.ACTIVE, now),
        )
    )
    return bool(count)


async def load_token(
    session: AsyncSession, principal: Principal, token_id: int, *, subscription: bool = False
) -> AccessToken:
    """A personal token (or, with `subscription`, a subscription's token) of the caller's
    organization, locked: two concurrent revokes (or deletes) act once; the loser sees the
    result."""
    token = await session.get(AccessToken, token_id, populate_existing=True, with_for_update=True)
    if (
        token is None
        or token.org_id != principal.org_id
        or (token.subscription_id is not None) != subscription
    ):
        raise not_found("Token", ["tokenId"])
    return token


async def revoke_token(services: Services, principal: Principal, token_id: int) -> AccessToken:
    """R15: immediate and final. Admins revoke any token, developers their own."""
    require(services.policy, principal, Action.REVOKE_TOKEN)
    now = services.clock.now()
    async with services.db.write() as session:
        token = await load_token(session, principal, token_id)
        await require_now(services, session, principal, Action.REVOKE_TOKEN, token)
        if token.revoked_at is not None:
            raise Rejected("TOKEN_ALREADY_REVOKED", "This token is already revoked.", ["tokenId"])
        mark_revoked(session, principal, token, now)
    return token


def mark_revoked(
    session: AsyncSession,
    principal: Principal,
    token: AccessToken,
    now: datetime,
    reason: str | None = None,
) -> None:
    """Revoke within the caller's transaction, and record it (R15, R35). Final: nothing
    clears revoked_at."""
    before = audit.token_snapshot(token, now)
    token.revoked_at = now
    token.revoked_by_id = principal.user_id
    after = audit.token_snapshot(token, now)
    if reason:
        after["reason"] = reason
    audit.record(
        session,
        principal,
        "token.revoke",
        org_id=token.org_id,
        now=now,
        target=token,
        before=before,
        after=after,
    )


async def delete_token(services: Services, principal: Principal, token_id: int) -> int:
    """R16: only EXPIRED or REVOKED tokens leave the list; who may delete follows revoke."""
    require(services.policy, principal, Action.DELETE_TOKEN)
    now = services.clock.now()
    async with services.db.write() as session:
        assert principal.org_id is not None
        await lock_organization(session, principal.org_id)  # see insert_token
        token = await load_token(session, principal, token_id)
        await require_now(services, session, principal, Action.DELETE_TOKEN, token)
        await delete_locked(session, principal, token, now)
    return token_id


async def delete_locked(
    session: AsyncSession, principal: Principal, token: AccessToken, now: datetime
) -> None:
    """R16 within the caller's transaction (authorization done): only a token that is not
    ACTIVE leaves the list, and its deletion is recorded (R35)."""
    if token.status_at(now) == TokenStatus.ACTIVE:
        raise Rejected(
            "TOKEN_ACTIVE", "Revoke the token (or let it expire) before deleting it.", ["tokenId"]
        )
    audit.record(
        session,
        principal,
        "token.delete",
        org_id=token.org_id,
        now=now,
        target=token,
        before=audit.token_snapshot(token, now),
    )
    await session.delete(token)
