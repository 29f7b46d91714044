"""Subscriptions (R18-R22): types, inputs, payloads, root fields.

The GraphQL type is `BillingSubscription`, not `Subscription`: a type named `Subscription`
in an SDL without a `schema {}` block is read by tools as the subscription root type.

Field protection (R22) is declared with `requires(action, locate)`: the check is decided on
the parent subscription (or the one an input names), with the caller's role in it; an
unauthorized field resolves to null with a FORBIDDEN error at its path.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NewType

import strawberry

from accessgraph import models
from accessgraph.auth.directives import requires
from accessgraph.auth.policy import Action, Resource, SubscriptionResource
from accessgraph.resolvers import subscription_settings, subscriptions
from accessgraph.resolvers.invitations import resendable
from accessgraph.resolvers.pagination import Page, PageArgs, encode_cursor
from accessgraph.resolvers.tokens import CreateTokenInput
from accessgraph.schema.base import (
    Connection,
    Node,
    PageInfo,
    UserError,
    from_global_id,
    to_global_id,
)
from accessgraph.schema.context import Context
from accessgraph.schema.enums import SubscriptionRole, TokenPermission, UsageMetric, UserStatus
from accessgraph.schema.helpers import attempt, attempt_removal, decode_id
from accessgraph.schema.tokens import Token
from accessgraph.schema.users import User, load_user

Info = strawberry.Info[Context, None]
TYPE_NAME = "BillingSubscription"

# GraphQL's Int is 32 bits; byte counts are not. Registered in the schema's scalar_map.
Bytes = NewType("Bytes", int)
BYTES_SCALAR = strawberry.scalar(
    name="Bytes",
    description="A number of bytes (a JSON number; may exceed 32 bits).",
    serialize=int,
    parse_value=int,
)


# --- where each check's subscription comes from ------------------------------------------------


async def _parent(source: Any, info: Info, kwargs: dict[str, Any]) -> Resource | None:
    resource: SubscriptionResource = source._view.resource
    return resource


async def _resource_of(info: Info, pk: int | None) -> Resource | None:
    """The subscription, if the caller may see it; otherwise None, and the resolver answers
    NOT_FOUND, as for an ID that does not exist."""
    view = await info.context.loaders.subscription_by_id.load(pk) if pk else None
    if view is None or not info.context.can(Action.VIEW_SUBSCRIPTION, view.resource):
        return None
    return view.resource


async def _named_in_input(source: Any, info: Info, kwargs: dict[str, Any]) -> Resource | None:
    return await _resource_of(info, from_global_id(kwargs["input"].subscription_id, TYPE_NAME))


async def _token_in_input(source: Any, info: Info, kwargs: dict[str, Any]) -> Resource | None:
    pk = from_global_id(kwargs["input"].token_id, "Token")
    async with info.context.services.db.session() as session:
        token = await session.get(models.AccessToken, pk) if pk else None
    return await _resource_of(info, token.subscription_id if token else None)


async def _notification_in_input(
    source: Any, info: Info, kwargs: dict[str, Any]
) -> Resource | None:
    pk = from_global_id(kwargs["input"].notification_id, "UsageNotification")
    async with info.context.services.db.session() as session:
        row = await session.get(models.UsageNotification, pk) if pk else None
    return await _resource_of(info, row.subscription_id if row else None)


# --- types -------------------------------------------------------------------------------------


@strawberry.type(description="Storage and transfer against the plan's limits.")
class SubscriptionUsage:
    storage_used_bytes: Bytes
    storage_limit_bytes: Bytes
    storage_percent: float
    transfer_used_bytes: Bytes
    transfer_limit_bytes: Bytes
    transfer_percent: float
    updated_at: datetime | None = strawberry.field(description="null: no usage reported yet.")

    @classmethod
    def of(cls, row: models.Subscription) -> SubscriptionUsage:
        return cls(
            storage_used_bytes=Bytes(row.storage_used_bytes),
            storage_limit_bytes=Bytes(row.storage_limit_bytes),
            storage_percent=round(100 * row.storage_used_bytes / row.storage_limit_bytes, 2),
            transfer_used_bytes=Bytes(row.transfer_used_bytes),
            transfer_limit_bytes=Bytes(row.transfer_limit_bytes),
            transfer_percent=round(100 * row.transfer_used_bytes / row.transfer_limit_bytes, 2),
            updated_at=row.usage_updated_at,
        )


@strawberry.type(description="Email the members when a metric reaches a share of its limit.")
class UsageNotification(Node):
    metric: UsageMetric
    threshold_percent: int
    created_at: datetime
    reached: bool = strawberry.field(description="Current usage is at or above the threshold.")
    _model: strawberry.Private[models.UsageNotification]

    @classmethod
    def of(cls, row: models.UsageNotification, usage: models.Subscription) -> UsageNotification:
        assert row.id is not None
        used, limit = (
            (usage.storage_used_bytes, usage.storage_limit_bytes)
            if row.metric == models.UsageMetric.STORAGE
            else (usage.transfer_used_bytes, usage.transfer_limit_bytes)
        )
        return cls(
            id=strawberry.ID(to_global_id("UsageNotification", row.id)),
            metric=row.metric,
            threshold_percent=row.threshold_percent,
            created_at=row.created_at,
            reached=100 * used >= row.threshold_percent * limit,
            _model=row,
        )

    @strawberry.field
    async def created_by(self, info: Info) -> User | None:
        return await load_user(info.context, self._model.created_by_id)


@strawberry.type(description="The card on file, masked: the number is never stored.")
class PaymentMethod:
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    display: str = strawberry.field(description='e.g. "VISA •••• 4242".')


@strawberry.type(description="R22: PRIMARY_ADMIN, ADMIN and FINANCE_MEMBER only.")
class BillingDetails:
    contact_name: str | None
    contact_email: str | None
    company: str | None
    address_line1: str | None
    address_line2: str | None
    city: str | None
    postal_code: str | None
    country: str | None = strawberry.field(description="ISO 3166 alpha-2 code.")
    vat_id: str | None
    payment_method: PaymentMethod | None
    updated_at: datetime | None

    @classmethod
    def of(cls, row: models.Subscription) -> BillingDetails:
        card = None
        if row.card_brand and row.card_last4 and row.card_exp_month and row.card_exp_year:
            card = PaymentMethod(
                brand=row.card_brand,
                last4=row.card_last4,
                exp_month=row.card_exp_month,
                exp_year=row.card_exp_year,
                display=f"{row.card_brand} •••• {row.card_last4}",
            )
        return cls(
            contact_name=row.billing_contact_name,
            contact_email=row.billing_contact_email,
            company=row.billing_company,
            address_line1=row.billing_address_line1,
            address_line2=row.billing_address_line2,
            city=row.billing_city,
            postal_code=row.billing_postal_code,
            country=row.billing_country,
            vat_id=row.billing_vat_id,
            payment_method=card,
            updated_at=row.billing_updated_at,
        )


@strawberry.type(description="R22: PRIMARY_ADMIN, ADMIN and TECHNICAL_MEMBER only.")
class NetworkSettings:
    allowed_ip_ranges: list[str] = strawberry.field(
        description="CIDR ranges allowed to reach the subscription's services; empty: any."
    )
    private_link_enabled: bool
    private_link_service_name: str | None
    updated_at: datetime | None

    @classmethod
    def of(cls, row: models.Subscription) -> NetworkSettings:
        return cls(
            allowed_ip_ranges=list(row.allowed_ip_ranges),
            private_link_enabled=row.private_link_enabled,
            private_link_service_name=row.private_link_service_name,
            updated_at=row.network_updated_at,
        )


@strawberry.type(description="A member of a subscription: the user, and their role on the edge.")
class SubscriptionMemberEdge:
    cursor: str
    node: User
    role: SubscriptionRole
    status: UserStatus = strawberry.field(
        description="The user's status: ACTIVE, INVITED, EXPIRED or FAILED (seed 001)."
    )
    joined_at: datetime
    viewer_can_update_role: bool
    viewer_can_remove: bool
    viewer_can_resend_invitation: bool


@strawberry.type
class SubscriptionMemberConnection:
    edges: list[SubscriptionMemberEdge]
    page_info: PageInfo
    _page: strawberry.Private[Page[models.SubscriptionMember]]

    @strawberry.field(description="How many members, across all pages.")
    async def total_count(self) -> int:
        return await self._page.count()


@strawberry.type(description="A subscription of the organization (R18), as the viewer may see it.")
class BillingSubscription(Node):
    name: str
    plan: str
    created_at: datetime
    viewer_role: SubscriptionRole | None = strawberry.field(
        description="The viewer's role here; null when they are not a member."
    )
    viewer_can_manage_members: bool
    viewer_can_update_billing: bool
    viewer_can_update_network: bool
    viewer_can_manage_tokens: bool
    _view: strawberry.Private[subscriptions.SubscriptionView]

    @classmethod
    def of(cls, view: subscriptions.SubscriptionView, ctx: Context) -> BillingSubscription:
        row, resource = view.row, view.resource
        return cls(
            id=strawberry.ID(to_global_id(TYPE_NAME, resource.subscription_id)),
            name=row.name,
            plan=row.plan,
            created_at=row.created_at,
            viewer_role=view.viewer_role,
            viewer_can_manage_members=ctx.can(Action.MANAGE_SUBSCRIPTION_MEMBERS, resource),
            viewer_can_update_billing=ctx.can(Action.UPDATE_BILLING, resource),
            viewer_can_update_network=ctx.can(Action.UPDATE_NETWORK, resource),
            viewer_can_manage_tokens=ctx.can(Action.MANAGE_SUBSCRIPTION_TOKENS, resource),
            _view=view,
        )

    @strawberry.field(extensions=requires(Action.VIEW_SUBSCRIPTION, _parent))
    async def members(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> SubscriptionMemberConnection | None:
        ctx = info.context
        resource = self._view.resource
        page = await ctx.loaders.subscription_members.page(
            resource.subscription_id,
            PageArgs(first=first, after=after, last=last, before=before),
        )
        users = await ctx.loaders.user_by_id.load_many([m.user_id for m in page.rows])
        manage = ctx.can(Action.MANAGE_SUBSCRIPTION_MEMBERS, resource)
        resend = manage and ctx.can(Action.INVITE_USER)  # R7/R9: team admins send sign-up links
        edges = []
        for member, user in zip(page.rows, users, strict=True):
            assert user is not None
            assert member.id is not None
            editable = manage and member.role != models.SubscriptionRole.PRIMARY_ADMIN
            node = User.of(user, ctx)
            edges.append(
                SubscriptionMemberEdge(
                    cursor=encode_cursor(member.id),
                    node=node,
                    role=member.role,
                    status=node.status,
                    joined_at=member.created_at,
                    viewer_can_update_role=editable,
                    viewer_can_remove=editable,
                    viewer_can_resend_invitation=resend
                    and resendable(node.status, user.deleted_at),
                )
            )
        return SubscriptionMemberConnection(
            edges=edges,
            page_info=PageInfo.of(page, [edge.cursor for edge in edges]),
            _page=page,
        )

    @strawberry.field(extensions=requires(Action.VIEW_SUBSCRIPTION_USAGE, _parent))
    def usage(self) -> SubscriptionUsage | None:
        return SubscriptionUsage.of(self._view.row)

    @strawberry.field(extensions=requires(Action.VIEW_SUBSCRIPTION_USAGE, _parent))
    async def usage_notifications(self, info: Info) -> list[UsageNotification] | None:
        rows = await subscriptions.list_notifications(
            info.context.services, self._view.resource.subscription_id
        )
        return [UsageNotification.of(row, self._view.row) for row in rows]

    @strawberry.field(extensions=requires(Action.VIEW_BILLING, _parent))
    def billing(self) -> BillingDetails | None:
        return BillingDetails.of(self._view.row)

    @strawberry.field(extensions=requires(Action.VIEW_NETWORK, _parent))
    def network(self) -> NetworkSettings | None:
        return NetworkSettings.of(self._view.row)

    @strawberry.field(
        extensions=requires(Action.VIEW_SUBSCRIPTION_TOKENS, _parent),
        description="API tokens scoped to this subscription; PRIMARY_ADMIN manages them.",
    )
    async def api_tokens(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Token] | None:
        ctx = info.context
        resource = self._view.resource
        page = await subscriptions.list_tokens(
            ctx.services,
            resource.subscription_id,
            PageArgs(first=first, after=after, last=last, before=before),
        )
        return Connection.of(page, lambda row: Token.of(row, ctx, resource))


async def fresh(ctx: Context, subscription_id: int) -> BillingSubscription | None:
    """The subscription as of now (after a mutation, the viewer's own role may have changed)."""
    views = await subscriptions.load_views(ctx.services, ctx.principal, [subscription_id])
    view = views.get(subscription_id)
    if view is None or not ctx.can(Action.VIEW_SUBSCRIPTION, view.resource):
        return None
    return BillingSubscription.of(view, ctx)


# --- inputs and payloads -----------------------------------------------------------------------


@strawberry.input
class AddSubscriptionMemberInput:
    subscription_id: strawberry.ID
    user_id: strawberry.ID | None = strawberry.field(
        default=None, description="An existing user of the organization; or give email."
    )
    email: str | None = strawberry.field(
        default=None,
        description="Someone who is not a user yet: invites them to the organization (team "
        "admins only, R7); they are a member from then on.",
    )
    role: SubscriptionRole = strawberry.field(
        default=models.SubscriptionRole.ADMIN, description="R20: ADMIN unless given."
    )
    first_name: str | None = None
    last_name: str | None = None


@strawberry.input
class UpdateSubscriptionMemberRoleInput:
    subscription_id: strawberry.ID
    user_id: strawberry.ID
    role: SubscriptionRole


@strawberry.input
class SubscriptionMemberInput:
    subscription_id: strawberry.ID
    user_id: strawberry.ID


@strawberry.input
class CardInput:
    number: str = strawberry.field(description="Kept only as brand and last four digits.")
    exp_month: int
    exp_year: int


@strawberry.input(description="Omitted fields keep their value; null clears one.")
class UpdateBillingDetailsInput:
    subscription_id: strawberry.ID
    contact_name: str | None = strawberry.UNSET
    contact_email: str | None = strawberry.UNSET
    company: str | None = strawberry.UNSET
    address_line1: str | None = strawberry.UNSET
    address_line2: str | None = strawberry.UNSET
    city: str | None = strawberry.UNSET
    postal_code: str | None = strawberry.UNSET
    country: str | None = strawberry.UNSET
    vat_id: str | None = strawberry.UNSET
    card: CardInput | None = strawberry.field(
        default=strawberry.UNSET, description="A new card on file; null removes it."
    )


@strawberry.input(description="Omitted fields keep their value.")
class UpdateNetworkSettingsInput:
    subscription_id: strawberry.ID
    allowed_ip_ranges: list[str] | None = strawberry.field(
        default=None, description="Replaces the list: CIDR ranges, IPv4 or IPv6."
    )
    private_link_enabled: bool | None = None
    private_link_service_name: str | None = strawberry.UNSET


@strawberry.input
class SetUsageNotificationInput:
    subscription_id: strawberry.ID
    metric: UsageMetric
    threshold_percent: int = strawberry.field(description="1 to 100 (% of the plan's limit).")


@strawberry.input
class RemoveUsageNotificationInput:
    notification_id: strawberry.ID


@strawberry.input
class CreateSubscriptionTokenInput:
    subscription_id: strawberry.ID
    name: str
    permission: TokenPermission
    expires_at: datetime | None = strawberry.field(default=None, description="null: never.")


@strawberry.input
class RevokeSubscriptionTokenInput:
    token_id: strawberry.ID


@strawberry.type
class SubscriptionMemberPayload:
    subscription: BillingSubscription | None
    user: User | None
    role: SubscriptionRole | None
    errors: list[UserError]


@strawberry.type
class RemoveSubscriptionMemberPayload:
    subscription: BillingSubscription | None
    removed_user_id: strawberry.ID | None
    errors: list[UserError]


@strawberry.type
class UpdateBillingDetailsPayload:
    subscription: BillingSubscription | None
    billing: BillingDetails | None
    errors: list[UserError]


@strawberry.type
class UpdateNetworkSettingsPayload:
    subscription: BillingSubscription | None
    network: NetworkSettings | None
    errors: list[UserError]


@strawberry.type
class SetUsageNotificationPayload:
    notification: UsageNotification | None
    errors: list[UserError]


@strawberry.type
class RemoveUsageNotificationPayload:
    removed_notification_id: strawberry.ID | None
    errors: list[UserError]


@strawberry.type
class CreateSubscriptionTokenPayload:
    token: Token | None
    secret: str | None = strawberry.field(
        description="The token's value. Shown only here, once: store it now (R13)."
    )
    errors: list[UserError]


@strawberry.input
class DeleteSubscriptionTokenInput:
    token_id: strawberry.ID


@strawberry.type
class DeleteSubscriptionTokenPayload:
    deleted_token_id: strawberry.ID | None
    errors: list[UserError]


@strawberry.type
class RevokeSubscriptionTokenPayload:
    token: Token | None
    errors: list[UserError]


# --- root fields -------------------------------------------------------------------------------


def _sub_id(raw: strawberry.ID) -> int:
    return decode_id(raw, TYPE_NAME, "subscriptionId")


def _user_id(raw: strawberry.ID) -> int:
    return decode_id(raw, "User", "userId")


def _unset(value: object) -> object:
    return subscription_settings.UNSET if value is strawberry.UNSET else value


@strawberry.type
class SubscriptionQueries:
    @strawberry.field(
        extensions=requires(Action.LIST_SUBSCRIPTIONS),
        description="The subscriptions you are a member of (all of them for team admins).",
    )
    async def subscriptions(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[BillingSubscription] | None:
        ctx = info.context
        page = await subscriptions.list_subscriptions(
            ctx.services,
            ctx.principal,
            PageArgs(first=first, after=after, last=last, before=before),
        )
        views = await ctx.loaders.subscription_by_id.load_many([r.id for r in page.rows if r.id])
        by_id = {v.row.id: v for v in views if v is not None}
        return Connection.of(page, lambda row: BillingSubscription.of(by_id[row.id], ctx))

    @strawberry.field(extensions=requires(Action.LIST_SUBSCRIPTIONS))
    async def subscription(self, info: Info, id: strawberry.ID) -> BillingSubscription | None:
        return await resolve_subscription(info.context, from_global_id(id, TYPE_NAME))


async def resolve_subscription(ctx: Context, pk: int | None) -> BillingSubscription | None:
    view = await ctx.loaders.subscription_by_id.load(pk) if pk else None
    if view is None or not ctx.can(Action.VIEW_SUBSCRIPTION, view.resource):
        return None
    return BillingSubscription.of(view, ctx)


@strawberry.type
class SubscriptionMutations:
    @strawberry.mutation(
        extensions=requires(Action.MANAGE_SUBSCRIPTION_MEMBERS, _named_in_input),
        description="R20: add a user (or invite a person) with a role, ADMIN by default.",
    )
    async def add_subscription_member(
        self, info: Info, input: AddSubscriptionMemberInput
    ) -> SubscriptionMemberPayload | None:
        ctx = info.context

        async def work() -> tuple[int, models.SubscriptionMember, models.User]:
            pk = _sub_id(input.subscription_id)
            data = subscriptions.AddMemberInput(
                subscription_id=pk,
                user_id=_user_id(input.user_id) if input.user_id is not None else None,
                email=input.email,
                role=input.role,
                first_name=input.first_name,
                last_name=input.last_name,
            )
            return pk, *await subscriptions.add_member(ctx.services, ctx.principal, data)

        return await _member_payload(ctx, work())

    @strawberry.mutation(
        extensions=requires(Action.MANAGE_SUBSCRIPTION_MEMBERS, _named_in_input),
        description="R20: ADMIN, FINANCE_MEMBER or TECHNICAL_MEMBER; never PRIMARY_ADMIN (R21).",
    )
    async def update_subscription_member_role(
        self, info: Info, input: UpdateSubscriptionMemberRoleInput
    ) -> SubscriptionMemberPayload | None:
        ctx = info.context

        async def work() -> tuple[int, models.SubscriptionMember, models.User]:
            pk = _sub_id(input.subscription_id)
            return pk, *await subscriptions.update_member_role(
                ctx.services, ctx.principal, pk, _user_id(input.user_id), input.role
            )

        return await _member_payload(ctx, work())

    @strawberry.mutation(extensions=requires(Action.MANAGE_SUBSCRIPTION_MEMBERS, _named_in_input))
    async def remove_subscription_member(
        self, info: Info, input: SubscriptionMemberInput
    ) -> RemoveSubscriptionMemberPayload | None:
        ctx = info.context

        async def work() -> tuple[int, int]:
            pk = _sub_id(input.subscription_id)
            return pk, await subscriptions.remove_member(
                ctx.services, ctx.principal, pk, _user_id(input.user_id)
            )

        result, errors = await attempt(work())
        if result is None:
            return RemoveSubscriptionMemberPayload(
                subscription=None, removed_user_id=None, errors=errors
            )
        pk, user_id = result
        return RemoveSubscriptionMemberPayload(
            subscription=await fresh(ctx, pk),
            removed_user_id=strawberry.ID(to_global_id("User", user_id)),
            errors=[],
        )

    @strawberry.mutation(
        extensions=requires(Action.MANAGE_SUBSCRIPTION_MEMBERS, _named_in_input),
        description="A new sign-up link for a member who has not signed up (R9); like every "
        "invitation, only team admins send it (R7).",
    )
    async def resend_subscription_invitation(
        self, info: Info, input: SubscriptionMemberInput
    ) -> SubscriptionMemberPayload | None:
        ctx = info.context

        async def work() -> tuple[int, models.SubscriptionMember, models.User]:
            pk = _sub_id(input.subscription_id)
            return pk, *await subscriptions.resend_member_invitation(
                ctx.services, ctx.principal, pk, _user_id(input.user_id)
            )

        return await _member_payload(ctx, work())

    @strawberry.mutation(extensions=requires(Action.UPDATE_BILLING, _named_in_input))
    async def update_billing_details(
        self, info: Info, input: UpdateBillingDetailsInput
    ) -> UpdateBillingDetailsPayload | None:
        ctx = info.context

        async def work() -> models.Subscription:
            card = input.card
            data = subscription_settings.BillingInput(
                contact_name=_unset(input.contact_name),
                contact_email=_unset(input.contact_email),
                company=_unset(input.company),
                address_line1=_unset(input.address_line1),
                address_line2=_unset(input.address_line2),
                city=_unset(input.city),
                postal_code=_unset(input.postal_code),
                country=_unset(input.country),
                vat_id=_unset(input.vat_id),
                card=subscription_settings.CardInput(card.number, card.exp_month, card.exp_year)
                if isinstance(card, CardInput)
                else _unset(card),
            )
            return await subscription_settings.update_billing(
                ctx.services, ctx.principal, _sub_id(input.subscription_id), data
            )

        row, errors = await attempt(work())
        if row is None:
            return UpdateBillingDetailsPayload(subscription=None, billing=None, errors=errors)
        assert row.id is not None
        return UpdateBillingDetailsPayload(
            subscription=await fresh(ctx, row.id), billing=BillingDetails.of(row), errors=[]
        )

    @strawberry.mutation(extensions=requires(Action.UPDATE_NETWORK, _named_in_input))
    async def update_network_settings(
        self, info: Info, input: UpdateNetworkSettingsInput
    ) -> UpdateNetworkSettingsPayload | None:
        ctx = info.context

        async def work() -> models.Subscription:
            data = subscription_settings.NetworkInput(
                allowed_ip_ranges=input.allowed_ip_ranges,
                private_link_enabled=input.private_link_enabled,
                private_link_service_name=_unset(input.private_link_service_name),
            )
            return await subscription_settings.update_network(
                ctx.services, ctx.principal, _sub_id(input.subscription_id), data
            )

        row, errors = await attempt(work())
        if row is None:
            return UpdateNetworkSettingsPayload(subscription=None, network=None, errors=errors)
        assert row.id is not None
        return UpdateNetworkSettingsPayload(
            subscription=await fresh(ctx, row.id), network=NetworkSettings.of(row), errors=[]
        )

    @strawberry.mutation(
        extensions=requires(Action.MANAGE_USAGE_NOTIFICATIONS, _named_in_input),
        description="Any member: be emailed when usage reaches a share of the limit.",
    )
    async def set_usage_notification(
        self, info: Info, input: SetUsageNotificationInput
    ) -> SetUsageNotificationPayload | None:
        ctx = info.context

        async def work() -> UsageNotification:
            pk = _sub_id(input.subscription_id)
            row = await subscription_settings.set_usage_notification(
                ctx.services, ctx.principal, pk, input.metric, input.threshold_percent
            )
            views = await subscriptions.load_views(ctx.services, ctx.principal, [pk])
            return UsageNotification.of(row, views[pk].row)

        notification, errors = await attempt(work())
        return SetUsageNotificationPayload(notification=notification, errors=errors)

    @strawberry.mutation(
        extensions=requires(Action.MANAGE_USAGE_NOTIFICATIONS, _notification_in_input)
    )
    async def remove_usage_notification(
        self, info: Info, input: RemoveUsageNotificationInput
    ) -> RemoveUsageNotificationPayload | None:
        ctx = info.context
        removed, errors = await attempt_removal(
            "UsageNotification",
            input.notification_id,
            "notificationId",
            lambda pk: subscription_settings.remove_usage_notification(
                ctx.services, ctx.principal, pk
            ),
        )
        return RemoveUsageNotificationPayload(removed_notification_id=removed, errors=errors)

    @strawberry.mutation(
        extensions=requires(Action.MANAGE_SUBSCRIPTION_TOKENS, _named_in_input),
        description="R22: PRIMARY_ADMIN only. The token reaches this subscription and nothing "
        "else, acting as its creator's current role here, capped by its permission.",
    )
    async def create_subscription_token(
        self, info: Info, input: CreateSubscriptionTokenInput
    ) -> CreateSubscriptionTokenPayload | None:
        ctx = info.context

        async def work() -> tuple[int, models.AccessToken, str]:
            pk = _sub_id(input.subscription_id)
            data = CreateTokenInput(input.name, input.permission, input.expires_at)
            return pk, *await subscription_settings.create_token(
                ctx.services, ctx.principal, pk, data
            )

        result, errors = await attempt(work())
        if result is None:
            return CreateSubscriptionTokenPayload(token=None, secret=None, errors=errors)
        pk, row, secret = result
        resource = await _resource_of(info, pk)
        assert isinstance(resource, SubscriptionResource)
        return CreateSubscriptionTokenPayload(
            token=Token.of(row, ctx, resource), secret=secret, errors=[]
        )

    @strawberry.mutation(
        extensions=requires(Action.MANAGE_SUBSCRIPTION_TOKENS, _token_in_input),
        description="R15 for a subscription's token: immediate and final.",
    )
    async def revoke_subscription_token(
        self, info: Info, input: RevokeSubscriptionTokenInput
    ) -> RevokeSubscriptionTokenPayload | None:
        ctx = info.context

        async def work() -> models.AccessToken:
            pk = decode_id(input.token_id, "Token", "tokenId")
            return await subscription_settings.revoke_token(ctx.services, ctx.principal, pk)

        row, errors = await attempt(work())
        if row is None:
            return RevokeSubscriptionTokenPayload(token=None, errors=errors)
        resource = await _resource_of(info, row.subscription_id)
        assert isinstance(resource, SubscriptionResource)
        return RevokeSubscriptionTokenPayload(token=Token.of(row, ctx, resource), errors=[])

    @strawberry.mutation(
        extensions=requires(Action.MANAGE_SUBSCRIPTION_TOKENS, _token_in_input),
        description="R16 for a subscription's token: only EXPIRED or REVOKED ones.",
    )
    async def delete_subscription_token(
        self, info: Info, input: DeleteSubscriptionTokenInput
    ) -> DeleteSubscriptionTokenPayload | None:
        ctx = info.context
        removed, errors = await attempt_removal(
            "Token",
            input.token_id,
            "tokenId",
            lambda pk: subscription_settings.delete_token(ctx.services, ctx.principal, pk),
        )
        return DeleteSubscriptionTokenPayload(deleted_token_id=removed, errors=errors)


async def _member_payload(ctx: Context, work: Any) -> SubscriptionMemberPayload:
    result, errors = await attempt(work)
    if result is None:
        return SubscriptionMemberPayload(subscription=None, user=None, role=None, errors=errors)
    pk, member, user = result
    return SubscriptionMemberPayload(
        subscription=await fresh(ctx, pk), user=User.of(user, ctx), role=member.role, errors=[]
    )
