from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, event, text
from sqlmodel import Field, SQLModel

from accessgraph.models.base import UTCDateTime, enum_column
from accessgraph.models.enums import TeamRole, UserStatus

NAME_MAX = 100
EMAIL_MAX = 254
SEARCH_KEY_MAX = EMAIL_MAX + 2 * NAME_MAX + 2


class User(SQLModel, table=True):
    """A member of one organization. Deleted users are kept (deleted_at) for the audit trail."""

    __tablename__ = "users"
    __table_args__ = (
        # One live user per email and organization; a deleted user's email can be invited again.
        Index(
            "uq_users_org_email_live",
            "org_id",
            "email_normalized",
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("ix_users_org_id_id", "org_id", "id"),
        # The team page's count: live users of one organization, without a table scan.
        Index("ix_users_org_id_deleted_at", "org_id", "deleted_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organizations.id")
    email: str = Field(max_length=EMAIL_MAX)
    email_normalized: str = Field(max_length=EMAIL_MAX)
    first_name: str | None = Field(default=None, max_length=NAME_MAX)
    last_name: str | None = Field(default=None, max_length=NAME_MAX)
    role: TeamRole = Field(sa_type=enum_column(TeamRole))
    # ACTIVE, INVITED or FAILED; EXPIRED is derived from invitation_expires_at (see status_at).
    status: UserStatus = Field(sa_type=enum_column(UserStatus))
    password_hash: str | None = Field(default=None, max_length=255)
    invitation_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Email and names, casefolded in Python: search is Unicode-aware on every database
    # (SQLite's lower() folds ASCII only). Kept current by the mapper events below.
    search_key: str = Field(default="", max_length=SEARCH_KEY_MAX)
    # R33: account permissions an admin granted (AccountPermission values). On the row, so the
    # request's principal carries them with no extra statement.
    account_permissions: list[str] = Field(
        default_factory=list,
        sa_column=Column(JSON, nullable=False, server_default=text("'[]'")),
    )

    def status_at(self, now: datetime) -> UserStatus:
        return status_at(self.status, self.invitation_expires_at, now)


def status_at(
    status: UserStatus, invitation_expires_at: datetime | None, now: datetime
) -> UserStatus:
    """A user's status at `now`: the stored one, or EXPIRED for an invitation past its time
    (R8). For a page's rows, read from their columns' values."""
    if status == UserStatus.INVITED and invitation_expires_at is not None:
        return UserStatus.EXPIRED if invitation_expires_at <= now else status
    return status


def search_key(user: User) -> str:
    # The full name as the console shows it, so "ada lovelace" finds Ada Lovelace.
    full_name = " ".join(p for p in (user.first_name, user.last_name) if p)
    return f"{user.email}\n{full_name}".casefold()[:SEARCH_KEY_MAX]  # casefold may lengthen


@event.listens_for(User, "before_insert")
@event.listens_for(User, "before_update")
def _refresh_search_key(_mapper: Any, _connection: Any, user: User) -> None:
    user.search_key = search_key(user)
