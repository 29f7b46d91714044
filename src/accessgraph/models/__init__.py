"""SQLModel tables, one module per aggregate. Importing this package registers them all."""

from accessgraph.models.audit import AuditEvent
from accessgraph.models.device import (
    Device,
    DeviceAlertSubscription,
    DeviceCommand,
    DeviceEngineSettings,
    DeviceEvent,
    DeviceGroup,
    DeviceMonitor,
    DeviceUpdate,
)
from accessgraph.models.enums import (
    AccountPermission,
    DeviceAlert,
    DeviceEventKind,
    EmailStatus,
    Environment,
    ManagePolicy,
    MonitorKind,
    PrincipalType,
    ResourceType,
    SubscriptionRole,
    TeamRole,
    TokenPermission,
    TokenStatus,
    UsageMetric,
    UserStatus,
)
from accessgraph.models.group import Group, GroupMember
from accessgraph.models.invitation import Invitation
from accessgraph.models.organization import Organization
from accessgraph.models.outbox import OutboxEmail
from accessgraph.models.permission_target import (
    PermissionTarget,
    Resource,
    TargetGrant,
    TargetResourceSet,
)
from accessgraph.models.project import (
    GlobalRoleSetting,
    Project,
    ProjectGlobalRole,
    ProjectMember,
    ProjectRole,
)
from accessgraph.models.rate_limit import RateLimitCounter
from accessgraph.models.session import LoginSession
from accessgraph.models.signing_key import SigningKey
from accessgraph.models.subscription import Subscription, SubscriptionMember, UsageNotification
from accessgraph.models.token import AccessToken
from accessgraph.models.user import User

__all__ = [
    "AccessToken",
    "AccountPermission",
    "AuditEvent",
    "Device",
    "DeviceAlert",
    "DeviceAlertSubscription",
    "DeviceCommand",
    "DeviceEngineSettings",
    "DeviceEvent",
    "DeviceEventKind",
    "DeviceGroup",
    "DeviceMonitor",
    "DeviceUpdate",
    "EmailStatus",
    "Environment",
    "GlobalRoleSetting",
    "Group",
    "GroupMember",
    "Invitation",
    "LoginSession",
    "ManagePolicy",
    "MonitorKind",
    "Organization",
    "OutboxEmail",
    "PermissionTarget",
    "PrincipalType",
    "Project",
    "ProjectGlobalRole",
    "ProjectMember",
    "ProjectRole",
    "RateLimitCounter",
    "Resource",
    "ResourceType",
    "SigningKey",
    "Subscription",
    "SubscriptionMember",
    "SubscriptionRole",
    "TargetGrant",
    "TargetResourceSet",
    "TeamRole",
    "TokenPermission",
    "TokenStatus",
    "UsageMetric",
    "UsageNotification",
    "User",
    "UserStatus",
]
