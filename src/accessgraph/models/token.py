from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from accessgraph.models.base import UTCDateTime, enum_column
from accessgraph.models.enums import TokenPermission, TokenStatus

TOKEN_NAME_MAX = 100


class AccessToken(SQLModel, table=True):
    """An access token for automation (R12). The value is never stored, only its SHA-256 (R13)."""

    __tablename__ = "access_tokens"
    __table_args__ = (
        Index("ix_access_tokens_org_id_id", "org_id", "id"),
        Index("ix_access_tokens_owner_id_id", "owner_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organizations.id")
    owner_id: int = Field(foreign_key="users.id")
    # Set for a subscription's API token: it reaches that subscription and nothing else.
    subscription_id: int | None = Field(default=None, foreign_key="subscriptions.id", index=True)
    name: str = Field(max_length=TOKEN_NAME_MAX)
    permission: TokenPermission = Field(sa_type=enum_column(TokenPermission))
    username: str = Field(max_length=64, unique=True)
    secret_hash: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_by_id: int | None = Field(default=None, foreign_key="users.id")
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    def status_at(self, now: datetime) -> TokenStatus:
        return token_status(self.revoked_at, self.expires_at, now)


def token_status(
    revoked_at: datetime | None, expires_at: datetime | None, now: datetime
) -> TokenStatus:
    if revoked_at is not None:
        return TokenStatus.REVOKED
    if expires_at is not None and expires_at <= now:
        return TokenStatus.EXPIRED
    return TokenStatus.ACTIVE
