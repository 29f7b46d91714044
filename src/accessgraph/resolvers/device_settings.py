"""A project's device tooling (R32): OTA updates and their deployment, Control Center commands
and their runs, Data and Process Monitor entries, alert choices and engine settings.

Each operation checks exactly one device permission (see `accessgraph.resolvers.devices` for
how): project-wide ones in any environment of the project, deployments and command runs in the
device's environment. Nothing here reaches a device: accessgraph decides and records who may
do what; running an update or a command on hardware is the device agent's job.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from accessgraph.auth.policy import Action
from accessgraph.auth.principal import Principal
from accessgraph.errors import Rejected
from accessgraph.models import (
    DeviceAlert,
    DeviceAlertSubscription,
    DeviceCommand,
    DeviceEngineSettings,
    DeviceEvent,
    DeviceEventKind,
    DeviceMonitor,
    DeviceUpdate,
    MonitorKind,
    Project,
)
from accessgraph.models.device import (
    DEVICE_DESCRIPTION_MAX,
    DEVICE_LOCATION_MAX,
    DEVICE_SCRIPT_MAX,
    DEVICE_VERSION_MAX,
)
from accessgraph.resolvers import audit
from accessgraph.resolvers.devices import (
    act_on_device,
    authorize,
    clean_device_name,
    name_taken,
)
from accessgraph.resolvers.projects import load_project
from accessgraph.resolvers.validation import clean_text, has_control
from accessgraph.services import Services

# A version like 1.4.2, 2026.11-rc1 or a commit hash: no spaces or control characters.
_VERSION_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_+")


async def _project_for(
    services: Services, session: AsyncSession, principal: Principal, key: str, action: Action
) -> tuple[Project, Principal]:
    """The project `key` names, if the actor may do `action` there (in any environment)."""
    assert principal.org_id is not None
    project = await load_project(session, principal.org_id, key)
    actor = await authorize(services, session, principal, action, project, None, "projectKey")
    return project, actor


def _audit(
    session: AsyncSession,
    principal: Principal,
    action: str,
    project: Project,
    label: str,
    before: Mapping[str, object] | None,
    after: Mapping[str, object] | None,
    now: datetime,
) -> None:
    assert principal.org_id is not None
    audit.record(
        session,
        principal,
        action,
        org_id=principal.org_id,
        now=now,
        target=project,
        target_label=f"{project.key}/{label}",
        before=dict(before) if before is not None else None,
        after=dict(after) if after is not None else None,
    )


# --- OTA updates (CREATE_UPDATES, DEPLOY_UPDATES) -----------------------------------------------


def _clean_version(raw: str) -> str:
    version = raw.strip()
    if not version or len(version) > DEVICE_VERSION_MAX or not set(version) <= _VERSION_CHARS:
        raise Rejected(
            "INVALID_VERSION",
            f"A version has 1 to {DEVICE_VERSION_MAX} letters, digits, '.', '-', '_' or '+'.",
            ["version"],
        )
    return version


async def create_update(
    services: Services,
    principal: Principal,
    key: str,
    name: str,
    version: str,
    description: str | None,
) -> DeviceUpdate:
    clean = clean_device_name(name)
    clean_version = _clean_version(version)
    text = clean_text(description, "description", DEVICE_DESCRIPTION_MAX, "INVALID_DESCRIPTION")
    now = services.clock.now()
    try:
        async with services.db.write() as session:
            project, actor = await _project_for(
                services, session, principal, key, Action.CREATE_UPDATES
            )
            assert project.id is not None
            taken = await session.scalar(
                select(col(DeviceUpdate.id)).where(
                    col(DeviceUpdate.project_id) == project.id,
                    col(DeviceUpdate.name_normalized) == clean.casefold(),
                    col(DeviceUpdate.version) == clean_version,
                )
            )
            if taken is not None:
                raise _version_taken(clean, clean_version)
            update = DeviceUpdate(
                project_id=project.id,
                name=clean,
                name_normalized=clean.casefold(),
                version=clean_version,
                description=text,
                created_by_id=actor.user_id,
                created_at=now,
            )
            session.add(update)
            await session.flush()
            after = {"name": clean, "version": clean_version, "description": text}
            _audit(session, principal, "device_update.create", project, clean, None, after, now)
    except IntegrityError:
        raise _version_taken(clean, clean_version) from None
    return update


def _version_taken(name: str, version: str) -> Rejected:
    return Rejected(
        "VERSION_TAKEN", f"The project has update {name!r} version {version!r}.", ["version"]
    )


async def deploy_update(
    services: Services, principal: Principal, device_id: int, update_id: int
) -> DeviceEvent:
    """DEPLOY_UPDATES in the device's environment: an existing update of the same project."""

    async def prepare(session: AsyncSession, project: Project) -> tuple[str, dict[str, object]]:
        update = await session.get(DeviceUpdate, update_id)
        if update is None or update.project_id != project.id:
            raise Rejected("NOT_FOUND", "No such update in this project.", ["updateId"])
        what = f"{update.name} {update.version}"
        return f"Update {what} deployed", {"update": update.name, "version": update.version}

    return await act_on_device(
        services,
        principal,
        device_id,
        Action.DEPLOY_UPDATES,
        DeviceEventKind.UPDATE_DEPLOYED,
        prepare,
    )


