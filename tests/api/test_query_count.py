"""STYLE 6: list queries run a constant number of SQL statements, whatever the page size."""

from __future__ import annotations

import pytest

from accessgraph.models import TokenPermission
from tests.conftest import Api, Factory, StatementCounter, World

TEAM_PAGE = """
query Team($first: Int!) {
  users(first: $first) {
    totalCount
    edges { cursor node {
      id fullName email role status lastLoginAt
      viewerCanUpdateRole viewerCanDelete viewerCanResendInvitation
      tokens { id name status createdBy { id email } viewerCanRevoke }
    } }
    pageInfo { hasNextPage endCursor }
  }
}"""
TOKEN_PAGE = """
query Tokens($first: Int!) {
  tokens(first: $first) {
    totalCount
    nodes { id name permission status createdBy { id email tokens { id } } viewerCanRevoke viewerCanDelete }
  }
}"""
AUDIT_PAGE = """
query Audit($first: Int!) {
  auditEvents(first: $first) { totalCount nodes { action actor { id email } targetLabel } }
}"""


async def _seed(factory: Factory, world: World, users: int) -> None:
    # Every user on every page owns tokens, so each loader has work at every page size.
    for actor in (world.admin, world.dev, world.dev2):
        await factory.token(actor, TokenPermission.READ_ONLY, name="a")
    for i in range(users):
        member = await factory.member(world.org, f"member{i}@acme.test")
        await factory.token(member, TokenPermission.READ_ONLY, name="a")
        await factory.token(member, TokenPermission.READ_WRITE, name="b")


async def _count(api: Api, world: World, counter: StatementCounter, query: str, first: int) -> int:
    counter.statements.clear()
    body = await api(query, {"first": first}, as_=world.admin)
    assert not body.get("errors"), body
    return len(counter.statements)


@pytest.mark.parametrize(
    "query", [TEAM_PAGE, TOKEN_PAGE, AUDIT_PAGE], ids=["users", "tokens", "audit"]
)
async def test_list_query_statement_count_is_constant(
    api: Api, factory: Factory, world: World, count_statements: StatementCounter, query: str
) -> None:
    await _seed(factory, world, 12)
    small = await _count(api, world, count_statements, query, 2)
    large = await _count(api, world, count_statements, query, 50)
    assert small == large, (small, large, count_statements.statements)


async def test_team_page_runs_at_most_five_statements(
    api: Api, factory: Factory, world: World, count_statements: StatementCounter
) -> None:
    # authentication (1) + page (1) + totalCount (1) + tokens of all users on the page (1)
    # + token creators (1).
    await _seed(factory, world, 5)
    assert await _count(api, world, count_statements, TEAM_PAGE, 50) <= 5, (
        count_statements.statements
    )


async def test_the_callers_own_user_is_not_read_again(
    api: Api, world: World, factory: Factory, count_statements: StatementCounter
) -> None:
    # The credential's statement read the caller's user; the request's user loader starts with
    # it, so a page of the caller's own tokens names their creator without a users statement.
    await factory.token(world.dev, TokenPermission.READ_ONLY, name="mine")
    query = "{ viewerTokens: tokens(first: 5) { nodes { name createdBy { email } } } }"
    count_statements.statements.clear()
    body = await api(query, as_=world.dev)
    assert [n["createdBy"]["email"] for n in body["data"]["viewerTokens"]["nodes"]] == [
        "dev@acme.test"
    ]
    assert not [s for s in count_statements.statements if "FROM users" in s.split("WHERE")[0]]
