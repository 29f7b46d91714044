from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from accessgraph.models.base import UTCDateTime, enum_column
from accessgraph.models.enums import EmailStatus


class OutboxEmail(SQLModel, table=True):
    """Every email the service sends, with its delivery outcome."""

    __tablename__ = "outbox_emails"

    id: int | None = Field(default=None, primary_key=True)
    org_id: int | None = Field(default=None, foreign_key="organizations.id", index=True)
    to_address: str = Field(max_length=254)
    subject: str = Field(max_length=300)
    body: str
    status: EmailStatus = Field(sa_type=enum_column(EmailStatus))
    error: str | None = Field(default=None, max_length=1000)
    created_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
