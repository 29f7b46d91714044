"""Configuration from ACCESSGRAPH_* environment variables, read once into a frozen object.

There is no import-time singleton: `Settings.from_env()` is called by the CLI and by tests,
and the result is handed to `create_app`.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

PREFIX = "ACCESSGRAPH_"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./accessgraph.db"
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
DEFAULT_MAIL_FROM = "accessgraph <no-reply@accessgraph.invalid>"
SECRET_FILE_NAME = "accessgraph.secret"
MIN_SECRET_BYTES = 32
PLACEHOLDER_SECRETS = frozenset({"changeme", "change-me", "secret", "changethis", "dev"})


class SettingsError(ValueError):
    """The configuration cannot be used; the message says which variable to fix."""


@dataclass(frozen=True, slots=True)
class Limits:
    """What one request may ask for (ACCESSGRAPH_<NAME> in upper case, e.g. MAX_QUERY_COST)."""

    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 4000
    max_directives: int = 50
    max_query_cost: int = 10_000  # objects a query could return, first/last multiplied down
    max_body_bytes: int = 1_048_576
    request_timeout_seconds: float = 10.0
    # Rate limits, shared by every instance (database counters, or Redis with REDIS_URL).
    login_failures_per_account: int = 5  # then the account's logins wait out the window
    login_failures_per_address: int = 50  # from one client address, whatever the account
    login_window_minutes: float = 15.0
    invitations_per_hour: int = 100  # invitation emails sent per organization
    tokens_per_hour: int = 50  # access tokens created per user
    leak_reports_per_hour: int = 30  # reportLeakedToken calls per client address

    @classmethod
    def from_env(cls, get: Callable[[str], str | None]) -> Limits:
        values: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            raw = get(name.upper())
            if raw is None:
                continue
            number = _positive_float(name.upper(), raw)
            floats = ("request_timeout_seconds", "login_window_minutes")
            values[name] = number if name in floats else int(number)
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    secret_key: str = field(default="", repr=False)
    public_url: str = DEFAULT_PUBLIC_URL
    smtp_url: str | None = None
    mail_from: str = DEFAULT_MAIL_FROM
    env: str = "development"
    invitation_ttl_hours: float = 24.0
    session_ttl_hours: float = 12.0
    # Who the JWTs are issued by and for; tokens of another deployment never verify here.
    jwt_issuer: str = "accessgraph"
    jwt_audience: str = "accessgraph-api"
    sql_echo: bool = False
    limits: Limits = field(default_factory=Limits)
    # Where rate-limit counters live when several instances share them: Redis (e.g.
    # redis://127.0.0.1:6379/0); unset, the database.
    redis_url: str | None = None
    # Origins that may call the API from a browser (CORS); none by default.
    cors_origins: tuple[str, ...] = ()

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def is_sqlite(self) -> bool:
        return make_url(self.database_url).get_backend_name() == "sqlite"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)

        def get(name: str, default: str | None = None) -> str | None:
            value = env.get(PREFIX + name)
            return value if value not in (None, "") else default

        settings = cls(
            database_url=get("DATABASE_URL", DEFAULT_DATABASE_URL) or DEFAULT_DATABASE_URL,
            public_url=(get("PUBLIC_URL") or DEFAULT_PUBLIC_URL).rstrip("/"),
            smtp_url=get("SMTP_URL"),
            mail_from=get("MAIL_FROM") or DEFAULT_MAIL_FROM,
            env=get("ENV", "development") or "development",
            invitation_ttl_hours=_positive_float(
                "INVITATION_TTL_HOURS", get("INVITATION_TTL_HOURS", "24")
            ),
            session_ttl_hours=_positive_float("SESSION_TTL_HOURS", get("SESSION_TTL_HOURS", "12")),
            sql_echo=(get("SQL_ECHO", "") or "").lower() in {"1", "true", "yes"},
            limits=Limits.from_env(get),
            redis_url=get("REDIS_URL"),
            cors_origins=tuple(
                origin.strip().rstrip("/")
                for origin in (get("CORS_ORIGINS") or "").split(",")
                if origin.strip()
            ),
        )
        if settings.env not in {"development", "production"}:
            raise SettingsError("ACCESSGRAPH_ENV must be 'development' or 'production'")
        secret = get("SECRET_KEY") or _stored_secret(settings)
        _check_secret(secret, settings)
        return replace(settings, secret_key=secret)


def _positive_float(name: str, raw: str | None) -> float:
    try:
        value = float(raw or "")
    except ValueError:
        raise SettingsError(f"{PREFIX}{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{PREFIX}{name} must be positive")
    return value


def secret_file_for(database_url: str) -> Path:
    """The key file lives beside the SQLite database (or in the working directory)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return Path(url.database).resolve().parent / SECRET_FILE_NAME
    return Path.cwd() / SECRET_FILE_NAME


def _stored_secret(settings: Settings) -> str:
    """Read the generated key, or generate it once. It is never silently replaced."""
    if settings.is_production and not settings.is_sqlite:
        raise SettingsError(
            f"{PREFIX}SECRET_KEY is required in production with a server database "
            "(every instance must sign with the same key)"
        )
    path = secret_file_for(settings.database_url)
    if path.exists():
        value = path.read_text().strip()
        if not value:
            raise SettingsError(f"{path} is empty; restore it or set {PREFIX}SECRET_KEY")
        return value
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting at once cannot both write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


def _check_secret(secret: str, settings: Settings) -> None:
    if settings.is_production and (
        secret.lower() in PLACEHOLDER_SECRETS or len(secret.encode()) < MIN_SECRET_BYTES
    ):
        raise SettingsError(
            f"{PREFIX}SECRET_KEY must be a random value of at least {MIN_SECRET_BYTES} bytes "
            "in production"
        )
