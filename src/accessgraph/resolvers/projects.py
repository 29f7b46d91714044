"""Projects (R27), global roles (R28), project roles (R29) and members (R30).

Admins ("Administer the Platform") create projects, appoint Project Admins and edit the global
roles' environments and actions; every project sees an edit at once (each edit bumps the
organization's access version like every other change to access). A project is seen by its
members (directly or through a group) and administered by its Project Admins (members holding
the PROJECT_ADMIN global role): its roles, its members other than Project Admins, and its own
adjustments of the global roles. Both are policy decisions on a `ProjectResource`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from accessgraph.auth.access import (
    BASIC_ACTIONS,
    PROJECT_ACTIONS_BY_TYPE,
    AccessIndex,
    ArtifactAction,
    actions_for_type,
    actions_of,
    mask,
)
from accessgraph.auth.policy import (
    Action,
    ArtifactResource,
    ProjectResource,
    refuse_regardless,
    require,
)
from accessgraph.auth.principal import Principal
from accessgraph.auth.projects import GLOBAL_ROLE_DEFAULTS, GlobalRole, RoleRights
from accessgraph.db import lock_organization
from accessgraph.errors import Rejected, forbidden
from accessgraph.models import (
    Environment,
    GlobalRoleSetting,
    Group,
    PrincipalType,
    Project,
    ProjectGlobalRole,
    ProjectMember,
    ProjectRole,
    Resource,
    ResourceType,
    User,
)
from accessgraph.models.project import PROJECT_NAME_MAX, ROLE_NAME_MAX
from accessgraph.resolvers import audit
from accessgraph.resolvers.access_index import bump
from accessgraph.resolvers.actors import refreshed, require_now
from accessgraph.resolvers.groups import clean_label
from accessgraph.resolvers.pagination import Page, PageArgs, fetch_page
from accessgraph.services import Services

PROJECT_ADMIN = GlobalRole.PROJECT_ADMIN.value
# Lowercase letters and digits, starting with a letter: keys appear in resource names and URLs.
PROJECT_KEY = re.compile(r"^[a-z][a-z0-9]{1,31}\Z")


async def _index(services: Services, org_id: int) -> AccessIndex:
    return await services.access_indexes.current(services.db, org_id)


async def list_projects(services: Services, principal: Principal, args: PageArgs) -> Page[Project]:
    """Admins see every project; others the projects they (or their groups) are members of."""
    require(services.policy, principal, Action.LIST_PROJECTS)
    assert principal.org_id is not None
    where = col(Project.org_id) == principal.org_id
    if not services.policy.decide(principal, Action.VIEW_ALL_PROJECTS).allowed:
        index = await _index(services, principal.org_id)
        ids = index.member_projects(index.keys_for(principal.user_id, principal.group_id))
        where = and_(where, col(Project.id).in_(sorted(ids)) if ids else ~true())
    return await fetch_page(services.db, Project, where, args)


async def can_on_project(
    services: Services, principal: Principal, action: Action, project: Project
) -> bool:
    """The policy's answer for `action` (VIEW_PROJECT, ADMINISTER_PROJECT) on one project."""
    if principal.org_id is None or project.org_id != principal.org_id or project.id is None:
        return False
    resource = ProjectResource(project.org_id, project.id, await _index(services, project.org_id))
    return services.policy.decide(principal, action, resource).allowed


async def project_by_key(services: Services, principal: Principal, key: str) -> Project | None:
    require(services.policy, principal, Action.LIST_PROJECTS)
    async with services.db.session() as session:
        project = await session.scalar(
            select(Project).where(
                col(Project.org_id) == principal.org_id, col(Project.key) == key.strip().lower()
            )
        )
    if project is None or not await can_on_project(
        services, principal, Action.VIEW_PROJECT, project
    ):
        return None
    return project


