"""A project's device tooling (R32): OTA updates, Control Center commands, monitors, alerts and
engine settings. Each mutation declares the one device permission it checks."""

from __future__ import annotations

from datetime import datetime

import strawberry

from accessgraph import models
from accessgraph.auth.directives import requires
from accessgraph.auth.policy import Action
from accessgraph.resolvers import device_settings, devices
from accessgraph.schema.base import Node, UserError, to_global_id
from accessgraph.schema.context import Context
from accessgraph.schema.devices import (
    Device,
    DeviceLogEntry,
    device_action_result,
    device_in_input,
    project_in_input,
)
from accessgraph.schema.helpers import attempt, decode_id
from accessgraph.schema.users import User, load_user

Info = strawberry.Info[Context, None]

strawberry.enum(models.MonitorKind, description="DATA (a parameter) or PROCESS (a binary).")
strawberry.enum(models.DeviceAlert, description="A project alert a user may choose to receive.")


@strawberry.type(description="An OTA update of a project (R32: create updates).")
class DeviceUpdate(Node):
    name: str
    version: str
    description: str | None
    created_at: datetime
    _created_by_id: strawberry.Private[int | None]

    @classmethod
    def of(cls, row: models.DeviceUpdate) -> DeviceUpdate:
        assert row.id is not None
        return cls(
            id=strawberry.ID(to_global_id("DeviceUpdate", row.id)),
            name=row.name,
            version=row.version,
            description=row.description,
            created_at=row.created_at,
            _created_by_id=row.created_by_id,
        )

    @strawberry.field
    async def created_by(self, info: Info) -> User | None:
        return await load_user(info.context, self._created_by_id)


