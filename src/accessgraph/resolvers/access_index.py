"""One organization's access index, cached per process and never stale.

Every change to groups, group members, permission targets, the manage policy, projects' roles,
members and resources bumps the
organization's `access_version` in its own transaction (`bump`). A check reads that version
(one indexed statement); if this process's cached index is older, it is rebuilt (a few
statements, whatever the number of targets) and swapped in. So a revocation is seen by the
very next check on every instance, while a check against an unchanged organization costs one
small read.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Callable, Sequence

from sqlalchemy import Text, cast, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from accessgraph.auth.access import (
    AccessIndex,
    CompiledRole,
    CompiledTarget,
    PrincipalKey,
    ResourceMatcher,
)
from accessgraph.auth.projects import GLOBAL_ROLE_DEFAULTS
from accessgraph.db import Database
from accessgraph.models import (
    GlobalRoleSetting,
    Group,
    GroupMember,
    Organization,
    PermissionTarget,
    Project,
    ProjectGlobalRole,
    ProjectMember,
    ProjectRole,
    Resource,
    ResourceType,
    TargetGrant,
    TargetResourceSet,
    User,
)


async def bump(session: AsyncSession, org_id: int) -> None:
    """Within a write: every instance rebuilds this organization's index on its next check."""
    await session.execute(
        update(Organization)
        .where(col(Organization.id) == org_id)
        .values(access_version=col(Organization.access_version) + 1)
    )


_MEMBER_BATCH = 2_000


class AccessIndexes:
    def __init__(self) -> None:
        self._cache: dict[int, AccessIndex] = {}
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def current(
        self, db: Database, org_id: int, known_version: int | None = None
    ) -> AccessIndex:
        """The organization's index as of its current `access_version`; `known_version` is that
        version when the caller read it already this request (with the credential, before any
        write of the request: see `check_access`), which spares one statement."""
        version = known_version
        if version is None:
            async with db.session() as session:
                version = await session.scalar(
                    select(col(Organization.access_version)).where(col(Organization.id) == org_id)
                )
        cached = self._cache.get(org_id)
        if cached is not None and cached.version == version:
            return cached
        async with self._locks[org_id]:  # one rebuild per organization at a time
            cached = self._cache.get(org_id)
            if cached is not None and version is not None and cached.version >= version:
                return cached
            index = await build(db, org_id)
            self._cache[org_id] = index
            return index


