"""Organizations: the operator's bootstrap, and team settings (R1, R3 "manage team settings")."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from accessgraph.auth.passwords import hash_password
from accessgraph.auth.policy import Action, require
from accessgraph.auth.principal import Principal
from accessgraph.errors import Rejected, not_found
from accessgraph.models import ManagePolicy, Organization, TeamRole, User, UserStatus
from accessgraph.resolvers import audit
from accessgraph.resolvers.access_index import bump
from accessgraph.resolvers.actors import require_now
from accessgraph.resolvers.validation import check_password, clean_email, clean_name
from accessgraph.services import Services

ORG_NAME_MAX = 200
OPERATOR = Principal(email="operator")


def clean_org_name(raw: str, field: str = "name") -> str:
    name = " ".join(raw.split())
    if not name or len(name) > ORG_NAME_MAX:
        raise Rejected(
            "INVALID_NAME",
            f"The organization name must have 1 to {ORG_NAME_MAX} characters.",
            [field],
        )
    return name


async def _name_taken(session: AsyncSession, name: str, exclude_id: int | None = None) -> bool:
    stmt = select(exists().where(col(Organization.name) == name))
    if exclude_id is not None:
        stmt = select(
            exists().where(col(Organization.name) == name, col(Organization.id) != exclude_id)
        )
    return bool(await session.scalar(stmt))


@dataclass(frozen=True, slots=True)
class BootstrapInput:
    org: str
    email: str
    password: str
    first_name: str | None = None
    last_name: str | None = None


async def bootstrap(services: Services, data: BootstrapInput) -> tuple[Organization, User]:
    """Create an organization and its first ACTIVE admin (operator command)."""
    name = clean_org_name(data.org, "org")
    email, normalized = clean_email(data.email)
    check_password(data.password)
    first = clean_name(data.first_name, "firstName")
    last = clean_name(data.last_name, "lastName")
    now = services.clock.now()
    async with services.db.write() as session:
        if await _name_taken(session, name):
            raise Rejected(
                "ORGANIZATION_EXISTS", f"An organization named {name!r} exists.", ["org"]
            )
        live = (col(User.email_normalized) == normalized) & col(User.deleted_at).is_(None)
        if await session.scalar(select(exists().where(live))):
            raise Rejected("EMAIL_TAKEN", f"A user with the email {email} exists.", ["email"])
        org = Organization(name=name, created_at=now)
        session.add(org)
        await session.flush()
        assert org.id is not None
        admin = User(
            org_id=org.id,
            email=email,
            email_normalized=normalized,
            first_name=first,
            last_name=last,
            role=TeamRole.ADMIN,
            status=UserStatus.ACTIVE,
            password_hash=hash_password(data.password),
            created_at=now,
        )
        session.add(admin)
        await session.flush()
        audit.record(
            session,
            OPERATOR,
            "organization.bootstrap",
            org_id=org.id,
            now=now,
            target=admin,
            after=audit.user_snapshot(admin, now),
        )
    return org, admin


async def get_organization(services: Services, org_id: int) -> Organization | None:
    async with services.db.session() as session:
        return await session.get(Organization, org_id)


async def update_settings(
    services: Services,
    principal: Principal,
    name: str | None,
    manage_policy: ManagePolicy | None = None,
) -> Organization:
    """Team settings (R3: admins only): the organization's name, and the manage policy of
    permission targets (R25: only admins change it)."""
    require(services.policy, principal, Action.MANAGE_TEAM_SETTINGS)
    assert principal.org_id is not None
    now = services.clock.now()
    async with services.db.write() as session:
        await require_now(services, session, principal, Action.MANAGE_TEAM_SETTINGS)
        org = await session.get(Organization, principal.org_id)
        if org is None:
            raise not_found("Organization")
        before = {"name": org.name, "managePolicy": org.manage_policy.value}
        if manage_policy is not None and manage_policy != org.manage_policy:
            org.manage_policy = manage_policy
            await bump(session, principal.org_id)  # every instance's next access check sees it
        if name is not None:
            cleaned = clean_org_name(name)
            if await _name_taken(session, cleaned, exclude_id=org.id):
                raise Rejected(
                    "ORGANIZATION_EXISTS", f"An organization named {cleaned!r} exists.", ["name"]
                )
            org.name = cleaned
        after = {"name": org.name, "managePolicy": org.manage_policy.value}
        if before != after:
            audit.record(
                session,
                principal,
                "organization.update",
                org_id=principal.org_id,
                now=now,
                target_label=org.name,
                before=before,
                after=after,
            )
    return org