async def _administered(
    services: Services, session: AsyncSession, principal: Principal, key: str
) -> tuple[Project, Principal]:
    """Within a write, after the organization lock: the project named by `key` and the actor as
    of now, if they may administer it (an admin, or one of its Project Admins). A project they
    may not even see is NOT_FOUND, as if it did not exist."""
    assert principal.org_id is not None
    actor = await refreshed(session, principal)
    project = await load_project(session, principal.org_id, key)
    assert project.id is not None
    resource = ProjectResource(principal.org_id, project.id, await _index(services, project.org_id))
    if not services.policy.decide(actor, Action.VIEW_PROJECT, resource).allowed:
        raise Rejected("NOT_FOUND", f"No project {key.strip()!r}.", ["projectKey"])
    require(services.policy, actor, Action.ADMINISTER_PROJECT, resource)
    return project, actor


def _require_platform_admin(services: Services, actor: Principal, what: str) -> None:
    """R27: admins appoint (and remove) Project Admins; a Project Admin cannot."""
    if not services.policy.decide(actor, Action.APPOINT_PROJECT_ADMINS).allowed:
        raise forbidden(f"Only admins {what} (R27).")


@dataclass(frozen=True, slots=True)
class CreateProjectInput:
    key: str
    name: str
    admin_user_ids: Sequence[int] = ()  # appointed Project Admins


async def create_project(
    services: Services, principal: Principal, data: CreateProjectInput
) -> Project:
    require(services.policy, principal, Action.MANAGE_PROJECTS)
    assert principal.org_id is not None
    key = data.key.strip()
    if not PROJECT_KEY.match(key):
        raise Rejected(
            "INVALID_PROJECT_KEY",
            "A project key has 2 to 32 lowercase letters and digits, starting with a letter.",
            ["key"],
        )
    name = clean_label(data.name, "name", PROJECT_NAME_MAX)
    now = services.clock.now()
    async with services.db.write() as session:
        await lock_organization(session, principal.org_id)
        await require_now(services, session, principal, Action.MANAGE_PROJECTS)
        actor = await refreshed(session, principal)
        appoints = services.policy.decide(actor, Action.APPOINT_PROJECT_ADMINS).allowed
        admin_ids = list(dict.fromkeys(data.admin_user_ids))
        if not appoints:
            # R33: "create and modify projects" without administering the platform: the
            # creator administers the projects they create, and appoints nobody else (R27).
            if any(user_id != actor.user_id for user_id in admin_ids):
                raise forbidden("Only admins appoint Project Admins (R27).")
            admin_ids = [actor.user_id] if actor.user_id is not None else []
        taken = await session.scalar(
            select(func.count())
            .select_from(Project)
            .where(col(Project.org_id) == principal.org_id, col(Project.key) == key)
        )
        if taken:
            raise Rejected("PROJECT_KEY_TAKEN", f"A project with key {key!r} exists.", ["key"])
        admins = []
        for index, user_id in enumerate(admin_ids):
            user = await session.get(User, user_id)
            if user is None or user.org_id != principal.org_id or user.deleted_at is not None:
                raise Rejected("NOT_FOUND", "User not found.", ["adminUserIds", str(index)])
            admins.append(user)
        project = Project(org_id=principal.org_id, key=key, name=name, created_at=now)
        session.add(project)
        await session.flush()
        assert project.id is not None
        for user in admins:
            assert user.id is not None
            session.add(
                ProjectMember(
                    project_id=project.id,
                    principal_type=PrincipalType.USER,
                    principal_id=user.id,
                    global_roles=[GlobalRole.PROJECT_ADMIN.value],
                    project_role_ids=[],
                    created_at=now,
                )
            )
        if admins:
            await bump(session, principal.org_id)
        audit.record(
            session,
            principal,
            "project.create",
            org_id=principal.org_id,
            now=now,
            target=project,
            target_label=key,
            after={"key": key, "name": name, "projectAdmins": [u.email for u in admins]},
        )
    return project


@dataclass(frozen=True, slots=True)
class GlobalRoleView:
    role: GlobalRole
    rights: RoleRights
    updated_at: datetime | None  # None: the default
    project_key: str | None = None  # set: this project's own adjustment (R28)


