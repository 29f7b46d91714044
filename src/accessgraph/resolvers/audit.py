"""The audit log (R35): every change to access, written in the transaction that makes it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from accessgraph.auth.principal import Principal
from accessgraph.db import Database
from accessgraph.models import (
    AccessToken,
    AuditEvent,
    Device,
    DeviceGroup,
    Group,
    PermissionTarget,
    Project,
    Resource,
    Subscription,
    User,
)
from accessgraph.resolvers.pagination import Page, PageArgs, fetch_page


def user_snapshot(user: User, now: datetime) -> dict[str, Any]:
    return {
        "email": user.email,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "role": user.role.value,
        "status": user.status_at(now).value,
        "deleted": user.deleted_at is not None,
    }


def token_snapshot(token: AccessToken, now: datetime) -> dict[str, Any]:
    return {
        "name": token.name,
        "permission": token.permission.value,
        "username": token.username,
        "ownerId": token.owner_id,
        "status": token.status_at(now).value,
        "expiresAt": token.expires_at.isoformat() if token.expires_at else None,
    }


def record(
    session: AsyncSession,
    actor: Principal,
    action: str,
    *,
    org_id: int,
    now: datetime,
    target: User
    | AccessToken
    | Subscription
    | Group
    | PermissionTarget
    | Resource
    | Project
    | Device
    | DeviceGroup
    | None = None,
    target_label: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    target_type = type(target).__name__ if target is not None else "Organization"
    if isinstance(target, User):
        target_label = target_label or target.email
    elif target is not None:
        target_label = target_label or target.name
    session.add(
        AuditEvent(
            org_id=org_id,
            actor_user_id=actor.user_id,
            actor_token_id=actor.token_id,
            actor_label=actor.label,
            action=action,
            target_type=target_type,
            target_id=target.id if target is not None else org_id,
            target_label=target_label,
            before=before,
            after=after,
            created_at=now,
        )
    )


@dataclass(frozen=True, slots=True)
class AuditFilter:
    action: str | None = None
    actor_user_id: int | None = None
    target_type: str | None = None
    target_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


def audit_conditions(org_id: int, flt: AuditFilter) -> list[ColumnElement[bool]]:
    conditions = [col(AuditEvent.org_id) == org_id]
    if flt.action:
        conditions.append(col(AuditEvent.action) == flt.action)
    if flt.actor_user_id is not None:
        conditions.append(col(AuditEvent.actor_user_id) == flt.actor_user_id)
    if flt.target_type:
        conditions.append(col(AuditEvent.target_type) == flt.target_type)
    if flt.target_id is not None:
        conditions.append(col(AuditEvent.target_id) == flt.target_id)
    if flt.since:
        conditions.append(col(AuditEvent.created_at) >= flt.since)
    if flt.until:
        conditions.append(col(AuditEvent.created_at) < flt.until)
    return conditions


async def list_events(
    db: Database, org_id: int, flt: AuditFilter, args: PageArgs
) -> Page[AuditEvent]:
    # Newest first: the log is read from the latest change backwards.
    return await fetch_page(
        db, AuditEvent, and_(*audit_conditions(org_id, flt)), args, newest_first=True
    )
