"""Projects (R27) and global roles (R28): types, inputs, payloads, root fields."""

from __future__ import annotations

from datetime import datetime

import strawberry

from accessgraph import models
from accessgraph.auth.access import actions_of
from accessgraph.auth.directives import requires
from accessgraph.auth.policy import Action
from accessgraph.resolvers import projects
from accessgraph.resolvers.pagination import PageArgs
from accessgraph.schema.base import Connection, Node, UserError, to_global_id
from accessgraph.schema.context import Context
from accessgraph.schema.enums import ArtifactAction, Environment
from accessgraph.schema.helpers import attempt

Info = strawberry.Info[Context, None]


@strawberry.type(description="A project (R27): it holds resources, roles and members.")
class Project(Node):
    key: str
    name: str
    created_at: datetime

    @classmethod
    def of(cls, row: models.Project) -> Project:
        assert row.id is not None
        return cls(
            id=strawberry.ID(to_global_id("Project", row.id)),
            key=row.key,
            name=row.name,
            created_at=row.created_at,
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

    @classmethod
    def of(cls, view: projects.GlobalRoleView) -> GlobalRole:
        return cls(
            name=view.role.value,
            environments=sorted(view.rights.environments),
            actions=actions_of(view.rights.actions),
            is_default=view.updated_at is None,
            updated_at=view.updated_at,
        )


@strawberry.input
class CreateProjectInput:
    key: str = strawberry.field(description="2-32 lowercase letters and digits, e.g. payments.")
    name: str


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
        data = projects.CreateProjectInput(input.key, input.name)
        row, errors = await attempt(projects.create_project(ctx.services, ctx.principal, data))
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
