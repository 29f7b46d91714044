"""Subscriptions (R18-R22): members and their roles, billing, network, usage, API tokens.

Every write takes the organization lock first, so the rules that span rows hold under
concurrency on both databases: one role per user and subscription (R18), exactly one
PRIMARY_ADMIN (R21; a partial unique index backs "at most one"), and no deleting a user who is
a Primary Admin. The caller's role in the subscription is read again inside the transaction,
after the lock, before the policy decides.

The service operator (R21's account manager) acts through the command line: creating a
subscription, transferring its Primary Admin, and reporting usage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from accessgraph.auth.policy import Action, SubscriptionResource, require
from accessgraph.auth.principal import Principal
from accessgraph.db import lock_organization
from accessgraph.errors import Rejected, not_found
from accessgraph.mail import OutgoingEmail
from accessgraph.models import (
    AccessToken,
    EmailStatus,
    Organization,
    OutboxEmail,
    Subscription,
    SubscriptionMember,
    SubscriptionRole,
    TeamRole,
    UsageMetric,
    UsageNotification,
    User,
    UserStatus,
)
from accessgraph.models.subscription import SUBSCRIPTION_NAME_MAX
from accessgraph.resolvers import audit, invitations, outbox
from accessgraph.resolvers.actors import refreshed
from accessgraph.resolvers.pagination import Page, PageArgs, fetch_page
from accessgraph.resolvers.tokens import mark_revoked
from accessgraph.resolvers.users import load_live_user
from accessgraph.resolvers.validation import clean_email, clean_name, has_control
from accessgraph.services import Services

# The operator, as the audit log names them: a person at the command line, not a user.
OPERATOR = Principal(email="operator (accessgraph command line)")
GIB = 1024**3
MAX_LIMIT_GIB = 2**30  # an exbibyte: far beyond any plan, far inside a BIGINT in bytes
MAX_BYTES = MAX_LIMIT_GIB * GIB
EDITABLE_ROLES = frozenset(SubscriptionRole) - {SubscriptionRole.PRIMARY_ADMIN}


def _primary_admin_transfer_only(field: str = "role") -> Rejected:
    return Rejected(
        "PRIMARY_ADMIN_TRANSFER_ONLY",
        "The Primary Admin role is never set, removed or demoted by editing: the service "
        "operator transfers it to another active member (R21).",
        [field],
    )


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubscriptionView:
    """A subscription row with the caller's role in it: what the schema and policy need."""

    row: Subscription
    viewer_role: SubscriptionRole | None

    @property
    def resource(self) -> SubscriptionResource:
        assert self.row.id is not None
        return SubscriptionResource(self.row.org_id, self.row.id, self.viewer_role)


async def load_views(
    services: Services, principal: Principal, ids: list[int]
) -> dict[int, SubscriptionView]:
    """The caller's organization's subscriptions among `ids`, each with the caller's role
    (one statement); what the caller may see of them is the policy's business."""
    if principal.org_id is None or not ids:
        return {}
    membership = and_(
        col(SubscriptionMember.subscription_id) == col(Subscription.id),
        col(SubscriptionMember.user_id) == (principal.user_id or 0),
    )
    stmt = (
        select(Subscription, col(SubscriptionMember.role))
        .outerjoin(SubscriptionMember, membership)
        .where(col(Subscription.id).in_(ids), col(Subscription.org_id) == principal.org_id)
    )
    async with services.db.session() as session:
        rows = (await session.execute(stmt)).all()
    return {row.id: SubscriptionView(row, role) for row, role in rows if row.id is not None}


def visible_subscriptions(services: Services, principal: Principal) -> ColumnElement[bool]:
    """As SQL: all of the organization's subscriptions for those the policy lets see every
    one (the organization's admins), else those the caller is a member of; a subscription
    token sees its own subscription only."""
    condition = col(Subscription.org_id) == (principal.org_id or 0)
    if not services.policy.decide(principal, Action.VIEW_SUBSCRIPTION).allowed:
        member_of = select(col(SubscriptionMember.subscription_id)).where(
            col(SubscriptionMember.user_id) == (principal.user_id or 0)
        )
        condition = and_(condition, col(Subscription.id).in_(member_of))
    if principal.token_subscription_id is not None:
        condition = and_(condition, col(Subscription.id) == principal.token_subscription_id)
    return condition


async def list_subscriptions(
    services: Services, principal: Principal, args: PageArgs
) -> Page[Subscription]:
    return await fetch_page(
        services.db, Subscription, visible_subscriptions(services, principal), args
    )