def _view(
    role: GlobalRole,
    row: GlobalRoleSetting | ProjectGlobalRole | None,
    project_key: str | None = None,
) -> GlobalRoleView:
    if row is None:
        return GlobalRoleView(role, GLOBAL_ROLE_DEFAULTS[role], None)
    envs = frozenset(Environment(e) for e in row.environments)
    return GlobalRoleView(role, RoleRights(envs, row.actions), row.updated_at, project_key)


async def _organization_views(
    session: AsyncSession, org_id: int
) -> dict[GlobalRole, GlobalRoleView]:
    rows = (
        await session.execute(
            select(GlobalRoleSetting).where(col(GlobalRoleSetting.org_id) == org_id)
        )
    ).scalars()
    settings = {row.name: row for row in rows}
    return {role: _view(role, settings.get(role.value)) for role in GlobalRole}


async def global_roles(services: Services, principal: Principal) -> list[GlobalRoleView]:
    """The five global roles with this organization's settings (R28)."""
    require(services.policy, principal, Action.VIEW_GLOBAL_ROLES)
    assert principal.org_id is not None
    async with services.db.session() as session:
        return list((await _organization_views(session, principal.org_id)).values())


async def global_roles_of_projects(
    services: Services, org_id: int, project_ids: Sequence[int]
) -> dict[int, list[GlobalRoleView]]:
    """The global roles as they hold in each project: its adjustments, else the organization's
    settings. Two statements, whatever the number of projects."""
    async with services.db.session() as session:
        inherited = await _organization_views(session, org_id)
        rows = (
            await session.execute(
                select(ProjectGlobalRole, col(Project.key))
                .join(Project, col(Project.id) == col(ProjectGlobalRole.project_id))
                .where(
                    col(Project.org_id) == org_id,
                    col(ProjectGlobalRole.project_id).in_(project_ids),
                )
            )
        ).all()
    adjusted = {(row.project_id, row.name): (row, key) for row, key in rows}
    found: dict[int, list[GlobalRoleView]] = {}
    for pk in project_ids:
        views = []
        for role in GlobalRole:
            hit = adjusted.get((pk, role.value))
            views.append(_view(role, *hit) if hit else inherited[role])
        found[pk] = views
    return found


def clean_environments(raw: Sequence[Environment], field: str = "environments") -> list[str]:
    if not raw:
        raise Rejected(
            "NO_ENVIRONMENTS", "Give at least one environment: DEV, PROD or both.", [field]
        )
    return sorted({e.value for e in raw})


def _global_role(name: str) -> GlobalRole:
    """A global role by name; they cannot be created or deleted, so another name is NOT_FOUND."""
    try:
        return GlobalRole(name.strip().upper())
    except ValueError:
        raise Rejected(
            "NOT_FOUND",
            f"Global roles are {', '.join(r.value for r in GlobalRole)}; they cannot be added.",
            ["name"],
        ) from None


def _snapshot(envs: Sequence[str], bits: int) -> dict[str, object]:
    return {"environments": list(envs), "actions": [a.value for a in actions_of(bits)]}


async def update_global_role(
    services: Services,
    principal: Principal,
    name: str,
    environments: Sequence[Environment],
    actions: Sequence[ArtifactAction],
) -> GlobalRoleView:
    """R28: admins change a global role's environments and actions for every project."""
    require(services.policy, principal, Action.UPDATE_GLOBAL_ROLES)
    assert principal.org_id is not None
    role = _global_role(name)
    envs = clean_environments(environments)
    bits = _clean_basic(actions)
    now = services.clock.now()
    async with services.db.write() as session:
        await lock_organization(session, principal.org_id)
        await require_now(services, session, principal, Action.UPDATE_GLOBAL_ROLES)
        row = await session.scalar(
            select(GlobalRoleSetting).where(
                col(GlobalRoleSetting.org_id) == principal.org_id,
                col(GlobalRoleSetting.name) == role.value,
            )
        )
        default = GLOBAL_ROLE_DEFAULTS[role]
        before_envs = row.environments if row else sorted(e.value for e in default.environments)
        before_bits = row.actions if row else default.actions
        if row is None:
            row = GlobalRoleSetting(
                org_id=principal.org_id,
                name=role.value,
                environments=envs,
                actions=bits,
                updated_at=now,
            )
            session.add(row)
        else:
            row.environments, row.actions, row.updated_at = envs, bits, now
        if (before_envs, before_bits) != (envs, bits):
            await bump(session, principal.org_id)
            audit.record(
                session,
                principal,
                "global_role.update",
                org_id=principal.org_id,
                now=now,
                target_label=role.value,
                before=_snapshot(before_envs, before_bits),
                after=_snapshot(envs, bits),
            )
    return _view(role, row)


