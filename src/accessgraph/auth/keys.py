"""Signing-key rotation (issue 7): `accessgraph keys rotate` adds a key that signs from then
on, older keys keep verifying until `accessgraph keys retire KID`.

Every instance reloads the key rows every `REFRESH_SECONDS`, and at once when a token names a
key it does not know (another instance rotated first). So a new key is used everywhere within
that period, and a retired one stops verifying everywhere within it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from datetime import datetime

from sqlalchemy import select
from sqlmodel import col

from accessgraph.auth.tokens import Claims, KeySet, TokenKind, TokenSigner, UnknownKey
from accessgraph.db import Database
from accessgraph.errors import Rejected
from accessgraph.models import SigningKey
from accessgraph.models.signing_key import LEGACY_KID

log = logging.getLogger("accessgraph.keys")
REFRESH_SECONDS = 30.0


async def load(db: Database, signer: TokenSigner) -> KeySet:
    """Read the key rows and hand the signer the keys they derive."""
    async with db.session() as session:
        rows = list(
            (await session.execute(select(SigningKey).order_by(col(SigningKey.created_at))))
            .scalars()
            .all()
        )
    active = [r for r in rows if r.kid != LEGACY_KID and r.retired_at is None]
    keys = KeySet(
        keys={r.kid: signer.derive(r.salt) for r in active},
        current=active[-1].kid if active else None,
        legacy_retired=any(r.kid == LEGACY_KID and r.retired_at is not None for r in rows),
    )
    signer.use(keys)
    return keys


async def verify(
    db: Database, signer: TokenSigner, value: str, kind: TokenKind, now: datetime
) -> Claims:
    """`signer.verify`, reloading the keys once if the token names one unknown here."""
    try:
        return signer.verify(value, kind, now=now)
    except UnknownKey:
        await load(db, signer)
        return signer.verify(value, kind, now=now)


@contextlib.asynccontextmanager
async def kept_fresh(db: Database, signer: TokenSigner) -> AsyncIterator[None]:
    """For an app's lifetime: load the keys now, and again every REFRESH_SECONDS."""
    await load(db, signer)

    async def refresh() -> None:
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            try:
                await load(db, signer)
            except Exception:  # the database may be briefly away: keep the keys we have
                log.exception("could not reload the signing keys")

    task = asyncio.create_task(refresh())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def rotate(db: Database, now: datetime) -> str:
    """A new signing key; its kid."""
    kid = secrets.token_hex(8)
    async with db.write() as session:
        session.add(SigningKey(kid=kid, salt=secrets.token_hex(32), created_at=now))
    return kid


async def retire(db: Database, kid: str, now: datetime) -> None:
    """Tokens signed with `kid` stop verifying (`legacy`: those signed before any rotation).
    The last key that can sign is never retired."""
    async with db.write() as session:
        rows = {r.kid: r for r in (await session.execute(select(SigningKey))).scalars()}
        row = rows.get(kid)
        if kid == LEGACY_KID and row is None:
            row = SigningKey(kid=LEGACY_KID, salt="", created_at=now)
        if row is None or row.retired_at is not None:
            raise Rejected("NOT_FOUND", f"No active signing key {kid!r}.", ["kid"])
        others = [r for k, r in rows.items() if k not in (kid, LEGACY_KID) and not r.retired_at]
        if kid == LEGACY_KID and not others:
            raise Rejected(
                "LAST_KEY",
                "Rotate first: the secret key itself is the only key that signs.",
                ["kid"],
            )
        if kid != LEGACY_KID and not others and _legacy_retired(rows):
            raise Rejected("LAST_KEY", "Rotate first: this is the only key that signs.", ["kid"])
        row.retired_at = now
        session.add(row)


def _legacy_retired(rows: dict[str, SigningKey]) -> bool:
    legacy = rows.get(LEGACY_KID)
    return legacy is not None and legacy.retired_at is not None


async def listing(db: Database) -> list[SigningKey]:
    async with db.session() as session:
        return list(
            (await session.execute(select(SigningKey).order_by(col(SigningKey.created_at))))
            .scalars()
            .all()
        )