async def list_tokens(
    services: Services, subscription_id: int, args: PageArgs
) -> Page[AccessToken]:
    where = col(AccessToken.subscription_id) == subscription_id
    return await fetch_page(services.db, AccessToken, where, args)


async def list_notifications(services: Services, subscription_id: int) -> list[UsageNotification]:
    async with services.db.session() as session:
        rows = await session.execute(
            select(UsageNotification)
            .where(col(UsageNotification.subscription_id) == subscription_id)
            .order_by(col(UsageNotification.metric), col(UsageNotification.threshold_percent))
        )
        return list(rows.scalars().all())


# --- inside a write ----------------------------------------------------------------------------


async def authorized(
    services: Services,
    session: AsyncSession,
    principal: Principal,
    subscription_id: int,
    action: Action,
) -> Subscription:
    """Lock the organization, then load the subscription and decide on the caller's current
    account and current role in it. Unknown, foreign, or not visible to the caller: NOT_FOUND
    (so nobody learns that a subscription they cannot see exists)."""
    assert principal.org_id is not None
    await lock_organization(session, principal.org_id)
    subscription = await session.get(Subscription, subscription_id, populate_existing=True)
    if subscription is None or subscription.org_id != principal.org_id:
        raise not_found("Subscription", ["subscriptionId"])
    actor = await refreshed(session, principal)
    member = await _membership(session, subscription_id, actor.user_id or 0)
    resource = SubscriptionResource(
        subscription.org_id, subscription_id, member.role if member else None
    )
    if not services.policy.decide(actor, Action.VIEW_SUBSCRIPTION, resource).allowed:
        raise not_found("Subscription", ["subscriptionId"])
    require(services.policy, actor, action, resource)
    return subscription


async def _membership(
    session: AsyncSession, subscription_id: int, user_id: int
) -> SubscriptionMember | None:
    return await session.scalar(
        select(SubscriptionMember).where(
            col(SubscriptionMember.subscription_id) == subscription_id,
            col(SubscriptionMember.user_id) == user_id,
        )
    )


async def _managed_member(
    services: Services,
    session: AsyncSession,
    principal: Principal,
    subscription_id: int,
    user_id: int,
    *,
    primary_admin_allowed: bool = False,
) -> tuple[Subscription, SubscriptionMember, User]:
    """A member the caller manages (PRIMARY_ADMIN and ADMIN, R20), after the lock; the
    Primary Admin only where `primary_admin_allowed` (R21: never edited or removed)."""
    subscription = await authorized(
        services, session, principal, subscription_id, Action.MANAGE_SUBSCRIPTION_MEMBERS
    )
    member, user = await _member_of(session, subscription, user_id)
    if member.role == SubscriptionRole.PRIMARY_ADMIN and not primary_admin_allowed:
        raise _primary_admin_transfer_only("userId")
    return subscription, member, user


async def _member_of(
    session: AsyncSession, subscription: Subscription, user_id: int
) -> tuple[SubscriptionMember, User]:
    user = await load_live_user(session, subscription.org_id, user_id)
    assert subscription.id is not None
    member = await _membership(session, subscription.id, user_id)
    if member is None:
        raise Rejected(
            "NOT_MEMBER", f"{user.email} is not a member of this subscription.", ["userId"]
        )
    return member, user


def _member_snapshot(member: SubscriptionMember, user: User) -> dict[str, object]:
    return {"userId": user.id, "email": user.email, "role": member.role.value}


def record(
    session: AsyncSession,
    actor: Principal,
    action: str,
    subscription: Subscription,
    now: datetime,
    *,
    before: dict[str, object] | None = None,
    after: dict[str, object] | None = None,
) -> None:
    audit.record(
        session,
        actor,
        action,
        org_id=subscription.org_id,
        now=now,
        target=subscription,
        before=before,
        after=after,
    )


def _check_role(role: SubscriptionRole) -> None:
    if role not in EDITABLE_ROLES:
        raise _primary_admin_transfer_only()


# --- members (R18, R20) ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AddMemberInput:
    subscription_id: int
    user_id: int | None = None
    email: str | None = None  # a person who is not a user yet: invited to the organization
    role: SubscriptionRole = SubscriptionRole.ADMIN  # R20: ADMIN unless another role is given
    first_name: str | None = None
    last_name: str | None = None