async def update_project_global_role(
    services: Services,
    principal: Principal,
    project_key: str,
    name: str,
    environments: Sequence[Environment],
    actions: Sequence[ArtifactAction],
) -> GlobalRoleView:
    """R28: an admin or the project's Project Admin adjusts a global role for that project only;
    the adjustment replaces the organization's setting there until it is reset."""
    refuse_regardless(services.policy, principal, Action.ADMINISTER_PROJECT)
    assert principal.org_id is not None
    role = _global_role(name)
    envs = clean_environments(environments)
    bits = _clean_basic(actions)
    now = services.clock.now()
    async with services.db.write() as session:
        await lock_organization(session, principal.org_id)
        project, _ = await _administered(services, session, principal, project_key)
        assert project.id is not None
        row = await session.scalar(
            select(ProjectGlobalRole).where(
                col(ProjectGlobalRole.project_id) == project.id,
                col(ProjectGlobalRole.name) == role.value,
            )
        )
        if row is None:
            inherited = (await _organization_views(session, principal.org_id))[role].rights
            before = _snapshot(sorted(e.value for e in inherited.environments), inherited.actions)
            row = ProjectGlobalRole(
                project_id=project.id,
                name=role.value,
                environments=envs,
                actions=bits,
                updated_at=now,
            )
            session.add(row)
        else:
            before = _snapshot(row.environments, row.actions)
            row.environments, row.actions, row.updated_at = envs, bits, now
        after = _snapshot(envs, bits)
        if before != after:
            await bump(session, principal.org_id)
            audit.record(
                session,
                principal,
                "global_role.adjust",
                org_id=principal.org_id,
                now=now,
                target=project,
                target_label=f"{project.key}/{role.value}",
                before=before,
                after=after,
            )
    return _view(role, row, project.key)


async def reset_project_global_role(
    services: Services, principal: Principal, project_key: str, name: str
) -> GlobalRoleView:
    """Drops a project's adjustment of a global role: the organization's setting holds there
    again (returned). Resetting a role that was not adjusted changes nothing."""
    refuse_regardless(services.policy, principal, Action.ADMINISTER_PROJECT)
    assert principal.org_id is not None
    role = _global_role(name)
    now = services.clock.now()
    async with services.db.write() as session:
        await lock_organization(session, principal.org_id)
        project, _ = await _administered(services, session, principal, project_key)
        row = await session.scalar(
            select(ProjectGlobalRole).where(
                col(ProjectGlobalRole.project_id) == project.id,
                col(ProjectGlobalRole.name) == role.value,
            )
        )
        inherited = (await _organization_views(session, principal.org_id))[role]
        if row is not None:
            audit.record(
                session,
                principal,
                "global_role.reset",
                org_id=principal.org_id,
                now=now,
                target=project,
                target_label=f"{project.key}/{role.value}",
                before=_snapshot(row.environments, row.actions),
                after=_snapshot(
                    sorted(e.value for e in inherited.rights.environments),
                    inherited.rights.actions,
                ),
            )
            await session.delete(row)
            await bump(session, principal.org_id)
    return inherited


# --- project roles (R29) ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoleInput:
    """A project role's definition. `actions` (basic) and `advanced` are exclusive; None keeps
    the current value on update."""

    name: str | None = None
    environments: Sequence[Environment] | None = None
    actions: Sequence[ArtifactAction] | None = None
    advanced: Sequence[tuple[ResourceType, Sequence[ArtifactAction]]] | None = None


