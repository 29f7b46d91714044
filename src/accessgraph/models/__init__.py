"""SQLModel tables, one module per aggregate. Importing this package registers them all."""

from accessgraph.models.audit import AuditEvent
from accessgraph.models.enums import EmailStatus, TeamRole, TokenPermission, TokenStatus, UserStatus
from accessgraph.models.invitation import Invitation
from accessgraph.models.organization import Organization
from accessgraph.models.outbox import OutboxEmail
from accessgraph.models.session import LoginSession
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
    "TeamRole",
    "TokenPermission",
    "TokenStatus",
    "User",
    "UserStatus",
]