@strawberry.type(description="A Control Center command of a project (R32).")
class DeviceCommand(Node):
    name: str
    script: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: models.DeviceCommand) -> DeviceCommand:
        assert row.id is not None
        return cls(
            id=strawberry.ID(to_global_id("DeviceCommand", row.id)),
            name=row.name,
            script=row.script,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@strawberry.type(description="A Data Monitor parameter or a Process Monitor binary (R32).")
class DeviceMonitor:
    kind: models.MonitorKind
    name: str
    target: str = strawberry.field(description="The parameter, or the binary's path.")
    alert_threshold: float | None
    updated_at: datetime

    @classmethod
    def of(cls, row: models.DeviceMonitor) -> DeviceMonitor:
        return cls(
            kind=row.kind,
            name=row.name,
            target=row.target,
            alert_threshold=row.alert_threshold,
            updated_at=row.updated_at,
        )


@strawberry.type(description="The device engine switches of a project (R32).")
class EngineSettings:
    resource_monitor: bool
    application_logs: bool

    @classmethod
    def of(cls, settings: device_settings.EngineSettings) -> EngineSettings:
        return cls(
            resource_monitor=settings.resource_monitor,
            application_logs=settings.application_logs,
        )


@strawberry.type(description="A project's device tooling, for whoever sees the project.")
class ProjectDeviceSettings:
    updates: list[DeviceUpdate] = strawberry.field(description="Newest first.")
    commands: list[DeviceCommand]
    data_monitors: list[DeviceMonitor]
    process_monitors: list[DeviceMonitor]
    engine_settings: EngineSettings
    _project_id: strawberry.Private[int]

    @strawberry.field(description="The alerts you receive from this project.")
    async def viewer_alerts(self, info: Info) -> list[models.DeviceAlert]:
        ctx = info.context
        return await device_settings.alerts_of(
            ctx.services, self._project_id, ctx.principal.user_id
        )


# --- inputs and payloads ------------------------------------------------------------------------


@strawberry.input
class CreateDeviceUpdateInput:
    project_key: str
    name: str
    version: str
    description: str | None = None


@strawberry.type
class CreateDeviceUpdatePayload:
    update: DeviceUpdate | None
    errors: list[UserError]


@strawberry.input
class DeployDeviceUpdateInput:
    device_id: strawberry.ID
    update_id: strawberry.ID


@strawberry.type
class DeployDeviceUpdatePayload:
    device: Device | None
    log_entry: DeviceLogEntry | None
    errors: list[UserError]


@strawberry.input(description="Creates the command of that name, or changes its script.")
class SaveDeviceCommandInput:
    project_key: str
    name: str
    script: str


@strawberry.type
class SaveDeviceCommandPayload:
    command: DeviceCommand | None
    errors: list[UserError]


@strawberry.input
class RunDeviceCommandInput:
    device_id: strawberry.ID
    command_id: strawberry.ID


@strawberry.type
class RunDeviceCommandPayload:
    device: Device | None
    log_entry: DeviceLogEntry | None
    errors: list[UserError]


@strawberry.input(description="Creates the Data Monitor parameter of that name, or changes it.")
class SaveDataMonitorInput:
    project_key: str
    name: str
    parameter: str
    alert_threshold: float | None = None


@strawberry.input(description="Creates the Process Monitor binary of that name, or changes it.")
class SaveProcessMonitorInput:
    project_key: str
    name: str
    binary: str
    alert_threshold: float | None = None


@strawberry.type
class SaveDeviceMonitorPayload:
    monitor: DeviceMonitor | None
    errors: list[UserError]


@strawberry.input(description="The alerts you want from this project (replaces your choice).")
class SetDeviceAlertsInput:
    project_key: str
    alerts: list[models.DeviceAlert]


@strawberry.type
class SetDeviceAlertsPayload:
    alerts: list[models.DeviceAlert] | None
    errors: list[UserError]


@strawberry.input
class UpdateEngineSettingsInput:
    project_key: str
    resource_monitor: bool
    application_logs: bool


@strawberry.type
class UpdateEngineSettingsPayload:
    engine_settings: EngineSettings | None
    errors: list[UserError]


async def _save_monitor(
    info: Info, key: str, kind: models.MonitorKind, data: device_settings.MonitorInput
) -> SaveDeviceMonitorPayload:
    ctx = info.context
    row, errors = await attempt(
        device_settings.save_monitor(ctx.services, ctx.principal, key, kind, data)
    )
    return SaveDeviceMonitorPayload(monitor=DeviceMonitor.of(row) if row else None, errors=errors)


# --- root fields --------------------------------------------------------------------------------


@strawberry.type
class DeviceSettingsQueries:
    @strawberry.field(
        extensions=requires(Action.LIST_PROJECTS),
        description="A project's OTA updates, commands, monitors and engine settings, if you "
        "may see the project; else null.",
    )
    async def device_settings(self, info: Info, project_key: str) -> ProjectDeviceSettings | None:
        ctx = info.context
        project = await devices.visible_project(ctx.services, ctx.principal, project_key)
        if project is None or project.id is None:
            return None
        tooling = await device_settings.tooling_of(ctx.services, project.id)
        monitors = [DeviceMonitor.of(row) for row in tooling.monitors]
        return ProjectDeviceSettings(
            updates=[DeviceUpdate.of(row) for row in tooling.updates],
            commands=[DeviceCommand.of(row) for row in tooling.commands],
            data_monitors=[m for m in monitors if m.kind == models.MonitorKind.DATA],
            process_monitors=[m for m in monitors if m.kind == models.MonitorKind.PROCESS],
            engine_settings=EngineSettings.of(tooling.engine),
            _project_id=project.id,
        )


@strawberry.type
class DeviceSettingsMutations:
    @strawberry.mutation(
        extensions=requires(Action.CREATE_UPDATES, project_in_input),
        description="R32: create OTA updates.",
    )
    async def create_device_update(
        self, info: Info, input: CreateDeviceUpdateInput
    ) -> CreateDeviceUpdatePayload | None:
        ctx = info.context
        row, errors = await attempt(
            device_settings.create_update(
                ctx.services,
                ctx.principal,
                input.project_key,
                input.name,
                input.version,
                input.description,
            )
        )
        return CreateDeviceUpdatePayload(
            update=DeviceUpdate.of(row) if row else None, errors=errors
        )

    @strawberry.mutation(
        extensions=requires(Action.DEPLOY_UPDATES, device_in_input),
        description="R32: deploy an existing update on a device; recorded in its log.",
    )
    async def deploy_device_update(
        self, info: Info, input: DeployDeviceUpdateInput
    ) -> DeployDeviceUpdatePayload | None:
        ctx = info.context

        async def work() -> models.DeviceEvent:
            device = decode_id(input.device_id, "Device", "deviceId")
            update = decode_id(input.update_id, "DeviceUpdate", "updateId")
            return await device_settings.deploy_update(ctx.services, ctx.principal, device, update)

        device, entry, errors = await device_action_result(info, work())
        return DeployDeviceUpdatePayload(device=device, log_entry=entry, errors=errors)

    @strawberry.mutation(
        extensions=requires(Action.MANAGE_COMMANDS, project_in_input),
        description="R32: create and modify Control Center commands.",
    )
    async def save_device_command(
        self, info: Info, input: SaveDeviceCommandInput
    ) -> SaveDeviceCommandPayload | None:
        ctx = info.context
        row, errors = await attempt(
            device_settings.save_command(
                ctx.services, ctx.principal, input.project_key, input.name, input.script
            )
        )
        return SaveDeviceCommandPayload(
            command=DeviceCommand.of(row) if row else None, errors=errors
        )

    @strawberry.mutation(
        extensions=requires(Action.RUN_COMMANDS, device_in_input),
        description="R32: run a Control Center command on a device; recorded in its log.",
    )
    async def run_device_command(
        self, info: Info, input: RunDeviceCommandInput
    ) -> RunDeviceCommandPayload | None:
        ctx = info.context

        async def work() -> models.DeviceEvent:
            device = decode_id(input.device_id, "Device", "deviceId")
            command = decode_id(input.command_id, "DeviceCommand", "commandId")
            return await device_settings.run_command(ctx.services, ctx.principal, device, command)

        device, entry, errors = await device_action_result(info, work())
        return RunDeviceCommandPayload(device=device, log_entry=entry, errors=errors)

    @strawberry.mutation(
        extensions=requires(Action.MANAGE_DATA_MONITOR, project_in_input),
        description="R32: create and modify Data Monitor parameters and alerts.",
    )
    async def save_data_monitor(
        self, info: Info, input: SaveDataMonitorInput
    ) -> SaveDeviceMonitorPayload | None:
        data = device_settings.MonitorInput(input.name, input.parameter, input.alert_threshold)
        return await _save_monitor(info, input.project_key, models.MonitorKind.DATA, data)

    @strawberry.mutation(
        extensions=requires(Action.MANAGE_PROCESS_MONITOR, project_in_input),
        description="R32: create and modify Process Monitor binaries and alerts.",
    )
    async def save_process_monitor(
        self, info: Info, input: SaveProcessMonitorInput
    ) -> SaveDeviceMonitorPayload | None:
        data = device_settings.MonitorInput(input.name, input.binary, input.alert_threshold)
        return await _save_monitor(info, input.project_key, models.MonitorKind.PROCESS, data)

    @strawberry.mutation(
        extensions=requires(Action.MANAGE_ALERTS, project_in_input),
        description="R32: choose which of the project's alerts you receive.",
    )
    async def set_device_alerts(
        self, info: Info, input: SetDeviceAlertsInput
    ) -> SetDeviceAlertsPayload | None:
        ctx = info.context
        chosen, errors = await attempt(
            device_settings.set_alerts(ctx.services, ctx.principal, input.project_key, input.alerts)
        )
        return SetDeviceAlertsPayload(alerts=chosen, errors=errors)

    @strawberry.mutation(
        extensions=requires(Action.MODIFY_ENGINE_SETTINGS, project_in_input),
        description="R32: switch the Resource Monitor and the Application logs on or off.",
    )
    async def update_engine_settings(
        self, info: Info, input: UpdateEngineSettingsInput
    ) -> UpdateEngineSettingsPayload | None:
        ctx = info.context
        settings = device_settings.EngineSettings(input.resource_monitor, input.application_logs)
        saved, errors = await attempt(
            device_settings.update_engine_settings(
                ctx.services, ctx.principal, input.project_key, settings
            )
        )
        return UpdateEngineSettingsPayload(
            engine_settings=EngineSettings.of(saved) if saved else None, errors=errors
        )
