"""Groups of users (R23), managed by admins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from accessgraph.models.base import UTCDateTime

GROUP_NAME_MAX = 100
DESCRIPTION_MAX = 500


class Group(SQLModel, table=True):
    __tablename__ = "groups"
    __table_args__ = (
        UniqueConstraint("org_id", "name_normalized", name="uq_groups_org_name"),
        Index("ix_groups_org_id_id", "org_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organizations.id")
    name: str = Field(max_length=GROUP_NAME_MAX)
    name_normalized: str = Field(max_length=GROUP_NAME_MAX)
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX)
    created_at: datetime = Field(sa_type=UTCDateTime)


class GroupMember(SQLModel, table=True):
    __tablename__ = "group_members"
    __table_args__ = (Index("ix_group_members_user_id", "user_id"),)

    group_id: int = Field(foreign_key="groups.id", primary_key=True)
    user_id: int = Field(foreign_key="users.id", primary_key=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