async def build(db: Database, org_id: int) -> AccessIndex:
    async with db.snapshot() as session:
        org = await session.get(Organization, org_id)
        assert org is not None
        targets = (
            (
                await session.execute(
                    select(PermissionTarget).where(col(PermissionTarget.org_id) == org_id)
                )
            )
            .scalars()
            .all()
        )
        target_ids = [t.id for t in targets]
        sets = (
            (
                await session.execute(
                    select(TargetResourceSet).where(
                        col(TargetResourceSet.target_id).in_(target_ids)
                    )
                )
            )
            .scalars()
            .all()
        )
        grants = (
            (
                await session.execute(
                    select(TargetGrant).where(col(TargetGrant.target_id).in_(target_ids))
                )
            )
            .scalars()
            .all()
        )
        memberships = (
            await session.execute(
                select(col(GroupMember.user_id), col(GroupMember.group_id))
                .join(Group, col(Group.id) == col(GroupMember.group_id))
                .join(User, col(User.id) == col(GroupMember.user_id))
                .where(col(Group.org_id) == org_id, col(User.deleted_at).is_(None))
            )
        ).all()
        projects = (
            await session.execute(
                select(col(Project.id), col(Project.key)).where(col(Project.org_id) == org_id)
            )
        ).all()
        project_ids = [pk for pk, _ in projects if pk is not None]
        roles = (
            (
                await session.execute(
                    select(ProjectRole).where(col(ProjectRole.project_id).in_(project_ids))
                )
            )
            .scalars()
            .all()
        )
        settings = (
            (
                await session.execute(
                    select(GlobalRoleSetting).where(col(GlobalRoleSetting.org_id) == org_id)
                )
            )
            .scalars()
            .all()
        )
        adjustments = (
            (
                await session.execute(
                    select(ProjectGlobalRole).where(
                        col(ProjectGlobalRole.project_id).in_(project_ids)
                    )
                )
            )
            .scalars()
            .all()
        )
        in_projects = (
            await session.execute(
                select(
                    col(Resource.type),
                    col(Resource.name),
                    col(Resource.project_id),
                    col(Resource.environment),
                ).where(col(Resource.org_id) == org_id, col(Resource.project_id).is_not(None))
            )
        ).all()
        groups = (
            await session.execute(
                select(col(Group.id), col(Group.name)).where(col(Group.org_id) == org_id)
            )
        ).all()
        global_roles = _global_roles(settings)
        # R28: a project's adjustment of a global role replaces the organization's setting there.
        adjusted: defaultdict[int, dict[str, CompiledRole]] = defaultdict(dict)
        for adjustment in adjustments:
            adjusted[adjustment.project_id][adjustment.name] = CompiledRole(
                adjustment.name,
                frozenset(adjustment.environments),
                adjustment.actions,
                is_global=True,
            )
        # A member's role ids count only if the role is of the member's project.
        project_roles = {
            (role.project_id, role.id): CompiledRole(
                role.name,
                frozenset(role.environments),
                role.basic_actions,
                dict(role.advanced_actions) if role.advanced else None,
            )
            for role in roles
            if role.id is not None
        }

        # Members repeat the same few role lists: each list of a project is compiled once.
        compiled_globals: dict[tuple[int, str], tuple[CompiledRole, ...]] = {}
        compiled_own: dict[tuple[int, str], tuple[CompiledRole, ...]] = {}

        def compile_roles(project_id: int, names: str, role_ids: str) -> tuple[CompiledRole, ...]:
            held = compiled_globals.get((project_id, names))
            if held is None:
                held = compiled_globals[project_id, names] = tuple(
                    adjusted[project_id].get(g) or global_roles[g]
                    for g in json.loads(names)
                    if g in global_roles
                )
            own = compiled_own.get((project_id, role_ids))
            if own is None:
                own = compiled_own[project_id, role_ids] = tuple(
                    project_roles[project_id, r]
                    for r in json.loads(role_ids)
                    if (project_id, r) in project_roles
                )
            return held + own

        member_roles = await _member_roles(session, project_ids, compile_roles)
    key_of = {pk: key for pk, key in projects}
    project_resources = {
        (kind, name): (key_of[project_id], environment.value if environment else "DEV")
        for kind, name, project_id, environment in in_projects
        if project_id in key_of
    }
    resources: defaultdict[int, dict[ResourceType, ResourceMatcher]] = defaultdict(dict)
    for row in sets:
        resources[row.target_id][row.type] = ResourceMatcher.of(
            row.names, row.include_patterns, row.exclude_patterns
        )
    target_grants: defaultdict[int, dict[PrincipalKey, int]] = defaultdict(dict)
    for grant in grants:
        target_grants[grant.target_id][grant.principal_type, grant.principal_id] = grant.actions
    groups_of_user: defaultdict[int, set[int]] = defaultdict(set)
    for user_id, group_id in memberships:
        groups_of_user[user_id].add(group_id)
    compiled = {
        t.id: CompiledTarget(t.id, t.name, resources[t.id], target_grants[t.id])
        for t in targets
        if t.id is not None
    }
    return AccessIndex(
        org_id=org_id,
        version=org.access_version,
        manage_policy=org.manage_policy,
        targets=compiled,
        groups_of_user={u: frozenset(g) for u, g in groups_of_user.items()},
        group_names={pk: name for pk, name in groups if pk is not None},
        projects={key: pk for pk, key in projects if pk is not None},
        member_roles=member_roles,
        project_resources=project_resources,
    )


async def _member_roles(
    session: AsyncSession,
    project_ids: Sequence[int],
    compile_roles: Callable[[int, str, str], tuple[CompiledRole, ...]],
) -> dict[PrincipalKey, dict[int, tuple[CompiledRole, ...]]]:
    """Each principal's compiled roles per project (R30). The members are the bulk of an index
    (100,000 in the benchmark), so: plain columns, not ORM entities; each stored JSON list of
    roles decoded and compiled once per project and shared by every member holding it; read in
    batches, so the event loop serves other requests meanwhile."""
    stmt = select(
        col(ProjectMember.project_id),
        col(ProjectMember.principal_type),
        col(ProjectMember.principal_id),
        cast(col(ProjectMember.global_roles), Text),
        cast(col(ProjectMember.project_role_ids), Text),
    ).where(col(ProjectMember.project_id).in_(project_ids))
    compiled: dict[tuple[int, str, str], tuple[CompiledRole, ...]] = {}
    out: defaultdict[PrincipalKey, dict[int, tuple[CompiledRole, ...]]] = defaultdict(dict)
    result = await session.stream(stmt.execution_options(yield_per=_MEMBER_BATCH))
    async for batch in result.partitions(_MEMBER_BATCH):
        for project_id, kind, principal_id, names, role_ids in batch:
            held = compiled.get((project_id, names, role_ids))
            if held is None:
                held = compiled[project_id, names, role_ids] = compile_roles(
                    project_id, names, role_ids
                )
            out[kind, principal_id][project_id] = held
        await asyncio.sleep(0)  # let other requests run between batches
    return out


def _global_roles(settings: Sequence[GlobalRoleSetting]) -> dict[str, CompiledRole]:
    """The five global roles with this organization's edits (R28)."""
    edited = {row.name: row for row in settings}
    out = {}
    for role, default in GLOBAL_ROLE_DEFAULTS.items():
        row = edited.get(role.value)
        if row is None:
            envs = frozenset(e.value for e in default.environments)
            out[role.value] = CompiledRole(role.value, envs, default.actions, is_global=True)
        else:
            envs = frozenset(row.environments)
            out[role.value] = CompiledRole(role.value, envs, row.actions, is_global=True)
    return out
