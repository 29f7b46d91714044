"""Projects (R27-R30): types, inputs, payloads, root fields.

A project's administration is declared with `requires(ADMINISTER_PROJECT, locate)`: decided on
the project the input names, so its Project Admins pass and everyone else gets FORBIDDEN (or
NOT_FOUND in the payload when the project is not theirs to see).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

import strawberry

from accessgraph import models
from accessgraph.auth.access import actions_of
from accessgraph.auth.directives import requires
from accessgraph.auth.policy import Action, ProjectResource, Resource
from accessgraph.resolvers import projects
from accessgraph.resolvers.pagination import Page, PageArgs, encode_cursor
from accessgraph.schema.access import Group, RegisteredResource
from accessgraph.schema.base import Connection, Node, PageInfo, UserError, to_global_id
from accessgraph.schema.context import Context
from accessgraph.schema.enums import ArtifactAction, Environment, ResourceType
from accessgraph.schema.helpers import attempt, decode_id
from accessgraph.schema.users import User

Info = strawberry.Info[Context, None]


async def _project_in_input(source: Any, info: Info, kwargs: dict[str, Any]) -> Resource | None:
    """The project `input.projectKey` names, if the caller may see it (else the resolver
    answers NOT_FOUND). Read from the cached access index: no statement."""
    ctx = info.context
    org_id = ctx.principal.org_id
    if org_id is None:
        return None
    index = await ctx.services.access_indexes.current(ctx.services.db, org_id)
    pk = index.projects.get(kwargs["input"].project_key.strip().lower())
    if pk is None:
        return None
    resource = ProjectResource(org_id, pk, index)
    return resource if ctx.can(Action.VIEW_PROJECT, resource) else None


def administers() -> list[Any]:
    return requires(Action.ADMINISTER_PROJECT, _project_in_input)


@strawberry.type(description="Actions on one resource type.")
class ResourceActions:
    resource_type: ResourceType
    actions: list[ArtifactAction]


def _advanced(bits_by_type: dict[str, int]) -> list[ResourceActions]:
    return [
        ResourceActions(resource_type=models.ResourceType(kind), actions=actions_of(bits))
        for kind, bits in bits_by_type.items()
    ]


@strawberry.type(description="A custom role of one project (R29).")
class ProjectRole:
    name: str
    environments: list[Environment]
    mode: str = strawberry.field(description="BASIC (one set of actions) or ADVANCED (per type).")
    actions: list[ArtifactAction] = strawberry.field(description="Basic mode: every type.")
    advanced_actions: list[ResourceActions] = strawberry.field(description="Advanced mode.")

    @classmethod
    def of(cls, row: models.ProjectRole) -> ProjectRole:
        return cls(
            name=row.name,
            environments=[models.Environment(e) for e in row.environments],
            mode="ADVANCED" if row.advanced else "BASIC",
            actions=actions_of(row.basic_actions),
            advanced_actions=_advanced(row.advanced_actions),
        )


ProjectPrincipal = Annotated[User | Group, strawberry.union("ProjectPrincipal")]


@strawberry.type(description="A member of a project: a user or a group, with its roles.")
class ProjectMemberEdge:
    cursor: str
    node: ProjectPrincipal
    roles: list[str] = strawberry.field(description="Global role names and project role names.")


@strawberry.type
class ProjectMemberConnection:
    _project_id: strawberry.Private[int]
    _page: strawberry.Private[Page[models.ProjectMember]]

    @strawberry.field
    async def edges(self, info: Info) -> list[ProjectMemberEdge]:
        """Built only when asked (a list showing `totalCount` loads no users or groups); the
        loads batch across every project of a list."""
        ctx = info.context
        rows = self._page.rows
        roles, users, groups = await asyncio.gather(
            ctx.loaders.roles_of_project.load(self._project_id),
            ctx.loaders.user_by_id.load_many(
                [m.principal_id for m in rows if m.principal_type == models.PrincipalType.USER]
            ),
            ctx.loaders.group_by_id.load_many(
                [m.principal_id for m in rows if m.principal_type == models.PrincipalType.GROUP]
            ),
        )
        role_names = {role.id: role.name for role in roles}
        nodes: dict[tuple[models.PrincipalType, int], User | Group] = {
            **{(models.PrincipalType.USER, u.id): User.of(u, ctx) for u in users if u and u.id},
            **{(models.PrincipalType.GROUP, g.id): Group.of(g) for g in groups if g and g.id},
        }
        return [
            ProjectMemberEdge(
                cursor=encode_cursor(_id(member)),
                node=node,
                roles=[
                    *member.global_roles,
                    *(role_names[r] for r in member.project_role_ids if r in role_names),
                ],
            )
            for member in rows
            if (node := nodes.get((member.principal_type, member.principal_id))) is not None
        ]

    @strawberry.field
    def page_info(self) -> PageInfo:
        return PageInfo.of(self._page, [encode_cursor(_id(row)) for row in self._page.rows])

    @strawberry.field
    async def total_count(self) -> int:
        return await self._page.count()


def _id(row: models.ProjectMember) -> int:
    assert row.id is not None
    return row.id


@strawberry.type(description="A project (R27): it holds resources, roles and members.")
class Project(Node):
    key: str
    name: str
    created_at: datetime
    _model: strawberry.Private[models.Project]

    @strawberry.field(description="Users and groups with roles here (R30), roles on the edge.")
    async def members(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> ProjectMemberConnection:
        assert self._model.id is not None
        page = await info.context.loaders.project_members.page(
            self._model.id, PageArgs(first=first, after=after, last=last, before=before)
        )
        return ProjectMemberConnection(_project_id=self._model.id, _page=page)

    @strawberry.field(description="The project's own roles (global roles: `globalRoles`).")
    async def roles(self, info: Info) -> list[ProjectRole]:
        assert self._model.id is not None
        rows = await info.context.loaders.roles_of_project.load(self._model.id)
        return [ProjectRole.of(row) for row in rows]

    @strawberry.field(
        description="The five global roles as they hold here: the project's adjustments "
        "(`projectKey` set), else the organization's settings (R28)."
    )
    async def global_roles(self, info: Info) -> list[GlobalRole]:
        assert self._model.id is not None
        views = await info.context.loaders.global_roles_of_project.load(self._model.id)
        return [GlobalRole.of(view) for view in views]

    @strawberry.field(
        description="The actions you hold on this project's resources of each type in one "
        "environment, from your team role and project roles (a permission target may add "
        "more on named resources): what the console may offer, in one query."
    )
    async def viewer_permissions(
        self, info: Info, environment: Environment
    ) -> list[ResourceActions]:
        held = await projects.viewer_permissions(
            info.context.services, info.context.principal, self._model, environment
        )
        return [ResourceActions(resource_type=kind, actions=acts) for kind, acts in held.items()]

    @strawberry.field(
        description="Whether you may change this project's roles and members (admins and its "
        "Project Admins)."
    )
    async def viewer_can_administer(self, info: Info) -> bool:
        ctx = info.context
        return await projects.can_on_project(
            ctx.services, ctx.principal, Action.ADMINISTER_PROJECT, self._model
        )

    @strawberry.field(description="The resources registered in this project.")
    async def resources(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[RegisteredResource]:
        assert self._model.id is not None
        page = await projects.list_resources(
            info.context.services,
            self._model.id,
            PageArgs(first=first, after=after, last=last, before=before),
        )
        return Connection.of(page, RegisteredResource.of)

    @classmethod
    def of(cls, row: models.Project) -> Project:
        assert row.id is not None
        return cls(
            id=strawberry.ID(to_global_id("Project", row.id)),
            key=row.key,
            name=row.name,
            created_at=row.created_at,
            _model=row,
        )


@strawberry.type(
    description="A global role (R28): predefined, inherited by every project; admins edit its "
    "environments and actions."
)
class GlobalRole:
    name: str
    environments: list[Environment]
    actions: list[ArtifactAction] = strawberry.field(description="For every resource type.")
    is_default: bool = strawberry.field(description="Unchanged since the first migration.")
    updated_at: datetime | None
    project_key: str | None = strawberry.field(
        description="Set when this is a project's own adjustment; null: the organization's setting."
    )

    @classmethod
    def of(cls, view: projects.GlobalRoleView) -> GlobalRole:
        return cls(
            name=view.role.value,
            environments=sorted(view.rights.environments),
            actions=actions_of(view.rights.actions),
            is_default=view.updated_at is None,
            updated_at=view.updated_at,
            project_key=view.project_key,
        )


@strawberry.input
class CreateProjectInput:
    key: str = strawberry.field(description="2-32 lowercase letters and digits, e.g. payments.")
    name: str
    admin_user_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Users appointed Project Admins (R27)."
    )


@strawberry.type
class CreateProjectPayload:
    project: Project | None
    errors: list[UserError]


@strawberry.input
class UpdateGlobalRoleInput:
    name: str = strawberry.field(description="PROJECT_ADMIN, DEVELOPER, CONTRIBUTOR, ...")
    environments: list[Environment]
    actions: list[ArtifactAction]


@strawberry.type
class UpdateGlobalRolePayload:
    global_role: GlobalRole | None
    errors: list[UserError]


@strawberry.input(description="A project's own environments and actions for a global role.")
class UpdateProjectGlobalRoleInput:
    project_key: str
    name: str = strawberry.field(description="PROJECT_ADMIN, DEVELOPER, CONTRIBUTOR, ...")
    environments: list[Environment]
    actions: list[ArtifactAction]


@strawberry.input
class ResetProjectGlobalRoleInput:
    project_key: str
    name: str


@strawberry.type
class ProjectGlobalRolePayload:
    global_role: GlobalRole | None = strawberry.field(
        description="The role as it now holds in the project."
    )
    errors: list[UserError]


@strawberry.input
class ResourceActionsInput:
    resource_type: ResourceType
    actions: list[ArtifactAction]


@strawberry.input(description="Basic `actions` or `advancedActions`, not both.")
class CreateProjectRoleInput:
    project_key: str
    name: str
    environments: list[Environment] = strawberry.field(
        default_factory=lambda: [models.Environment.DEV], description="Default: DEV."
    )
    actions: list[ArtifactAction] | None = None
    advanced_actions: list[ResourceActionsInput] | None = None


@strawberry.input(
    description="Omitted fields keep their value. Basic `actions` on an advanced role switch "
    "it to basic and drop its advanced actions (reported in the payload)."
)
class UpdateProjectRoleInput:
    project_key: str
    role_name: str
    name: str | None = None
    environments: list[Environment] | None = None
    actions: list[ArtifactAction] | None = None
    advanced_actions: list[ResourceActionsInput] | None = None


@strawberry.input
class DeleteProjectRoleInput:
    project_key: str
    role_name: str


@strawberry.type
class ProjectRolePayload:
    role: ProjectRole | None
    dropped_advanced_actions: list[ResourceActions] = strawberry.field(
        description="Advanced actions removed by switching the role to basic (R29)."
    )
    errors: list[UserError]


@strawberry.type
class DeleteProjectRolePayload:
    deleted_role_name: str | None
    errors: list[UserError]


def _role_input(
    name: str | None,
    environments: list[models.Environment] | None,
    actions: list[ArtifactAction] | None,
    advanced: list[ResourceActionsInput] | None,
) -> projects.RoleInput:
    return projects.RoleInput(
        name=name,
        environments=environments,
        actions=actions,
        advanced=[(a.resource_type, a.actions) for a in advanced] if advanced is not None else None,
    )


@strawberry.input(description="Either userId or groupId.")
class AssignProjectRoleInput:
    project_key: str
    user_id: strawberry.ID | None = None
    group_id: strawberry.ID | None = None
    roles: list[str] = strawberry.field(
        description="Global roles (DEVELOPER, ...) and this project's roles, by name."
    )


@strawberry.input(description="Either userId or groupId.")
class RemoveProjectMemberInput:
    project_key: str
    user_id: strawberry.ID | None = None
    group_id: strawberry.ID | None = None


@strawberry.type
class ProjectMemberPayload:
    project: Project | None
    errors: list[UserError]


def _member_ids(
    user_id: strawberry.ID | None, group_id: strawberry.ID | None
) -> tuple[int | None, int | None]:
    return (
        decode_id(user_id, "User", "userId") if user_id is not None else None,
        decode_id(group_id, "Group", "groupId") if group_id is not None else None,
    )


@strawberry.type
class ProjectQueries:
    @strawberry.field(
        extensions=requires(Action.LIST_PROJECTS),
        description="The projects you may see (admins: all).",
    )
    async def projects(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Project] | None:
        ctx = info.context
        page = await projects.list_projects(
            ctx.services,
            ctx.principal,
            PageArgs(first=first, after=after, last=last, before=before),
        )
        return Connection.of(page, Project.of)

    @strawberry.field(extensions=requires(Action.LIST_PROJECTS))
    async def project(self, info: Info, key: str) -> Project | None:
        row = await projects.project_by_key(info.context.services, info.context.principal, key)
        return Project.of(row) if row is not None else None

    @strawberry.field(extensions=requires(Action.VIEW_GLOBAL_ROLES), description="R28.")
    async def global_roles(self, info: Info) -> list[GlobalRole] | None:
        views = await projects.global_roles(info.context.services, info.context.principal)
        return [GlobalRole.of(view) for view in views]


@strawberry.type
class ProjectMutations:
    @strawberry.mutation(extensions=requires(Action.MANAGE_PROJECTS), description="R27.")
    async def create_project(
        self, info: Info, input: CreateProjectInput
    ) -> CreateProjectPayload | None:
        ctx = info.context

        async def work() -> models.Project:
            admins = [
                decode_id(raw, "User", f"adminUserIds.{i}")
                for i, raw in enumerate(input.admin_user_ids)
            ]
            data = projects.CreateProjectInput(input.key, input.name, admins)
            return await projects.create_project(ctx.services, ctx.principal, data)

        row, errors = await attempt(work())
        return CreateProjectPayload(project=Project.of(row) if row else None, errors=errors)

    @strawberry.mutation(extensions=requires(Action.UPDATE_GLOBAL_ROLES), description="R28.")
    async def update_global_role(
        self, info: Info, input: UpdateGlobalRoleInput
    ) -> UpdateGlobalRolePayload | None:
        ctx = info.context
        view, errors = await attempt(
            projects.update_global_role(
                ctx.services, ctx.principal, input.name, input.environments, input.actions
            )
        )
        return UpdateGlobalRolePayload(
            global_role=GlobalRole.of(view) if view else None, errors=errors
        )

    @strawberry.mutation(
        extensions=administers(),
        description="R28: adjusts a global role for one project (admins and its Project Admins).",
    )
    async def update_project_global_role(
        self, info: Info, input: UpdateProjectGlobalRoleInput
    ) -> ProjectGlobalRolePayload | None:
        ctx = info.context
        view, errors = await attempt(
            projects.update_project_global_role(
                ctx.services,
                ctx.principal,
                input.project_key,
                input.name,
                input.environments,
                input.actions,
            )
        )
        return ProjectGlobalRolePayload(
            global_role=GlobalRole.of(view) if view else None, errors=errors
        )

    @strawberry.mutation(
        extensions=administers(),
        description="Drops a project's adjustment: the organization's setting holds again.",
    )
    async def reset_project_global_role(
        self, info: Info, input: ResetProjectGlobalRoleInput
    ) -> ProjectGlobalRolePayload | None:
        ctx = info.context
        view, errors = await attempt(
            projects.reset_project_global_role(
                ctx.services, ctx.principal, input.project_key, input.name
            )
        )
        return ProjectGlobalRolePayload(
            global_role=GlobalRole.of(view) if view else None, errors=errors
        )

    @strawberry.mutation(extensions=administers(), description="R29.")
    async def create_project_role(
        self, info: Info, input: CreateProjectRoleInput
    ) -> ProjectRolePayload | None:
        ctx = info.context
        data = _role_input(input.name, input.environments, input.actions, input.advanced_actions)
        row, errors = await attempt(
            projects.create_project_role(ctx.services, ctx.principal, input.project_key, data)
        )
        return ProjectRolePayload(
            role=ProjectRole.of(row) if row else None, dropped_advanced_actions=[], errors=errors
        )

    @strawberry.mutation(extensions=administers(), description="R29.")
    async def update_project_role(
        self, info: Info, input: UpdateProjectRoleInput
    ) -> ProjectRolePayload | None:
        ctx = info.context
        data = _role_input(input.name, input.environments, input.actions, input.advanced_actions)
        change, errors = await attempt(
            projects.update_project_role(
                ctx.services, ctx.principal, input.project_key, input.role_name, data
            )
        )
        if change is None:
            return ProjectRolePayload(role=None, dropped_advanced_actions=[], errors=errors)
        return ProjectRolePayload(
            role=ProjectRole.of(change.role),
            dropped_advanced_actions=_advanced(change.dropped_advanced),
            errors=[],
        )

    @strawberry.mutation(extensions=administers(), description="R29.")
    async def delete_project_role(
        self, info: Info, input: DeleteProjectRoleInput
    ) -> DeleteProjectRolePayload | None:
        ctx = info.context
        name, errors = await attempt(
            projects.delete_project_role(
                ctx.services, ctx.principal, input.project_key, input.role_name
            )
        )
        return DeleteProjectRolePayload(deleted_role_name=name, errors=errors)

    @strawberry.mutation(extensions=administers(), description="R30.")
    async def assign_project_role(
        self, info: Info, input: AssignProjectRoleInput
    ) -> ProjectMemberPayload | None:
        ctx = info.context

        async def work() -> models.Project:
            user_id, group_id = _member_ids(input.user_id, input.group_id)
            return await projects.assign_project_role(
                ctx.services, ctx.principal, input.project_key, user_id, group_id, input.roles
            )

        row, errors = await attempt(work())
        return ProjectMemberPayload(project=Project.of(row) if row else None, errors=errors)

    @strawberry.mutation(extensions=administers(), description="R30.")
    async def remove_project_member(
        self, info: Info, input: RemoveProjectMemberInput
    ) -> ProjectMemberPayload | None:
        ctx = info.context

        async def work() -> models.Project:
            user_id, group_id = _member_ids(input.user_id, input.group_id)
            return await projects.remove_project_member(
                ctx.services, ctx.principal, input.project_key, user_id, group_id
            )

        row, errors = await attempt(work())
        return ProjectMemberPayload(project=Project.of(row) if row else None, errors=errors)
