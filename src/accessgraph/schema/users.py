"""Team members and invitations: types, inputs, payloads, root fields (R2-R11)."""

from __future__ import annotations

import contextlib
from datetime import datetime
from operator import attrgetter
from typing import TYPE_CHECKING, Annotated

import strawberry

from accessgraph import models
from accessgraph.auth.directives import requires
from accessgraph.auth.policy import Action
from accessgraph.auth.principal import account_permissions_of
from accessgraph.models.user import status_at as user_status_at
from accessgraph.resolvers import account_permissions, invitations, users
from accessgraph.resolvers.pagination import PageArgs
from accessgraph.resolvers.users import UserRow
from accessgraph.schema.base import (
    Connection,
    Node,
    UserError,
    from_global_id,
    made,
    to_global_id,
)
from accessgraph.schema.context import Context
from accessgraph.schema.enums import AccountPermission, TeamRole, UserStatus
from accessgraph.schema.helpers import attempt, decode_id, selects

if TYPE_CHECKING:
    from accessgraph.schema.tokens import Token

Info = strawberry.Info[Context, None]

# The columns `User.of` shows as they are (and the id, as a global ID).
_SHOWN_COLUMNS = (
    "first_name",
    "last_name",
    "email",
    "role",
    "last_login_at",
    "created_at",
    "deleted_at",
)
_READ_COLUMNS = frozenset(("id", "org_id", "status", "invitation_expires_at", *_SHOWN_COLUMNS))
_shown_of_row = attrgetter(*_SHOWN_COLUMNS)


@strawberry.type(description="A member of the organization (R2).")
class User(Node):
    first_name: str | None
    last_name: str | None
    email: str
    role: TeamRole
    last_login_at: datetime | None
    created_at: datetime
    deleted_at: datetime | None
    status: UserStatus
    _row: strawberry.Private[models.User | UserRow]
    _pk: strawberry.Private[int]
    _org_id: strawberry.Private[int]
    _ctx: strawberry.Private[Context]

    @classmethod
    def of(cls, user: models.User | UserRow, ctx: Context) -> User:
        if type(user) is UserRow:  # a page's row: its values in one call (~1 µs, not ~3)
            values = dict(zip(_SHOWN_COLUMNS, _shown_of_row(user), strict=True))
            pk, org_id = user.id, user.org_id
            status, expires = user.status, user.invitation_expires_at
        else:
            # The loaded columns, read without SQLAlchemy's attributes (~0.25 µs each);
            # through them when one is not loaded (expired), which they load.
            loaded = user.__dict__
            if not _READ_COLUMNS.issubset(loaded):
                loaded = {name: getattr(user, name) for name in _READ_COLUMNS}
            values = {name: loaded[name] for name in _SHOWN_COLUMNS}
            pk, org_id = loaded["id"], loaded["org_id"]
            status, expires = loaded["status"], loaded["invitation_expires_at"]
        assert pk is not None
        values["id"] = strawberry.ID(to_global_id("User", pk))
        # From the values read: a page asks for it, and for it again to decide a resend.
        values["status"] = user_status_at(status, expires, ctx.now)
        values["_row"] = user
        values["_pk"] = pk
        values["_org_id"] = org_id
        values["_ctx"] = ctx
        return made(cls, values)

    @property
    def _model(self) -> models.User:
        """The user's model, made from a page's row when a field first needs it: the policy
        always decides on the model itself (`_can` asks it first about users alike)."""
        row = self._row
        if type(row) is UserRow:
            row = self._row = row.instance()
        assert isinstance(row, models.User)
        return row

    def _can(self, action: Action) -> bool:
        """The viewer's permission to do `action` to this user (Context.can_on_row)."""
        return self._ctx.can_on_row(
            action, models.User, self._org_id, lambda: self._model, owner_id=None
        )

    # Computed only when asked for: plain methods take the executor's fast path (a resolver
    # per row and field was a third of the team page's time), and a page that does not show
    # a policy decision does not pay for it. Each answer is the policy decision the matching
    # mutation makes.
    @strawberry.field
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)

    @strawberry.field(description="R33: what an admin granted this user beyond their team role.")
    def account_permissions(self) -> list[AccountPermission]:
        return sorted(account_permissions_of(self._row))

    @strawberry.field
    def viewer_can_update_role(self) -> bool:
        return self.deleted_at is None and self._can(Action.UPDATE_USER_ROLE)

    @strawberry.field
    def viewer_can_delete(self) -> bool:
        return self.deleted_at is None and self._can(Action.DELETE_USER)

    @strawberry.field
    def viewer_can_resend_invitation(self) -> bool:
        return (
            invitations.resendable(self.status, self.deleted_at)
            and self._can(Action.INVITE_USER)
            and (self.role != models.TeamRole.ADMIN or self._can(Action.GRANT_ADMIN_ROLE))
        )

    @strawberry.field(
        description="Whether you may grant or revoke this user's account permissions (admins; "
        "never your own grants)."
    )
    def viewer_can_manage_account_permissions(self) -> bool:
        return (
            self.deleted_at is None
            and self._pk != self._ctx.principal.user_id
            and self._can(Action.MANAGE_ACCOUNT_PERMISSIONS)
        )

    # No `info` (the request's context is the object's): the executor calls it directly, as
    # it does every plain async method (a nested page has one per user).
    @strawberry.field(description="The tokens this user created that the viewer may see.")
    async def tokens(self) -> list[Annotated[Token, strawberry.lazy("accessgraph.schema.tokens")]]:
        from accessgraph.schema.tokens import Token

        ctx = self._ctx
        rows = await ctx.loaders.tokens_by_owner.load(self._pk)
        return [Token.of(row, ctx) for row in rows]


