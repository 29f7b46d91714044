from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from accessgraph.models.base import UTCDateTime, enum_column
from accessgraph.models.enums import ManagePolicy


class Organization(SQLModel, table=True):
    __tablename__ = "organizations"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    # R25: what MANAGE holders of a permission target may grant; only admins change it.
    manage_policy: ManagePolicy = Field(
        default=ManagePolicy.EXCLUDE_MANAGE, sa_type=enum_column(ManagePolicy)
    )
    # Bumped in the transaction of every change to groups, memberships or permission
    # targets: each access check compares it with its cached index (one indexed read), so a
    # change is seen by the very next check on every instance.
    access_version: int = 0
    # How many members (users not deleted) it has: kept by triggers on `users` (migration
    # 0011), so the team page's totalCount is one indexed read, not a scan of every member.
    live_users: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # How many personal access tokens (no subscription) it has: kept by triggers on
    # `access_tokens` (migration 0012), for the token page's totalCount.
    personal_tokens: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
