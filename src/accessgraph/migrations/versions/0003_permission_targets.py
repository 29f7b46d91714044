"""groups, resources, permission targets, manage policy

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 17:12:34.676600
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import accessgraph.models.base

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("name_normalized", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.Column("created_at", accessgraph.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "name_normalized", name="uq_groups_org_name"),
    )
    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.create_index("ix_groups_org_id_id", ["org_id", "id"], unique=False)

    op.create_table(
        "permission_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("name_normalized", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("created_at", accessgraph.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", accessgraph.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "name_normalized", name="uq_permission_targets_org_name"),
    )
    with op.batch_alter_table("permission_targets", schema=None) as batch_op:
        batch_op.create_index("ix_permission_targets_org_id_id", ["org_id", "id"], unique=False)

    op.create_table(
        "resources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column(
            "type",
            sa.Enum(
                "REPOSITORY",
                "BUILD",
                "RELEASE_BUNDLE",
                "DESTINATION",
                "PIPELINE",
                "DEVICE",
                name="resourcetype",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column(
            "environment",
            sa.Enum("DEV", "PROD", name="environment", native_enum=False, length=20),
            nullable=True,
        ),
        sa.Column("created_at", accessgraph.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "type", "name", name="uq_resources_org_type_name"),
    )
    with op.batch_alter_table("resources", schema=None) as batch_op:
        batch_op.create_index("ix_resources_org_id_id", ["org_id", "id"], unique=False)

    op.create_table(
        "group_members",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", accessgraph.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("group_id", "user_id"),
    )
    with op.batch_alter_table("group_members", schema=None) as batch_op:
        batch_op.create_index("ix_group_members_user_id", ["user_id"], unique=False)

    op.create_table(
        "target_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column(
            "principal_type",
            sa.Enum(
                "USER", "GROUP", "ANONYMOUS", name="principaltype", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("principal_id", sa.Integer(), nullable=False),
        sa.Column("actions", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["permission_targets.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "target_id", "principal_type", "principal_id", name="uq_target_grants_principal"
        ),
    )
    with op.batch_alter_table("target_grants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_target_grants_target_id"), ["target_id"], unique=False)

    op.create_table(
        "target_resource_sets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column(
            "type",
            sa.Enum(
                "REPOSITORY",
                "BUILD",
                "RELEASE_BUNDLE",
                "DESTINATION",
                "PIPELINE",
                "DEVICE",
                name="resourcetype",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.Column("include_patterns", sa.JSON(), nullable=False),
        sa.Column("exclude_patterns", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["permission_targets.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("target_id", "type", name="uq_target_resource_sets"),
    )
    with op.batch_alter_table("target_resource_sets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_target_resource_sets_target_id"), ["target_id"], unique=False
        )

    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "manage_policy",
                sa.Enum(
                    "EXCLUDE_MANAGE",
                    "ANY_ACTION_EXCLUDING_MANAGE",
                    "ANY_ACTION_INCLUDING_MANAGE",
                    name="managepolicy",
                    native_enum=False,
                ),
                nullable=False,
                server_default="EXCLUDE_MANAGE",  # existing organizations: R25's default
            )
        )
        batch_op.add_column(
            sa.Column("access_version", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("access_version")
        batch_op.drop_column("manage_policy")

    with op.batch_alter_table("target_resource_sets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_target_resource_sets_target_id"))

    op.drop_table("target_resource_sets")
    with op.batch_alter_table("target_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_target_grants_target_id"))

    op.drop_table("target_grants")
    with op.batch_alter_table("group_members", schema=None) as batch_op:
        batch_op.drop_index("ix_group_members_user_id")

    op.drop_table("group_members")
    with op.batch_alter_table("resources", schema=None) as batch_op:
        batch_op.drop_index("ix_resources_org_id_id")

    op.drop_table("resources")
    with op.batch_alter_table("permission_targets", schema=None) as batch_op:
        batch_op.drop_index("ix_permission_targets_org_id_id")

    op.drop_table("permission_targets")
    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.drop_index("ix_groups_org_id_id")

    op.drop_table("groups")
