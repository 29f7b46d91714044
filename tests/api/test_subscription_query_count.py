"""STYLE 6 for subscriptions (R18-R22): the subscription list with its members, and one
subscription with members, API tokens and usage notifications, run a number of SQL statements
that does not grow with the number of members or subscriptions."""

from __future__ import annotations

import itertools
from typing import Any

from accessgraph.auth.principal import Principal
from accessgraph.models import SubscriptionRole, TokenPermission, UsageMetric
from accessgraph.resolvers import subscription_settings
from accessgraph.resolvers.tokens import CreateTokenInput, insert_token
from accessgraph.schema.base import from_global_id
from accessgraph.services import Services
from tests.conftest import Actor, Api, Factory, StatementCounter, World

MEMBER_FIELDS = """
  members(first: 50) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      cursor role status joinedAt viewerCanUpdateRole viewerCanRemove viewerCanResendInvitation
      node { id email fullName firstName lastName role status lastLoginAt createdAt }
    }
  }
"""
SUBSCRIPTIONS_PAGE = f"""
query Subscriptions {{
  subscriptions(first: 50) {{
    totalCount
    edges {{ cursor node {{
      id name plan createdAt viewerRole viewerCanManageMembers viewerCanManageTokens
      {MEMBER_FIELDS}
    }} }}
  }}
}}"""
SUBSCRIPTION_PAGE = f"""
query Subscription($id: ID!) {{
  subscription(id: $id) {{
    id name viewerRole
    usage {{ storagePercent transferPercent }}
    billing {{ company }}
    network {{ allowedIpRanges }}
    {MEMBER_FIELDS}
    apiTokens(first: 50) {{
      totalCount
      nodes {{ id name permission status viewerCanRevoke createdBy {{ id email fullName }} }}
    }}
    usageNotifications {{ id metric thresholdPercent reached createdBy {{ id email }} }}
  }}
}}"""
# Unique emails, token names and thresholds across the rows one test adds (a test adds < 100).
_serial = itertools.count()


async def _count(
    api: Api, actor: Actor, counter: StatementCounter, query: str, variables: dict[str, Any]
) -> int:
    counter.statements.clear()
    body = await api(query, variables, as_=actor)
    assert not body.get("errors"), body
    return len(counter.statements)


async def _grow(
    factory: Factory, services: Services, world: World, sub_id: str, members: int, extras: int
) -> None:
    """Adds `members` members (every role in turn), and `extras` API tokens and usage
    notifications, each made by a different new member, so that every member, token creator
    and notification creator is a user of its own to load."""
    pk = from_global_id(sub_id, "BillingSubscription")
    assert pk is not None
    roles = [r for r in SubscriptionRole if r != SubscriptionRole.PRIMARY_ADMIN]
    added: list[Principal] = []
    for _ in range(members):
        email = f"member{next(_serial)}@acme.test"
        user_pk = await factory.user(world.org, email, last=email.split("@")[0].title())
        actor = Actor(email, {}, user_pk, email, world.org)
        await factory.subscription_member(sub_id, actor, roles[len(added) % len(roles)])
        added.append(Principal(org_id=world.org, user_id=user_pk, email=email))
    for i in range(extras):
        creator = added[i % len(added)]
        serial = next(_serial)
        async with services.db.write() as session:  # as if each had been Primary Admin once
            await insert_token(
                services,
                session,
                creator,
                CreateTokenInput(f"token-{serial}", TokenPermission.READ_ONLY),
                subscription_id=pk,
            )
        await subscription_settings.set_usage_notification(
            services, creator, pk, UsageMetric.STORAGE, 1 + serial % 100
        )


async def _subscription(
    factory: Factory, services: Services, world: World, name: str, members: int, extras: int = 0
) -> str:
    """A subscription whose Primary Admin is the team admin (the viewer: every field visible)."""
    sub_id = await factory.subscription("Acme", world.admin, name=name)
    await _grow(factory, services, world, sub_id, members, extras)
    return sub_id


async def test_subscriptions_list_statement_count_is_constant_in_members(
    api: Api,
    factory: Factory,
    services: Services,
    world: World,
    count_statements: StatementCounter,
) -> None:
    """STYLE 6: the subscription list with 2 members each costs what it costs with 30."""
    sub_id = await _subscription(factory, services, world, "Acme Cloud", 2)
    small = await _count(api, world.admin, count_statements, SUBSCRIPTIONS_PAGE, {})
    await _grow(factory, services, world, sub_id, 28, 0)
    large = await _count(api, world.admin, count_statements, SUBSCRIPTIONS_PAGE, {})
    assert small == large, (small, large, count_statements.statements)


async def test_subscriptions_list_statement_count_is_constant_in_subscriptions(
    api: Api,
    factory: Factory,
    services: Services,
    world: World,
    count_statements: StatementCounter,
) -> None:
    """STYLE 6: a page of 10 subscriptions with their members costs what a page of 1 costs."""
    await _subscription(factory, services, world, "Subscription 0", 3)
    one = await _count(api, world.admin, count_statements, SUBSCRIPTIONS_PAGE, {})
    for i in range(1, 10):
        await _subscription(factory, services, world, f"Subscription {i}", 3)
    ten = await _count(api, world.admin, count_statements, SUBSCRIPTIONS_PAGE, {})
    assert one == ten, (one, ten, count_statements.statements)


async def test_subscription_statement_count_is_constant_in_members(
    api: Api,
    factory: Factory,
    services: Services,
    world: World,
    count_statements: StatementCounter,
) -> None:
    """STYLE 6: one subscription with members, API tokens and usage notifications: 2 of each
    cost what 30 of each cost."""
    sub_id = await _subscription(factory, services, world, "Acme Cloud", 2, 2)
    small = await _count(api, world.admin, count_statements, SUBSCRIPTION_PAGE, {"id": sub_id})
    await _grow(factory, services, world, sub_id, 28, 28)
    large = await _count(api, world.admin, count_statements, SUBSCRIPTION_PAGE, {"id": sub_id})
    assert small == large, (small, large, count_statements.statements)
