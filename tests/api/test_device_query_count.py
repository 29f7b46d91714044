"""STYLE 6 for devices (R31): a page of a project's devices, with their groups, who registered
them, their latest log lines and what the viewer may do to each, runs the same SQL statements
with 3 devices as with 5,000, on the first page and on a later one."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import col

from accessgraph.models import (
    Device,
    DeviceEvent,
    DeviceEventKind,
    DeviceGroup,
    Environment,
    Project,
)
from accessgraph.services import Services
from tests.conftest import Actor, Api, StatementCounter, World, payload

CREATE_PROJECT = """
mutation { createProject(input: {key: "fleet", name: "Fleet"}) { errors { code } } }"""
CREATE_ROLE = """
mutation {
  createProjectRole(input: {projectKey: "fleet", name: "Field Ops", environments: [DEV, PROD],
    advancedActions: [{resourceType: DEVICE, actions: [VIEW_DEVICE_LOGS, MODIFY_DEVICES]}]}) {
    errors { code }
  }
}"""
ASSIGN = """
mutation($user: ID!) {
  assignProjectRole(input: {projectKey: "fleet", userId: $user, roles: ["Field Ops"]}) {
    errors { code }
  }
}"""
PAGE = """
query($after: String) {
  devices(projectKey: "fleet", first: 50, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes {
      id name environment location
      group { name project { key } }
      project { key }
      registeredBy { email }
      viewerCanModify viewerCanRemoteControl viewerCanViewLogs
      logs(first: 3) { totalCount nodes { kind message actor { email } } }
    }
  }
}"""


async def _bulk(services: Services, project_id: int, admin_pk: int, count: int, start: int) -> None:
    """`count` devices over 10 groups, each with two log lines."""
    now = services.clock.now()
    async with services.db.write() as session:
        groups = [
            DeviceGroup(
                project_id=project_id,
                name=f"Group {start}-{n}",
                name_normalized=f"group {start}-{n}",
                created_at=now,
                updated_at=now,
            )
            for n in range(10)
        ]
        session.add_all(groups)
        await session.flush()
        devices = [
            Device(
                project_id=project_id,
                group_id=groups[n % 10].id,
                name=f"dev-{start + n:05d}",
                name_normalized=f"dev-{start + n:05d}",
                location=f"rack {n % 40}",
                environment=Environment.PROD if n % 2 else Environment.DEV,
                registered_by_id=admin_pk,
                registered_at=now,
                updated_at=now,
            )
            for n in range(count)
        ]
        session.add_all(devices)
        await session.flush()
        session.add_all(
            DeviceEvent(
                device_id=device.id or 0,
                kind=kind,
                message=f"{kind.value} {device.name}",
                actor_id=admin_pk,
                created_at=now,
            )
            for device in devices
            for kind in (DeviceEventKind.REGISTERED, DeviceEventKind.REMOTE_SESSION)
        )


async def _statements(
    api: Api, counter: StatementCounter, actor: Actor, after: str | None = None
) -> tuple[int, dict[str, Any]]:
    counter.statements.clear()
    body = await api(PAGE, {"after": after}, as_=actor)
    assert not body.get("errors"), body
    return len(counter.statements), body["data"]["devices"]


@pytest.mark.parametrize("viewer", ["member", "admin"])
async def test_device_page_statement_count_is_constant(
    api: Api,
    world: World,
    services: Services,
    count_statements: StatementCounter,
    viewer: str,
) -> None:
    assert payload(await api(CREATE_PROJECT, as_=world.admin), "createProject")["errors"] == []
    assert payload(await api(CREATE_ROLE, as_=world.admin), "createProjectRole")["errors"] == []
    body = await api(ASSIGN, {"user": world.dev.id}, as_=world.admin)
    assert payload(body, "assignProjectRole")["errors"] == []
    async with services.db.session() as session:
        project_id = await session.scalar(
            select(col(Project.id)).where(col(Project.key) == "fleet")
        )
    assert project_id is not None and world.admin.user_pk is not None
    actor = world.dev if viewer == "member" else world.admin

    await _bulk(services, project_id, world.admin.user_pk, 3, 0)
    await _statements(api, count_statements, actor)  # warm-up
    small, page = await _statements(api, count_statements, actor)
    assert page["totalCount"] == 3 and not page["pageInfo"]["hasNextPage"]

    await _bulk(services, project_id, world.admin.user_pk, 4997, 3)
    large, page = await _statements(api, count_statements, actor)
    assert page["totalCount"] == 5000 and len(page["nodes"]) == 50
    first = page["nodes"][0]
    assert first["group"]["project"] == {"key": "fleet"}
    assert first["registeredBy"] == {"email": "admin@acme.test"}
    assert first["logs"]["totalCount"] == 2
    assert [entry["kind"] for entry in first["logs"]["nodes"]] == ["REMOTE_SESSION", "REGISTERED"]
    assert all(node["viewerCanModify"] for node in page["nodes"])
    assert all(node["viewerCanRemoteControl"] is (viewer == "admin") for node in page["nodes"])
    assert small == large, (small, large, count_statements.statements)

    later, page = await _statements(api, count_statements, actor, page["pageInfo"]["endCursor"])
    assert page["nodes"][0]["name"] == "dev-00050"
    assert later == large, (later, large, count_statements.statements)
