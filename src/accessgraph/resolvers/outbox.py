"""Sending what a transaction queued in the outbox, after it committed.

A use case adds `OutboxEmail` rows in its own transaction (so an email exists only if the
change does) and keeps the message in memory; once committed, `send` hands each message to the
mailer (never holding a write lock across the network) and records every outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import update
from sqlmodel import col

from accessgraph.mail import MailDeliveryError, OutgoingEmail
from accessgraph.models import EmailStatus, OutboxEmail
from accessgraph.services import Services

log = logging.getLogger("accessgraph.mail")


@dataclass(frozen=True, slots=True)
class Queued:
    """An outbox row (what is kept) and the message to send (may hold a secret the row
    does not)."""

    outbox: OutboxEmail
    message: OutgoingEmail


async def send(services: Services, queued: Sequence[Queued]) -> list[str | None]:
    """Deliver each message; the error of each (None: delivered or logged)."""
    errors: list[str | None] = []
    for item in queued:
        error: str | None = None
        try:
            await services.mailer.send(item.message)
        except MailDeliveryError as exc:
            error = str(exc)[:1000]
            log.warning("email to %s failed: %s", item.outbox.to_address, error)
        errors.append(error)
    if not queued:
        return errors
    now = services.clock.now()
    delivered = EmailStatus.SENT if services.mailer.delivers else EmailStatus.LOGGED
    async with services.db.write() as session:
        for item, error in zip(queued, errors, strict=True):
            await session.execute(
                update(OutboxEmail)
                .where(col(OutboxEmail.id) == item.outbox.id)
                .values(
                    status=EmailStatus.FAILED if error else delivered,
                    error=error,
                    sent_at=None if error else now,
                )
            )
    return errors
