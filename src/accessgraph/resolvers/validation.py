"""Input checks shared by the use cases; each failure is a `Rejected` with a stable code."""

from __future__ import annotations

import unicodedata
from datetime import datetime

import email_validator
from email_validator import EmailNotValidError, validate_email

from accessgraph.auth.passwords import password_problem
from accessgraph.errors import Rejected
from accessgraph.models.user import EMAIL_MAX, NAME_MAX

# Self-hosted teams use internal mail domains (corp.local, acme.test); email_validator refuses
# these special-use names by default and documents editing this list as the way to allow them.
# "invalid", "localhost" and "onion" stay refused.
for _internal in ("local", "test", "arpa"):
    if _internal in email_validator.SPECIAL_USE_DOMAIN_NAMES:
        email_validator.SPECIAL_USE_DOMAIN_NAMES.remove(_internal)


def has_control(text: str) -> bool:
    """Control, format (bidi overrides, zero-width) or unassigned characters: text that would
    display as something other than what it is, or break a log line."""
    if text.isascii():  # ASCII's C characters are its controls, all that it cannot print
        return not text.isprintable()
    return any(unicodedata.category(ch).startswith("C") for ch in text)


def clean_email(raw: str, field: str = "email") -> tuple[str, str]:
    """(email as given, trimmed; normalized form for uniqueness) or INVALID_EMAIL."""
    email = raw.strip()
    if len(email) > EMAIL_MAX:
        raise Rejected(
            "INVALID_EMAIL", f"The email must have at most {EMAIL_MAX} characters.", [field]
        )
    try:
        checked = validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        raise Rejected("INVALID_EMAIL", f"The email address is not valid: {exc}", [field]) from None
    return checked.normalized, checked.normalized.casefold()


def clean_name(raw: str | None, field: str, *, required: bool = False) -> str | None:
    """A trimmed person or object name, 1..NAME_MAX characters, or None when absent."""
    if raw is None:
        if required:
            raise Rejected("INVALID_NAME", "A name is required.", [field])
        return None
    name = " ".join(raw.split())
    if not name:
        raise Rejected("INVALID_NAME", "The name cannot be empty.", [field])
    if len(name) > NAME_MAX:
        raise Rejected(
            "INVALID_NAME", f"The name must have at most {NAME_MAX} characters.", [field]
        )
    if has_control(name):
        raise Rejected("INVALID_NAME", "The name cannot contain control characters.", [field])
    return name


def check_password(password: str, field: str = "password") -> None:
    problem = password_problem(password)
    if problem:
        raise Rejected("WEAK_PASSWORD", problem, [field])


def check_future(value: datetime | None, now: datetime, field: str) -> None:
    if value is None:
        return
    if value.tzinfo is None:
        raise Rejected("INVALID_DATE", "Give the date-time with a timezone (UTC: ...Z).", [field])
    if value <= now:
        raise Rejected("EXPIRES_AT_IN_PAST", "The expiry must be in the future.", [field])


def clean_text(raw: str | None, field: str, limit: int, code: str) -> str | None:
    """An optional free text (a description, a location): trimmed, empty means none, at most
    `limit` characters; line breaks and tabs allowed, other control characters not."""
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    if len(text) > limit or has_control(text.replace("\n", " ").replace("\t", " ")):
        raise Rejected(code, f"The {field} has at most {limit} printable characters.", [field])
    return text
