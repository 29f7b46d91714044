"""SQLModel tables, one module per aggregate. Importing this package registers them all."""

from accessgraph.models.audit import AuditEvent
from accessgraph.models.enums import (
    EmailStatus,
    SubscriptionRole,
    TeamRole,
    TokenPermission,
    TokenStatus,
    UsageMetric,
    UserStatus,
)
from accessgraph.models.invitation import Invitation
from accessgraph.models.organization import Organization
from accessgraph.models.outbox import OutboxEmail
from accessgraph.models.session import LoginSession
from accessgraph.models.subscription import Subscription, SubscriptionMember, UsageNotification
from accessgraph.models.token import AccessToken
from accessgraph.models.user import User

__all__ = [
    "AccessToken",
    "AuditEvent",
    "EmailStatus",
    "Invitation",
    "LoginSession",
    "Organization",
    "OutboxEmail",
    "Subscription",
    "SubscriptionMember",
    "SubscriptionRole",
    "TeamRole",
    "TokenPermission",
    "TokenStatus",
    "UsageMetric",
    "UsageNotification",
    "User",
    "UserStatus",
]