@dataclass(frozen=True, slots=True)
class RoleChange:
    role: ProjectRole
    dropped_advanced: dict[str, int]  # advanced actions dropped by switching to basic


async def load_project(session: AsyncSession, org_id: int, key: str) -> Project:
    project = await session.scalar(
        select(Project).where(
            col(Project.org_id) == org_id, col(Project.key) == key.strip().lower()
        )
    )
    if project is None:
        raise Rejected("NOT_FOUND", f"No project {key!r}.", ["projectKey"])
    return project


def _clean_role_name(raw: str) -> str:
    name = clean_label(raw, "name", ROLE_NAME_MAX)
    if name.upper().replace(" ", "_") in {r.value for r in GlobalRole}:
        raise Rejected(
            "ROLE_NAME_SHADOWS_GLOBAL",
            f"{name!r} is the name of a global role; choose another.",
            ["name"],
        )
    return name


def _clean_basic(actions: Sequence[ArtifactAction]) -> int:
    """Basic actions hold on every resource type where they exist; device permissions are
    given per type (advanced mode)."""
    if not actions:
        raise Rejected("NO_ACTIONS", "A role has at least one action.", ["actions"])
    extra = [a.value for a in actions if a not in BASIC_ACTIONS]
    if extra:
        raise Rejected(
            "ACTION_NOT_SUPPORTED",
            f"{', '.join(extra)} apply to devices only: give them as advanced actions of "
            "resource type DEVICE.",
            ["actions"],
        )
    return mask(actions)


def _clean_advanced(raw: Sequence[tuple[ResourceType, Sequence[ArtifactAction]]]) -> dict[str, int]:
    if not raw:
        raise Rejected("NO_ACTIONS", "Give actions for at least one resource type.", ["advanced"])
    out: dict[str, int] = {}
    for index, (kind, actions) in enumerate(raw):
        path = ["advanced", str(index)]
        supported = PROJECT_ACTIONS_BY_TYPE.get(kind)
        if supported is None:
            raise Rejected(
                "UNSUPPORTED_RESOURCE_TYPE",
                f"Project roles cover {', '.join(t.value for t in PROJECT_ACTIONS_BY_TYPE)}.",
                [*path, "resourceType"],
            )
        if kind.value in out:
            raise Rejected("DUPLICATE_RESOURCE_TYPE", f"{kind.value} is listed twice.", path)
        if not actions:
            raise Rejected("NO_ACTIONS", "Give at least one action.", [*path, "actions"])
        extra = [a for a in actions if a not in supported]
        if extra:
            raise Rejected(
                "ACTION_NOT_SUPPORTED",
                f"{', '.join(a.value for a in extra)} does not apply to {kind.value}.",
                [*path, "actions"],
            )
        out[kind.value] = mask(actions)
    return out


def role_snapshot(role: ProjectRole) -> dict[str, object]:
    return {
        "name": role.name,
        "environments": list(role.environments),
        "mode": "ADVANCED" if role.advanced else "BASIC",
        "actions": [a.value for a in actions_of(role.basic_actions)],
        "advanced": {k: [a.value for a in actions_of(v)] for k, v in role.advanced_actions.items()},
    }


