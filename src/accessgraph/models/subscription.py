"""Subscriptions (R18-R22): the plan an organization pays for, its members and settings.

Billing and network settings are one-to-one with the subscription, so they are its columns;
members and usage notifications are rows of their own.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from accessgraph.models.base import UTCDateTime, enum_column
from accessgraph.models.enums import SubscriptionRole, UsageMetric

SUBSCRIPTION_NAME_MAX = 100


class Subscription(SQLModel, table=True):
    __tablename__ = "subscriptions"
    __table_args__ = (
        UniqueConstraint("org_id", "name_normalized", name="uq_subscriptions_org_name"),
    )

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organizations.id", index=True)
    name: str = Field(max_length=SUBSCRIPTION_NAME_MAX)
    name_normalized: str = Field(max_length=SUBSCRIPTION_NAME_MAX)
    plan: str = Field(max_length=40)
    created_at: datetime = Field(sa_type=UTCDateTime)
    # Usage, as last reported by metering (`accessgraph subscription record-usage`).
    storage_used_bytes: int = Field(default=0, sa_type=BigInteger)
    transfer_used_bytes: int = Field(default=0, sa_type=BigInteger)
    storage_limit_bytes: int = Field(sa_type=BigInteger)
    transfer_limit_bytes: int = Field(sa_type=BigInteger)
    usage_updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Billing details (R22: PRIMARY_ADMIN, ADMIN, FINANCE_MEMBER). Only the card's brand, last
    # four digits and expiry are kept: never the number.
    billing_contact_name: str | None = Field(default=None, max_length=200)
    billing_contact_email: str | None = Field(default=None, max_length=254)
    billing_company: str | None = Field(default=None, max_length=200)
    billing_address_line1: str | None = Field(default=None, max_length=200)
    billing_address_line2: str | None = Field(default=None, max_length=200)
    billing_city: str | None = Field(default=None, max_length=100)
    billing_postal_code: str | None = Field(default=None, max_length=20)
    billing_country: str | None = Field(default=None, max_length=2)
    billing_vat_id: str | None = Field(default=None, max_length=20)
    card_brand: str | None = Field(default=None, max_length=20)
    card_last4: str | None = Field(default=None, max_length=4)
    card_exp_month: int | None = None
    card_exp_year: int | None = None
    billing_updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Network settings (R22: PRIMARY_ADMIN, ADMIN, TECHNICAL_MEMBER).
    allowed_ip_ranges: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    private_link_enabled: bool = False
    private_link_service_name: str | None = Field(default=None, max_length=200)
    network_updated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SubscriptionMember(SQLModel, table=True):
    """One role per user and subscription (R18); exactly one PRIMARY_ADMIN per subscription."""

    __tablename__ = "subscription_members"
    __table_args__ = (
        UniqueConstraint("subscription_id", "user_id", name="uq_subscription_members_user"),
        # At most one PRIMARY_ADMIN, enforced by the database itself; "at least one" is kept
        # by the use cases (a transfer demotes and promotes in one transaction).
        Index(
            "uq_subscription_members_primary",
            "subscription_id",
            unique=True,
            sqlite_where=text("role = 'PRIMARY_ADMIN'"),
            postgresql_where=text("role = 'PRIMARY_ADMIN'"),
        ),
        Index("ix_subscription_members_user_id", "user_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    subscription_id: int = Field(foreign_key="subscriptions.id")
    user_id: int = Field(foreign_key="users.id")
    role: SubscriptionRole = Field(sa_type=enum_column(SubscriptionRole))
    created_at: datetime = Field(sa_type=UTCDateTime)


class UsageNotification(SQLModel, table=True):
    """Email the subscription's members when a metric crosses a share of its limit."""

    __tablename__ = "usage_notifications"
    __table_args__ = (
        UniqueConstraint(
            "subscription_id", "metric", "threshold_percent", name="uq_usage_notifications"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    subscription_id: int = Field(foreign_key="subscriptions.id", index=True)
    metric: UsageMetric = Field(sa_type=enum_column(UsageMetric))
    threshold_percent: int
    created_by_id: int = Field(foreign_key="users.id")
    created_at: datetime = Field(sa_type=UTCDateTime)
    last_notified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
