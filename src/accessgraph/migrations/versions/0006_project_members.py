"""project members

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 18:37:41.549375
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import accessgraph.models.base

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "project_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column(
            "principal_type",
            sa.Enum(
                "USER", "GROUP", "ANONYMOUS", name="principaltype", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("principal_id", sa.Integer(), nullable=False),
        sa.Column("global_roles", sa.JSON(), nullable=False),
        sa.Column("project_role_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", accessgraph.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "project_id", "principal_type", "principal_id", name="uq_project_members_principal"
        ),
    )
    with op.batch_alter_table("project_members", schema=None) as batch_op:
        batch_op.create_index(
            "ix_project_members_principal", ["principal_type", "principal_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_project_members_project_id"), ["project_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("project_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_project_members_project_id"))
        batch_op.drop_index("ix_project_members_principal")

    op.drop_table("project_members")