async def create_project_role(
    services: Services, principal: Principal, project_key: str, data: RoleInput
) -> ProjectRole:
    """R29: a name that is not a global role's, environments (default DEV), and basic or
    advanced actions."""
    refuse_regardless(services.policy, principal, Action.ADMINISTER_PROJECT)
    assert principal.org_id is not None
    if data.actions is not None and data.advanced is not None:
        raise Rejected(
            "INVALID_INPUT", "Give basic actions or advanced ones, not both.", ["advanced"]
        )
    name = _clean_role_name(data.name or "")
    envs = clean_environments(data.environments) if data.environments is not None else ["DEV"]
    advanced = _clean_advanced(data.advanced) if data.advanced is not None else None
    basic = _clean_basic(data.actions or ()) if advanced is None else 0
    now = services.clock.now()
    async with services.db.write() as session:
        await lock_organization(session, principal.org_id)
        project, _ = await _administered(services, session, principal, project_key)
        assert project.id is not None
        await _refuse_taken(session, project.id, name)
        role = ProjectRole(
            project_id=project.id,
            name=name,
            name_normalized=name.casefold(),
            environments=envs,
            advanced=advanced is not None,
            basic_actions=basic,
            advanced_actions=advanced or {},
            created_at=now,
            updated_at=now,
        )
        session.add(role)
        await session.flush()
        await bump(session, principal.org_id)
        audit.record(
            session,
            principal,
            "project_role.create",
            org_id=principal.org_id,
            now=now,
            target=project,
            target_label=f"{project.key}/{name}",
            after=role_snapshot(role),
        )
    return role


async def _refuse_taken(
    session: AsyncSession, project_id: int, name: str, exclude_id: int | None = None
) -> None:
    where = [
        col(ProjectRole.project_id) == project_id,
        col(ProjectRole.name_normalized) == name.casefold(),
    ]
    if exclude_id is not None:
        where.append(col(ProjectRole.id) != exclude_id)
    if await session.scalar(select(func.count()).select_from(ProjectRole).where(*where)):
        raise Rejected("ROLE_NAME_TAKEN", f"The project has a role named {name!r}.", ["name"])


async def _load_role(session: AsyncSession, project: Project, name: str) -> ProjectRole:
    role = await session.scalar(
        select(ProjectRole).where(
            col(ProjectRole.project_id) == project.id,
            col(ProjectRole.name_normalized) == " ".join(name.split()).casefold(),
        )
    )
    if role is None:
        raise Rejected("NOT_FOUND", f"No role {name!r} in project {project.key!r}.", ["roleName"])
    return role


async def update_project_role(
    services: Services, principal: Principal, project_key: str, role_name: str, data: RoleInput
) -> RoleChange:
    """Giving basic `actions` to an advanced role switches it to basic and drops its advanced
    actions (R29); the change reports what was dropped."""
    refuse_regardless(services.policy, principal, Action.ADMINISTER_PROJECT)
    assert principal.org_id is not None
    if data.actions is not None and data.advanced is not None:
        raise Rejected(
            "INVALID_INPUT", "Give basic actions or advanced ones, not both.", ["advanced"]
        )
    name = _clean_role_name(data.name) if data.name is not None else None
    envs = clean_environments(data.environments) if data.environments is not None else None
    advanced = _clean_advanced(data.advanced) if data.advanced is not None else None
    basic = _clean_basic(data.actions) if data.actions is not None else None
    now = services.clock.now()
    async with services.db.write() as session:
        await lock_organization(session, principal.org_id)
        project, _ = await _administered(services, session, principal, project_key)
        role = await _load_role(session, project, role_name)
        before = role_snapshot(role)
        dropped: dict[str, int] = {}
        if name is not None and name.casefold() != role.name_normalized:
            assert project.id is not None
            await _refuse_taken(session, project.id, name, role.id)
        if name is not None:
            role.name, role.name_normalized = name, name.casefold()
        if envs is not None:
            role.environments = envs
        if basic is not None:
            if role.advanced:
                dropped = dict(role.advanced_actions)
            role.advanced, role.basic_actions, role.advanced_actions = False, basic, {}
        if advanced is not None:
            role.advanced, role.basic_actions, role.advanced_actions = True, 0, advanced
        after = role_snapshot(role)
        if after != before:
            role.updated_at = now
            await bump(session, principal.org_id)
            audit.record(
                session,
                principal,
                "project_role.update",
                org_id=principal.org_id,
                now=now,
                target=project,
                target_label=f"{project.key}/{role.name}",
                before=before,
                after=after,
            )
    return RoleChange(role, dropped)


