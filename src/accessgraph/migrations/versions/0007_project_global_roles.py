"""project global roles, resources in projects

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 19:41:40.983259
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import accessgraph.models.base

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "project_global_roles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("environments", sa.JSON(), nullable=False),
        sa.Column("actions", sa.Integer(), nullable=False),
        sa.Column("updated_at", accessgraph.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "name", name="uq_project_global_roles"),
    )
    with op.batch_alter_table("project_global_roles", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_project_global_roles_project_id"), ["project_id"], unique=False
        )

    with op.batch_alter_table("resources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("project_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_resources_project_id"), ["project_id"], unique=False)
        batch_op.create_foreign_key("fk_resources_project_id", "projects", ["project_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("resources", schema=None) as batch_op:
        batch_op.drop_constraint("fk_resources_project_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_resources_project_id"))
        batch_op.drop_column("project_id")

    with op.batch_alter_table("project_global_roles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_project_global_roles_project_id"))

    op.drop_table("project_global_roles")
