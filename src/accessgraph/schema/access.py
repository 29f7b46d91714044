"""Groups, resources, permission targets and `checkAccess` (R23-R26, R34)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import strawberry
from graphql import OperationType

from accessgraph import models
from accessgraph.auth.access import actions_of
from accessgraph.auth.directives import requires
from accessgraph.auth.policy import Action, Resource, TargetResource
from accessgraph.resolvers import access, groups, targets
from accessgraph.resolvers.pagination import PageArgs
from accessgraph.schema.base import Connection, Node, UserError, from_global_id, to_global_id
from accessgraph.schema.context import Context
from accessgraph.schema.enums import (
    ArtifactAction,
    Environment,
    PrincipalType,
    ResourceType,
)
from accessgraph.schema.helpers import attempt, attempt_removal, decode_id
from accessgraph.schema.users import User

Info = strawberry.Info[Context, None]


# --- types -----------------------------------------------------------------------------------


@strawberry.type(description="A group of users (R23).")
class Group(Node):
    name: str
    description: str | None
    created_at: datetime
    _model: strawberry.Private[models.Group]

    @classmethod
    def of(cls, row: models.Group) -> Group:
        assert row.id is not None
        return cls(
            id=strawberry.ID(to_global_id("Group", row.id)),
            name=row.name,
            description=row.description,
            created_at=row.created_at,
            _model=row,
        )

    @strawberry.field(description="The group's members.")
    async def members(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[User]:
        ctx = info.context
        assert self._model.id is not None
        page = await groups.list_members(
            ctx.services,
            self._model.id,
            PageArgs(first=first, after=after, last=last, before=before),
        )
        return Connection.of(page, lambda row: User.of(row, ctx))


@strawberry.type(description="A registered repository, build, release bundle or destination.")
class RegisteredResource(Node):
    type: ResourceType
    name: str
    environment: Environment | None
    created_at: datetime
    _project_id: strawberry.Private[int | None]

    @strawberry.field(description="The project holding it (R27), whose roles apply to it.")
    async def project_key(self, info: Info) -> str | None:
        if self._project_id is None:
            return None
        project = await info.context.loaders.project_by_id.load(self._project_id)
        return project.key if project is not None else None

    @classmethod
    def of(cls, row: models.Resource) -> RegisteredResource:
        assert row.id is not None
        return cls(
            id=strawberry.ID(to_global_id("RegisteredResource", row.id)),
            type=row.type,
            name=row.name,
            environment=row.environment,
            created_at=row.created_at,
            _project_id=row.project_id,
        )


@strawberry.type(description="The resources of one type a target covers.")
class TargetResourceSet:
    type: ResourceType
    names: list[str]
    include_patterns: list[str]
    exclude_patterns: list[str]


@strawberry.type(description="Actions one principal holds on a target's resources.")
class PermissionGrant:
    principal_type: PrincipalType
    actions: list[ArtifactAction]
    _principal_id: strawberry.Private[int]

    @strawberry.field
    async def user(self, info: Info) -> User | None:
        if self.principal_type != models.PrincipalType.USER:
            return None
        row = await info.context.loaders.user_by_id.load(self._principal_id)
        return User.of(row, info.context) if row is not None else None

    @strawberry.field
    async def group(self, info: Info) -> Group | None:
        if self.principal_type != models.PrincipalType.GROUP:
            return None
        row = await info.context.loaders.group_by_id.load(self._principal_id)
        return Group.of(row) if row is not None else None


@strawberry.type(description="Resources bound to principals with actions (R24).")
class PermissionTarget(Node):
    name: str
    created_at: datetime
    updated_at: datetime
    resources: list[TargetResourceSet]
    grants: list[PermissionGrant]
    viewer_can_edit: bool = strawberry.field(
        description="The viewer may change the name and resources (admins)."
    )
    viewer_can_edit_grants: bool = strawberry.field(
        description="The viewer may change the grants (admins, and MANAGE holders under the "
        "organization's manage policy)."
    )

    @classmethod
    def of(
        cls,
        row: models.PermissionTarget,
        sets: Sequence[models.TargetResourceSet],
        grants: Sequence[models.TargetGrant],
        ctx: Context,
        can_edit_grants: bool,
    ) -> PermissionTarget:
        assert row.id is not None
        return cls(
            id=strawberry.ID(to_global_id("PermissionTarget", row.id)),
            name=row.name,
            created_at=row.created_at,
            updated_at=row.updated_at,
            resources=[
                TargetResourceSet(
                    type=s.type,
                    names=list(s.names),
                    include_patterns=list(s.include_patterns),
                    exclude_patterns=list(s.exclude_patterns),
                )
                for s in sets
            ],
            grants=[
                PermissionGrant(
                    principal_type=g.principal_type,
                    actions=actions_of(g.actions),
                    _principal_id=g.principal_id,
                )
                for g in grants
            ],
            viewer_can_edit=ctx.can(Action.MANAGE_ACCESS),
            viewer_can_edit_grants=can_edit_grants,
        )


async def build_targets(
    ctx: Context, rows: Sequence[models.PermissionTarget]
) -> list[PermissionTarget]:
    """Targets with their resources and grants: two statements for any number of targets."""
    ids = [r.id for r in rows if r.id is not None]
    if not ids:
        return []
    sets, grants = await targets.target_details(ctx.services, ids)
    assert ctx.principal.org_id is not None
    index = await ctx.services.access_indexes.current(ctx.services.db, ctx.principal.org_id)
    return [
        PermissionTarget.of(
            row,
            sets[row.id],
            grants[row.id],
            ctx,
            ctx.can(Action.EDIT_TARGET_GRANTS, TargetResource(ctx.principal.org_id, row.id, index)),
        )
        for row in rows
        if row.id is not None
    ]


@strawberry.type(description="One reason an action is allowed.")
class AccessGrant:
    source: str = strawberry.field(
        description="TEAM_ROLE, PERMISSION_TARGET (later: PROJECT_ROLE)."
    )
    name: str = strawberry.field(description="The role or target name.")
    action: str
    via: str = strawberry.field(
        description='Through whom it applies: "user" (directly), "group <name>", "anonymous".'
    )


@strawberry.type(description="R34: the answer of checkAccess.")
class AccessDecision:
    allowed: bool
    action: ArtifactAction
    resource_type: ResourceType
    resource_name: str
    subject: str = strawberry.field(description="Who was asked about.")
    reason: str
    grants: list[AccessGrant] = strawberry.field(description="Every grant that allows it.")


# --- inputs and payloads ---------------------------------------------------------------------


@strawberry.input
class CreateGroupInput:
    name: str
    description: str | None = None
    member_ids: list[strawberry.ID] = strawberry.field(default_factory=list)


@strawberry.input
class UpdateGroupMembersInput:
    group_id: strawberry.ID
    add: list[strawberry.ID] = strawberry.field(default_factory=list)
    remove: list[strawberry.ID] = strawberry.field(default_factory=list)


@strawberry.input
class DeleteGroupInput:
    group_id: strawberry.ID


@strawberry.type
class GroupPayload:
    group: Group | None
    errors: list[UserError]


@strawberry.type
class DeleteGroupPayload:
    deleted_group_id: strawberry.ID | None
    errors: list[UserError]


@strawberry.input
class RegisterRepositoryInput:
    name: str
    environment: Environment | None = strawberry.field(
        default=None, description="In a project: DEV (the default) or PROD."
    )
    project_key: str | None = strawberry.field(
        default=None, description="The project holding it; its roles then apply to it (R30)."
    )


@strawberry.input
class RegisterResourceInput:
    type: ResourceType
    name: str
    environment: Environment | None = strawberry.field(
        default=None, description="In a project: DEV (the default) or PROD."
    )
    project_key: str | None = strawberry.field(
        default=None, description="The project holding it; its roles then apply to it (R30)."
    )


@strawberry.type
class RegisterResourcePayload:
    resource: RegisteredResource | None
    errors: list[UserError]


@strawberry.input(description="Resources of one type: (names or includes) minus excludes.")
class ResourceSetInput:
    type: ResourceType
    names: list[str] = strawberry.field(default_factory=list)
    include_patterns: list[str] = strawberry.field(
        default_factory=list, description="e.g. libs-* or **/*-release (see README)."
    )
    exclude_patterns: list[str] = strawberry.field(default_factory=list)


@strawberry.input
class GrantInput:
    principal_type: PrincipalType
    user_id: strawberry.ID | None = None
    group_id: strawberry.ID | None = None
    actions: list[ArtifactAction] = strawberry.field(default_factory=list)


@strawberry.input
class CreatePermissionTargetInput:
    name: str
    resources: list[ResourceSetInput]
    grants: list[GrantInput] = strawberry.field(default_factory=list)


@strawberry.input(description="Omitted fields keep their value; `grants` replaces the list.")
class UpdatePermissionTargetInput:
    target_id: strawberry.ID
    name: str | None = None
    resources: list[ResourceSetInput] | None = None
    grants: list[GrantInput] | None = None


@strawberry.input
class DeletePermissionTargetInput:
    target_id: strawberry.ID


@strawberry.type
class PermissionTargetPayload:
    permission_target: PermissionTarget | None
    errors: list[UserError]


@strawberry.type
class DeletePermissionTargetPayload:
    deleted_permission_target_id: strawberry.ID | None
    errors: list[UserError]


@strawberry.input(description="No userId, groupId, tokenId or anonymous: about yourself.")
class CheckAccessInput:
    action: str = strawberry.field(description="READ, ANNOTATE, WRITE, DELETE, MANAGE, DISTRIBUTE.")
    resource_type: ResourceType
    resource_name: str
    project_key: str | None = None
    environment: Environment | None = None
    user_id: strawberry.ID | None = None
    group_id: strawberry.ID | None = None
    token_id: strawberry.ID | None = None
    anonymous: bool = strawberry.field(
        default=False, description="Ask about the anonymous user (no credentials)."
    )


# --- root fields -----------------------------------------------------------------------------


def _ids(raw: Sequence[strawberry.ID], type_name: str, field: str) -> list[int]:
    return [decode_id(item, type_name, field) for item in raw]


def _grants(raw: Sequence[GrantInput]) -> list[targets.GrantInput]:
    out = []
    for index, grant in enumerate(raw):
        field = ["grants", str(index)]
        pk = 0
        if grant.principal_type == models.PrincipalType.USER:
            pk = decode_id(grant.user_id or "", "User", field[0]) if grant.user_id else 0
        elif grant.principal_type == models.PrincipalType.GROUP:
            pk = decode_id(grant.group_id or "", "Group", field[0]) if grant.group_id else 0
        out.append(targets.GrantInput(grant.principal_type, pk, tuple(grant.actions)))
    return out


def _sets(raw: Sequence[ResourceSetInput] | None) -> list[targets.ResourceSetInput] | None:
    if raw is None:
        return None
    return [
        targets.ResourceSetInput(r.type, r.names, r.include_patterns, r.exclude_patterns)
        for r in raw
    ]


async def _target_payload(
    ctx: Context, row: models.PermissionTarget | None, errors: list[UserError]
) -> PermissionTargetPayload:
    if row is None:
        return PermissionTargetPayload(permission_target=None, errors=errors)
    [built] = await build_targets(ctx, [row])
    return PermissionTargetPayload(permission_target=built, errors=[])


async def _target_in_input(source: Any, info: Info, kwargs: dict[str, Any]) -> Resource | None:
    ctx = info.context
    pk = from_global_id(kwargs["input"].target_id, "PermissionTarget")
    org_id = ctx.principal.org_id
    if pk is None or org_id is None:
        return None
    index = await ctx.services.access_indexes.current(ctx.services.db, org_id)
    return TargetResource(org_id, pk, index) if pk in index.targets else None


@strawberry.type
class AccessQueries:
    @strawberry.field(extensions=requires(Action.VIEW_GROUPS), description="R23.")
    async def groups(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        search: str | None = None,
    ) -> Connection[Group] | None:
        ctx = info.context
        page = await groups.list_groups(
            ctx.services,
            ctx.principal,
            search,
            PageArgs(first=first, after=after, last=last, before=before),
        )
        return Connection.of(page, Group.of)

    @strawberry.field(
        extensions=requires(Action.LIST_PERMISSION_TARGETS),
        description="Admins see every target; others those they hold MANAGE on.",
    )
    async def permission_targets(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        search: str | None = None,
    ) -> Connection[PermissionTarget] | None:
        ctx = info.context
        page = await targets.list_targets(
            ctx.services,
            ctx.principal,
            search,
            PageArgs(first=first, after=after, last=last, before=before),
        )
        built = {t.id: t for t in await build_targets(ctx, page.rows)}
        return Connection.of(
            page, lambda row: built[strawberry.ID(to_global_id("PermissionTarget", row.id))]
        )

    @strawberry.field(extensions=requires(Action.VIEW_RESOURCES))
    async def resources(
        self,
        info: Info,
        type: ResourceType | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[RegisteredResource] | None:
        ctx = info.context
        page = await targets.list_resources(
            ctx.services,
            ctx.principal,
            type,
            PageArgs(first=first, after=after, last=last, before=before),
        )
        return Connection.of(page, RegisteredResource.of)

    @strawberry.field(
        extensions=requires(Action.CHECK_ACCESS),
        description="R34: may the principal do the action on the resource, and through which "
        "grants. About yourself, or (admins) any user, group, token or the anonymous user.",
    )
    async def check_access(self, info: Info, input: CheckAccessInput) -> AccessDecision | None:
        ctx = info.context

        def pk(raw: strawberry.ID | None, type_name: str) -> int | None:
            if raw is None:
                return None
            return from_global_id(raw, type_name) or 0  # 0 names nothing: NOT_FOUND

        data = access.CheckInput(
            action=input.action,
            resource_type=input.resource_type,
            resource_name=input.resource_name,
            project_key=input.project_key,
            environment=input.environment,
            user_id=pk(input.user_id, "User"),
            group_id=pk(input.group_id, "Group"),
            token_id=pk(input.token_id, "Token"),
            anonymous=input.anonymous,
        )
        # A query writes nothing, so the access_version read with the credential is current.
        in_query = info.operation.operation is OperationType.QUERY
        result = await access.check_access(
            ctx.services, ctx.principal, data, trust_caller_version=in_query
        )
        decision = result.decision
        return AccessDecision(
            allowed=decision.allowed,
            action=result.action,
            resource_type=input.resource_type,
            resource_name=data.resource_name.strip(),
            subject=result.subject,
            reason=decision.reason,
            grants=[
                AccessGrant(source=g.source, name=g.name, action=g.permission, via=g.via)
                for g in decision.grants
            ],
        )


@strawberry.type
class AccessMutations:
    @strawberry.mutation(extensions=requires(Action.MANAGE_ACCESS), description="R23.")
    async def create_group(self, info: Info, input: CreateGroupInput) -> GroupPayload | None:
        ctx = info.context

        async def work() -> models.Group:
            data = groups.CreateGroupInput(
                input.name, input.description, _ids(input.member_ids, "User", "memberIds")
            )
            return await groups.create_group(ctx.services, ctx.principal, data)

        row, errors = await attempt(work())
        return GroupPayload(group=Group.of(row) if row else None, errors=errors)

    @strawberry.mutation(extensions=requires(Action.MANAGE_ACCESS))
    async def update_group_members(
        self, info: Info, input: UpdateGroupMembersInput
    ) -> GroupPayload | None:
        ctx = info.context

        async def work() -> models.Group:
            return await groups.update_members(
                ctx.services,
                ctx.principal,
                decode_id(input.group_id, "Group", "groupId"),
                _ids(input.add, "User", "add"),
                _ids(input.remove, "User", "remove"),
            )

        row, errors = await attempt(work())
        return GroupPayload(group=Group.of(row) if row else None, errors=errors)

    @strawberry.mutation(extensions=requires(Action.MANAGE_ACCESS))
    async def delete_group(self, info: Info, input: DeleteGroupInput) -> DeleteGroupPayload | None:
        ctx = info.context
        removed, errors = await attempt_removal(
            "Group",
            input.group_id,
            "groupId",
            lambda pk: groups.delete_group(ctx.services, ctx.principal, pk),
        )
        return DeleteGroupPayload(deleted_group_id=removed, errors=errors)

    @strawberry.mutation(extensions=requires(Action.MANAGE_ACCESS))
    async def register_repository(
        self, info: Info, input: RegisterRepositoryInput
    ) -> RegisterResourcePayload | None:
        ctx = info.context
        data = targets.RegisterInput(
            models.ResourceType.REPOSITORY, input.name, input.environment, input.project_key
        )
        row, errors = await attempt(targets.register_resource(ctx.services, ctx.principal, data))
        return RegisterResourcePayload(
            resource=RegisteredResource.of(row) if row else None, errors=errors
        )

    @strawberry.mutation(
        extensions=requires(Action.MANAGE_ACCESS),
        description="Registers a repository, build, release bundle or destination, or (in a "
        "project) a pipeline.",
    )
    async def register_resource(
        self, info: Info, input: RegisterResourceInput
    ) -> RegisterResourcePayload | None:
        ctx = info.context
        data = targets.RegisterInput(input.type, input.name, input.environment, input.project_key)
        row, errors = await attempt(targets.register_resource(ctx.services, ctx.principal, data))
        return RegisterResourcePayload(
            resource=RegisteredResource.of(row) if row else None, errors=errors
        )

    @strawberry.mutation(extensions=requires(Action.MANAGE_ACCESS), description="R24.")
    async def create_permission_target(
        self, info: Info, input: CreatePermissionTargetInput
    ) -> PermissionTargetPayload | None:
        ctx = info.context

        async def work() -> models.PermissionTarget:
            data = targets.TargetInput(input.name, _sets(input.resources), _grants(input.grants))
            return await targets.create_target(ctx.services, ctx.principal, data)

        row, errors = await attempt(work())
        return await _target_payload(ctx, row, errors)

    @strawberry.mutation(
        extensions=requires(Action.EDIT_TARGET_GRANTS, _target_in_input),
        description="Admins change anything; a user holding MANAGE changes the grants only, "
        "under the organization's manage policy (R25).",
    )
    async def update_permission_target(
        self, info: Info, input: UpdatePermissionTargetInput
    ) -> PermissionTargetPayload | None:
        ctx = info.context

        async def work() -> models.PermissionTarget:
            data = targets.TargetInput(
                input.name,
                _sets(input.resources),
                _grants(input.grants) if input.grants is not None else None,
            )
            pk = decode_id(input.target_id, "PermissionTarget", "targetId")
            return await targets.update_target(ctx.services, ctx.principal, pk, data)

        row, errors = await attempt(work())
        return await _target_payload(ctx, row, errors)

    @strawberry.mutation(extensions=requires(Action.MANAGE_ACCESS))
    async def delete_permission_target(
        self, info: Info, input: DeletePermissionTargetInput
    ) -> DeletePermissionTargetPayload | None:
        ctx = info.context
        removed, errors = await attempt_removal(
            "PermissionTarget",
            input.target_id,
            "targetId",
            lambda pk: targets.delete_target(ctx.services, ctx.principal, pk),
        )
        return DeletePermissionTargetPayload(deleted_permission_target_id=removed, errors=errors)