async def delete_project_role(
    services: Services, principal: Principal, project_key: str, role_name: str
) -> str:
    refuse_regardless(services.policy, principal, Action.ADMINISTER_PROJECT)
    assert principal.org_id is not None
    now = services.clock.now()
    async with services.db.write() as session:
        await lock_organization(session, principal.org_id)
        project, _ = await _administered(services, session, principal, project_key)
        role = await _load_role(session, project, role_name)
        audit.record(
            session,
            principal,
            "project_role.delete",
            org_id=principal.org_id,
            now=now,
            target=project,
            target_label=f"{project.key}/{role.name}",
            before=role_snapshot(role),
        )
        # Members lose the role; ids are not kept around for a later role to inherit.
        holders = (
            await session.execute(
                select(ProjectMember).where(col(ProjectMember.project_id) == project.id)
            )
        ).scalars()
        for member in holders:
            if role.id in member.project_role_ids:
                member.project_role_ids = [r for r in member.project_role_ids if r != role.id]
        await session.delete(role)
        await bump(session, principal.org_id)
    return role.name


async def roles_of_projects(
    services: Services, project_ids: Sequence[int]
) -> dict[int, list[ProjectRole]]:
    """The roles of several projects, in one statement."""
    async with services.db.session() as session:
        rows = (
            await session.execute(
                select(ProjectRole)
                .where(col(ProjectRole.project_id).in_(project_ids))
                .order_by(col(ProjectRole.name_normalized))
            )
        ).scalars()
        found: dict[int, list[ProjectRole]] = {pk: [] for pk in project_ids}
        for row in rows:
            found[row.project_id].append(row)
    return found


# --- members (R30) ----------------------------------------------------------------------------


async def _principal_key(
    session: AsyncSession, org_id: int, user_id: int | None, group_id: int | None
) -> tuple[PrincipalType, int, str]:
    """The member named by exactly one of user_id and group_id, with a label for the log."""
    if (user_id is None) == (group_id is None):
        raise Rejected("INVALID_INPUT", "Give either userId or groupId.", ["userId"])
    if user_id is not None:
        user = await session.get(User, user_id)
        if user is None or user.org_id != org_id or user.deleted_at is not None:
            raise Rejected("NOT_FOUND", "User not found.", ["userId"])
        return PrincipalType.USER, user_id, user.email
    assert group_id is not None
    group = await session.get(Group, group_id)
    if group is None or group.org_id != org_id:
        raise Rejected("NOT_FOUND", "Group not found.", ["groupId"])
    return PrincipalType.GROUP, group_id, f"group {group.name}"


async def _resolve_roles(
    session: AsyncSession, org_id: int, project: Project, names: Sequence[str]
) -> tuple[list[str], list[int]]:
    """Global role names and this project's role ids; a role of another project is refused."""
    if not names:
        raise Rejected("NO_ROLES", "Assign at least one role.", ["roles"])
    global_names: list[str] = []
    role_ids: list[int] = []
    for index, raw in enumerate(names):
        wanted = " ".join(raw.split())
        as_global = wanted.upper().replace(" ", "_")
        if as_global in {r.value for r in GlobalRole}:
            if as_global not in global_names:
                global_names.append(as_global)
            continue
        role = await session.scalar(
            select(ProjectRole).where(
                col(ProjectRole.project_id) == project.id,
                col(ProjectRole.name_normalized) == wanted.casefold(),
            )
        )
        if role is not None and role.id is not None:
            if role.id not in role_ids:
                role_ids.append(role.id)
            continue
        elsewhere = await session.scalar(
            select(func.count())
            .select_from(ProjectRole)
            .join(Project, col(Project.id) == col(ProjectRole.project_id))
            .where(
                col(Project.org_id) == org_id, col(ProjectRole.name_normalized) == wanted.casefold()
            )
        )
        code = "ROLE_NOT_IN_PROJECT" if elsewhere else "NOT_FOUND"
        raise Rejected(code, f"{project.key!r} has no role {wanted!r}.", ["roles", str(index)])
    return global_names, role_ids


