"""Groups of users (R23): admins create them, change their members and delete them.

Every change bumps the organization's access version, so the next access check on every
instance sees it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from accessgraph.auth.policy import Action, require
from accessgraph.auth.principal import Principal
from accessgraph.db import lock_organization
from accessgraph.errors import Rejected, not_found
from accessgraph.models import Group, GroupMember, PrincipalType, ProjectMember, TargetGrant, User
from accessgraph.models.group import DESCRIPTION_MAX, GROUP_NAME_MAX
from accessgraph.resolvers import audit
from accessgraph.resolvers.access_index import bump
from accessgraph.resolvers.actors import require_now
from accessgraph.resolvers.pagination import Page, PageArgs, fetch_page
from accessgraph.resolvers.validation import clean_text, has_control
from accessgraph.services import Services


def clean_label(raw: str, field: str, limit: int) -> str:
    """A group's or target's name: 1..limit printable characters, spaces collapsed."""
    name = " ".join(raw.split())
    if not name or len(name) > limit or has_control(name):
        raise Rejected("INVALID_NAME", f"The name has 1 to {limit} printable characters.", [field])
    return name


async def list_groups(
    services: Services, principal: Principal, search: str | None, args: PageArgs
) -> Page[Group]:
    require(services.policy, principal, Action.VIEW_GROUPS)
    where = col(Group.org_id) == principal.org_id
    if search and search.strip():
        where = and_(where, col(Group.name_normalized).contains(search.strip().casefold()))
    return await fetch_page(services.db, Group, where, args)


async def list_members(services: Services, group_id: int, args: PageArgs) -> Page[User]:
    """The group's live members, paged like the team page (by user id)."""
    in_group = select(col(GroupMember.user_id)).where(col(GroupMember.group_id) == group_id)
    where = and_(col(User.id).in_(in_group), col(User.deleted_at).is_(None))
    return await fetch_page(services.db, User, where, args)


async def member_ids(
    session: AsyncSession, org_id: int, user_ids: Sequence[int], field: str = "memberIds"
) -> list[int]:
    """`user_ids`, each a live user of the organization, or NOT_FOUND at `field`."""
    unique = list(dict.fromkeys(user_ids))
    found = set(
        (
            await session.execute(
                select(col(User.id)).where(
                    col(User.id).in_(unique),
                    col(User.org_id) == org_id,
                    col(User.deleted_at).is_(None),
                )
            )
        ).scalars()
    )
    missing = [pk for pk in unique if pk not in found]
    if missing:
        raise not_found("User", [field])
    return unique


async def _load(session: AsyncSession, org_id: int, group_id: int) -> Group:
    group = await session.get(Group, group_id, populate_existing=True)
    if group is None or group.org_id != org_id:
        raise not_found("Group", ["groupId"])
    return group


async def _member_emails(session: AsyncSession, group_id: int) -> list[str]:
    rows = await session.execute(
        select(col(User.email))
        .join(GroupMember, col(GroupMember.user_id) == col(User.id))
        .where(col(GroupMember.group_id) == group_id)
        .order_by(col(User.email))
    )
    return list(rows.scalars())


@dataclass(frozen=True, slots=True)
class CreateGroupInput:
    name: str
    description: str | None = None
    member_ids: Sequence[int] = ()


async def create_group(services: Services, principal: Principal, data: CreateGroupInput) -> Group:
    require(services.policy, principal, Action.MANAGE_ACCESS)
    assert principal.org_id is not None
    name = clean_label(data.name, "name", GROUP_NAME_MAX)
    description = clean_text(
        data.description, "description", DESCRIPTION_MAX, "INVALID_DESCRIPTION"
    )
    now = services.clock.now()
    async with services.db.write() as session:
        await lock_organization(session, principal.org_id)
        await require_now(services, session, principal, Action.MANAGE_ACCESS)
        taken = await session.scalar(
            select(func.count())
            .select_from(Group)
            .where(
                col(Group.org_id) == principal.org_id,
                col(Group.name_normalized) == name.casefold(),
            )
        )
        if taken:
            raise Rejected("GROUP_NAME_TAKEN", f"A group named {name!r} exists.", ["name"])
        members = await member_ids(session, principal.org_id, data.member_ids)
        group = Group(
            org_id=principal.org_id,
            name=name,
            name_normalized=name.casefold(),
            description=description,
            created_at=now,
        )
        session.add(group)
        await session.flush()
        assert group.id is not None
        session.add_all(GroupMember(group_id=group.id, user_id=u, created_at=now) for u in members)
        await session.flush()
        await bump(session, principal.org_id)
        audit.record(
            session,
            principal,
            "group.create",
            org_id=principal.org_id,
            now=now,
            target=group,
            after={"name": name, "members": await _member_emails(session, group.id)},
        )
    return group


