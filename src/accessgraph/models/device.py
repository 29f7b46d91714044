"""IoT devices of a project (R31): devices in device groups, and each device's log.

Names are unique per project, case-insensitively (`name_normalized`). A device's environment
(DEV or PROD) decides which project roles reach it: a role's device permissions hold only in
the role's environments (R29, R32), as for every other resource of a project.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from accessgraph.models.base import UTCDateTime, enum_column
from accessgraph.models.enums import DeviceEventKind, Environment, MonitorKind

DEVICE_NAME_MAX = 100
DEVICE_DESCRIPTION_MAX = 500
DEVICE_LOCATION_MAX = 200
DEVICE_EVENT_MESSAGE_MAX = 1000
DEVICE_VERSION_MAX = 40
DEVICE_SCRIPT_MAX = 4000


class DeviceGroup(SQLModel, table=True):
    __tablename__ = "device_groups"
    __table_args__ = (
        UniqueConstraint("project_id", "name_normalized", name="uq_device_groups_name"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id", index=True)
    name: str = Field(max_length=DEVICE_NAME_MAX)
    name_normalized: str = Field(max_length=DEVICE_NAME_MAX)
    description: str | None = Field(default=None, max_length=DEVICE_DESCRIPTION_MAX)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class Device(SQLModel, table=True):
    __tablename__ = "devices"
    __table_args__ = (
        UniqueConstraint("project_id", "name_normalized", name="uq_devices_name"),
        Index("ix_devices_project_id_id", "project_id", "id"),
        Index("ix_devices_group_id_id", "group_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id")
    group_id: int | None = Field(default=None, foreign_key="device_groups.id")
    name: str = Field(max_length=DEVICE_NAME_MAX)
    name_normalized: str = Field(max_length=DEVICE_NAME_MAX)
    description: str | None = Field(default=None, max_length=DEVICE_DESCRIPTION_MAX)
    location: str | None = Field(default=None, max_length=DEVICE_LOCATION_MAX)
    environment: Environment = Field(sa_type=enum_column(Environment))
    registered_by_id: int | None = Field(default=None, foreign_key="users.id")
    registered_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class DeviceEvent(SQLModel, table=True):
    """One line of a device's log (`Device.logs`, VIEW_DEVICE_LOGS)."""

    __tablename__ = "device_events"
    __table_args__ = (Index("ix_device_events_device_id_id", "device_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    device_id: int = Field(foreign_key="devices.id")
    kind: DeviceEventKind = Field(sa_type=enum_column(DeviceEventKind))
    message: str = Field(max_length=DEVICE_EVENT_MESSAGE_MAX)
    actor_id: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = Field(sa_type=UTCDateTime)


class DeviceUpdate(SQLModel, table=True):
    """An OTA update of a project (CREATE_UPDATES), deployed to devices (DEPLOY_UPDATES)."""

    __tablename__ = "device_updates"
    __table_args__ = (
        UniqueConstraint(
            "project_id", "name_normalized", "version", name="uq_device_updates_version"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id", index=True)
    name: str = Field(max_length=DEVICE_NAME_MAX)
    name_normalized: str = Field(max_length=DEVICE_NAME_MAX)
    version: str = Field(max_length=DEVICE_VERSION_MAX)
    description: str | None = Field(default=None, max_length=DEVICE_DESCRIPTION_MAX)
    created_by_id: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = Field(sa_type=UTCDateTime)


class DeviceCommand(SQLModel, table=True):
    """A Control Center command of a project (MANAGE_COMMANDS), run on devices
    (RUN_COMMANDS)."""

    __tablename__ = "device_commands"
    __table_args__ = (
        UniqueConstraint("project_id", "name_normalized", name="uq_device_commands_name"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id", index=True)
    name: str = Field(max_length=DEVICE_NAME_MAX)
    name_normalized: str = Field(max_length=DEVICE_NAME_MAX)
    script: str = Field(max_length=DEVICE_SCRIPT_MAX)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class DeviceMonitor(SQLModel, table=True):
    """A Data Monitor parameter (MANAGE_DATA_MONITOR) or a Process Monitor binary
    (MANAGE_PROCESS_MONITOR) of a project, with an optional alert threshold."""

    __tablename__ = "device_monitors"
    __table_args__ = (
        UniqueConstraint("project_id", "kind", "name_normalized", name="uq_device_monitors_name"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id", index=True)
    kind: MonitorKind = Field(sa_type=enum_column(MonitorKind))
    name: str = Field(max_length=DEVICE_NAME_MAX)
    name_normalized: str = Field(max_length=DEVICE_NAME_MAX)
    target: str = Field(max_length=DEVICE_LOCATION_MAX)  # the parameter, or the binary's path
    alert_threshold: float | None = None
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class DeviceAlertSubscription(SQLModel, table=True):
    """Which of a project's alerts one user receives (MANAGE_ALERTS)."""

    __tablename__ = "device_alert_subscriptions"
    __table_args__ = (
        UniqueConstraint("project_id", "user_id", name="uq_device_alert_subscriptions"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id")
    user_id: int = Field(foreign_key="users.id", index=True)
    alerts: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(sa_type=UTCDateTime)


class DeviceEngineSettings(SQLModel, table=True):
    """A project's device engine switches (MODIFY_ENGINE_SETTINGS); no row: both off."""

    __tablename__ = "device_engine_settings"

    project_id: int = Field(foreign_key="projects.id", primary_key=True)
    resource_monitor: bool = False
    application_logs: bool = False
    updated_at: datetime = Field(sa_type=UTCDateTime)
