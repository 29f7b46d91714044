from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index
from sqlmodel import Column, Field, SQLModel

from accessgraph.models.base import UTCDateTime


class AuditEvent(SQLModel, table=True):
    """One change to access (R35): who, what, when, and the state before and after."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_org_id_id", "org_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organizations.id")
    actor_user_id: int | None = Field(default=None, foreign_key="users.id")
    # No foreign key: a deleted token must not erase which token acted.
    actor_token_id: int | None = Field(default=None)
    # A snapshot of who acted, readable even after the actor is deleted.
    actor_label: str = Field(max_length=300)
    action: str = Field(max_length=64, index=True)
    target_type: str = Field(max_length=40)
    target_id: int | None = Field(default=None)
    target_label: str = Field(default="", max_length=300)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = Field(sa_type=UTCDateTime)