async def update_members(
    services: Services,
    principal: Principal,
    group_id: int,
    add: Sequence[int],
    remove: Sequence[int],
) -> Group:
    """Adds and removes members; adding a member twice or removing a non-member is a no-op."""
    require(services.policy, principal, Action.MANAGE_ACCESS)
    assert principal.org_id is not None
    now = services.clock.now()
    async with services.db.write() as session:
        await lock_organization(session, principal.org_id)
        await require_now(services, session, principal, Action.MANAGE_ACCESS)
        group = await _load(session, principal.org_id, group_id)
        to_add = await member_ids(session, principal.org_id, add, "add")
        before = await _member_emails(session, group_id)
        current = set(
            (
                await session.execute(
                    select(col(GroupMember.user_id)).where(col(GroupMember.group_id) == group_id)
                )
            ).scalars()
        )
        session.add_all(
            GroupMember(group_id=group_id, user_id=u, created_at=now)
            for u in to_add
            if u not in current and u not in remove
        )
        if remove:
            await session.execute(
                delete(GroupMember).where(
                    col(GroupMember.group_id) == group_id, col(GroupMember.user_id).in_(remove)
                )
            )
        await session.flush()
        after = await _member_emails(session, group_id)
        if after != before:
            await bump(session, principal.org_id)
            audit.record(
                session,
                principal,
                "group.members_update",
                org_id=principal.org_id,
                now=now,
                target=group,
                before={"members": before},
                after={"members": after},
            )
    return group


async def delete_group(services: Services, principal: Principal, group_id: int) -> int:
    """The group, its memberships, every grant to it in permission targets and its project
    memberships (a later group must never inherit them, even if the database reuses the id)."""
    require(services.policy, principal, Action.MANAGE_ACCESS)
    assert principal.org_id is not None
    now = services.clock.now()
    async with services.db.write() as session:
        await lock_organization(session, principal.org_id)
        await require_now(services, session, principal, Action.MANAGE_ACCESS)
        group = await _load(session, principal.org_id, group_id)
        members = await _member_emails(session, group_id)
        await session.execute(delete(GroupMember).where(col(GroupMember.group_id) == group_id))
        await _drop_grants(session, PrincipalType.GROUP, group_id)
        audit.record(
            session,
            principal,
            "group.delete",
            org_id=principal.org_id,
            now=now,
            target=group,
            before={"name": group.name, "members": members},
        )
        await session.delete(group)
        await bump(session, principal.org_id)
    return group_id


async def leave_groups(session: AsyncSession, user: User) -> None:
    """A deleted user leaves every group and project (their grants go with their account)."""
    await session.execute(delete(GroupMember).where(col(GroupMember.user_id) == user.id))
    assert user.id is not None
    await _drop_grants(session, PrincipalType.USER, user.id)
    await bump(session, user.org_id)


async def _drop_grants(session: AsyncSession, kind: PrincipalType, pk: int) -> None:
    """Every grant to a principal that is going away: in permission targets and projects."""
    await session.execute(
        delete(TargetGrant).where(
            col(TargetGrant.principal_type) == kind, col(TargetGrant.principal_id) == pk
        )
    )
    await session.execute(
        delete(ProjectMember).where(
            col(ProjectMember.principal_type) == kind, col(ProjectMember.principal_id) == pk
        )
    )
