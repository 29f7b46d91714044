"""`node(id:)`: any object by global ID, if the viewer may see it; otherwise null (R1)."""

from __future__ import annotations

from typing import TypeVar

import strawberry
from sqlmodel import SQLModel

from accessgraph import models
from accessgraph.auth.policy import Action
from accessgraph.resolvers.devices import visible_in_project
from accessgraph.resolvers.projects import can_on_project
from accessgraph.resolvers.targets import visible_target_ids
from accessgraph.schema.access import Group, RegisteredResource, build_targets
from accessgraph.schema.audit import AuditEvent
from accessgraph.schema.base import Node, parse_global_id
from accessgraph.schema.context import Context
from accessgraph.schema.device_settings import DeviceCommand, DeviceUpdate
from accessgraph.schema.devices import Device, DeviceGroup
from accessgraph.schema.organization import Organization
from accessgraph.schema.projects import Project
from accessgraph.schema.subscriptions import TYPE_NAME as SUBSCRIPTION
from accessgraph.schema.subscriptions import resolve_subscription
from accessgraph.schema.tokens import Token
from accessgraph.schema.users import User

Info = strawberry.Info[Context, None]
M = TypeVar("M", bound=SQLModel)


async def resolve_node(info: Info, global_id: str) -> Node | None:
    ctx = info.context
    parsed = parse_global_id(global_id)
    if parsed is None or not ctx.principal.is_authenticated:
        return None
    type_name, pk = parsed
    if type_name == "User":
        user = await ctx.loaders.user_by_id.load(pk)
        if user is None or user.deleted_at is not None or not ctx.can(Action.VIEW_USERS, user):
            return None
        return User.of(user, ctx)
    if type_name == "Organization":
        return (
            Organization.of(org)
            if pk == ctx.principal.org_id
            and ctx.can(Action.VIEW_ORGANIZATION)
            and (org := await _get(ctx, models.Organization, pk))
            else None
        )
    if type_name == SUBSCRIPTION:
        return await resolve_subscription(ctx, pk)
    if type_name == "Token":
        token = await _get(ctx, models.AccessToken, pk)
        if token is None:
            return None
        if token.subscription_id is None:
            return Token.of(token, ctx) if ctx.can(Action.VIEW_TOKENS, token) else None
        # A subscription's token: for those who may see that subscription's tokens (R22).
        view = await ctx.loaders.subscription_by_id.load(token.subscription_id)
        if view is None or not ctx.can(Action.VIEW_SUBSCRIPTION_TOKENS, view.resource):
            return None
        return Token.of(token, ctx, view.resource)
    if type_name == "Group":
        group = await ctx.loaders.group_by_id.load(pk)
        return Group.of(group) if group is not None and ctx.can(Action.VIEW_GROUPS) else None
    if type_name == "PermissionTarget":
        target = await _get(ctx, models.PermissionTarget, pk)
        if target is None or target.org_id != ctx.principal.org_id:
            return None
        visible = await visible_target_ids(ctx.services, ctx.principal)
        if visible is not None and pk not in visible:
            return None
        [built] = await build_targets(ctx, [target])
        return built
    if type_name == "RegisteredResource":
        resource = await _get(ctx, models.Resource, pk)
        if resource is None or not ctx.can(Action.VIEW_RESOURCES, resource):
            return None
        return RegisteredResource.of(resource)
    if type_name == "Project":
        project = await _get(ctx, models.Project, pk)
        if project is None or not await can_on_project(
            ctx.services, ctx.principal, Action.VIEW_PROJECT, project
        ):
            return None
        return Project.of(project)
    if type_name == "Device":
        found = await visible_in_project(ctx.services, ctx.principal, models.Device, pk)
        return Device.of(*found) if found is not None else None
    if type_name == "DeviceGroup":
        seen = await visible_in_project(ctx.services, ctx.principal, models.DeviceGroup, pk)
        return DeviceGroup.of(seen[0]) if seen is not None else None
    if type_name == "DeviceUpdate":
        update = await visible_in_project(ctx.services, ctx.principal, models.DeviceUpdate, pk)
        return DeviceUpdate.of(update[0]) if update is not None else None
    if type_name == "DeviceCommand":
        command = await visible_in_project(ctx.services, ctx.principal, models.DeviceCommand, pk)
        return DeviceCommand.of(command[0]) if command is not None else None
    if type_name == "AuditEvent":
        event = await _get(ctx, models.AuditEvent, pk)
        return AuditEvent.of(event) if event and ctx.can(Action.VIEW_AUDIT_EVENTS, event) else None
    return None


async def _get(ctx: Context, table: type[M], pk: int) -> M | None:
    async with ctx.services.db.session() as session:
        return await session.get(table, pk)