# --- Control Center commands (MANAGE_COMMANDS, RUN_COMMANDS) --------------------------------------


def _clean_script(raw: str) -> str:
    script = raw.strip()
    printable = script.replace("\n", " ").replace("\t", " ")
    if not script or len(script) > DEVICE_SCRIPT_MAX or has_control(printable):
        raise Rejected(
            "INVALID_SCRIPT",
            f"A script has 1 to {DEVICE_SCRIPT_MAX} printable characters.",
            ["script"],
        )
    return script


async def save_command(
    services: Services, principal: Principal, key: str, name: str, script: str
) -> DeviceCommand:
    """Creates the command `name`, or changes the script of the one of that name."""
    clean = clean_device_name(name)
    body = _clean_script(script)
    now = services.clock.now()
    try:
        async with services.db.write() as session:
            project, _ = await _project_for(
                services, session, principal, key, Action.MANAGE_COMMANDS
            )
            assert project.id is not None
            command = await session.scalar(
                select(DeviceCommand).where(
                    col(DeviceCommand.project_id) == project.id,
                    col(DeviceCommand.name_normalized) == clean.casefold(),
                )
            )
            before = None
            if command is None:
                command = DeviceCommand(
                    project_id=project.id,
                    name=clean,
                    name_normalized=clean.casefold(),
                    script=body,
                    created_at=now,
                    updated_at=now,
                )
            else:
                before = {"name": command.name, "script": command.script}
                command.name, command.script, command.updated_at = clean, body, now
            session.add(command)
            await session.flush()
            after = {"name": clean, "script": body}
            action = "device_command.create" if before is None else "device_command.update"
            _audit(session, principal, action, project, clean, before, after, now)
    except IntegrityError:
        raise name_taken("COMMAND", clean) from None
    return command


async def run_command(
    services: Services, principal: Principal, device_id: int, command_id: int
) -> DeviceEvent:
    """RUN_COMMANDS in the device's environment: a command of the same project."""

    async def prepare(session: AsyncSession, project: Project) -> tuple[str, dict[str, object]]:
        command = await session.get(DeviceCommand, command_id)
        if command is None or command.project_id != project.id:
            raise Rejected("NOT_FOUND", "No such command in this project.", ["commandId"])
        return f"Command {command.name} run", {"command": command.name, "script": command.script}

    return await act_on_device(
        services, principal, device_id, Action.RUN_COMMANDS, DeviceEventKind.COMMAND_RUN, prepare
    )


# --- Data and Process Monitor (MANAGE_DATA_MONITOR, MANAGE_PROCESS_MONITOR) -----------------------

MONITOR_ACTIONS = {
    MonitorKind.DATA: Action.MANAGE_DATA_MONITOR,
    MonitorKind.PROCESS: Action.MANAGE_PROCESS_MONITOR,
}


@dataclass(frozen=True, slots=True)
class MonitorInput:
    name: str
    target: str  # the Data Monitor parameter, or the Process Monitor binary
    alert_threshold: float | None = None


async def save_monitor(
    services: Services, principal: Principal, key: str, kind: MonitorKind, data: MonitorInput
) -> DeviceMonitor:
    """Creates the monitor `name` of `kind`, or changes the one of that name."""
    clean = clean_device_name(data.name)
    field = "parameter" if kind == MonitorKind.DATA else "binary"
    target = clean_text(data.target, field, DEVICE_LOCATION_MAX, f"INVALID_{field.upper()}")
    if target is None:
        raise Rejected(f"INVALID_{field.upper()}", f"Give the {field} to monitor.", [field])
    threshold = data.alert_threshold
    if threshold is not None and not math.isfinite(threshold):
        raise Rejected("INVALID_THRESHOLD", "The threshold is a finite number.", ["threshold"])
    now = services.clock.now()
    try:
        async with services.db.write() as session:
            project, _ = await _project_for(
                services, session, principal, key, MONITOR_ACTIONS[kind]
            )
            assert project.id is not None
            monitor = await session.scalar(
                select(DeviceMonitor).where(
                    col(DeviceMonitor.project_id) == project.id,
                    col(DeviceMonitor.kind) == kind,
                    col(DeviceMonitor.name_normalized) == clean.casefold(),
                )
            )
            before = None
            if monitor is None:
                monitor = DeviceMonitor(
                    project_id=project.id,
                    kind=kind,
                    name=clean,
                    name_normalized=clean.casefold(),
                    target=target,
                    alert_threshold=threshold,
                    created_at=now,
                    updated_at=now,
                )
            else:
                before = {field: monitor.target, "threshold": monitor.alert_threshold}
                monitor.name, monitor.target, monitor.alert_threshold = clean, target, threshold
                monitor.updated_at = now
            session.add(monitor)
            await session.flush()
            after = {field: target, "threshold": threshold}
            action = f"{kind.value.lower()}_monitor.{'create' if before is None else 'update'}"
            _audit(session, principal, action, project, clean, before, after, now)
    except IntegrityError:
        raise name_taken("MONITOR", clean) from None
    return monitor