async def add_member(
    services: Services, principal: Principal, data: AddMemberInput
) -> tuple[SubscriptionMember, User]:
    """R20. An existing user by id, or a new person by email: they are invited to the
    organization (only if the caller may invite users, R7) and are a member from then on,
    listed as INVITED / EXPIRED / FAILED until they sign up."""
    _check_role(data.role)
    if (data.user_id is None) == (data.email is None):
        raise Rejected("INVALID_INPUT", "Give either userId or email.", ["userId"])
    email = clean_email(data.email) if data.email is not None else None
    first = clean_name(data.first_name, "firstName")
    last = clean_name(data.last_name, "lastName")
    if email is not None and principal.org_id is not None:
        await services.rate_limiter.invitation_sent(principal.org_id)
    now = services.clock.now()
    pending = None
    async with services.db.write() as session:
        subscription = await authorized(
            services, session, principal, data.subscription_id, Action.MANAGE_SUBSCRIPTION_MEMBERS
        )
        if email is not None:
            # Joining the organization is an invitation, and only team admins invite (R7).
            require(services.policy, await refreshed(session, principal), Action.INVITE_USER)
            pending = await invitations.invite_in(
                services, session, principal, email, TeamRole.DEVELOPER, first, last, now
            )
            user = pending.user
        else:
            assert data.user_id is not None
            user = await load_live_user(session, subscription.org_id, data.user_id)
        assert user.id is not None
        assert subscription.id is not None
        if await _membership(session, subscription.id, user.id) is not None:
            raise Rejected(
                "ALREADY_MEMBER",
                f"{user.email} already has a role in this subscription; change it instead.",
                ["userId"],
            )
        member = SubscriptionMember(
            subscription_id=subscription.id, user_id=user.id, role=data.role, created_at=now
        )
        session.add(member)
        await session.flush()
        record(
            session,
            principal,
            "subscription.member_add",
            subscription,
            now,
            after=_member_snapshot(member, user),
        )
    if pending is not None:
        user = await invitations.deliver(services, pending)
    return member, user


async def update_member_role(
    services: Services,
    principal: Principal,
    subscription_id: int,
    user_id: int,
    role: SubscriptionRole,
) -> tuple[SubscriptionMember, User]:
    _check_role(role)
    now = services.clock.now()
    async with services.db.write() as session:
        subscription, member, user = await _managed_member(
            services, session, principal, subscription_id, user_id
        )
        if member.role != role:
            before = _member_snapshot(member, user)
            member.role = role
            record(
                session,
                principal,
                "subscription.member_role_update",
                subscription,
                now,
                before=before,
                after=_member_snapshot(member, user),
            )
    return member, user


async def remove_member(
    services: Services, principal: Principal, subscription_id: int, user_id: int
) -> int:
    now = services.clock.now()
    async with services.db.write() as session:
        subscription, member, user = await _managed_member(
            services, session, principal, subscription_id, user_id
        )
        record(
            session,
            principal,
            "subscription.member_remove",
            subscription,
            now,
            before=_member_snapshot(member, user),
        )
        await session.delete(member)
        # Their tokens for this subscription go with their role: re-adding them later must not
        # bring old credentials back to life.
        tokens = await session.execute(
            select(AccessToken)
            .where(
                col(AccessToken.subscription_id) == subscription_id,
                col(AccessToken.owner_id) == user_id,
                col(AccessToken.revoked_at).is_(None),
            )
            .with_for_update()
        )
        for token in tokens.scalars():
            mark_revoked(session, principal, token, now, reason="member removed")
    return user_id


async def resend_member_invitation(
    services: Services, principal: Principal, subscription_id: int, user_id: int
) -> tuple[SubscriptionMember, User]:
    """The member list's "Resend invitation" (seed 001) for an EXPIRED or FAILED member. It
    sends a sign-up link, which only team admins do (R7, R9), so the caller must both manage
    the subscription's members and hold the team's INVITE_USER; it works as the team's resend."""
    if principal.org_id is not None:
        await services.rate_limiter.invitation_sent(principal.org_id)
    now = services.clock.now()
    async with services.db.write() as session:
        _, member, user = await _managed_member(
            services, session, principal, subscription_id, user_id, primary_admin_allowed=True
        )
        require(services.policy, await refreshed(session, principal), Action.INVITE_USER)
        pending = await invitations.resend_in(services, session, principal, user, now)
    return member, await invitations.deliver(services, pending)


