"""Signed credentials (PyJWT, HS256 pinned) and secret hashing.

Two kinds of JWT are issued, told apart by the `typ` claim: console sessions and access
tokens. Both carry iss, aud, sub, iat, exp and jti; verification pins the algorithm, the
issuer, the audience and the kind, and requires every claim. The database keeps only the jti
(an id) and a SHA-256 of the whole value, so a leaked database yields no usable token (R13).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import jwt

ALGORITHM = "HS256"
# A token that "never expires" still carries exp (every JWT here has one); its API expiresAt is
# null and the database row decides. 100 years is beyond any realistic rotation policy.
NEVER_EXPIRES = timedelta(days=36500)
REQUIRED_CLAIMS = ["iss", "aud", "sub", "iat", "exp", "jti", "typ"]
# Verified signatures remembered per process (issue 8: three JWT decodes were a fifth of a
# request's CPU). Only what cannot change for a given value under a given key set is kept: the
# signature, issuer, audience and claims; expiry, kind and revocation are checked on every use.
VERIFIED_CACHE_SIZE = 10_000


class TokenKind(StrEnum):
    SESSION = "session"
    ACCESS = "access"


class InvalidToken(Exception):
    """The value is not a credential this server issued (or it expired)."""


@dataclass(frozen=True, slots=True)
class Claims:
    kind: TokenKind
    subject: int
    org_id: int
    jti: str


class UnknownKey(InvalidToken):
    """Signed with a key id this process does not know (yet): reload the keys, then retry."""


@dataclass(frozen=True, slots=True)
class KeySet:
    """The keys in use: `keys` by kid (derived, never stored), which one signs, and whether
    the secret key itself still verifies the tokens it signed before any rotation."""

    keys: dict[str, str]
    current: str | None = None  # None: sign with the secret key itself, no kid
    legacy_retired: bool = False


class TokenSigner:
    def __init__(self, key: str, *, issuer: str, audience: str) -> None:
        if not key:
            raise ValueError("a signing key is required")
        self._key = key
        self._issuer = issuer
        self._audience = audience
        self._keys = KeySet({})
        self._verified: dict[str, dict[str, Any]] = {}

    def derive(self, salt: str) -> str:
        """A rotated key: HMAC-SHA256 of the salt under the secret key (256 bits)."""
        return hmac.new(
            self._key.encode(), f"accessgraph-key:{salt}".encode(), "sha256"
        ).hexdigest()

    def use(self, keys: KeySet) -> None:
        self._keys = keys
        self._verified = {}  # a retired key must stop verifying what it signed: verify again

    def issue(
        self,
        kind: TokenKind,
        *,
        subject: int,
        org_id: int,
        jti: str,
        now: datetime,
        expires_at: datetime | None,
    ) -> str:
        payload: dict[str, Any] = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": str(subject),
            "org": org_id,
            "typ": kind.value,
            "jti": jti,
            "iat": int(now.timestamp()),
            "exp": int((expires_at or now + NEVER_EXPIRES).timestamp()),
        }
        kid = self._keys.current
        if kid is None:
            return jwt.encode(payload, self._key, algorithm=ALGORITHM)
        return jwt.encode(payload, self._keys.keys[kid], algorithm=ALGORITHM, headers={"kid": kid})

    def _key_for(self, value: str) -> str:
        try:
            header = jwt.get_unverified_header(value)
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from None
        kid = header.get("kid")
        if kid is None:
            if self._keys.legacy_retired:
                raise InvalidToken("signed with a retired key")
            return self._key
        if not isinstance(kid, str):
            raise InvalidToken("malformed kid")
        key = self._keys.keys.get(kid)
        if key is None:
            raise UnknownKey(kid)
        return key

    def _verified_payload(self, value: str) -> dict[str, Any]:
        payload = self._verified.get(value)
        if payload is not None:
            return payload
        key = self._key_for(value)
        try:
            payload = jwt.decode(
                value,
                key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                # exp is required, but compared below against the service's clock (STYLE 7),
                # the one authority on time: PyJWT would compare it with the wall clock.
                options={"require": REQUIRED_CLAIMS, "verify_iat": False, "verify_exp": False},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from None
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified = {}
        self._verified[value] = payload
        return payload

    def kind_of(self, value: str) -> TokenKind | None:
        """The kind a JWT claims to be: verified already, or read unverified (only to pick the
        verifier)."""
        payload = self._verified.get(value)
        if payload is None:
            return peek_kind(value)
        try:
            return TokenKind(str(payload.get("typ")))
        except ValueError:
            return None

    def verify(self, value: str, kind: TokenKind, *, now: datetime) -> Claims:
        payload = self._verified_payload(value)
        try:
            expired = int(payload["exp"]) <= int(now.timestamp())
        except (TypeError, ValueError):
            raise InvalidToken("malformed exp") from None
        if payload.get("typ") != kind.value or expired:
            raise InvalidToken("wrong kind or expired")
        try:
            return Claims(kind, int(payload["sub"]), int(payload["org"]), str(payload["jti"]))
        except (KeyError, TypeError, ValueError):
            raise InvalidToken("malformed claims") from None


def peek_kind(value: str) -> TokenKind | None:
    """The kind a JWT claims to be, before verification (only to pick the verifier)."""
    try:
        payload = jwt.decode(value, options={"verify_signature": False})
        return TokenKind(str(payload.get("typ")))
    except (jwt.PyJWTError, ValueError):
        return None


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def same_digest(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def new_id() -> str:
    return secrets.token_hex(16)
