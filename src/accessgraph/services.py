"""The collaborators one app instance owns, built once by `create_app` (no globals)."""

from __future__ import annotations

from dataclasses import dataclass, field

from accessgraph.auth.policy import Policy, default_policy
from accessgraph.auth.tokens import TokenSigner
from accessgraph.clock import Clock, SystemClock
from accessgraph.db import Database
from accessgraph.mail import Mailer, mailer_for
from accessgraph.rate_limits import Counters, DatabaseCounters, RateLimiter, RedisCounters
from accessgraph.resolvers.access_index import AccessIndexes
from accessgraph.settings import Settings


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    db: Database
    clock: Clock
    signer: TokenSigner
    mailer: Mailer
    policy: Policy
    rate_limiter: RateLimiter
    # Per-process cache of each organization's compiled permission targets (never stale).
    access_indexes: AccessIndexes = field(default_factory=AccessIndexes)

    @classmethod
    def build(
        cls, settings: Settings, *, clock: Clock | None = None, mailer: Mailer | None = None
    ) -> Services:
        db = Database(settings.database_url, echo=settings.sql_echo)
        clock = clock or SystemClock()
        counters: Counters = (
            RedisCounters(settings.redis_url) if settings.redis_url else DatabaseCounters(db, clock)
        )
        return cls(
            settings=settings,
            db=db,
            clock=clock,
            signer=TokenSigner(
                settings.secret_key, issuer=settings.jwt_issuer, audience=settings.jwt_audience
            ),
            mailer=mailer or mailer_for(settings.smtp_url, settings.mail_from),
            policy=default_policy(),
            rate_limiter=RateLimiter(counters, settings.limits),
        )
