"""A request's objects are freed when it ends (issue 8): no reference cycle keeps its context,
its loaders or the rows they loaded alive until the garbage collector's next full pass (with the
app's collector thresholds, that pass is rare: such cycles grew a worker by ~65 MB)."""

from __future__ import annotations

import gc

import pytest
from sqlalchemy.orm.state import InstanceState
from sqlmodel import SQLModel

from accessgraph.models import TokenPermission
from accessgraph.resolvers.loaders import Loaders
from accessgraph.schema.context import Context
from accessgraph.schema.execution import Executor
from tests.conftest import Api, Factory, World

PAGES = {
    "nested": "{ users(first: 10) { edges { node { email tokens { name status } } } } }",
    "tokens": "{ tokens(first: 10) { totalCount nodes { name createdBy { email } } } }",
    "check": (
        '{ checkAccess(input: {action: "READ", resourceType: REPOSITORY, resourceName: "x"}) '
        "{ allowed } }"
    ),
}
KEPT_BY_A_REQUEST = (SQLModel, InstanceState, Executor, Context, Loaders)


@pytest.mark.parametrize("page", PAGES.values(), ids=PAGES.keys())
async def test_a_request_leaves_no_cycle_holding_its_rows(
    api: Api, world: World, factory: Factory, page: str
) -> None:
    for actor in (world.admin, world.dev):
        await factory.token(actor, TokenPermission.READ_ONLY, name="a")
    assert not (await api(page, as_=world.admin)).get("errors")  # warm: caches, connections
    gc.collect()
    garbage: list[object] = []
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        body = await api(page, as_=world.admin)
        gc.collect()
        garbage = [o for o in gc.garbage if isinstance(o, KEPT_BY_A_REQUEST)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert not body.get("errors"), body
    assert garbage == []