async def load_user(ctx: Context, user_id: int | None) -> User | None:
    """The user with this id (deleted ones included: they still name who did what), batched
    by the request's loader; None for no id."""
    if user_id is None:
        return None
    row = await ctx.loaders.user_by_id.load(user_id)
    return User.of(row, ctx) if row is not None else None


@strawberry.input
class UserFilter:
    status: UserStatus | None = None
    role: TeamRole | None = None
    search: str | None = strawberry.field(default=None, description="Part of the name or email.")


@strawberry.input
class InviteUserInput:
    email: str
    role: TeamRole = models.TeamRole.DEVELOPER
    first_name: str | None = None
    last_name: str | None = None


@strawberry.input
class ResendInvitationInput:
    user_id: strawberry.ID


@strawberry.input
class AcceptInvitationInput:
    token: str = strawberry.field(description="The secret from the sign-up link.")
    password: str
    first_name: str | None = None
    last_name: str | None = None


@strawberry.input
class CreateUserInput:
    email: str
    password: str
    role: TeamRole = models.TeamRole.DEVELOPER
    first_name: str | None = None
    last_name: str | None = None


@strawberry.input
class UpdateUserRoleInput:
    user_id: strawberry.ID
    role: TeamRole


@strawberry.input
class DeleteUserInput:
    user_id: strawberry.ID


@strawberry.type
class InviteUserPayload:
    user: User | None
    errors: list[UserError]


@strawberry.type
class ResendInvitationPayload:
    user: User | None
    errors: list[UserError]


@strawberry.type
class AcceptInvitationPayload:
    user: User | None
    errors: list[UserError]


@strawberry.type
class CreateUserPayload:
    user: User | None
    errors: list[UserError]


@strawberry.type
class UpdateUserRolePayload:
    user: User | None
    errors: list[UserError]


@strawberry.type
class DeleteUserPayload:
    deleted_user_id: strawberry.ID | None
    errors: list[UserError]


def _user(row: models.User | None, ctx: Context) -> User | None:
    return User.of(row, ctx) if row is not None else None


@strawberry.type
class UserQueries:
    @strawberry.field(extensions=requires(Action.VIEW_USERS), description="The team page.")
    async def users(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: UserFilter | None = None,
    ) -> Connection[User] | None:
        ctx = info.context
        flt = filter or UserFilter()
        page = await users.list_users(
            ctx.services,
            ctx.principal,
            users.UserFilter(status=flt.status, role=flt.role, search=flt.search),
            PageArgs(first=first, after=after, last=last, before=before),
        )
        if page.rows and any(
            selects(info.selected_fields, info.field_name, *path)
            for path in (("edges", "node", "tokens"), ("nodes", "tokens"))
        ):
            # The page's tokens, in the one statement their loader would make: each user's
            # `tokens` then finishes at once, with no task of its own (schema/eager.py). A
            # failure stays in the loader, for each `tokens` field to report at its own path.
            owners = [row.id for row in page.rows if row.id is not None]
            with contextlib.suppress(Exception):
                await ctx.loaders.tokens_by_owner.load_many(owners)
        return Connection.of(page, lambda row: User.of(row, ctx))

    @strawberry.field(extensions=requires(Action.VIEW_USERS))
    async def user(self, info: Info, id: strawberry.ID) -> User | None:
        pk = from_global_id(id, "User")
        row = await info.context.loaders.user_by_id.load(pk) if pk else None
        return _user(row if row is not None and row.deleted_at is None else None, info.context)


@strawberry.input
class GrantAccountPermissionInput:
    user_id: strawberry.ID
    permission: str = strawberry.field(
        description="INVITE_AND_MODIFY_ACCOUNTS, BILLING or CREATE_AND_MODIFY_PROJECTS "
        "(another name: UNKNOWN_PERMISSION)."
    )


@strawberry.input
class RevokeAccountPermissionInput:
    user_id: strawberry.ID
    permission: str = strawberry.field(
        description="INVITE_AND_MODIFY_ACCOUNTS, BILLING or CREATE_AND_MODIFY_PROJECTS "
        "(another name: UNKNOWN_PERMISSION)."
    )


