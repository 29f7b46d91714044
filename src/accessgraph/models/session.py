from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from accessgraph.models.base import UTCDateTime


class LoginSession(SQLModel, table=True):
    """A console login. Its id is the session JWT's jti; revoking it ends the session (R6)."""

    __tablename__ = "login_sessions"

    id: str = Field(primary_key=True, max_length=64)
    org_id: int = Field(foreign_key="organizations.id")
    user_id: int = Field(foreign_key="users.id", index=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