# --- the operator (R18, R21) -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreateSubscriptionInput:
    org: str
    name: str
    primary_admin_email: str
    plan: str = "PRO"
    storage_limit_gib: int = 1024
    transfer_limit_gib: int = 1024


async def _active_user_by_email(session: AsyncSession, org_id: int, email: str) -> User:
    _, normalized = clean_email(email, "primaryAdmin")
    user = await session.scalar(
        select(User).where(
            col(User.org_id) == org_id,
            col(User.email_normalized) == normalized,
            col(User.deleted_at).is_(None),
        )
    )
    if user is None:
        raise Rejected("NOT_FOUND", f"No user {email} in this organization.", ["email"])
    if user.status != UserStatus.ACTIVE:
        raise Rejected(
            "MEMBER_NOT_ACTIVE",
            f"{user.email} has not signed up yet: only an ACTIVE user can be Primary Admin.",
            ["email"],
        )
    return user


async def create_subscription(services: Services, data: CreateSubscriptionInput) -> Subscription:
    name = " ".join(data.name.split())
    if not name or len(name) > SUBSCRIPTION_NAME_MAX or has_control(name):
        raise Rejected(
            "INVALID_NAME", f"The name has 1 to {SUBSCRIPTION_NAME_MAX} characters.", ["name"]
        )
    plan = data.plan.strip().upper()
    if not plan or len(plan) > 40 or not (plan.isascii() and plan.replace("_", "").isalnum()):
        raise Rejected("INVALID_PLAN", "A plan is a word such as PRO or ENTERPRISE.", ["plan"])
    for limit in (data.storage_limit_gib, data.transfer_limit_gib):
        if not 0 < limit <= MAX_LIMIT_GIB:
            raise Rejected("INVALID_AMOUNT", f"Limits are 1 to {MAX_LIMIT_GIB} GiB.", ["limit"])
    now = services.clock.now()
    async with services.db.write() as session:
        org = await session.scalar(select(Organization).where(col(Organization.name) == data.org))
        if org is None or org.id is None:
            raise Rejected("NOT_FOUND", f"No organization named {data.org!r}.", ["org"])
        await lock_organization(session, org.id)
        taken = await session.scalar(
            select(func.count())
            .select_from(Subscription)
            .where(
                col(Subscription.org_id) == org.id,
                col(Subscription.name_normalized) == name.casefold(),
            )
        )
        if taken:
            raise Rejected(
                "NAME_TAKEN", f"{org.name} already has a subscription {name!r}.", ["name"]
            )
        user = await _active_user_by_email(session, org.id, data.primary_admin_email)
        subscription = Subscription(
            org_id=org.id,
            name=name,
            name_normalized=name.casefold(),
            plan=plan,
            created_at=now,
            storage_limit_bytes=data.storage_limit_gib * GIB,
            transfer_limit_bytes=data.transfer_limit_gib * GIB,
        )
        session.add(subscription)
        await session.flush()
        assert subscription.id is not None
        assert user.id is not None
        member = SubscriptionMember(
            subscription_id=subscription.id,
            user_id=user.id,
            role=SubscriptionRole.PRIMARY_ADMIN,
            created_at=now,
        )
        session.add(member)
        record(
            session,
            OPERATOR,
            "subscription.create",
            subscription,
            now,
            after={"name": name, "plan": plan, "primaryAdmin": user.email},
        )
    return subscription


async def transfer_primary(
    services: Services, subscription_id: int, to_email: str
) -> tuple[Subscription, User]:
    """R21: to another ACTIVE member of the same subscription; the previous one becomes ADMIN.
    Demote, then promote, in one transaction under the organization lock: every reader sees
    exactly one Primary Admin, and the unique index would refuse a second."""
    now = services.clock.now()
    async with services.db.write() as session:
        subscription = await session.get(Subscription, subscription_id)
        if subscription is None:
            raise Rejected("NOT_FOUND", "Subscription not found.", ["subscription"])
        await lock_organization(session, subscription.org_id)
        user = await _active_user_by_email(session, subscription.org_id, to_email)
        assert user.id is not None
        target = await _membership(session, subscription_id, user.id)
        if target is None:
            raise Rejected(
                "NOT_MEMBER",
                f"{user.email} is not a member of this subscription: add them first.",
                ["to"],
            )
        if target.role == SubscriptionRole.PRIMARY_ADMIN:
            raise Rejected(
                "ALREADY_PRIMARY_ADMIN", f"{user.email} is already Primary Admin.", ["to"]
            )
        current = await session.scalar(
            select(SubscriptionMember).where(
                col(SubscriptionMember.subscription_id) == subscription_id,
                col(SubscriptionMember.role) == SubscriptionRole.PRIMARY_ADMIN,
            )
        )
        before_role = target.role
        if current is not None:
            current.role = SubscriptionRole.ADMIN
            await session.flush()  # the demotion lands before the promotion (unique index)
        target.role = SubscriptionRole.PRIMARY_ADMIN
        previous = await session.get(User, current.user_id) if current else None
        record(
            session,
            OPERATOR,
            "subscription.primary_admin_transfer",
            subscription,
            now,
            before={
                "primaryAdmin": previous.email if previous else None,
                "toRole": before_role.value,
            },
            after={"primaryAdmin": user.email, "previousRole": SubscriptionRole.ADMIN.value},
        )
    return subscription, user


