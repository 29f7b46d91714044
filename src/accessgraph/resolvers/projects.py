"""Projects (R27) and global roles (R28).

Admins ("Administer the Platform") create projects and edit the global roles' environments
and actions; every project sees an edit at once (the roles are read per organization, and an
edit bumps the organization's access version like every other change to access).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select, true
from sqlmodel import col

from accessgraph.auth.access import ArtifactAction, actions_of, mask
from accessgraph.auth.policy import Action, require
from accessgraph.auth.principal import Principal
from accessgraph.auth.projects import GLOBAL_ROLE_DEFAULTS, GlobalRole, RoleRights
from accessgraph.db import lock_organization
from accessgraph.errors import Rejected
from accessgraph.models import Environment, GlobalRoleSetting, Project
from accessgraph.models.project import PROJECT_NAME_MAX
from accessgraph.resolvers import audit
from accessgraph.resolvers.access_index import bump
from accessgraph.resolvers.actors import require_now
from accessgraph.resolvers.groups import clean_label
from accessgraph.resolvers.pagination import Page, PageArgs, fetch_page
from accessgraph.services import Services

# Lowercase letters and digits, starting with a letter: keys appear in resource names and URLs.
PROJECT_KEY = re.compile(r"^[a-z][a-z0-9]{1,31}\Z")


async def list_projects(services: Services, principal: Principal, args: PageArgs) -> Page[Project]:
    """Admins see every project (members of projects will see theirs, with project roles)."""
    require(services.policy, principal, Action.LIST_PROJECTS)
    where = col(Project.org_id) == principal.org_id
    if not services.policy.decide(principal, Action.VIEW_ALL_PROJECTS).allowed:
        where = and_(where, ~true())
    return await fetch_page(services.db, Project, where, args)


async def project_by_key(services: Services, principal: Principal, key: str) -> Project | None:
    require(services.policy, principal, Action.LIST_PROJECTS)
    if not services.policy.decide(principal, Action.VIEW_ALL_PROJECTS).allowed:
        return None
    async with services.db.session() as session:
        return await session.scalar(
            select(Project).where(
                col(Project.org_id) == principal.org_id, col(Project.key) == key.strip().lower()
            )
        )


@dataclass(frozen=True, slots=True)
class CreateProjectInput:
    key: str
    name: str


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
        taken = await session.scalar(
            select(func.count())
            .select_from(Project)
            .where(col(Project.org_id) == principal.org_id, col(Project.key) == key)
        )
        if taken:
            raise Rejected("PROJECT_KEY_TAKEN", f"A project with key {key!r} exists.", ["key"])
        project = Project(org_id=principal.org_id, key=key, name=name, created_at=now)
        session.add(project)
        await session.flush()
        audit.record(
            session,
            principal,
            "project.create",
            org_id=principal.org_id,
            now=now,
            target=project,
            target_label=key,
            after={"key": key, "name": name},
        )
    return project


@dataclass(frozen=True, slots=True)
class GlobalRoleView:
    role: GlobalRole
    rights: RoleRights
    updated_at: datetime | None  # None: the default


async def global_roles(services: Services, principal: Principal) -> list[GlobalRoleView]:
    """The five global roles with this organization's settings (R28)."""
    require(services.policy, principal, Action.VIEW_GLOBAL_ROLES)
    async with services.db.session() as session:
        rows = (
            await session.execute(
                select(GlobalRoleSetting).where(col(GlobalRoleSetting.org_id) == principal.org_id)
            )
        ).scalars()
        settings = {row.name: row for row in rows}
    views = []
    for role, default in GLOBAL_ROLE_DEFAULTS.items():
        row = settings.get(role.value)
        if row is None:
            views.append(GlobalRoleView(role, default, None))
        else:
            envs = frozenset(Environment(e) for e in row.environments)
            views.append(GlobalRoleView(role, RoleRights(envs, row.actions), row.updated_at))
    return views


def clean_environments(raw: Sequence[Environment], field: str = "environments") -> list[str]:
    if not raw:
        raise Rejected(
            "NO_ENVIRONMENTS", "Give at least one environment: DEV, PROD or both.", [field]
        )
    return sorted({e.value for e in raw})


async def update_global_role(
    services: Services,
    principal: Principal,
    name: str,
    environments: Sequence[Environment],
    actions: Sequence[ArtifactAction],
) -> GlobalRoleView:
    """R28: admins change a global role's environments and actions; it cannot be created or
    deleted, so an unknown name is NOT_FOUND."""
    require(services.policy, principal, Action.UPDATE_GLOBAL_ROLES)
    assert principal.org_id is not None
    try:
        role = GlobalRole(name.strip().upper())
    except ValueError:
        raise Rejected(
            "NOT_FOUND",
            f"Global roles are {', '.join(r.value for r in GlobalRole)}; they cannot be added.",
            ["name"],
        ) from None
    envs = clean_environments(environments)
    if not actions:
        raise Rejected("NO_ACTIONS", "A role has at least one action.", ["actions"])
    bits = mask(actions)
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
                before={
                    "environments": before_envs,
                    "actions": [a.value for a in actions_of(before_bits)],
                },
                after={"environments": envs, "actions": [a.value for a in actions_of(bits)]},
            )
    rights = RoleRights(frozenset(Environment(e) for e in envs), bits)
    return GlobalRoleView(role, rights, now)