# --- alerts (MANAGE_ALERTS) and engine settings (MODIFY_ENGINE_SETTINGS) ------------------------


async def set_alerts(
    services: Services, principal: Principal, key: str, alerts: Sequence[DeviceAlert]
) -> list[DeviceAlert]:
    """Which of the project's alerts the caller receives (the seed: "set which Project alerts
    he will receive"): their own choice, never someone else's."""
    chosen = sorted(set(alerts))
    now = services.clock.now()
    async with services.db.write() as session:
        project, actor = await _project_for(services, session, principal, key, Action.MANAGE_ALERTS)
        if actor.user_id is None:
            raise Rejected("NOT_A_USER", "Only a user receives alerts.", ["projectKey"])
        row = await session.scalar(
            select(DeviceAlertSubscription).where(
                col(DeviceAlertSubscription.project_id) == project.id,
                col(DeviceAlertSubscription.user_id) == actor.user_id,
            )
        )
        before = list(row.alerts) if row is not None else []
        if row is None:
            assert project.id is not None
            row = DeviceAlertSubscription(
                project_id=project.id, user_id=actor.user_id, alerts=[], updated_at=now
            )
        row.alerts, row.updated_at = [a.value for a in chosen], now
        session.add(row)
        _audit(
            session,
            principal,
            "device_alerts.update",
            project,
            actor.label,
            {"alerts": before},
            {"alerts": row.alerts},
            now,
        )
    return chosen


async def alerts_of(services: Services, project_id: int, user_id: int | None) -> list[DeviceAlert]:
    if user_id is None:
        return []
    async with services.db.session() as session:
        row = await session.scalar(
            select(DeviceAlertSubscription).where(
                col(DeviceAlertSubscription.project_id) == project_id,
                col(DeviceAlertSubscription.user_id) == user_id,
            )
        )
    return [DeviceAlert(a) for a in row.alerts] if row is not None else []


@dataclass(frozen=True, slots=True)
class EngineSettings:
    resource_monitor: bool = False
    application_logs: bool = False


async def update_engine_settings(
    services: Services, principal: Principal, key: str, settings: EngineSettings
) -> EngineSettings:
    now = services.clock.now()
    async with services.db.write() as session:
        project, _ = await _project_for(
            services, session, principal, key, Action.MODIFY_ENGINE_SETTINGS
        )
        assert project.id is not None
        row = await session.get(DeviceEngineSettings, project.id)
        before = (
            {"resourceMonitor": row.resource_monitor, "applicationLogs": row.application_logs}
            if row is not None
            else {"resourceMonitor": False, "applicationLogs": False}
        )
        if row is None:
            row = DeviceEngineSettings(project_id=project.id, updated_at=now)
        row.resource_monitor = settings.resource_monitor
        row.application_logs = settings.application_logs
        row.updated_at = now
        session.add(row)
        after = {"resourceMonitor": row.resource_monitor, "applicationLogs": row.application_logs}
        _audit(session, principal, "device_engine.update", project, "engine", before, after, now)
    return settings


@dataclass(frozen=True, slots=True)
class DeviceTooling:
    """What a project's device pages show besides the devices."""

    updates: list[DeviceUpdate]
    commands: list[DeviceCommand]
    monitors: list[DeviceMonitor]
    engine: EngineSettings


async def tooling_of(services: Services, project_id: int) -> DeviceTooling:
    async with services.db.session() as session:
        updates = (
            await session.execute(
                select(DeviceUpdate)
                .where(col(DeviceUpdate.project_id) == project_id)
                .order_by(col(DeviceUpdate.id).desc())
            )
        ).scalars()
        commands = (
            await session.execute(
                select(DeviceCommand)
                .where(col(DeviceCommand.project_id) == project_id)
                .order_by(col(DeviceCommand.name_normalized))
            )
        ).scalars()
        monitors = (
            await session.execute(
                select(DeviceMonitor)
                .where(col(DeviceMonitor.project_id) == project_id)
                .order_by(col(DeviceMonitor.kind), col(DeviceMonitor.name_normalized))
            )
        ).scalars()
        engine = await session.get(DeviceEngineSettings, project_id)
        return DeviceTooling(
            updates=list(updates),
            commands=list(commands),
            monitors=list(monitors),
            engine=EngineSettings(engine.resource_monitor, engine.application_logs)
            if engine is not None
            else EngineSettings(),
        )
