"""DataLoader batch functions, built per request (never module-level: they cache per caller).

Every relation a list resolves per item goes through one of these, so a page of N users with
their tokens costs the same number of SQL statements as a page of one (STYLE 6).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import select
from sqlmodel import col
from strawberry.dataloader import DataLoader

from accessgraph.auth.access import AccessIndex
from accessgraph.auth.principal import Principal
from accessgraph.models import (
    DeviceEvent,
    DeviceGroup,
    Group,
    Project,
    ProjectMember,
    ProjectRole,
    SubscriptionMember,
    User,
)
from accessgraph.resolvers.devices import groups_of_projects
from accessgraph.resolvers.pagination import ChildPages
from accessgraph.resolvers.projects import (
    GlobalRoleView,
    global_roles_of_projects,
    roles_of_projects,
)
from accessgraph.resolvers.subscriptions import SubscriptionView, load_views
from accessgraph.resolvers.tokens import TokenRow, visible_tokens_of
from accessgraph.services import Services


@dataclass
class Loaders:
    """The request's DataLoaders, each made when first used (a request uses two or three of
    them; making all fifteen was a few percent of a small request's CPU).

    Their load functions live on `_Sources`, which knows nothing of the loaders: a loader whose
    load function was a method of this object made a reference cycle (this object -> loader ->
    bound method -> this object) holding every row the request loaded until the garbage
    collector's next full pass (~500,000 objects, +65 MB after 320 nested pages)."""

    services: Services
    principal: Principal
    _sources: _Sources = field(init=False)

    def __post_init__(self) -> None:
        self._sources = _Sources(self.services, self.principal)

    # Users by id within the caller's organization, deleted ones included (a revoked
    # token still names who created it).
    @cached_property
    def user_by_id(self) -> DataLoader[int, User | None]:
        loader: DataLoader[int, User | None] = DataLoader(load_fn=self._sources.load_users)
        # The caller's own row, read with the credential: primed when the loader is made, so
        # a request that never loads a user pays for neither.
        principal = self.principal
        if principal.user_row is not None and principal.user_id is not None:
            loader.prime(principal.user_id, principal.user_row)
        return loader

    # The tokens of each owner that the caller may see (policy scope applied in SQL).
    @cached_property
    def tokens_by_owner(self) -> DataLoader[int, list[TokenRow]]:
        return DataLoader(load_fn=self._sources.load_tokens_by_owner)

    # Subscriptions of the caller's organization, each with the caller's role in it.
    @cached_property
    def subscription_by_id(self) -> DataLoader[int, SubscriptionView | None]:
        return DataLoader(load_fn=self._sources.load_subscriptions)

    # The members of each subscription or project of a list, batched (first pages, counts).
    @cached_property
    def subscription_members(self) -> ChildPages[SubscriptionMember]:
        return ChildPages(
            self.services.db, SubscriptionMember, col(SubscriptionMember.subscription_id)
        )

    @cached_property
    def project_members(self) -> ChildPages[ProjectMember]:
        return ChildPages(self.services.db, ProjectMember, col(ProjectMember.project_id))

    @cached_property
    def group_by_id(self) -> DataLoader[int, Group | None]:
        return DataLoader(load_fn=self._sources.load_groups)

    @cached_property
    def roles_of_project(self) -> DataLoader[int, list[ProjectRole]]:
        return DataLoader(load_fn=self._sources.load_project_roles)

    # The global roles as they hold in each project (its adjustments, else the organization's).
    @cached_property
    def global_roles_of_project(self) -> DataLoader[int, list[GlobalRoleView]]:
        return DataLoader(load_fn=self._sources.load_global_roles)

    @cached_property
    def project_by_id(self) -> DataLoader[int, Project | None]:
        return DataLoader(load_fn=self._sources.load_projects)

    # The organization's access index, read once per request (one `access_version` read for
    # a page of devices, not one per device).
    @cached_property
    def access_index(self) -> DataLoader[int, AccessIndex]:
        return DataLoader(load_fn=self._sources.load_access_indexes)

    @cached_property
    def device_group_by_id(self) -> DataLoader[int, DeviceGroup | None]:
        return DataLoader(load_fn=self._sources.load_device_groups)

    @cached_property
    def device_groups_of_project(self) -> DataLoader[int, list[DeviceGroup]]:
        return DataLoader(load_fn=self._sources.load_groups_of_projects)

    # Each device's log, newest first, batched across a page of devices.
    @cached_property
    def device_events(self) -> ChildPages[DeviceEvent]:
        return ChildPages(
            self.services.db, DeviceEvent, col(DeviceEvent.device_id), newest_first=True
        )


