"""The organization, its team roles (R3), sign-in, and the viewer."""

from __future__ import annotations

from datetime import datetime

import strawberry

from accessgraph import models
from accessgraph.auth.backend import SESSION_COOKIE
from accessgraph.auth.directives import requires
from accessgraph.auth.policy import TEAM_PERMISSION_DESCRIPTIONS, TEAM_ROLE_PERMISSIONS, Action
from accessgraph.resolvers import organizations, sessions
from accessgraph.schema.base import Node, UserError, to_global_id
from accessgraph.schema.context import Context
from accessgraph.schema.enums import ManagePolicy, TeamPermission, TeamRole
from accessgraph.schema.helpers import attempt
from accessgraph.schema.tokens import Token
from accessgraph.schema.users import User

Info = strawberry.Info[Context, None]


@strawberry.type(description="The team: everything lives in one organization (R1).")
class Organization(Node):
    name: str
    created_at: datetime
    manage_policy: ManagePolicy = strawberry.field(
        description="R25: what users holding MANAGE on a permission target may grant on it."
    )

    @classmethod
    def of(cls, org: models.Organization) -> Organization:
        assert org.id is not None
        return cls(
            id=strawberry.ID(to_global_id("Organization", org.id)),
            name=org.name,
            created_at=org.created_at,
            manage_policy=org.manage_policy,
        )

    @strawberry.field
    def viewer_can_manage_settings(self, info: Info) -> bool:
        return info.context.can(Action.MANAGE_TEAM_SETTINGS)


@strawberry.type
class TeamRolePermission:
    permission: TeamPermission
    description: str
    granted: bool


@strawberry.type(description="A team role with its row of the R3 permission matrix.")
class TeamRoleDefinition:
    role: TeamRole
    permissions: list[TeamRolePermission]


def team_role_definitions() -> list[TeamRoleDefinition]:
    return [
        TeamRoleDefinition(
            role=role,
            permissions=[
                TeamRolePermission(
                    permission=p, description=TEAM_PERMISSION_DESCRIPTIONS[p], granted=p in granted
                )
                for p in TEAM_PERMISSION_DESCRIPTIONS
            ],
        )
        for role, granted in TEAM_ROLE_PERMISSIONS.items()
    ]


@strawberry.input
class LoginInput:
    email: str
    password: str
    organization: str | None = strawberry.field(
        default=None, description="Needed only if the email is a member of several organizations."
    )


@strawberry.type
class LoginPayload:
    token: str | None = strawberry.field(description="The session token (also set as a cookie).")
    viewer: User | None
    errors: list[UserError]


@strawberry.input
class LogoutInput:
    reason: str | None = None


@strawberry.type
class LogoutPayload:
    ok: bool
    errors: list[UserError]


@strawberry.input
class UpdateOrganizationSettingsInput:
    name: str | None = None
    manage_policy: ManagePolicy | None = strawberry.field(
        default=None, description="R25; EXCLUDE_MANAGE is the default and the most secure."
    )


@strawberry.type
class UpdateOrganizationSettingsPayload:
    organization: Organization | None
    errors: list[UserError]


@strawberry.type
class OrganizationQueries:
    @strawberry.field(description="The signed-in user; null for anonymous callers.")
    async def viewer(self, info: Info) -> User | None:
        ctx = info.context
        if ctx.principal.user_id is None:
            return None
        row = await ctx.loaders.user_by_id.load(ctx.principal.user_id)
        return User.of(row, ctx) if row is not None else None

    @strawberry.field(description="The access token this request authenticated with, if any.")
    async def viewer_token(self, info: Info) -> Token | None:
        ctx = info.context
        if ctx.principal.token_id is None:
            return None
        async with ctx.services.db.session() as session:
            row = await session.get(models.AccessToken, ctx.principal.token_id)
        return Token.of(row, ctx) if row is not None else None

    @strawberry.field(extensions=requires(Action.VIEW_ORGANIZATION))
    async def organization(self, info: Info) -> Organization | None:
        ctx = info.context
        assert ctx.principal.org_id is not None
        row = await organizations.get_organization(ctx.services, ctx.principal.org_id)
        return Organization.of(row) if row is not None else None

    @strawberry.field(extensions=requires(Action.VIEW_TEAM_ROLES), description="R3.")
    def team_roles(self) -> list[TeamRoleDefinition] | None:
        return team_role_definitions()


@strawberry.type
class OrganizationMutations:
    @strawberry.mutation(extensions=requires(Action.AUTHENTICATE))
    async def login(self, info: Info, input: LoginInput) -> LoginPayload | None:
        ctx = info.context
        client = ctx.request.client if ctx.request is not None else None
        result, errors = await attempt(
            sessions.login(
                ctx.services,
                ctx.principal,
                input.email,
                input.password,
                input.organization,
                address=client.host if client is not None else None,
            )
        )
        if result is None:
            return LoginPayload(token=None, viewer=None, errors=errors)
        if ctx.response is not None:
            settings = ctx.services.settings
            ctx.response.set_cookie(
                SESSION_COOKIE,
                result.token,
                max_age=int(result.expires_in.total_seconds()),
                httponly=True,
                samesite="strict",
                path="/",
                secure=settings.is_production or settings.public_url.startswith("https://"),
            )
        return LoginPayload(token=result.token, viewer=User.of(result.user, ctx), errors=[])

    @strawberry.mutation(extensions=requires(Action.AUTHENTICATE), description="Ends this session.")
    async def logout(self, info: Info, input: LogoutInput | None = None) -> LogoutPayload | None:
        ctx = info.context
        await sessions.logout(ctx.services, ctx.principal)
        if ctx.response is not None:
            ctx.response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
        return LogoutPayload(ok=True, errors=[])

    @strawberry.mutation(extensions=requires(Action.MANAGE_TEAM_SETTINGS))
    async def update_organization_settings(
        self, info: Info, input: UpdateOrganizationSettingsInput
    ) -> UpdateOrganizationSettingsPayload | None:
        ctx = info.context
        row, errors = await attempt(
            organizations.update_settings(
                ctx.services, ctx.principal, input.name, input.manage_policy
            )
        )
        return UpdateOrganizationSettingsPayload(
            organization=Organization.of(row) if row is not None else None, errors=errors
        )
