"""Team members: list, create, change role, delete (R2-R6, R11)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import ColumnElement, and_, bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from accessgraph.auth.passwords import hash_password
from accessgraph.auth.policy import Action, require
from accessgraph.auth.principal import Principal
from accessgraph.db import lock_organization
from accessgraph.errors import Rejected, not_found
from accessgraph.models import (
    AccessToken,
    LoginSession,
    Organization,
    Subscription,
    SubscriptionMember,
    SubscriptionRole,
    TeamRole,
    User,
    UserStatus,
)
from accessgraph.models.invitation import supersede_open_invitations
from accessgraph.resolvers import audit
from accessgraph.resolvers.actors import require_now
from accessgraph.resolvers.groups import leave_groups
from accessgraph.resolvers.pagination import (
    KeptCount,
    Page,
    PageArgs,
    Shaped,
    fetch_page,
    fetch_plain_page,
)
from accessgraph.resolvers.tokens import mark_revoked
from accessgraph.resolvers.validation import check_password, clean_email, clean_name
from accessgraph.row_reads import detached
from accessgraph.services import Services

SEARCH_MAX = 100


@dataclass(frozen=True, slots=True)
class UserFilter:
    status: UserStatus | None = None
    role: TeamRole | None = None
    search: str | None = None


def status_condition(status: UserStatus, now: datetime) -> ColumnElement[bool]:
    """SQL for a user's status as shown (EXPIRED is derived from the invitation's expiry)."""
    invited = col(User.status) == UserStatus.INVITED
    expired = and_(
        invited,
        col(User.invitation_expires_at).is_not(None),
        col(User.invitation_expires_at) <= now,
    )
    if status == UserStatus.EXPIRED:
        return expired
    if status == UserStatus.INVITED:
        return and_(
            invited,
            or_(col(User.invitation_expires_at).is_(None), col(User.invitation_expires_at) > now),
        )
    return col(User.status) == status


def user_conditions(org_id: int, flt: UserFilter, now: datetime) -> ColumnElement[bool]:
    conditions = [col(User.org_id) == org_id, col(User.deleted_at).is_(None)]
    if flt.status is not None:
        conditions.append(status_condition(flt.status, now))
    if flt.role is not None:
        conditions.append(col(User.role) == flt.role)
    if flt.search:
        term = flt.search.strip()[:SEARCH_MAX].casefold()
        escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        conditions.append(col(User.search_key).like(pattern, escape="\\"))
    return and_(*conditions)


class UserRow(NamedTuple):
    """A user's columns as the team page reads them: values, not an ORM instance (~3 µs a row
    less, and no SQLAlchemy attribute per value read); `instance()` makes the model's when a
    field needs it."""

    id: int
    org_id: int
    email: str
    email_normalized: str
    first_name: str | None
    last_name: str | None
    role: TeamRole
    status: UserStatus
    password_hash: str | None
    invitation_expires_at: datetime | None
    last_login_at: datetime | None
    created_at: datetime
    deleted_at: datetime | None
    search_key: str
    account_permissions: list[str]

    def instance(self) -> User:
        """The user as a closed read session leaves it (detached, every column loaded)."""
        return detached(User, self._asdict())


async def list_users(
    services: Services, principal: Principal, flt: UserFilter, args: PageArgs
) -> Page[User] | Page[UserRow]:
    require(services.policy, principal, Action.VIEW_USERS)
    org_id = principal.org_id
    assert org_id is not None
    if flt == UserFilter():
        # Every member, the console's usual question: a statement built once, the number the
        # database keeps, and the rows as values.
        members = KeptCount(col(Organization.live_users), org_id)
        live = Shaped("live users", _live_users, {"org_id": org_id})
        return await fetch_plain_page(services.db, User, UserRow, live, args, count=members)
    where = user_conditions(org_id, flt, services.clock.now())
    return await fetch_page(services.db, User, where, args)


def _live_users() -> ColumnElement[bool]:
    """`user_conditions` of no filter, the organization a bind parameter."""
    return and_(col(User.org_id) == bindparam("org_id"), col(User.deleted_at).is_(None))


async def load_live_user(session: AsyncSession, org_id: int, user_id: int) -> User:
    """A user of this organization that is not deleted, or NOT_FOUND (R1: no cross-org leak)."""
    user = await session.get(User, user_id, populate_existing=True)
    if user is None or user.org_id != org_id or user.deleted_at is not None:
        raise not_found("User", ["userId"])
    return user


async def other_active_admins(session: AsyncSession, user: User) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(User)
        .where(
            col(User.org_id) == user.org_id,
            col(User.id) != user.id,
            col(User.role) == TeamRole.ADMIN,
            col(User.status) == UserStatus.ACTIVE,
            col(User.deleted_at).is_(None),
        )
    )
    return int(count or 0)


def _holds_last_admin_seat(user: User) -> bool:
    return user.role == TeamRole.ADMIN and user.status == UserStatus.ACTIVE


async def _refuse_last_admin(session: AsyncSession, user: User, doing: str) -> None:
    """R4: the organization keeps at least one ACTIVE admin. The caller holds the org lock."""
    if _holds_last_admin_seat(user) and await other_active_admins(session, user) == 0:
        raise Rejected(
            "LAST_ADMIN",
            f"Cannot {doing} the last active admin; make another user an admin first.",
            ["userId"],
        )


@dataclass(frozen=True, slots=True)
class CreateUserInput:
    email: str
    password: str
    role: TeamRole = TeamRole.DEVELOPER
    first_name: str | None = None
    last_name: str | None = None


async def create_user(services: Services, principal: Principal, data: CreateUserInput) -> User:
    """R11: a user with an initial password, INVITED until their first successful login."""
    require(services.policy, principal, Action.INVITE_USER)
    assert principal.org_id is not None
    email, normalized = clean_email(data.email)
    check_password(data.password)
    first = clean_name(data.first_name, "firstName")
    last = clean_name(data.last_name, "lastName")
    password_hash = hash_password(data.password)
    now = services.clock.now()
    async with services.db.write() as session:
        await require_now(services, session, principal, Action.INVITE_USER)
        if data.role == TeamRole.ADMIN:  # R33: creating accounts is not making admins
            await require_now(services, session, principal, Action.GRANT_ADMIN_ROLE)
        user = await add_user(
            session,
            principal.org_id,
            email,
            normalized,
            data.role,
            first,
            last,
            now,
            password_hash=password_hash,
        )
        audit.record(
            session,
            principal,
            "user.create",
            org_id=principal.org_id,
            now=now,
            target=user,
            after=audit.user_snapshot(user, now),
        )
    return user


async def add_user(
    session: AsyncSession,
    org_id: int,
    email: str,
    normalized: str,
    role: TeamRole,
    first: str | None,
    last: str | None,
    now: datetime,
    *,
    password_hash: str | None = None,
    invitation_expires_at: datetime | None = None,
) -> User:
    """Insert an INVITED user, or EMAIL_TAKEN if a live user of the org has that email (R2).

    Takes the organization's lock first: the insert's trigger updates the organization row
    (`live_users`), and every writer that touches both takes the organization first, so two of
    them never wait on each other in opposite orders."""
    await lock_organization(session, org_id)
    taken = await session.scalar(
        select(func.count())
        .select_from(User)
        .where(
            col(User.org_id) == org_id,
            col(User.email_normalized) == normalized,
            col(User.deleted_at).is_(None),
        )
    )
    if taken:
        raise Rejected(
            "EMAIL_TAKEN", f"{email} is already a member of this organization.", ["email"]
        )
    user = User(
        org_id=org_id,
        email=email,
        email_normalized=normalized,
        first_name=first,
        last_name=last,
        role=role,
        status=UserStatus.INVITED,
        password_hash=password_hash,
        invitation_expires_at=invitation_expires_at,
        created_at=now,
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:  # a concurrent insert won the unique index
        raise Rejected(
            "EMAIL_TAKEN", f"{email} is already a member of this organization.", ["email"]
        ) from None
    return user


async def update_user_role(
    services: Services, principal: Principal, user_id: int, role: TeamRole
) -> User:
    require(services.policy, principal, Action.UPDATE_USER_ROLE)
    assert principal.org_id is not None
    now = services.clock.now()
    async with services.db.write() as session:
        await lock_organization(session, principal.org_id)
        user = await load_live_user(session, principal.org_id, user_id)
        await require_now(services, session, principal, Action.UPDATE_USER_ROLE, user)
        if user.role == role:
            return user
        if role != TeamRole.ADMIN:
            await _refuse_last_admin(session, user, "demote")
        before = audit.user_snapshot(user, now)
        user.role = role
        audit.record(
            session,
            principal,
            "user.role_update",
            org_id=principal.org_id,
            now=now,
            target=user,
            before=before,
            after=audit.user_snapshot(user, now),
        )
    return user


async def _refuse_primary_admin(session: AsyncSession, user: User) -> None:
    """A Primary Admin stays until the operator transfers the role (R21)."""
    name = await session.scalar(
        select(col(Subscription.name))
        .join(SubscriptionMember, col(SubscriptionMember.subscription_id) == col(Subscription.id))
        .where(
            col(SubscriptionMember.user_id) == user.id,
            col(SubscriptionMember.role) == SubscriptionRole.PRIMARY_ADMIN,
        )
        .limit(1)
    )
    if name is not None:
        raise Rejected(
            "PRIMARY_ADMIN_TRANSFER_ONLY",
            f"{user.email} is the Primary Admin of the subscription {name!r}; ask the service "
            "operator to transfer that role before deleting the user.",
            ["userId"],
        )


async def _leave_subscriptions(
    session: AsyncSession, actor: Principal, user: User, now: datetime
) -> None:
    """A deleted user leaves every subscription, recorded on each (R35)."""
    rows = (
        await session.execute(
            select(SubscriptionMember, Subscription)
            .join(Subscription, col(Subscription.id) == col(SubscriptionMember.subscription_id))
            .where(col(SubscriptionMember.user_id) == user.id)
        )
    ).all()
    for member, subscription in rows:
        audit.record(
            session,
            actor,
            "subscription.member_remove",
            org_id=subscription.org_id,
            now=now,
            target=subscription,
            before={"email": user.email, "role": member.role.value, "reason": "user deleted"},
        )
        await session.delete(member)


async def delete_user(services: Services, principal: Principal, user_id: int) -> User:
    """R6: the user's sessions end and every token they own is revoked (and kept, as revoked)."""
    require(services.policy, principal, Action.DELETE_USER)
    assert principal.org_id is not None
    now = services.clock.now()
    async with services.db.write() as session:
        await lock_organization(session, principal.org_id)
        user = await load_live_user(session, principal.org_id, user_id)
        await require_now(services, session, principal, Action.DELETE_USER, user)
        await _refuse_last_admin(session, user, "delete")
        await _refuse_primary_admin(session, user)
        before = audit.user_snapshot(user, now)
        user.deleted_at = now
        await _leave_subscriptions(session, principal, user, now)
        await leave_groups(session, user)
        tokens = (
            (
                await session.execute(
                    select(AccessToken).where(
                        col(AccessToken.owner_id) == user.id, col(AccessToken.revoked_at).is_(None)
                    )
                )
            )
            .scalars()
            .all()
        )
        for token in tokens:
            mark_revoked(session, principal, token, now, reason="owner deleted")
        await session.execute(
            update(LoginSession)
            .where(col(LoginSession.user_id) == user.id, col(LoginSession.revoked_at).is_(None))
            .values(revoked_at=now)
        )
        assert user.id is not None
        await session.execute(supersede_open_invitations(user.id, now))
        audit.record(
            session,
            principal,
            "user.delete",
            org_id=principal.org_id,
            now=now,
            target=user,
            before=before,
            after=audit.user_snapshot(user, now),
        )
    return user
