"""Resources and permission targets (R24-R26).

Admins register resources and create, change and delete targets. A user holding MANAGE on a
target changes its grants, and nothing else, under the organization's manage policy (R25):
each grant change is checked by `grant_change_refusal`. Every change bumps the organization's
access version (the next check everywhere sees it) and is audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from accessgraph.auth.access import (
    ACTIONS_BY_TYPE,
    PROJECT_RESOURCE_TYPES,
    TARGET_TYPES,
    ArtifactAction,
    actions_of,
    mask,
    matches,
    pattern_problem,
)
from accessgraph.auth.access import grant_change_refusal as refusal_of
from accessgraph.auth.policy import Action, Scope, TargetResource, require
from accessgraph.auth.principal import Principal
from accessgraph.db import lock_organization
from accessgraph.errors import Rejected, not_found
from accessgraph.models import (
    Environment,
    Group,
    ManagePolicy,
    PermissionTarget,
    PrincipalType,
    Project,
    Resource,
    ResourceType,
    TargetGrant,
    TargetResourceSet,
    User,
)
from accessgraph.models.permission_target import RESOURCE_NAME_MAX, TARGET_NAME_MAX
from accessgraph.resolvers import audit
from accessgraph.resolvers.access_index import bump
from accessgraph.resolvers.actors import refreshed, require_now
from accessgraph.resolvers.groups import clean_label
from accessgraph.resolvers.pagination import Page, PageArgs, fetch_page
from accessgraph.services import Services

MAX_PATTERNS = 100
MAX_GRANTS = 500

# --- resources ---------------------------------------------------------------------------------


def clean_resource_name(raw: str, field_name: str = "name") -> str:
    name = raw.strip()
    problem = pattern_problem(name)
    if problem is None and any(ch in name for ch in "*?"):
        problem = "A resource name has no wildcards."
    if problem is not None or len(name) > RESOURCE_NAME_MAX:
        raise Rejected("INVALID_NAME", problem or "The name is too long.", [field_name])
    return name


@dataclass(frozen=True, slots=True)
class RegisterInput:
    type: ResourceType
    name: str
    environment: Environment | None = None
    project_key: str | None = None


async def register_resource(
    services: Services, principal: Principal, data: RegisterInput
) -> Resource:
    """A resource, optionally held by a project: the project's roles then apply to it in its
    environment (DEV unless given), and `checkAccess` finds both from its name alone."""
    require(services.policy, principal, Action.MANAGE_ACCESS)
    assert principal.org_id is not None
    in_project = data.project_key is not None
    allowed = PROJECT_RESOURCE_TYPES if in_project else TARGET_TYPES
    if data.type not in allowed:
        where = "in a project" if in_project else "outside a project"
        raise Rejected(
            "UNSUPPORTED_RESOURCE_TYPE",
            f"{data.type.value} resources cannot be registered {where}; "
            f"{', '.join(t.value for t in allowed)} can.",
            ["type"],
        )
    name = clean_resource_name(data.name)
    environment = data.environment or (Environment.DEV if in_project else None)
    now = services.clock.now()
    async with services.db.write() as session:
        await lock_organization(session, principal.org_id)
        await require_now(services, session, principal, Action.MANAGE_ACCESS)
        project = None
        if data.project_key is not None:
            project = await session.scalar(
                select(Project).where(
                    col(Project.org_id) == principal.org_id,
                    col(Project.key) == data.project_key.strip().lower(),
                )
            )
            if project is None:
                raise Rejected("NOT_FOUND", f"No project {data.project_key!r}.", ["projectKey"])
        taken = await session.scalar(
            select(func.count())
            .select_from(Resource)
            .where(
                col(Resource.org_id) == principal.org_id,
                col(Resource.type) == data.type,
                col(Resource.name) == name,
            )
        )
        if taken:
            raise Rejected(
                "RESOURCE_EXISTS", f"A {data.type.value} named {name!r} exists.", ["name"]
            )
        resource = Resource(
            org_id=principal.org_id,
            type=data.type,
            name=name,
            environment=environment,
            project_id=project.id if project else None,
            created_at=now,
        )
        session.add(resource)
        await session.flush()
        if project is not None:
            await bump(session, principal.org_id)  # the index maps it to its project
        audit.record(
            session,
            principal,
            "resource.register",
            org_id=principal.org_id,
            now=now,
            target=resource,
            after={
                "type": data.type.value,
                "name": name,
                "environment": environment,
                "project": project.key if project else None,
            },
        )
    return resource


async def list_resources(
    services: Services, principal: Principal, type_: ResourceType | None, args: PageArgs
) -> Page[Resource]:
    require(services.policy, principal, Action.VIEW_RESOURCES)
    where = col(Resource.org_id) == principal.org_id
    if type_ is not None:
        where = and_(where, col(Resource.type) == type_)
    return await fetch_page(services.db, Resource, where, args)


# --- permission targets: input ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResourceSetInput:
    type: ResourceType
    names: Sequence[str] = ()
    include_patterns: Sequence[str] = ()
    exclude_patterns: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class GrantInput:
    principal_type: PrincipalType
    principal_id: int = 0  # a user's or group's id; 0 for ANONYMOUS
    actions: Sequence[ArtifactAction] = ()


@dataclass(frozen=True, slots=True)
class TargetInput:
    name: str | None = None
    resources: Sequence[ResourceSetInput] | None = None
    grants: Sequence[GrantInput] | None = None


@dataclass(frozen=True, slots=True)
class CleanSet:
    type: ResourceType
    names: list[str]
    include_patterns: list[str]
    exclude_patterns: list[str]


def _clean_patterns(raw: Sequence[str], path: list[str]) -> list[str]:
    if len(raw) > MAX_PATTERNS:
        raise Rejected("TOO_MANY_PATTERNS", f"At most {MAX_PATTERNS} per list.", path)
    seen: list[str] = []
    for index, pattern in enumerate(raw):
        problem = pattern_problem(pattern)
        if problem:
            raise Rejected("INVALID_PATTERN", problem, [*path, str(index)])
        if pattern in seen:
            raise Rejected("PATTERN_OVERLAP", f"{pattern!r} is listed twice.", [*path, str(index)])
        seen.append(pattern)
    return seen


def clean_resource_sets(raw: Sequence[ResourceSetInput]) -> list[CleanSet]:
    """Each set: a type a target covers, at most once; names or include patterns (an empty
    set would cover nothing); no pattern twice, none both included and excluded, and no
    exclude pattern that removes a name the set lists (each a contradiction, PATTERN_OVERLAP)."""
    if not raw:
        raise Rejected(
            "NO_RESOURCES", "A permission target covers at least one resource type.", ["resources"]
        )
    sets: list[CleanSet] = []
    for index, item in enumerate(raw):
        path = ["resources", str(index)]
        if item.type not in TARGET_TYPES:
            raise Rejected(
                "UNSUPPORTED_RESOURCE_TYPE",
                f"Permission targets cover {', '.join(t.value for t in TARGET_TYPES)}.",
                [*path, "type"],
            )
        if any(s.type == item.type for s in sets):
            raise Rejected(
                "DUPLICATE_RESOURCE_TYPE", f"{item.type.value} is listed twice.", [*path, "type"]
            )
        names = [clean_resource_name(n, "names") for n in item.names]
        includes = _clean_patterns(item.include_patterns, [*path, "includePatterns"])
        excludes = _clean_patterns(item.exclude_patterns, [*path, "excludePatterns"])
        if not names and not includes:
            raise Rejected(
                "NO_RESOURCES",
                "Name resources or give include patterns: an empty set covers nothing.",
                [*path, "includePatterns"],
            )
        for pattern in excludes:
            if pattern in includes or any(matches(pattern, n) for n in names):
                raise Rejected(
                    "PATTERN_OVERLAP",
                    f"The exclude pattern {pattern!r} removes what the set includes by name "
                    "or by the same pattern.",
                    [*path, "excludePatterns"],
                )
        sets.append(CleanSet(item.type, list(dict.fromkeys(names)), includes, excludes))
    return sets


async def _clean_grants(
    session: AsyncSession, org_id: int, raw: Sequence[GrantInput], types: Sequence[ResourceType]
) -> dict[tuple[PrincipalType, int], int]:
    """Principal -> action mask. Principals exist in the organization; actions exist for at
    least one resource type of the target (DISTRIBUTE needs release bundles or destinations)."""
    if len(raw) > MAX_GRANTS:
        raise Rejected("TOO_MANY_GRANTS", f"At most {MAX_GRANTS} grants.", ["grants"])
    supported = mask(a for t in types for a in ACTIONS_BY_TYPE[t])
    grants: dict[tuple[PrincipalType, int], int] = {}
    for index, grant in enumerate(raw):
        path = ["grants", str(index)]
        key = (grant.principal_type, grant.principal_id)
        if grant.principal_type == PrincipalType.ANONYMOUS:
            key = (PrincipalType.ANONYMOUS, 0)
        elif not await _principal_exists(session, org_id, *key):
            raise not_found(grant.principal_type.value.title(), path)
        if key in grants:
            raise Rejected("DUPLICATE_GRANT", "One grant per principal.", path)
        if not grant.actions:
            raise Rejected("NO_ACTIONS", "A grant has at least one action.", [*path, "actions"])
        bits = mask(grant.actions)
        if bits & ~supported:
            names = ", ".join(a.value for a in actions_of(bits & ~supported))
            raise Rejected(
                "ACTION_NOT_SUPPORTED",
                f"{names} does not apply to this target's resource types "
                f"({', '.join(t.value for t in types)}).",
                [*path, "actions"],
            )
        grants[key] = bits
    return grants


async def _principal_exists(
    session: AsyncSession, org_id: int, kind: PrincipalType, pk: int
) -> bool:
    if kind == PrincipalType.USER:
        user = await session.get(User, pk)
        return user is not None and user.org_id == org_id and user.deleted_at is None
    group = await session.get(Group, pk)
    return group is not None and group.org_id == org_id


# --- permission targets: reading -----------------------------------------------------------------


async def visible_target_ids(services: Services, principal: Principal) -> list[int] | None:
    """None: every target of the organization (admins); else those the caller holds MANAGE on."""
    decision = services.policy.decide(principal, Action.VIEW_PERMISSION_TARGETS)
    if decision.allowed and decision.scope == Scope.ALL:
        return None
    assert principal.org_id is not None
    index = await services.access_indexes.current(services.db, principal.org_id)
    return index.managed_by(index.keys_for(principal.user_id, None))


async def list_targets(
    services: Services, principal: Principal, search: str | None, args: PageArgs
) -> Page[PermissionTarget]:
    require(services.policy, principal, Action.LIST_PERMISSION_TARGETS)
    where = col(PermissionTarget.org_id) == principal.org_id
    visible = await visible_target_ids(services, principal)
    if visible is not None:
        where = and_(where, col(PermissionTarget.id).in_(visible))
    if search and search.strip():
        where = and_(
            where, col(PermissionTarget.name_normalized).contains(search.strip().casefold())
        )
    return await fetch_page(services.db, PermissionTarget, where, args)


async def target_details(
    services: Services, target_ids: Sequence[int]
) -> tuple[dict[int, list[TargetResourceSet]], dict[int, list[TargetGrant]]]:
    """The resource sets and grants of several targets, two statements in all."""
    async with services.db.session() as session:
        return await _details(session, target_ids)


async def _details(
    session: AsyncSession, target_ids: Sequence[int]
) -> tuple[dict[int, list[TargetResourceSet]], dict[int, list[TargetGrant]]]:
    sets = (
        await session.execute(
            select(TargetResourceSet)
            .where(col(TargetResourceSet.target_id).in_(target_ids))
            .order_by(col(TargetResourceSet.id))
        )
    ).scalars()
    grants = (
        await session.execute(
            select(TargetGrant)
            .where(col(TargetGrant.target_id).in_(target_ids))
            .order_by(col(TargetGrant.id))
        )
    ).scalars()
    by_set: dict[int, list[TargetResourceSet]] = {pk: [] for pk in target_ids}
    for row in sets:
        by_set[row.target_id].append(row)
    by_grant: dict[int, list[TargetGrant]] = {pk: [] for pk in target_ids}
    for grant in grants:
        by_grant[grant.target_id].append(grant)
    return by_set, by_grant


def grant_map(rows: Sequence[TargetGrant]) -> dict[tuple[PrincipalType, int], int]:
    return {(g.principal_type, g.principal_id): g.actions for g in rows}


# --- permission targets: writing -----------------------------------------------------------------


def _snapshot(
    target: PermissionTarget,
    sets: Sequence[CleanSet | TargetResourceSet],
    grants: dict[tuple[PrincipalType, int], int],
) -> dict[str, object]:
    return {
        "name": target.name,
        "resources": [
            {
                "type": s.type.value,
                "names": list(s.names),
                "include": list(s.include_patterns),
                "exclude": list(s.exclude_patterns),
            }
            for s in sets
        ],
        "grants": [
            {"principal": f"{kind.value}:{pk}", "actions": [a.value for a in actions_of(bits)]}
            for (kind, pk), bits in sorted(grants.items())
        ],
    }


async def _name_taken(
    session: AsyncSession, org_id: int, name: str, exclude_id: int | None = None
) -> bool:
    where = [
        col(PermissionTarget.org_id) == org_id,
        col(PermissionTarget.name_normalized) == name.casefold(),
    ]
    if exclude_id is not None:
        where.append(col(PermissionTarget.id) != exclude_id)
    return bool(
        await session.scalar(select(func.count()).select_from(PermissionTarget).where(*where))
    )


def _store(session: AsyncSession, target_id: int, sets: Sequence[CleanSet]) -> None:
    session.add_all(
        TargetResourceSet(
            target_id=target_id,
            type=s.type,
            names=s.names,
            include_patterns=s.include_patterns,
            exclude_patterns=s.exclude_patterns,
        )
        for s in sets
    )


def _store_grants(
    session: AsyncSession, target_id: int, grants: dict[tuple[PrincipalType, int], int]
) -> None:
    session.add_all(
        TargetGrant(target_id=target_id, principal_type=kind, principal_id=pk, actions=bits)
        for (kind, pk), bits in grants.items()
    )


async def create_target(
    services: Services, principal: Principal, data: TargetInput
) -> PermissionTarget:
    require(services.policy, principal, Action.MANAGE_ACCESS)
    assert principal.org_id is not None
    name = clean_label(data.name or "", "name", TARGET_NAME_MAX)
    sets = clean_resource_sets(data.resources or ())
    now = services.clock.now()
    async with services.db.write() as session:
        await lock_organization(session, principal.org_id)
        await require_now(services, session, principal, Action.MANAGE_ACCESS)
        if await _name_taken(session, principal.org_id, name):
            raise Rejected("TARGET_NAME_TAKEN", f"A target named {name!r} exists.", ["name"])
        grants = await _clean_grants(
            session, principal.org_id, data.grants or (), [s.type for s in sets]
        )
        for key, bits in grants.items():  # R26 holds for admins too
            refusal = refusal_of(
                ManagePolicy.EXCLUDE_MANAGE,  # admins: the manage policy does not bind them
                grantor_is_admin=True,
                grantor_holds=0,
                principal_type=key[0],
                before=0,
                after=bits,
            )
            if refusal:
                raise Rejected(refusal.code, refusal.message, ["grants"])
        target = PermissionTarget(
            org_id=principal.org_id,
            name=name,
            name_normalized=name.casefold(),
            created_at=now,
            updated_at=now,
        )
        session.add(target)
        await session.flush()
        assert target.id is not None
        _store(session, target.id, sets)
        _store_grants(session, target.id, grants)
        await bump(session, principal.org_id)
        audit.record(
            session,
            principal,
            "permission_target.create",
            org_id=principal.org_id,
            now=now,
            target=target,
            after=_snapshot(target, sets, grants),
        )
    return target


async def _load(session: AsyncSession, org_id: int, target_id: int) -> PermissionTarget:
    target = await session.get(PermissionTarget, target_id, populate_existing=True)
    if target is None or target.org_id != org_id:
        raise not_found("PermissionTarget", ["targetId"])
    return target


async def update_target(
    services: Services, principal: Principal, target_id: int, data: TargetInput
) -> PermissionTarget:
    """Admins change the name, resources and grants; a user holding MANAGE on the target only
    its grants, under the organization's manage policy (R25). `grants` replaces the list."""
    assert principal.org_id is not None
    sets = clean_resource_sets(data.resources) if data.resources is not None else None
    name = clean_label(data.name, "name", TARGET_NAME_MAX) if data.name is not None else None
    now = services.clock.now()
    async with services.db.write() as session:
        await lock_organization(session, principal.org_id)
        target = await _load(session, principal.org_id, target_id)
        actor = await refreshed(session, principal)
        index = await services.access_indexes.current(services.db, principal.org_id)
        if name is not None or sets is not None:
            # MANAGE lets a user change grants, never what the target covers (R25).
            require(services.policy, actor, Action.MANAGE_ACCESS)
        require(
            services.policy,
            actor,
            Action.EDIT_TARGET_GRANTS,
            TargetResource(principal.org_id, target_id, index),
        )
        admin = services.policy.decide(actor, Action.MANAGE_ACCESS).allowed
        old_sets, old_rows = await _details(session, [target_id])
        old_grants = grant_map(old_rows[target_id])
        before = _snapshot(target, old_sets[target_id], old_grants)
        new_sets: Sequence[CleanSet | TargetResourceSet] = (
            sets if sets is not None else old_sets[target_id]
        )
        if name is not None and name != target.name:
            if await _name_taken(session, principal.org_id, name, target_id):
                raise Rejected("TARGET_NAME_TAKEN", f"A target named {name!r} exists.", ["name"])
            target.name, target.name_normalized = name, name.casefold()
        types = [s.type for s in new_sets]
        grants = old_grants
        if data.grants is not None:
            grants = await _clean_grants(session, principal.org_id, data.grants, types)
            holds = index.held_on_target(index.keys_for(actor.user_id, None), target_id)
            for key in set(grants) | set(old_grants):
                refusal = refusal_of(
                    index.manage_policy,
                    grantor_is_admin=admin,
                    grantor_holds=holds,
                    principal_type=key[0],
                    before=old_grants.get(key, 0),
                    after=grants.get(key, 0),
                )
                if refusal:
                    raise Rejected(refusal.code, refusal.message, ["grants"])
        supported = mask(a for t in types for a in ACTIONS_BY_TYPE[t])
        if any(bits & ~supported for bits in grants.values()):
            raise Rejected(
                "ACTION_NOT_SUPPORTED",
                "A grant holds an action the target's resource types do not have; change the "
                "grants in the same update.",
                ["resources"],
            )
        if sets is not None:
            await session.execute(
                delete(TargetResourceSet).where(col(TargetResourceSet.target_id) == target_id)
            )
            _store(session, target_id, sets)
        if grants is not old_grants:
            await session.execute(
                delete(TargetGrant).where(col(TargetGrant.target_id) == target_id)
            )
            _store_grants(session, target_id, grants)
        after = _snapshot(target, new_sets, grants)
        if after != before:
            target.updated_at = now
            await session.flush()
            await bump(session, principal.org_id)
            audit.record(
                session,
                principal,
                "permission_target.update",
                org_id=principal.org_id,
                now=now,
                target=target,
                before=before,
                after=after,
            )
    return target


async def delete_target(services: Services, principal: Principal, target_id: int) -> int:
    require(services.policy, principal, Action.MANAGE_ACCESS)
    assert principal.org_id is not None
    now = services.clock.now()
    async with services.db.write() as session:
        await lock_organization(session, principal.org_id)
        await require_now(services, session, principal, Action.MANAGE_ACCESS)
        target = await _load(session, principal.org_id, target_id)
        sets, grants = await _details(session, [target_id])
        before = _snapshot(target, sets[target_id], grant_map(grants[target_id]))
        await session.execute(delete(TargetGrant).where(col(TargetGrant.target_id) == target_id))
        await session.execute(
            delete(TargetResourceSet).where(col(TargetResourceSet.target_id) == target_id)
        )
        audit.record(
            session,
            principal,
            "permission_target.delete",
            org_id=principal.org_id,
            now=now,
            target=target,
            before=before,
        )
        await session.delete(target)
        await bump(session, principal.org_id)
    return target_id
