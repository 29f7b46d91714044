"""Access tokens: types, inputs, payloads, root fields (R12-R17). No field returns a value,
except `CreateTokenPayload.secret`, once."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from accessgraph import models
from accessgraph.auth.directives import requires
from accessgraph.auth.policy import Action, SubscriptionResource
from accessgraph.models.token import token_status
from accessgraph.resolvers import leaks, tokens
from accessgraph.resolvers.pagination import PageArgs
from accessgraph.schema.base import (
    Connection,
    Node,
    UserError,
    from_global_id,
    made,
    to_global_id,
)
from accessgraph.schema.context import Context
from accessgraph.schema.enums import TokenPermission, TokenStatus
from accessgraph.schema.helpers import attempt, attempt_removal, decode_id

if TYPE_CHECKING:
    from accessgraph.schema.users import User

Info = strawberry.Info[Context, None]


@strawberry.type(description="An access token for automation (R12).")
class Token(Node):
    name: str
    permission: TokenPermission
    username: str = strawberry.field(description="Token-specific username for HTTP Basic (R17).")
    status: TokenStatus
    created_at: datetime
    expires_at: datetime | None = strawberry.field(description="null: never expires.")
    last_used_at: datetime | None
    revoked_at: datetime | None
    _row: strawberry.Private[models.AccessToken | tokens.TokenRow]
    _ctx: strawberry.Private[Context]
    _subscription: strawberry.Private[SubscriptionResource | None]

    @classmethod
    def of(
        cls,
        token: models.AccessToken | tokens.TokenRow,
        ctx: Context,
        subscription: SubscriptionResource | None = None,
    ) -> Token:
        """`subscription`: the subscription a subscription token belongs to, whose PRIMARY_ADMIN
        manages it (R22); personal tokens follow R15/R16."""
        assert token.id is not None
        return made(
            cls,
            {
                "id": strawberry.ID(to_global_id("Token", token.id)),
                "name": token.name,
                "permission": token.permission,
                "username": token.username,
                "status": token_status(token.revoked_at, token.expires_at, ctx.now),
                "created_at": token.created_at,
                "expires_at": token.expires_at,
                "last_used_at": token.last_used_at,
                "revoked_at": token.revoked_at,
                "_row": token,
                "_ctx": ctx,
                "_subscription": subscription,
            },
        )

    @property
    def _model(self) -> models.AccessToken:
        """The token's model, made from a page's row when a field first needs it (a policy
        decision): the policy always decides on the model itself."""
        row = self._row
        if isinstance(row, tokens.TokenRow):
            row = self._row = row.instance()
        return row

    # Computed only when asked for, like User.viewerCan... (see there).
    @strawberry.field
    def viewer_can_revoke(self) -> bool:
        if self.status == models.TokenStatus.REVOKED:
            return False
        if self._subscription is not None:
            return self._ctx.can(Action.MANAGE_SUBSCRIPTION_TOKENS, self._subscription)
        return self._ctx.can(Action.REVOKE_TOKEN, self._model)

    @strawberry.field
    def viewer_can_delete(self) -> bool:
        if self.status == models.TokenStatus.ACTIVE:
            return False
        if self._subscription is not None:
            return self._ctx.can(Action.MANAGE_SUBSCRIPTION_TOKENS, self._subscription)
        return self._ctx.can(Action.DELETE_TOKEN, self._model)

    @strawberry.field
    async def created_by(
        self, info: Info
    ) -> Annotated[User, strawberry.lazy("accessgraph.schema.users")] | None:
        from accessgraph.schema.users import User

        row = await info.context.loaders.user_by_id.load(self._row.owner_id)
        return User.of(row, info.context) if row is not None else None


@strawberry.input
class TokenFilter:
    status: TokenStatus | None = None
    created_by: strawberry.ID | None = strawberry.field(default=None, description="A User ID.")


@strawberry.input
class CreateTokenInput:
    name: str = strawberry.field(description='What it is for, e.g. "k8s-production".')
    permission: TokenPermission
    expires_at: datetime | None = strawberry.field(default=None, description="null: never.")


@strawberry.input
class RevokeTokenInput:
    token_id: strawberry.ID


@strawberry.input
class DeleteTokenInput:
    token_id: strawberry.ID


@strawberry.type
class CreateTokenPayload:
    token: Token | None
    secret: str | None = strawberry.field(
        description="The token's value. Shown only here, once: store it now (R13)."
    )
    errors: list[UserError]


@strawberry.type
class RevokeTokenPayload:
    token: Token | None
    errors: list[UserError]


@strawberry.type
class DeleteTokenPayload:
    deleted_token_id: strawberry.ID | None
    errors: list[UserError]


def _token(row: models.AccessToken | None, ctx: Context) -> Token | None:
    return Token.of(row, ctx) if row is not None else None


@strawberry.type
class TokenQueries:
    @strawberry.field(
        extensions=requires(Action.VIEW_TOKENS),
        description="Admins see every token of the organization, developers their own.",
    )
    async def tokens(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: TokenFilter | None = None,
    ) -> Connection[Token] | None:
        ctx = info.context
        flt = filter or TokenFilter()
        created_by = None
        if flt.created_by is not None:
            # An unknown or foreign ID matches nothing (0 is never a primary key).
            created_by = from_global_id(flt.created_by, "User") or 0
        page = await tokens.list_tokens(
            ctx.services,
            ctx.principal,
            tokens.TokenFilter(status=flt.status, created_by=created_by),
            PageArgs(first=first, after=after, last=last, before=before),
        )
        return Connection.of(page, lambda row: Token.of(row, ctx))


@strawberry.input
class ReportLeakedTokenInput:
    token: str = strawberry.field(description="The access token or session token you found.")


@strawberry.type
class ReportLeakedTokenPayload:
    received: bool = strawberry.field(
        description="Always true: the answer never tells whether the token was valid."
    )
    errors: list[UserError]


@strawberry.type
class TokenMutations:
    @strawberry.mutation(
        extensions=requires(Action.REPORT_LEAKED_TOKEN),
        description="Found a token in public? Anyone may hand it in: if it is a live "
        "credential of this service it is revoked at once and its owner is emailed.",
    )
    async def report_leaked_token(
        self, info: Info, input: ReportLeakedTokenInput
    ) -> ReportLeakedTokenPayload:
        ctx = info.context
        client = ctx.request.client if ctx.request is not None else None
        await leaks.report_leaked_token(
            ctx.services, input.token, client.host if client is not None else None
        )
        return ReportLeakedTokenPayload(received=True, errors=[])

    @strawberry.mutation(extensions=requires(Action.CREATE_TOKEN))
    async def create_token(self, info: Info, input: CreateTokenInput) -> CreateTokenPayload | None:
        ctx = info.context
        data = tokens.CreateTokenInput(input.name, input.permission, input.expires_at)
        result, errors = await attempt(tokens.create_token(ctx.services, ctx.principal, data))
        if result is None:
            return CreateTokenPayload(token=None, secret=None, errors=errors)
        row, secret = result
        return CreateTokenPayload(token=Token.of(row, ctx), secret=secret, errors=[])

    @strawberry.mutation(extensions=requires(Action.REVOKE_TOKEN), description="R15.")
    async def revoke_token(self, info: Info, input: RevokeTokenInput) -> RevokeTokenPayload | None:
        ctx = info.context

        async def work() -> models.AccessToken:
            token_id = decode_id(input.token_id, "Token", "tokenId")
            return await tokens.revoke_token(ctx.services, ctx.principal, token_id)

        row, errors = await attempt(work())
        return RevokeTokenPayload(token=_token(row, ctx), errors=errors)

    @strawberry.mutation(extensions=requires(Action.DELETE_TOKEN), description="R16.")
    async def delete_token(self, info: Info, input: DeleteTokenInput) -> DeleteTokenPayload | None:
        ctx = info.context
        removed, errors = await attempt_removal(
            "Token",
            input.token_id,
            "tokenId",
            lambda pk: tokens.delete_token(ctx.services, ctx.principal, pk),
        )
        return DeleteTokenPayload(deleted_token_id=removed, errors=errors)
