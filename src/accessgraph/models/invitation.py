from __future__ import annotations

from datetime import datetime

from sqlalchemy import Update, update
from sqlmodel import Field, SQLModel, col

from accessgraph.models.base import UTCDateTime


class Invitation(SQLModel, table=True):
    """A sign-up link. Only the SHA-256 of its random secret is stored (R8)."""

    __tablename__ = "invitations"

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organizations.id", index=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    secret_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    superseded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


def supersede_open_invitations(user_id: int, now: datetime) -> Update:
    """Every unused, unreplaced link of the user stops working (resend, delete, activation)."""
    return (
        update(Invitation)
        .where(
            col(Invitation.user_id) == user_id,
            col(Invitation.used_at).is_(None),
            col(Invitation.superseded_at).is_(None),
        )
        .values(superseded_at=now)
    )