@strawberry.type
class GrantAccountPermissionPayload:
    user: User | None
    errors: list[UserError]


@strawberry.type
class RevokeAccountPermissionPayload:
    user: User | None
    errors: list[UserError]


async def _set_account_permission(
    info: Info, data: GrantAccountPermissionInput | RevokeAccountPermissionInput, *, granted: bool
) -> tuple[User | None, list[UserError]]:
    ctx = info.context

    async def work() -> models.User:
        user_id = decode_id(data.user_id, "User", "userId")
        return await account_permissions.set_account_permission(
            ctx.services, ctx.principal, user_id, data.permission, granted=granted
        )

    row, errors = await attempt(work())
    return _user(row, ctx), errors


@strawberry.type
class UserMutations:
    @strawberry.mutation(
        extensions=requires(Action.INVITE_USER), description="R7: invite by email."
    )
    async def invite_user(self, info: Info, input: InviteUserInput) -> InviteUserPayload | None:
        ctx = info.context
        data = invitations.InviteInput(input.email, input.role, input.first_name, input.last_name)
        row, errors = await attempt(invitations.invite_user(ctx.services, ctx.principal, data))
        return InviteUserPayload(user=_user(row, ctx), errors=errors)

    @strawberry.mutation(extensions=requires(Action.INVITE_USER), description="R9: a new link.")
    async def resend_invitation(
        self, info: Info, input: ResendInvitationInput
    ) -> ResendInvitationPayload | None:
        ctx = info.context

        async def work() -> models.User:
            user_id = decode_id(input.user_id, "User", "userId")
            return await invitations.resend_invitation(ctx.services, ctx.principal, user_id)

        row, errors = await attempt(work())
        return ResendInvitationPayload(user=_user(row, ctx), errors=errors)

    @strawberry.mutation(extensions=requires(Action.AUTHENTICATE), description="R10: public.")
    async def accept_invitation(
        self, info: Info, input: AcceptInvitationInput
    ) -> AcceptInvitationPayload | None:
        ctx = info.context
        data = invitations.AcceptInput(
            input.token, input.password, input.first_name, input.last_name
        )
        row, errors = await attempt(invitations.accept_invitation(ctx.services, data))
        return AcceptInvitationPayload(user=_user(row, ctx), errors=errors)

    @strawberry.mutation(
        extensions=requires(Action.INVITE_USER), description="R11: with a password."
    )
    async def create_user(self, info: Info, input: CreateUserInput) -> CreateUserPayload | None:
        ctx = info.context
        data = users.CreateUserInput(
            input.email, input.password, input.role, input.first_name, input.last_name
        )
        row, errors = await attempt(users.create_user(ctx.services, ctx.principal, data))
        return CreateUserPayload(user=_user(row, ctx), errors=errors)

    @strawberry.mutation(extensions=requires(Action.UPDATE_USER_ROLE))
    async def update_user_role(
        self, info: Info, input: UpdateUserRoleInput
    ) -> UpdateUserRolePayload | None:
        ctx = info.context

        async def work() -> models.User:
            user_id = decode_id(input.user_id, "User", "userId")
            return await users.update_user_role(ctx.services, ctx.principal, user_id, input.role)

        row, errors = await attempt(work())
        return UpdateUserRolePayload(user=_user(row, ctx), errors=errors)

    @strawberry.mutation(
        extensions=requires(Action.MANAGE_ACCOUNT_PERMISSIONS),
        description="R33: admins grant a user an account permission (never themselves).",
    )
    async def grant_account_permission(
        self, info: Info, input: GrantAccountPermissionInput
    ) -> GrantAccountPermissionPayload | None:
        user, errors = await _set_account_permission(info, input, granted=True)
        return GrantAccountPermissionPayload(user=user, errors=errors)

    @strawberry.mutation(
        extensions=requires(Action.MANAGE_ACCOUNT_PERMISSIONS),
        description="R33: admins revoke an account permission; it stops at the next request.",
    )
    async def revoke_account_permission(
        self, info: Info, input: RevokeAccountPermissionInput
    ) -> RevokeAccountPermissionPayload | None:
        user, errors = await _set_account_permission(info, input, granted=False)
        return RevokeAccountPermissionPayload(user=user, errors=errors)

    @strawberry.mutation(extensions=requires(Action.DELETE_USER), description="R6.")
    async def delete_user(self, info: Info, input: DeleteUserInput) -> DeleteUserPayload | None:
        ctx = info.context

        async def work() -> models.User:
            user_id = decode_id(input.user_id, "User", "userId")
            return await users.delete_user(ctx.services, ctx.principal, user_id)

        row, errors = await attempt(work())
        deleted = strawberry.ID(to_global_id("User", row.id)) if row and row.id else None
        return DeleteUserPayload(deleted_user_id=deleted, errors=errors)