def _share(subscription: Subscription, metric: UsageMetric) -> float:
    """Usage of `metric` as a percentage of its limit."""
    if metric == UsageMetric.STORAGE:
        return 100 * subscription.storage_used_bytes / subscription.storage_limit_bytes
    return 100 * subscription.transfer_used_bytes / subscription.transfer_limit_bytes


async def record_usage(
    services: Services, subscription_id: int, storage_bytes: int, transfer_bytes: int
) -> Subscription:
    """Metering reports the current figures (the operator's command, or a metering job).
    Each usage notification the new figures cross (below before, at or above now) emails the
    subscription's active members once per crossing."""
    if not (0 <= storage_bytes <= MAX_BYTES and 0 <= transfer_bytes <= MAX_BYTES):
        raise Rejected(
            "INVALID_AMOUNT", f"Usage figures are byte counts from 0 to {MAX_BYTES}.", ["usage"]
        )
    now = services.clock.now()
    queued: list[outbox.Queued] = []
    async with services.db.write() as session:
        org_id = await session.scalar(
            select(col(Subscription.org_id)).where(col(Subscription.id) == subscription_id)
        )
        if org_id is None:
            raise Rejected("NOT_FOUND", "Subscription not found.", ["subscription"])
        # Locked before reading the figures: two concurrent reports cannot both see the old
        # usage and both send the threshold's email.
        await lock_organization(session, org_id)
        subscription = await session.get(Subscription, subscription_id, populate_existing=True)
        assert subscription is not None
        before = {metric: _share(subscription, metric) for metric in UsageMetric}
        subscription.storage_used_bytes = storage_bytes
        subscription.transfer_used_bytes = transfer_bytes
        subscription.usage_updated_at = now
        notifications = (
            await session.execute(
                select(UsageNotification).where(
                    col(UsageNotification.subscription_id) == subscription_id
                )
            )
        ).scalars()
        crossed = [
            n
            for n in notifications
            if before[n.metric] < n.threshold_percent <= _share(subscription, n.metric)
        ]
        if crossed:
            for notification in crossed:
                notification.last_notified_at = now
            queued = await _queue_usage_emails(session, subscription, crossed, now)
    await outbox.send(services, queued)
    return subscription


async def _queue_usage_emails(
    session: AsyncSession,
    subscription: Subscription,
    crossed: list[UsageNotification],
    now: datetime,
) -> list[outbox.Queued]:
    recipients = (
        await session.execute(
            select(col(User.email))
            .join(SubscriptionMember, col(SubscriptionMember.user_id) == col(User.id))
            .where(
                col(SubscriptionMember.subscription_id) == subscription.id,
                col(User.status) == UserStatus.ACTIVE,
                col(User.deleted_at).is_(None),
            )
            .order_by(col(User.email))
        )
    ).scalars()
    lines = "\n".join(
        f"- {n.metric.value.lower()} is at {_share(subscription, n.metric):.1f}% of the limit "
        f"(notification at {n.threshold_percent}%)"
        for n in crossed
    )
    queued = []
    for email in recipients:
        message = OutgoingEmail(
            to=email,
            subject=f"Usage of {subscription.name} reached a notification threshold",
            body=f"Usage of the subscription {subscription.name}:\n{lines}\n",
        )
        row = OutboxEmail(
            org_id=subscription.org_id,
            to_address=email,
            subject=message.subject,
            body=message.body,
            status=EmailStatus.QUEUED,
            created_at=now,
        )
        session.add(row)
        queued.append(outbox.Queued(row, message))
    await session.flush()
    return queued
