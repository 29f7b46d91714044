"""devices and account permissions

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 14:11:48.256363
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import accessgraph.models.base

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "device_alert_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("alerts", sa.JSON(), nullable=False),
        sa.Column("updated_at", accessgraph.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "user_id", name="uq_device_alert_subscriptions"),
    )
    with op.batch_alter_table("device_alert_subscriptions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_device_alert_subscriptions_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "device_commands",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_normalized", sa.String(length=100), nullable=False),
        sa.Column("script", sa.String(length=4000), nullable=False),
        sa.Column("created_at", accessgraph.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", accessgraph.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "name_normalized", name="uq_device_commands_name"),
    )
    with op.batch_alter_table("device_commands", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_device_commands_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "device_engine_settings",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("resource_monitor", sa.Boolean(), nullable=False),
        sa.Column("application_logs", sa.Boolean(), nullable=False),
        sa.Column("updated_at", accessgraph.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
        ),
        sa.PrimaryKeyConstraint("project_id"),
    )
    op.create_table(
        "device_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_normalized", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("created_at", accessgraph.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", accessgraph.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "name_normalized", name="uq_device_groups_name"),
    )
    with op.batch_alter_table("device_groups", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_device_groups_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "device_monitors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("DATA", "PROCESS", name="monitorkind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_normalized", sa.String(length=100), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("alert_threshold", sa.Float(), nullable=True),
        sa.Column("created_at", accessgraph.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", accessgraph.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "project_id", "kind", "name_normalized", name="uq_device_monitors_name"
        ),
    )
    with op.batch_alter_table("device_monitors", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_device_monitors_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "device_updates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_normalized", sa.String(length=100), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", accessgraph.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "project_id", "name_normalized", "version", name="uq_device_updates_version"
        ),
    )
    with op.batch_alter_table("device_updates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_device_updates_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_normalized", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("location", sa.String(length=200), nullable=True),
        sa.Column(
            "environment",
            sa.Enum("DEV", "PROD", name="environment", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("registered_by_id", sa.Integer(), nullable=True),
        sa.Column(
            "registered_at", accessgraph.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("updated_at", accessgraph.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["device_groups.id"],
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
        ),
        sa.ForeignKeyConstraint(
            ["registered_by_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "name_normalized", name="uq_devices_name"),
    )
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.create_index("ix_devices_group_id_id", ["group_id", "id"], unique=False)
        batch_op.create_index("ix_devices_project_id_id", ["project_id", "id"], unique=False)

    op.create_table(
        "device_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "REGISTERED",
                "MODIFIED",
                "REMOTE_SESSION",
                "UPDATE_DEPLOYED",
                "COMMAND_RUN",
                name="deviceeventkind",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("message", sa.String(length=1000), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("created_at", accessgraph.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("device_events", schema=None) as batch_op:
        batch_op.create_index("ix_device_events_device_id_id", ["device_id", "id"], unique=False)

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "account_permissions", sa.JSON(), server_default=sa.text("'[]'"), nullable=False
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("account_permissions")

    with op.batch_alter_table("device_events", schema=None) as batch_op:
        batch_op.drop_index("ix_device_events_device_id_id")

    op.drop_table("device_events")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index("ix_devices_project_id_id")
        batch_op.drop_index("ix_devices_group_id_id")

    op.drop_table("devices")
    with op.batch_alter_table("device_updates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_updates_project_id"))

    op.drop_table("device_updates")
    with op.batch_alter_table("device_monitors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_monitors_project_id"))

    op.drop_table("device_monitors")
    with op.batch_alter_table("device_groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_groups_project_id"))

    op.drop_table("device_groups")
    op.drop_table("device_engine_settings")
    with op.batch_alter_table("device_commands", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_commands_project_id"))

    op.drop_table("device_commands")
    with op.batch_alter_table("device_alert_subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_alert_subscriptions_user_id"))

    op.drop_table("device_alert_subscriptions")
