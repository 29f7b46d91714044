"""Devices (R31, R32): types, inputs, payloads, root fields.

Each guarded field declares the one device permission it checks with `@requires`, decided on
the device (its project and environment) or on the project the input names; a device or
project the caller may not see answers NOT_FOUND (a query: null), as if it did not exist.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from typing import Any

import strawberry

from accessgraph import models
from accessgraph.auth.directives import requires
from accessgraph.auth.policy import Action, Resource
from accessgraph.errors import ExposedError
from accessgraph.resolvers import devices
from accessgraph.resolvers.pagination import BAD_USER_INPUT, PageArgs
from accessgraph.schema.base import (
    Connection,
    Node,
    UserError,
    from_global_id,
    to_global_id,
)
from accessgraph.schema.context import Context
from accessgraph.schema.enums import DeviceEventKind, Environment
from accessgraph.schema.helpers import attempt, attempt_removal, decode_id
from accessgraph.schema.projects import Project
from accessgraph.schema.users import User, load_user

Info = strawberry.Info[Context, None]


# --- where each check is decided ----------------------------------------------------------------


async def project_in_input(source: Any, info: Info, kwargs: dict[str, Any]) -> Resource | None:
    """The project `input.projectKey` names (in `input.environment` when it has one: a device
    being registered; else in any environment: the project's device groups)."""
    ctx, data = info.context, kwargs["input"]
    environment = getattr(data, "environment", None)
    return await devices.locate_in_project(
        ctx.services, ctx.principal, data.project_key, environment
    )


async def device_in_input(source: Any, info: Info, kwargs: dict[str, Any]) -> Resource | None:
    ctx = info.context
    pk = from_global_id(kwargs["input"].device_id, "Device")
    return None if pk is None else await devices.locate_device(ctx.services, ctx.principal, pk)


async def _group_in_input(source: Any, info: Info, kwargs: dict[str, Any]) -> Resource | None:
    ctx = info.context
    pk = from_global_id(kwargs["input"].group_id, "DeviceGroup")
    return None if pk is None else await devices.locate_group(ctx.services, ctx.principal, pk)


async def _this_device(source: Device, info: Info, kwargs: dict[str, Any]) -> Resource | None:
    return await source.resource(info)


# --- types --------------------------------------------------------------------------------------


@strawberry.type(description="A group of a project's devices (R31).")
class DeviceGroup(Node):
    name: str
    description: str | None
    created_at: datetime
    updated_at: datetime
    _model: strawberry.Private[models.DeviceGroup]

    @classmethod
    def of(cls, row: models.DeviceGroup) -> DeviceGroup:
        assert row.id is not None
        return cls(
            id=strawberry.ID(to_global_id("DeviceGroup", row.id)),
            name=row.name,
            description=row.description,
            created_at=row.created_at,
            updated_at=row.updated_at,
            _model=row,
        )

    @strawberry.field
    async def project(self, info: Info) -> Project | None:
        row = await info.context.loaders.project_by_id.load(self._model.project_id)
        return Project.of(row) if row is not None else None


@strawberry.type(description="One line of a device's log: who did what to it, and when.")
class DeviceLogEntry:
    kind: DeviceEventKind
    message: str
    created_at: datetime
    _actor_id: strawberry.Private[int | None]

    @classmethod
    def of(cls, row: models.DeviceEvent) -> DeviceLogEntry:
        return cls(
            kind=row.kind, message=row.message, created_at=row.created_at, _actor_id=row.actor_id
        )

    @strawberry.field(description="Who did it (null once that user is gone).")
    async def actor(self, info: Info) -> User | None:
        return await load_user(info.context, self._actor_id)


@strawberry.type(description="A device of a project (R31), in DEV or PROD.")
class Device(Node):
    name: str
    description: str | None
    location: str | None
    environment: Environment = strawberry.field(
        description="Which project roles reach it: a role's device permissions hold only in "
        "the role's environments."
    )
    registered_at: datetime
    updated_at: datetime
    _model: strawberry.Private[models.Device]
    _project: strawberry.Private[models.Project]

    @classmethod
    def of(cls, row: models.Device, project: models.Project) -> Device:
        assert row.id is not None
        return cls(
            id=strawberry.ID(to_global_id("Device", row.id)),
            name=row.name,
            description=row.description,
            location=row.location,
            environment=row.environment,
            registered_at=row.registered_at,
            updated_at=row.updated_at,
            _model=row,
            _project=project,
        )

    async def resource(self, info: Info) -> Resource:
        index = await info.context.loaders.access_index.load(self._project.org_id)
        return devices.device_resource(
            index, self._project, self._model.environment, self._model.name
        )

    async def _can(self, info: Info, action: Action) -> bool:
        return info.context.can(action, await self.resource(info))

    @strawberry.field
    def project(self) -> Project:
        return Project.of(self._project)

    @strawberry.field
    async def group(self, info: Info) -> DeviceGroup | None:
        if self._model.group_id is None:
            return None
        row = await info.context.loaders.device_group_by_id.load(self._model.group_id)
        return DeviceGroup.of(row) if row is not None else None

    @strawberry.field(description="Who registered it (null once that user is gone).")
    async def registered_by(self, info: Info) -> User | None:
        return await load_user(info.context, self._model.registered_by_id)

    @strawberry.field(
        extensions=requires(Action.VIEW_DEVICE_LOGS, _this_device),
        description="The device's log, newest first (R32: device logs access).",
    )
    async def logs(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[DeviceLogEntry] | None:
        assert self._model.id is not None
        page = await info.context.loaders.device_events.page(
            self._model.id, PageArgs(first=first, after=after, last=last, before=before)
        )
        return Connection.of(page, DeviceLogEntry.of)

    @strawberry.field(description="Whether you may edit or delete it (MODIFY_DEVICES).")
    async def viewer_can_modify(self, info: Info) -> bool:
        return await self._can(info, Action.MODIFY_DEVICES)

    @strawberry.field(description="Whether you may open a remote session (REMOTE_CONTROL).")
    async def viewer_can_remote_control(self, info: Info) -> bool:
        return await self._can(info, Action.REMOTE_CONTROL)

    @strawberry.field(description="Whether you may read its log (VIEW_DEVICE_LOGS).")
    async def viewer_can_view_logs(self, info: Info) -> bool:
        return await self._can(info, Action.VIEW_DEVICE_LOGS)


async def device_of(info: Info, row: models.Device | None) -> Device | None:
    """The API object for a device row, with its project (batched)."""
    if row is None:
        return None
    project = await info.context.loaders.project_by_id.load(row.project_id)
    return Device.of(row, project) if project is not None else None


# --- inputs and payloads ------------------------------------------------------------------------


@strawberry.input
class DeviceFilter:
    group_id: strawberry.ID | None = None
    search: str | None = strawberry.field(
        default=None, description="Part of the name, case-insensitive."
    )


@strawberry.input
class CreateDeviceGroupInput:
    project_key: str
    name: str
    description: str | None = None


@strawberry.input(description="Omitted fields keep their value.")
class UpdateDeviceGroupInput:
    group_id: strawberry.ID
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET


@strawberry.input
class DeleteDeviceGroupInput:
    group_id: strawberry.ID


@strawberry.type
class DeviceGroupPayload:
    group: DeviceGroup | None
    errors: list[UserError]


@strawberry.type
class DeleteDeviceGroupPayload:
    deleted_group_id: strawberry.ID | None
    errors: list[UserError]


@strawberry.input
class RegisterDeviceInput:
    project_key: str
    name: str
    group_id: strawberry.ID | None = None
    description: str | None = None
    location: str | None = None
    environment: Environment = strawberry.field(
        default=models.Environment.DEV, description="Default: DEV."
    )


@strawberry.input(description="Omitted fields keep their value; null clears.")
class UpdateDeviceInput:
    device_id: strawberry.ID
    name: str | None = strawberry.UNSET
    group_id: strawberry.ID | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    location: str | None = strawberry.UNSET


@strawberry.input
class DeleteDeviceInput:
    device_id: strawberry.ID


@strawberry.input
class StartRemoteSessionInput:
    device_id: strawberry.ID
    reason: str | None = strawberry.field(default=None, description="Recorded in the log.")


@strawberry.type
class RegisterDevicePayload:
    device: Device | None
    errors: list[UserError]


@strawberry.type
class UpdateDevicePayload:
    device: Device | None
    errors: list[UserError]


@strawberry.type
class DeleteDevicePayload:
    deleted_device_id: strawberry.ID | None
    errors: list[UserError]


@strawberry.type
class StartRemoteSessionPayload:
    device: Device | None
    log_entry: DeviceLogEntry | None
    errors: list[UserError]


def _given(data: object, names: dict[str, str]) -> frozenset[str]:
    """The use-case field names of the API fields an update input sets (not UNSET)."""
    return frozenset(
        name for api, name in names.items() if getattr(data, api) is not strawberry.UNSET
    )


def _value(value: Any) -> Any:
    return None if value is strawberry.UNSET else value


def _group_id(raw: strawberry.ID | None) -> int | None:
    return None if raw is None else decode_id(raw, "DeviceGroup", "groupId")


# --- root fields --------------------------------------------------------------------------------


@strawberry.type
class DeviceQueries:
    @strawberry.field(
        extensions=requires(Action.LIST_PROJECTS),
        description="A project's devices (R31), if you may see the project; else null.",
    )
    async def devices(
        self,
        info: Info,
        project_key: str,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: DeviceFilter | None = None,
    ) -> Connection[Device] | None:
        ctx = info.context
        args = PageArgs(first=first, after=after, last=last, before=before)
        project = await devices.visible_project(ctx.services, ctx.principal, project_key)
        if project is None or project.id is None:
            return None
        group_id = None
        if filter is not None and filter.group_id is not None:
            group_id = from_global_id(filter.group_id, "DeviceGroup")
            if group_id is None:
                raise ExposedError("`filter.groupId` is not a device group's ID.", BAD_USER_INPUT)
        search = filter.search if filter is not None else None
        page = await devices.list_devices(
            ctx.services, project.id, devices.DeviceFilter(group_id, search), args
        )
        ctx.loaders.project_by_id.prime(project.id, project)
        return Connection.of(page, lambda row: Device.of(row, project))

    @strawberry.field(
        extensions=requires(Action.LIST_PROJECTS),
        description="A project's device groups by name, if you may see the project; else null.",
    )
    async def device_groups(self, info: Info, project_key: str) -> list[DeviceGroup] | None:
        ctx = info.context
        project = await devices.visible_project(ctx.services, ctx.principal, project_key)
        if project is None or project.id is None:
            return None
        rows = await ctx.loaders.device_groups_of_project.load(project.id)
        return [DeviceGroup.of(row) for row in rows]


@strawberry.type
class DeviceMutations:
    @strawberry.mutation(
        extensions=requires(Action.MANAGE_DEVICE_GROUPS, project_in_input),
        description="R32: create and modify groups.",
    )
    async def create_device_group(
        self, info: Info, input: CreateDeviceGroupInput
    ) -> DeviceGroupPayload | None:
        ctx = info.context
        row, errors = await attempt(
            devices.create_device_group(
                ctx.services, ctx.principal, input.project_key, input.name, input.description
            )
        )
        return DeviceGroupPayload(group=DeviceGroup.of(row) if row else None, errors=errors)

    @strawberry.mutation(
        extensions=requires(Action.MANAGE_DEVICE_GROUPS, _group_in_input),
        description="R32: create and modify groups.",
    )
    async def update_device_group(
        self, info: Info, input: UpdateDeviceGroupInput
    ) -> DeviceGroupPayload | None:
        ctx = info.context

        async def work() -> models.DeviceGroup:
            pk = decode_id(input.group_id, "DeviceGroup", "groupId")
            data = devices.DeviceGroupInput(
                name=_value(input.name),
                description=_value(input.description),
                given=_given(input, {"name": "name", "description": "description"}),
            )
            return await devices.update_device_group(ctx.services, ctx.principal, pk, data)

        row, errors = await attempt(work())
        return DeviceGroupPayload(group=DeviceGroup.of(row) if row else None, errors=errors)

    @strawberry.mutation(
        extensions=requires(Action.MANAGE_DEVICE_GROUPS, _group_in_input),
        description="R32: only an empty group (GROUP_NOT_EMPTY otherwise).",
    )
    async def delete_device_group(
        self, info: Info, input: DeleteDeviceGroupInput
    ) -> DeleteDeviceGroupPayload | None:
        ctx = info.context
        removed, errors = await attempt_removal(
            "DeviceGroup",
            input.group_id,
            "groupId",
            lambda pk: devices.delete_device_group(ctx.services, ctx.principal, pk),
        )
        return DeleteDeviceGroupPayload(deleted_group_id=removed, errors=errors)

    @strawberry.mutation(
        extensions=requires(Action.REGISTER_DEVICES, project_in_input),
        description="R32: register new devices, in the environment given (default DEV).",
    )
    async def register_device(
        self, info: Info, input: RegisterDeviceInput
    ) -> RegisterDevicePayload | None:
        ctx = info.context

        async def work() -> models.Device:
            data = devices.DeviceInput(
                name=input.name,
                group_id=_group_id(input.group_id),
                description=input.description,
                location=input.location,
            )
            return await devices.register_device(
                ctx.services, ctx.principal, input.project_key, input.environment, data
            )

        row, errors = await attempt(work())
        return RegisterDevicePayload(device=await device_of(info, row), errors=errors)

    @strawberry.mutation(
        extensions=requires(Action.MODIFY_DEVICES, device_in_input),
        description="R32: name, group, description, location.",
    )
    async def update_device(
        self, info: Info, input: UpdateDeviceInput
    ) -> UpdateDevicePayload | None:
        ctx = info.context

        async def work() -> models.Device:
            pk = decode_id(input.device_id, "Device", "deviceId")
            group = _value(input.group_id)
            data = devices.DeviceInput(
                name=_value(input.name),
                group_id=_group_id(group),
                description=_value(input.description),
                location=_value(input.location),
                given=_given(
                    input,
                    {
                        "name": "name",
                        "group_id": "group_id",
                        "description": "description",
                        "location": "location",
                    },
                ),
            )
            return await devices.update_device(ctx.services, ctx.principal, pk, data)

        row, errors = await attempt(work())
        return UpdateDevicePayload(device=await device_of(info, row), errors=errors)

    @strawberry.mutation(
        extensions=requires(Action.MODIFY_DEVICES, device_in_input),
        description="R32: the device and its log; the audit log keeps the record.",
    )
    async def delete_device(
        self, info: Info, input: DeleteDeviceInput
    ) -> DeleteDevicePayload | None:
        ctx = info.context
        removed, errors = await attempt_removal(
            "Device",
            input.device_id,
            "deviceId",
            lambda pk: devices.delete_device(ctx.services, ctx.principal, pk),
        )
        return DeleteDevicePayload(deleted_device_id=removed, errors=errors)

    @strawberry.mutation(
        extensions=requires(Action.REMOTE_CONTROL, device_in_input),
        description="R32: open a remote-control session; recorded in the device's log.",
    )
    async def start_remote_session(
        self, info: Info, input: StartRemoteSessionInput
    ) -> StartRemoteSessionPayload | None:
        ctx = info.context

        async def work() -> models.DeviceEvent:
            pk = decode_id(input.device_id, "Device", "deviceId")
            return await devices.start_remote_session(ctx.services, ctx.principal, pk, input.reason)

        device, entry, errors = await device_action_result(info, work())
        return StartRemoteSessionPayload(device=device, log_entry=entry, errors=errors)


async def device_action_result(
    info: Info, work: Awaitable[models.DeviceEvent]
) -> tuple[Device | None, DeviceLogEntry | None, list[UserError]]:
    """Run an operation on a device that its log records: (the device, the log line, errors)."""
    ctx = info.context
    event, errors = await attempt(work)
    if event is None:
        return None, None, errors
    found = await devices.visible_in_project(
        ctx.services, ctx.principal, models.Device, event.device_id
    )
    device = Device.of(*found) if found is not None else None
    return device, DeviceLogEntry.of(event), []
