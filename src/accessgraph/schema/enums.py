"""API enums: the stored enums, registered with strawberry under the names API.md fixes.

`strawberry.enum` registers the class in place, so these aliases are the model enums
themselves: resolvers pass stored values through unconverted.
"""

from __future__ import annotations

from typing import TypeAlias

import strawberry

from accessgraph.auth import access, policy
from accessgraph.models import enums

strawberry.enum(enums.TeamRole, description="R3: ADMIN or DEVELOPER.")
strawberry.enum(
    enums.UserStatus,
    description="ACTIVE (signed up), INVITED (pending), EXPIRED (link expired), "
    "FAILED (email not delivered).",
)
strawberry.enum(enums.TokenPermission, description="R12: what a token may do.")
strawberry.enum(enums.TokenStatus)
strawberry.enum(policy.TeamPermission, description="The rows of the R3 team matrix.")
strawberry.enum(
    enums.SubscriptionRole,
    description="R19. PRIMARY_ADMIN (one per subscription, moved only by the operator), ADMIN, "
    "FINANCE_MEMBER, TECHNICAL_MEMBER.",
)
strawberry.enum(enums.UsageMetric, description="What a usage notification watches.")
strawberry.enum(enums.ResourceType)
strawberry.enum(enums.Environment)
strawberry.enum(
    enums.ManagePolicy,
    description="R25: EXCLUDE_MANAGE (default: MANAGE holders grant only actions they hold, "
    "never MANAGE), ANY_ACTION_EXCLUDING_MANAGE, ANY_ACTION_INCLUDING_MANAGE (legacy).",
)
strawberry.enum(enums.PrincipalType, description="Who a permission target grants to (R24).")
strawberry.enum(access.ArtifactAction, description="R24: actions on resources.")
strawberry.enum(
    enums.AccountPermission,
    description="R33: INVITE_AND_MODIFY_ACCOUNTS (invite and create developers, resend their "
    "invitations), BILLING (every subscription's billing details), CREATE_AND_MODIFY_PROJECTS "
    "(create projects, administering those they create).",
)
strawberry.enum(enums.DeviceEventKind, description="What a line of a device's log records.")

TeamRole: TypeAlias = enums.TeamRole
UserStatus: TypeAlias = enums.UserStatus
TokenPermission: TypeAlias = enums.TokenPermission
TokenStatus: TypeAlias = enums.TokenStatus
TeamPermission: TypeAlias = policy.TeamPermission
SubscriptionRole: TypeAlias = enums.SubscriptionRole
UsageMetric: TypeAlias = enums.UsageMetric
ResourceType: TypeAlias = enums.ResourceType
Environment: TypeAlias = enums.Environment
ManagePolicy: TypeAlias = enums.ManagePolicy
PrincipalType: TypeAlias = enums.PrincipalType
ArtifactAction: TypeAlias = access.ArtifactAction
DeviceEventKind: TypeAlias = enums.DeviceEventKind
AccountPermission: TypeAlias = enums.AccountPermission
