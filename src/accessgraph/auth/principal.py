"""Who is calling: a user (through a console session or an access token) or nobody."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from starlette.authentication import BaseUser

from accessgraph.models.enums import AccountPermission, TeamRole, TokenPermission

if TYPE_CHECKING:
    from accessgraph.models import User


@dataclass(frozen=True, slots=True)
class Principal(BaseUser):
    """A snapshot taken when the request arrives, from the current database rows.

    A token acts as its owner (R14): `role` is the owner's role now, not when the token was
    made, and `token_permission` caps it.
    """

    org_id: int | None = None
    user_id: int | None = None
    role: TeamRole | None = None
    email: str = ""
    token_id: int | None = None
    token_permission: TokenPermission | None = None
    session_id: str | None = None
    # A subscription's API token: the principal reaches that subscription and nothing else.
    token_subscription_id: int | None = None
    # `checkAccess` about a group: the subject is the group itself (no user).
    group_id: int | None = None
    # R33: account permissions an admin granted this user.
    account_permissions: frozenset[AccountPermission] = frozenset()
    # The row authentication read, so this request's loaders need not read it again. Not part
    # of the snapshot's identity (equality, hash): decisions use the fields above.
    user_row: User | None = field(default=None, compare=False, repr=False)
    # The organization's `access_version`, read in the same statement as the credential: a
    # query's `checkAccess` needs no read of its own (resolvers/access_index.py). Not identity.
    access_version: int | None = field(default=None, compare=False, repr=False)

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None

    @property
    def display_name(self) -> str:
        return self.email

    @property
    def identity(self) -> str:
        return "" if self.user_id is None else str(self.user_id)

    @property
    def is_read_only(self) -> bool:
        return self.token_permission == TokenPermission.READ_ONLY

    @property
    def label(self) -> str:
        """How the audit log names this caller."""
        if self.token_id is not None:
            return f"{self.email} (token {self.token_id})"
        return self.email or "anonymous"


ANONYMOUS = Principal()


class _StoresAccountPermissions(Protocol):
    @property
    def account_permissions(self) -> list[str]: ...


def account_permissions_of(user: _StoresAccountPermissions) -> frozenset[AccountPermission]:
    """The user's stored account permissions (unknown names, e.g. after a downgrade, ignored):
    of the model, or of a page's row of values."""
    known = {p.value for p in AccountPermission}
    return frozenset(AccountPermission(p) for p in user.account_permissions if p in known)
