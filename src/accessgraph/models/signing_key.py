"""Signing keys added by `accessgraph keys rotate` (accessgraph.auth.keys).

A row holds no key: only a random salt, from which the key is derived with the server's
secret key (HMAC-SHA256). A copy of the database alone forges nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from accessgraph.models.base import UTCDateTime

LEGACY_KID = "legacy"  # the secret key itself, which signed tokens before any rotation


class SigningKey(SQLModel, table=True):
    __tablename__ = "signing_keys"

    kid: str = Field(primary_key=True, max_length=32)
    salt: str = Field(max_length=64)  # hex; empty for the legacy row (only ever retired)
    created_at: datetime = Field(sa_type=UTCDateTime)
    retired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