async def assign_project_role(
    services: Services,
    principal: Principal,
    project_key: str,
    user_id: int | None,
    group_id: int | None,
    roles: Sequence[str],
) -> Project:
    """R30: the user or group becomes a member with exactly these roles (global or of this
    project)."""
    refuse_regardless(services.policy, principal, Action.ADMINISTER_PROJECT)
    assert principal.org_id is not None
    now = services.clock.now()
    async with services.db.write() as session:
        await lock_organization(session, principal.org_id)
        project, actor = await _administered(services, session, principal, project_key)
        kind, pk, label = await _principal_key(session, principal.org_id, user_id, group_id)
        global_names, role_ids = await _resolve_roles(session, principal.org_id, project, roles)
        member = await session.scalar(
            select(ProjectMember).where(
                col(ProjectMember.project_id) == project.id,
                col(ProjectMember.principal_type) == kind,
                col(ProjectMember.principal_id) == pk,
            )
        )
        before = (
            {"globalRoles": member.global_roles, "projectRoleIds": member.project_role_ids}
            if member
            else None
        )
        was_admin = member is not None and PROJECT_ADMIN in member.global_roles
        if was_admin != (PROJECT_ADMIN in global_names):
            _require_platform_admin(services, actor, "appoint and remove Project Admins")
        if member is None:
            assert project.id is not None
            member = ProjectMember(
                project_id=project.id, principal_type=kind, principal_id=pk, created_at=now
            )
            session.add(member)
        member.global_roles, member.project_role_ids = global_names, role_ids
        await session.flush()
        await bump(session, principal.org_id)
        audit.record(
            session,
            principal,
            "project.member_assign",
            org_id=principal.org_id,
            now=now,
            target=project,
            target_label=f"{project.key}: {label}",
            before=before,
            after={"globalRoles": global_names, "projectRoleIds": role_ids},
        )
    return project


async def remove_project_member(
    services: Services,
    principal: Principal,
    project_key: str,
    user_id: int | None,
    group_id: int | None,
) -> Project:
    refuse_regardless(services.policy, principal, Action.ADMINISTER_PROJECT)
    assert principal.org_id is not None
    now = services.clock.now()
    async with services.db.write() as session:
        await lock_organization(session, principal.org_id)
        project, actor = await _administered(services, session, principal, project_key)
        kind, pk, label = await _principal_key(session, principal.org_id, user_id, group_id)
        member = await session.scalar(
            select(ProjectMember).where(
                col(ProjectMember.project_id) == project.id,
                col(ProjectMember.principal_type) == kind,
                col(ProjectMember.principal_id) == pk,
            )
        )
        if member is None:
            raise Rejected("NOT_MEMBER", f"{label} is not a member of {project.key!r}.", ["userId"])
        if PROJECT_ADMIN in member.global_roles:
            _require_platform_admin(services, actor, "appoint and remove Project Admins")
        audit.record(
            session,
            principal,
            "project.member_remove",
            org_id=principal.org_id,
            now=now,
            target=project,
            target_label=f"{project.key}: {label}",
            before={"globalRoles": member.global_roles, "projectRoleIds": member.project_role_ids},
        )
        await session.delete(member)
        await bump(session, principal.org_id)
    return project


async def viewer_permissions(
    services: Services, principal: Principal, project: Project, environment: Environment
) -> dict[ResourceType, list[ArtifactAction]]:
    """The actions the caller holds on the project's resources of each type in one environment:
    from their team role and their project roles (a permission target may add more on named
    resources). The same policy decisions as `checkAccess`, so the console never offers what the
    registry would refuse. No statement beyond the (cached) access index."""
    index = await _index(services, project.org_id)
    held: dict[ResourceType, list[ArtifactAction]] = {}
    for kind in PROJECT_ACTIONS_BY_TYPE:
        resource = ArtifactResource(project.org_id, kind, None, index, environment, project.key)
        held[kind] = [
            action
            for action in actions_for_type(kind)
            if services.policy.decide(principal, action, resource).allowed
        ]
    return held


async def list_resources(services: Services, project_id: int, args: PageArgs) -> Page[Resource]:
    return await fetch_page(services.db, Resource, col(Resource.project_id) == project_id, args)
