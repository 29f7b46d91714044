"""subscriptions, members, usage notifications, subscription tokens

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 16:25:32.642152
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import accessgraph.models.base

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("name_normalized", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("plan", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("created_at", accessgraph.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("storage_used_bytes", sa.BigInteger(), nullable=False),
        sa.Column("transfer_used_bytes", sa.BigInteger(), nullable=False),
        sa.Column("storage_limit_bytes", sa.BigInteger(), nullable=False),
        sa.Column("transfer_limit_bytes", sa.BigInteger(), nullable=False),
        sa.Column(
            "usage_updated_at", accessgraph.models.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "billing_contact_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True
        ),
        sa.Column(
            "billing_contact_email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True
        ),
        sa.Column("billing_company", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column(
            "billing_address_line1", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True
        ),
        sa.Column(
            "billing_address_line2", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True
        ),
        sa.Column("billing_city", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column(
            "billing_postal_code", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True
        ),
        sa.Column("billing_country", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=True),
        sa.Column("billing_vat_id", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("card_brand", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("card_last4", sqlmodel.sql.sqltypes.AutoString(length=4), nullable=True),
        sa.Column("card_exp_month", sa.Integer(), nullable=True),
        sa.Column("card_exp_year", sa.Integer(), nullable=True),
        sa.Column(
            "billing_updated_at", accessgraph.models.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("allowed_ip_ranges", sa.JSON(), nullable=False),
        sa.Column("private_link_enabled", sa.Boolean(), nullable=False),
        sa.Column(
            "private_link_service_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True
        ),
        sa.Column(
            "network_updated_at", accessgraph.models.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "name_normalized", name="uq_subscriptions_org_name"),
    )
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subscriptions_org_id"), ["org_id"], unique=False)

    op.create_table(
        "subscription_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "PRIMARY_ADMIN",
                "ADMIN",
                "FINANCE_MEMBER",
                "TECHNICAL_MEMBER",
                name="subscriptionrole",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("created_at", accessgraph.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("subscription_id", "user_id", name="uq_subscription_members_user"),
    )
    with op.batch_alter_table("subscription_members", schema=None) as batch_op:
        batch_op.create_index("ix_subscription_members_user_id", ["user_id"], unique=False)
        batch_op.create_index(
            "uq_subscription_members_primary",
            ["subscription_id"],
            unique=True,
            sqlite_where=sa.text("role = 'PRIMARY_ADMIN'"),
            postgresql_where=sa.text("role = 'PRIMARY_ADMIN'"),
        )

    op.create_table(
        "usage_notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column(
            "metric",
            sa.Enum("STORAGE", "TRANSFER", name="usagemetric", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("threshold_percent", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", accessgraph.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "last_notified_at", accessgraph.models.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "subscription_id", "metric", "threshold_percent", name="uq_usage_notifications"
        ),
    )
    with op.batch_alter_table("usage_notifications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_usage_notifications_subscription_id"), ["subscription_id"], unique=False
        )

    with op.batch_alter_table("access_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subscription_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_access_tokens_subscription_id"), ["subscription_id"], unique=False
        )
        batch_op.create_foreign_key(
            "fk_access_tokens_subscription_id", "subscriptions", ["subscription_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("access_tokens", schema=None) as batch_op:
        batch_op.drop_constraint("fk_access_tokens_subscription_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_access_tokens_subscription_id"))
        batch_op.drop_column("subscription_id")

    with op.batch_alter_table("usage_notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_usage_notifications_subscription_id"))

    op.drop_table("usage_notifications")
    with op.batch_alter_table("subscription_members", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_subscription_members_primary",
            sqlite_where=sa.text("role = 'PRIMARY_ADMIN'"),
            postgresql_where=sa.text("role = 'PRIMARY_ADMIN'"),
        )
        batch_op.drop_index("ix_subscription_members_user_id")

    op.drop_table("subscription_members")
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscriptions_org_id"))

    op.drop_table("subscriptions")