@dataclass(frozen=True, slots=True)
class _Sources:
    """The load functions of a request's loaders (see `Loaders`)."""

    services: Services
    principal: Principal

    async def load_global_roles(self, ids: Sequence[int]) -> list[list[GlobalRoleView]]:
        assert self.principal.org_id is not None
        found = await global_roles_of_projects(self.services, self.principal.org_id, ids)
        return [found[i] for i in ids]

    async def load_projects(self, ids: Sequence[int]) -> list[Project | None]:
        async with self.services.db.session() as session:
            rows = (
                await session.execute(
                    select(Project).where(
                        col(Project.id).in_(ids), col(Project.org_id) == self.principal.org_id
                    )
                )
            ).scalars()
            found = {row.id: row for row in rows}
        return [found.get(i) for i in ids]

    async def load_access_indexes(self, org_ids: Sequence[int]) -> list[AccessIndex]:
        return [
            await self.services.access_indexes.current(self.services.db, org_id)
            for org_id in org_ids
        ]

    async def load_device_groups(self, ids: Sequence[int]) -> list[DeviceGroup | None]:
        """Device groups by id, of projects of the caller's organization only."""
        async with self.services.db.session() as session:
            rows = (
                await session.execute(
                    select(DeviceGroup)
                    .join(Project, col(Project.id) == col(DeviceGroup.project_id))
                    .where(
                        col(DeviceGroup.id).in_(ids),
                        col(Project.org_id) == self.principal.org_id,
                    )
                )
            ).scalars()
            found = {row.id: row for row in rows}
        return [found.get(i) for i in ids]

    async def load_groups_of_projects(self, ids: Sequence[int]) -> list[list[DeviceGroup]]:
        found = await groups_of_projects(self.services, ids)
        return [found[i] for i in ids]

    async def load_project_roles(self, ids: Sequence[int]) -> list[list[ProjectRole]]:
        found = await roles_of_projects(self.services, ids)
        return [found[i] for i in ids]

    async def load_groups(self, ids: Sequence[int]) -> list[Group | None]:
        async with self.services.db.session() as session:
            rows = (
                await session.execute(
                    select(Group).where(
                        col(Group.id).in_(ids), col(Group.org_id) == self.principal.org_id
                    )
                )
            ).scalars()
            found = {row.id: row for row in rows}
        return [found.get(i) for i in ids]

    async def load_subscriptions(self, ids: Sequence[int]) -> list[SubscriptionView | None]:
        found = await load_views(self.services, self.principal, list(ids))
        return [found.get(i) for i in ids]

    async def load_users(self, ids: Sequence[int]) -> list[User | None]:
        async with self.services.db.session() as session:
            rows = (
                (
                    await session.execute(
                        select(User).where(
                            col(User.id).in_(ids), col(User.org_id) == self.principal.org_id
                        )
                    )
                )
                .scalars()
                .all()
            )
        found = {row.id: row for row in rows}
        return [found.get(i) for i in ids]

    async def load_tokens_by_owner(self, owner_ids: Sequence[int]) -> list[list[TokenRow]]:
        rows = await visible_tokens_of(self.services, self.principal, owner_ids)
        grouped: dict[int, list[TokenRow]] = {i: [] for i in owner_ids}
        for row in rows:
            grouped[row.owner_id].append(row)
        return [grouped[i] for i in owner_ids]
