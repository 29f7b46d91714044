"""Enumerations stored in the database and exposed (under the same names) in the API."""

from __future__ import annotations

from enum import StrEnum


class TeamRole(StrEnum):
    ADMIN = "ADMIN"
    DEVELOPER = "DEVELOPER"


class UserStatus(StrEnum):
    ACTIVE = "ACTIVE"
    INVITED = "INVITED"
    EXPIRED = "EXPIRED"  # never stored: an INVITED user whose invitation has expired
    FAILED = "FAILED"


class TokenPermission(StrEnum):
    READ_WRITE = "READ_WRITE"
    READ_ONLY = "READ_ONLY"


class TokenStatus(StrEnum):
    ACTIVE = "ACTIVE"
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"


class EmailStatus(StrEnum):
    QUEUED = "QUEUED"
    SENT = "SENT"
    FAILED = "FAILED"
    LOGGED = "LOGGED"  # no SMTP configured: kept in the outbox table and written to the log


class SubscriptionRole(StrEnum):
    """R19. PRIMARY_ADMIN is set only by the operator (R21)."""

    PRIMARY_ADMIN = "PRIMARY_ADMIN"
    ADMIN = "ADMIN"
    FINANCE_MEMBER = "FINANCE_MEMBER"
    TECHNICAL_MEMBER = "TECHNICAL_MEMBER"


class UsageMetric(StrEnum):
    STORAGE = "STORAGE"
    TRANSFER = "TRANSFER"


class ResourceType(StrEnum):
    """What accessgraph guards. Permission targets cover the first four (R24); projects add
    pipelines and devices (R29, R32)."""

    REPOSITORY = "REPOSITORY"
    BUILD = "BUILD"
    RELEASE_BUNDLE = "RELEASE_BUNDLE"
    DESTINATION = "DESTINATION"
    PIPELINE = "PIPELINE"
    DEVICE = "DEVICE"


class Environment(StrEnum):
    DEV = "DEV"
    PROD = "PROD"


class ManagePolicy(StrEnum):
    """R25: what a user holding MANAGE on a permission target may grant on it."""

    EXCLUDE_MANAGE = "EXCLUDE_MANAGE"  # only actions they hold there, never MANAGE (default)
    ANY_ACTION_EXCLUDING_MANAGE = "ANY_ACTION_EXCLUDING_MANAGE"
    ANY_ACTION_INCLUDING_MANAGE = "ANY_ACTION_INCLUDING_MANAGE"  # legacy, less secure


class PrincipalType(StrEnum):
    """Who a permission target grants to (R24)."""

    USER = "USER"
    GROUP = "GROUP"
    ANONYMOUS = "ANONYMOUS"


class DeviceEventKind(StrEnum):
    """What a device's log records (R31-R32): who did what to it, and when."""

    REGISTERED = "REGISTERED"
    MODIFIED = "MODIFIED"
    REMOTE_SESSION = "REMOTE_SESSION"  # a remote-control session opened (REMOTE_CONTROL)
    UPDATE_DEPLOYED = "UPDATE_DEPLOYED"  # an OTA update deployed (DEPLOY_UPDATES)
    COMMAND_RUN = "COMMAND_RUN"  # a Control Center command run (RUN_COMMANDS)


class MonitorKind(StrEnum):
    """R32: Data Monitor parameters and Process Monitor binaries, each with its permission."""

    DATA = "DATA"
    PROCESS = "PROCESS"


class DeviceAlert(StrEnum):
    """The project alerts a user may choose to receive (R32: modify alerts)."""

    DEVICE_OFFLINE = "DEVICE_OFFLINE"
    DATA_MONITOR = "DATA_MONITOR"
    PROCESS_MONITOR = "PROCESS_MONITOR"
    UPDATE_FAILED = "UPDATE_FAILED"
    COMMAND_FAILED = "COMMAND_FAILED"


class AccountPermission(StrEnum):
    """R33: what an admin may grant an individual user beyond their team role."""

    INVITE_AND_MODIFY_ACCOUNTS = "INVITE_AND_MODIFY_ACCOUNTS"
    BILLING = "BILLING"
    CREATE_AND_MODIFY_PROJECTS = "CREATE_AND_MODIFY_PROJECTS"
