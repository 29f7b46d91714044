"""The error vocabulary of the API (API.md "Errors").

- Authentication and authorization failures are top-level GraphQL errors whose
  `extensions.code` is UNAUTHENTICATED or FORBIDDEN; they are never masked.
- Business-rule and input failures are `Rejected`, raised inside a use case (which rolls its
  transaction back) and turned into the payload's `errors` list by the schema layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from graphql import GraphQLError

UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"


class ExposedError(GraphQLError):
    """A GraphQL error meant for the client; MaskErrors lets it through."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message, extensions={"code": code})


def unauthenticated(message: str = "Authentication required.") -> ExposedError:
    return ExposedError(message, UNAUTHENTICATED)


def forbidden(message: str = "You do not have permission to do this.") -> ExposedError:
    return ExposedError(message, FORBIDDEN)


@dataclass(frozen=True, slots=True)
class Problem:
    code: str
    message: str
    field: tuple[str, ...] | None = None


class Rejected(Exception):
    """A business rule or bad input refused the operation; nothing was changed."""

    def __init__(self, code: str, message: str, field: Sequence[str] | None = None) -> None:
        super().__init__(message)
        self.problems = [Problem(code, message, tuple(field) if field else None)]


def not_found(what: str, field: Sequence[str] | None = None) -> Rejected:
    return Rejected("NOT_FOUND", f"{what} not found.", field)
