"""Devices (R31, R32): device groups, devices and their logs in a project, each operation guarded
by exactly one device permission that admins and project roles (advanced mode, per
environment, directly or through a group) hold. A project the caller may not see does not
exist for them; bad input is a UserError with a stable code and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from accessgraph.auth.access import DEVICE_ACTIONS, ArtifactAction
from accessgraph.models import TokenPermission
from accessgraph.services import Services
from tests.conftest import (
    Actor,
    Api,
    Factory,
    World,
    assert_no_permission,
    assert_unauthenticated,
    error_codes,
    payload,
    user_error_codes,
)

A = ArtifactAction
CREATE_PROJECT = """
mutation($key: String!) {
  createProject(input: {key: $key, name: "Fleet"}) { project { key } errors { code } }
}"""
CREATE_ROLE = """
mutation($key: String!, $name: String!, $envs: [Environment!]!, $actions: [ArtifactAction!]!) {
  createProjectRole(input: {projectKey: $key, name: $name, environments: $envs,
                            advancedActions: [{resourceType: DEVICE, actions: $actions}]}) {
    role { name } errors { code field }
  }
}"""
ASSIGN = """
mutation($key: String!, $user: ID, $group: ID, $roles: [String!]!) {
  assignProjectRole(input: {projectKey: $key, userId: $user, groupId: $group, roles: $roles}) {
    errors { code field }
  }
}"""
CREATE_GROUP = """
mutation($input: CreateDeviceGroupInput!) {
  createDeviceGroup(input: $input) {
    group { id name description project { key } } errors { code message field }
  }
}"""
UPDATE_GROUP = """
mutation($input: UpdateDeviceGroupInput!) {
  updateDeviceGroup(input: $input) { group { id name description } errors { code field } }
}"""
DELETE_GROUP = """
mutation($id: ID!) {
  deleteDeviceGroup(input: {groupId: $id}) { deletedGroupId errors { code field } }
}"""
REGISTER = """
mutation($input: RegisterDeviceInput!) {
  registerDevice(input: $input) {
    device {
      id name description location environment registeredAt
      group { name } project { key } registeredBy { email }
    }
    errors { code message field }
  }
}"""
UPDATE = """
mutation($input: UpdateDeviceInput!) {
  updateDevice(input: $input) {
    device { id name description location group { name } } errors { code message field }
  }
}"""
DELETE = """
mutation($id: ID!) {
  deleteDevice(input: {deviceId: $id}) { deletedDeviceId errors { code field } }
}"""
REMOTE = """
mutation($id: ID!, $reason: String) {
  startRemoteSession(input: {deviceId: $id, reason: $reason}) {
    device { name } logEntry { kind message actor { email } } errors { code field }
  }
}"""
CREATE_UPDATE = """
mutation($input: CreateDeviceUpdateInput!) {
  createDeviceUpdate(input: $input) {
    update { id name version description createdBy { email } } errors { code field }
  }
}"""
DEPLOY = """
mutation($device: ID!, $update: ID!) {
  deployDeviceUpdate(input: {deviceId: $device, updateId: $update}) {
    device { name } logEntry { kind message } errors { code field }
  }
}"""
SAVE_COMMAND = """
mutation($input: SaveDeviceCommandInput!) {
  saveDeviceCommand(input: $input) { command { id name script } errors { code field } }
}"""
RUN_COMMAND = """
mutation($device: ID!, $command: ID!) {
  runDeviceCommand(input: {deviceId: $device, commandId: $command}) {
    device { name } logEntry { kind message } errors { code field }
  }
}"""
SAVE_DATA_MONITOR = """
mutation($input: SaveDataMonitorInput!) {
  saveDataMonitor(input: $input) {
    monitor { kind name target alertThreshold } errors { code field }
  }
}"""
SAVE_PROCESS_MONITOR = """
mutation($input: SaveProcessMonitorInput!) {
  saveProcessMonitor(input: $input) {
    monitor { kind name target alertThreshold } errors { code field }
  }
}"""
SET_ALERTS = """
mutation($key: String!, $alerts: [DeviceAlert!]!) {
  setDeviceAlerts(input: {projectKey: $key, alerts: $alerts}) { alerts errors { code field } }
}"""
ENGINE = """
mutation($key: String!, $rm: Boolean!, $logs: Boolean!) {
  updateEngineSettings(input: {projectKey: $key, resourceMonitor: $rm, applicationLogs: $logs}) {
    engineSettings { resourceMonitor applicationLogs } errors { code field }
  }
}"""
SETTINGS = """
query($key: String!) {
  deviceSettings(projectKey: $key) {
    updates { name version } commands { name script }
    dataMonitors { name target alertThreshold } processMonitors { name target }
    engineSettings { resourceMonitor applicationLogs }
    viewerAlerts
  }
}"""
DEVICES = """
query($key: String!, $filter: DeviceFilter, $first: Int, $after: String) {
  devices(projectKey: $key, filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id name environment group { name } }
  }
}"""
LOGS = """
query($key: String!) {
  devices(projectKey: $key) {
    nodes { name viewerCanViewLogs logs { nodes { kind message actor { email } } } }
  }
}"""
VIEWER_CAN = """
query($key: String!) {
  devices(projectKey: $key) {
    nodes { name viewerCanModify viewerCanRemoteControl viewerCanViewLogs }
  }
}"""
DEVICE_GROUPS = """
query($key: String!) { deviceGroups(projectKey: $key) { name } }"""
NODE = """
query($id: ID!) { node(id: $id) { id ... on Device { name } ... on DeviceGroup { name } } }"""
AUDIT = """
{ auditEvents(first: 50) { nodes { action targetType targetLabel before after } } }"""


async def _project(api: Api, world: World, key: str = "fleet") -> None:
    body = await api(CREATE_PROJECT, {"key": key}, as_=world.admin)
    assert payload(body, "createProject")["errors"] == []


async def _grant(
    api: Api,
    world: World,
    actions: list[A],
    *,
    user: Actor | None = None,
    group: str | None = None,
    envs: tuple[str, ...] = ("DEV", "PROD"),
    key: str = "fleet",
    name: str = "Field Ops",
) -> None:
    """A project role with these device permissions in `envs`, held by `user` or `group`."""
    variables = {"key": key, "name": name, "envs": list(envs), "actions": actions}
    assert (
        payload(await api(CREATE_ROLE, variables, as_=world.admin), "createProjectRole")["errors"]
        == []
    )
    who = {"user": user.id} if user is not None else {"group": group}
    body = await api(ASSIGN, {"key": key, "roles": [name], **who}, as_=world.admin)
    assert payload(body, "assignProjectRole")["errors"] == []


async def _group(api: Api, actor: Actor, name: str = "Gateways", key: str = "fleet") -> str:
    body = await api(CREATE_GROUP, {"input": {"projectKey": key, "name": name}}, as_=actor)
    result = payload(body, "createDeviceGroup")
    assert result["errors"] == [], result
    group_id: str = result["group"]["id"]
    return group_id


async def _device(
    api: Api, actor: Actor, name: str = "gw-01", key: str = "fleet", **more: Any
) -> dict[str, Any]:
    body = await api(REGISTER, {"input": {"projectKey": key, "name": name, **more}}, as_=actor)
    result = payload(body, "registerDevice")
    assert result["errors"] == [], result
    device: dict[str, Any] = result["device"]
    return device


async def _update(api: Api, actor: Actor, name: str = "firmware", version: str = "1.0") -> str:
    variables = {"input": {"projectKey": "fleet", "name": name, "version": version}}
    result = payload(await api(CREATE_UPDATE, variables, as_=actor), "createDeviceUpdate")
    assert result["errors"] == [], result
    update_id: str = result["update"]["id"]
    return update_id


async def _command(api: Api, actor: Actor, name: str = "reboot", script: str = "reboot") -> str:
    variables = {"input": {"projectKey": "fleet", "name": name, "script": script}}
    result = payload(await api(SAVE_COMMAND, variables, as_=actor), "saveDeviceCommand")
    assert result["errors"] == [], result
    command_id: str = result["command"]["id"]
    return command_id


async def _device_state(services: Services) -> list[list[tuple[Any, ...]]]:
    async with services.db.session() as session:
        return [
            [tuple(row) for row in (await session.execute(text(sql))).all()]
            for sql in (
                "SELECT * FROM devices ORDER BY id",
                "SELECT * FROM device_groups ORDER BY id",
                "SELECT * FROM device_events ORDER BY id",
                "SELECT * FROM device_updates ORDER BY id",
                "SELECT * FROM device_commands ORDER BY id",
                "SELECT * FROM device_monitors ORDER BY id",
                "SELECT * FROM device_alert_subscriptions ORDER BY id",
                "SELECT * FROM device_engine_settings ORDER BY project_id",
                "SELECT id FROM audit_events ORDER BY id",
            )
        ]


# --- the happy path ---------------------------------------------------------------------------


async def test_register_device_in_a_group_then_list_it(api: Api, world: World) -> None:
    await _project(api, world)
    group = await _group(api, world.admin)
    device = await _device(
        api,
        world.admin,
        groupId=group,
        description="Roof gateway",
        location="Building 7, roof",
    )
    assert device["environment"] == "DEV"  # the default, like registered resources
    assert device["group"] == {"name": "Gateways"}
    assert device["project"] == {"key": "fleet"}
    assert device["registeredBy"] == {"email": "admin@acme.test"}
    assert (device["description"], device["location"]) == ("Roof gateway", "Building 7, roof")

    body = await api(DEVICES, {"key": "fleet"}, as_=world.admin)
    assert body["data"]["devices"]["totalCount"] == 1
    assert body["data"]["devices"]["nodes"][0]["name"] == "gw-01"
    body = await api(NODE, {"id": device["id"]}, as_=world.admin)
    assert body["data"]["node"] == {"id": device["id"], "name": "gw-01"}
    body = await api(DEVICE_GROUPS, {"key": "fleet"}, as_=world.admin)
    assert body["data"]["deviceGroups"] == [{"name": "Gateways"}]


async def test_update_device_changes_only_the_given_fields(api: Api, world: World) -> None:
    await _project(api, world)
    group = await _group(api, world.admin)
    device = await _device(api, world.admin, groupId=group, description="d", location="here")
    body = await api(
        UPDATE, {"input": {"deviceId": device["id"], "location": "there"}}, as_=world.admin
    )
    updated = payload(body, "updateDevice")
    assert updated["errors"] == []
    assert updated["device"] == {
        "id": device["id"],
        "name": "gw-01",
        "description": "d",
        "location": "there",
        "group": {"name": "Gateways"},
    }
    # null clears; a new name is taken.
    variables = {"input": {"deviceId": device["id"], "groupId": None, "name": "gw-001"}}
    updated = payload(await api(UPDATE, variables, as_=world.admin), "updateDevice")
    assert updated["device"]["group"] is None and updated["device"]["name"] == "gw-001"


async def test_device_log_records_registration_changes_and_remote_sessions(
    api: Api, world: World
) -> None:
    await _project(api, world)
    device = await _device(api, world.admin)
    await api(UPDATE, {"input": {"deviceId": device["id"], "location": "lab"}}, as_=world.admin)
    body = await api(REMOTE, {"id": device["id"], "reason": "ticket 42"}, as_=world.admin)
    remote = payload(body, "startRemoteSession")
    assert remote["errors"] == []
    assert remote["logEntry"]["kind"] == "REMOTE_SESSION"
    assert "ticket 42" in remote["logEntry"]["message"]

    body = await api(LOGS, {"key": "fleet"}, as_=world.admin)
    [node] = body["data"]["devices"]["nodes"]
    kinds = [entry["kind"] for entry in node["logs"]["nodes"]]
    assert kinds == ["REMOTE_SESSION", "MODIFIED", "REGISTERED"]  # newest first
    assert all(entry["actor"] == {"email": "admin@acme.test"} for entry in node["logs"]["nodes"])
    assert "location" in node["logs"]["nodes"][1]["message"]


async def test_device_changes_are_audited(api: Api, world: World) -> None:
    await _project(api, world)
    group = await _group(api, world.admin)
    device = await _device(api, world.admin, groupId=group)
    await api(UPDATE, {"input": {"deviceId": device["id"], "location": "lab"}}, as_=world.admin)
    await api(REMOTE, {"id": device["id"]}, as_=world.admin)
    await api(DELETE, {"id": device["id"]}, as_=world.admin)
    await api(DELETE_GROUP, {"id": group}, as_=world.admin)
    body = await api(AUDIT, as_=world.admin)
    events = {e["action"]: e for e in body["data"]["auditEvents"]["nodes"]}
    for action in (
        "device_group.create",
        "device.register",
        "device.update",
        "device.remote_session",
        "device.delete",
        "device_group.delete",
    ):
        assert action in events, action
    assert events["device.update"]["before"]["location"] is None
    assert events["device.update"]["after"]["location"] == "lab"
    assert events["device.register"]["targetType"] == "Device"
    assert events["device.register"]["targetLabel"] == "fleet/gw-01"


# --- one permission per operation (R32) --------------------------------------------------------

# Each operation and the one device permission it checks.
GUARDS: dict[str, A] = {
    "createDeviceGroup": A.MANAGE_GROUPS,
    "updateDeviceGroup": A.MANAGE_GROUPS,
    "deleteDeviceGroup": A.MANAGE_GROUPS,
    "registerDevice": A.REGISTER_DEVICES,
    "updateDevice": A.MODIFY_DEVICES,
    "deleteDevice": A.MODIFY_DEVICES,
    "startRemoteSession": A.REMOTE_CONTROL,
    "logs": A.VIEW_DEVICE_LOGS,
    "createDeviceUpdate": A.CREATE_UPDATES,
    "deployDeviceUpdate": A.DEPLOY_UPDATES,
    "saveDeviceCommand": A.MANAGE_COMMANDS,
    "runDeviceCommand": A.RUN_COMMANDS,
    "saveDataMonitor": A.MANAGE_DATA_MONITOR,
    "saveProcessMonitor": A.MANAGE_PROCESS_MONITOR,
    "setDeviceAlerts": A.MANAGE_ALERTS,
    "updateEngineSettings": A.MODIFY_ENGINE_SETTINGS,
}
assert set(GUARDS.values()) == set(DEVICE_ACTIONS)  # every permission guards something


async def _attempt(api: Api, world: World, actor: Actor, operation: str) -> bool:
    """Try one guarded operation as `actor` on objects an admin set up: True if it ran, False
    if refused with FORBIDDEN (anything else fails the test)."""
    group = await _group(api, world.admin, name=f"{operation}-group")
    device = await _device(api, world.admin, name=f"{operation}-device")
    update = await _update(api, world.admin, version=f"1.0-{operation}")
    command = await _command(api, world.admin, name=f"{operation}-command")
    documents: dict[str, tuple[str, dict[str, Any]]] = {
        "createDeviceGroup": (CREATE_GROUP, {"input": {"projectKey": "fleet", "name": "New"}}),
        "updateDeviceGroup": (UPDATE_GROUP, {"input": {"groupId": group, "name": "Renamed"}}),
        "deleteDeviceGroup": (DELETE_GROUP, {"id": group}),
        "registerDevice": (REGISTER, {"input": {"projectKey": "fleet", "name": "new-device"}}),
        "updateDevice": (UPDATE, {"input": {"deviceId": device["id"], "location": "x"}}),
        "deleteDevice": (DELETE, {"id": device["id"]}),
        "startRemoteSession": (REMOTE, {"id": device["id"]}),
        "createDeviceUpdate": (
            CREATE_UPDATE,
            {"input": {"projectKey": "fleet", "name": "firmware", "version": "9.9"}},
        ),
        "deployDeviceUpdate": (DEPLOY, {"device": device["id"], "update": update}),
        "saveDeviceCommand": (
            SAVE_COMMAND,
            {"input": {"projectKey": "fleet", "name": "uptime", "script": "uptime"}},
        ),
        "runDeviceCommand": (RUN_COMMAND, {"device": device["id"], "command": command}),
        "saveDataMonitor": (
            SAVE_DATA_MONITOR,
            {"input": {"projectKey": "fleet", "name": "cpu", "parameter": "cpu.load"}},
        ),
        "saveProcessMonitor": (
            SAVE_PROCESS_MONITOR,
            {"input": {"projectKey": "fleet", "name": "agent", "binary": "/usr/bin/agent"}},
        ),
        "setDeviceAlerts": (SET_ALERTS, {"key": "fleet", "alerts": ["DEVICE_OFFLINE"]}),
        "updateEngineSettings": (ENGINE, {"key": "fleet", "rm": True, "logs": False}),
    }
    if operation == "logs":
        body = await api(LOGS, {"key": "fleet"}, as_=actor)
        nodes = body["data"]["devices"]["nodes"]
        mine = next(n for n in nodes if n["name"] == device["name"])
        if mine["logs"] is None:
            assert "FORBIDDEN" in error_codes(body), body
            assert mine["viewerCanViewLogs"] is False
            return False
        assert mine["viewerCanViewLogs"] is True
        return True
    query, variables = documents[operation]
    body = await api(query, variables, as_=actor)
    if body.get("errors"):
        assert_no_permission(body, operation)
        return False
    assert payload(body, operation)["errors"] == [], body
    return True


@pytest.mark.parametrize("permission", DEVICE_ACTIONS, ids=lambda a: a.value)
async def test_each_device_permission_allows_exactly_its_operations(
    api: Api, world: World, permission: A
) -> None:
    """A developer whose one project role grants only `permission` on devices may do the
    operations guarded by it and none of the others (R32, table-driven)."""
    await _project(api, world)
    await _grant(api, world, [permission], user=world.dev)
    for operation, guard in GUARDS.items():
        ran = await _attempt(api, world, world.dev, operation)
        assert ran is (guard == permission), (operation, permission)


@pytest.mark.parametrize("operation", list(GUARDS))
async def test_admin_may_do_every_device_operation(api: Api, world: World, operation: str) -> None:
    await _project(api, world)
    assert await _attempt(api, world, world.admin, operation)


@pytest.mark.parametrize("operation", list(GUARDS))
async def test_member_without_device_permissions_is_refused(
    api: Api, world: World, operation: str
) -> None:
    """A project member (VIEWER: sees the project and its devices) holds no device permission
    (global roles are basic: device permissions are given per type, R29)."""
    await _project(api, world)
    body = await api(
        ASSIGN, {"key": "fleet", "user": world.dev.id, "roles": ["VIEWER"]}, as_=world.admin
    )
    assert payload(body, "assignProjectRole")["errors"] == []
    assert not await _attempt(api, world, world.dev, operation)


async def test_device_permissions_hold_only_in_the_roles_environments(
    api: Api, world: World, services: Services
) -> None:
    await _project(api, world)
    await _grant(
        api,
        world,
        [A.REGISTER_DEVICES, A.MODIFY_DEVICES, A.REMOTE_CONTROL],
        user=world.dev,
        envs=("DEV",),
    )
    await _device(api, world.dev, name="dev-box")
    prod = await _device(api, world.admin, name="prod-box", environment="PROD")
    before = await _device_state(services)
    body = await api(
        REGISTER,
        {"input": {"projectKey": "fleet", "name": "x", "environment": "PROD"}},
        as_=world.dev,
    )
    assert_no_permission(body, "registerDevice")
    assert_no_permission(
        await api(UPDATE, {"input": {"deviceId": prod["id"], "location": "x"}}, as_=world.dev),
        "updateDevice",
    )
    assert_no_permission(await api(REMOTE, {"id": prod["id"]}, as_=world.dev), "startRemoteSession")
    assert await _device_state(services) == before
    body = await api(VIEWER_CAN, {"key": "fleet"}, as_=world.dev)
    flags = {n["name"]: n for n in body["data"]["devices"]["nodes"]}
    assert flags["dev-box"]["viewerCanModify"] and flags["dev-box"]["viewerCanRemoteControl"]
    assert not flags["prod-box"]["viewerCanModify"]
    assert not flags["prod-box"]["viewerCanRemoteControl"]


async def test_device_permissions_come_through_a_group(
    api: Api, world: World, factory: Factory
) -> None:
    await _project(api, world)
    body = await api(
        """mutation($m: [ID!]!) { createGroup(input: {name: "Field team", memberIds: $m}) {
             group { id } errors { code } } }""",
        {"m": [world.dev.id]},
        as_=world.admin,
    )
    group = payload(body, "createGroup")["group"]["id"]
    await _grant(api, world, [A.REMOTE_CONTROL], group=group)
    device = await _device(api, world.admin)
    remote = payload(await api(REMOTE, {"id": device["id"]}, as_=world.dev), "startRemoteSession")
    assert remote["errors"] == [] and remote["logEntry"]["actor"] == {"email": "dev@acme.test"}
    # Out of the group, the permission is gone at once.
    body = await api(
        """mutation($g: ID!, $u: ID!) { updateGroupMembers(input: {groupId: $g, remove: [$u]}) {
             errors { code } } }""",
        {"g": group, "u": world.dev.id},
        as_=world.admin,
    )
    assert payload(body, "updateGroupMembers")["errors"] == []
    body = await api(REMOTE, {"id": device["id"]}, as_=world.dev)
    assert (
        body["data"]["startRemoteSession"] is None or body["data"]["startRemoteSession"]["errors"]
    )


async def test_read_only_token_cannot_change_devices(
    api: Api, world: World, factory: Factory, services: Services
) -> None:
    """R14: an admin's READ_ONLY token reads devices and logs, and changes nothing."""
    await _project(api, world)
    device = await _device(api, world.admin)
    token = await factory.token(world.admin, TokenPermission.READ_ONLY)
    before = await _device_state(services)
    for operation in ("registerDevice", "updateDevice", "deleteDevice", "startRemoteSession"):
        assert not await _attempt(api, world, token, operation)
    body = await api(LOGS, {"key": "fleet"}, as_=token)
    names = {n["name"]: n for n in body["data"]["devices"]["nodes"]}
    assert names[device["name"]]["logs"]["nodes"]
    after = await _device_state(services)
    # _attempt's own setup (by the admin's session) added rows; the token's calls added none.
    assert len(after[0]) == len(before[0]) + 4 and len(after[2]) == len(before[2]) + 4


async def test_anonymous_caller_is_unauthenticated(api: Api, world: World) -> None:
    await _project(api, world)
    device = await _device(api, world.admin)
    assert_unauthenticated(await api(DEVICES, {"key": "fleet"}), "devices")
    assert_unauthenticated(await api(REMOTE, {"id": device["id"]}), "startRemoteSession")


# --- not yours to see (R1, R27) ----------------------------------------------------------------


async def test_non_member_sees_no_project_devices(
    api: Api, world: World, services: Services
) -> None:
    await _project(api, world)
    group = await _group(api, world.admin)
    device = await _device(api, world.admin, groupId=group)
    before = await _device_state(services)
    assert (await api(DEVICES, {"key": "fleet"}, as_=world.dev))["data"]["devices"] is None
    assert (await api(DEVICE_GROUPS, {"key": "fleet"}, as_=world.dev))["data"][
        "deviceGroups"
    ] is None
    assert (await api(NODE, {"id": device["id"]}, as_=world.dev))["data"]["node"] is None
    assert (await api(NODE, {"id": group}, as_=world.dev))["data"]["node"] is None
    body = await api(REGISTER, {"input": {"projectKey": "fleet", "name": "x"}}, as_=world.dev)
    assert user_error_codes(body, "registerDevice") == ["NOT_FOUND"]
    body = await api(UPDATE, {"input": {"deviceId": device["id"], "name": "x"}}, as_=world.dev)
    assert user_error_codes(body, "updateDevice") == ["NOT_FOUND"]
    body = await api(DELETE_GROUP, {"id": group}, as_=world.dev)
    assert user_error_codes(body, "deleteDeviceGroup") == ["NOT_FOUND"]
    assert await _device_state(services) == before


async def test_other_organizations_devices_are_out_of_reach(
    api: Api, world: World, services: Services
) -> None:
    """Even to the other organization's admin: its IDs name nothing (R1)."""
    await _project(api, world)
    group = await _group(api, world.admin)
    device = await _device(api, world.admin, groupId=group)
    other = world.other_admin
    await api(CREATE_PROJECT, {"key": "fleet"}, as_=other)  # its own project of the same key
    before = await _device_state(services)
    assert (await api(NODE, {"id": device["id"]}, as_=other))["data"]["node"] is None
    # "fleet" is its own (empty) project there: ours does not show through.
    assert (await api(DEVICES, {"key": "fleet"}, as_=other))["data"]["devices"]["totalCount"] == 0
    for query, variables, field in (
        (UPDATE, {"input": {"deviceId": device["id"], "name": "mine"}}, "updateDevice"),
        (DELETE, {"id": device["id"]}, "deleteDevice"),
        (REMOTE, {"id": device["id"]}, "startRemoteSession"),
        (DELETE_GROUP, {"id": group}, "deleteDeviceGroup"),
    ):
        assert user_error_codes(await api(query, variables, as_=other), field) == ["NOT_FOUND"]
    # Its own project may not use our group either.
    body = await api(
        REGISTER, {"input": {"projectKey": "fleet", "name": "x", "groupId": group}}, as_=other
    )
    assert user_error_codes(body, "registerDevice") == ["NOT_FOUND"]
    assert await _device_state(services) == before


# --- bad input ---------------------------------------------------------------------------------


async def test_duplicate_device_name_in_a_project_is_refused(
    api: Api, world: World, services: Services
) -> None:
    await _project(api, world)
    await _project(api, world, "lab")
    await _device(api, world.admin, name="GW-01")
    await _device(api, world.admin, name="gw-01", key="lab")  # another project: fine
    before = await _device_state(services)
    body = await api(
        REGISTER, {"input": {"projectKey": "fleet", "name": " gw-01 "}}, as_=world.admin
    )
    assert payload(body, "registerDevice")["errors"][0]["code"] == "DEVICE_NAME_TAKEN"
    other = await _device(api, world.admin, name="gw-02")
    before = await _device_state(services)
    body = await api(UPDATE, {"input": {"deviceId": other["id"], "name": "Gw-01"}}, as_=world.admin)
    assert user_error_codes(body, "updateDevice") == ["DEVICE_NAME_TAKEN"]
    assert await _device_state(services) == before


async def test_group_of_another_project_is_refused(
    api: Api, world: World, services: Services
) -> None:
    await _project(api, world)
    await _project(api, world, "lab")
    lab_group = await _group(api, world.admin, key="lab")
    device = await _device(api, world.admin)
    before = await _device_state(services)
    body = await api(
        REGISTER,
        {"input": {"projectKey": "fleet", "name": "x", "groupId": lab_group}},
        as_=world.admin,
    )
    errors = payload(body, "registerDevice")["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("NOT_FOUND", ["groupId"])]
    body = await api(
        UPDATE, {"input": {"deviceId": device["id"], "groupId": lab_group}}, as_=world.admin
    )
    assert user_error_codes(body, "updateDevice") == ["NOT_FOUND"]
    assert await _device_state(services) == before


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("name", "", "INVALID_NAME"),
        ("name", "x" * 101, "INVALID_NAME"),
        ("name", "bad\u202ename", "INVALID_NAME"),
        ("description", "d" * 501, "INVALID_DESCRIPTION"),
        ("location", "l" * 201, "INVALID_LOCATION"),
        ("location", "evil\x1b[2J", "INVALID_LOCATION"),
    ],
)
async def test_bad_device_input_is_refused(
    api: Api, world: World, services: Services, field: str, value: str, code: str
) -> None:
    await _project(api, world)
    device = await _device(api, world.admin)
    before = await _device_state(services)
    fields = {"name": "ok", field: value}
    body = await api(REGISTER, {"input": {"projectKey": "fleet", **fields}}, as_=world.admin)
    errors = payload(body, "registerDevice")["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [(code, [field])]
    body = await api(UPDATE, {"input": {"deviceId": device["id"], field: value}}, as_=world.admin)
    assert user_error_codes(body, "updateDevice") == [code]
    assert await _device_state(services) == before


async def test_malformed_ids_are_not_found(api: Api, world: World) -> None:
    await _project(api, world)
    body = await api(UPDATE, {"input": {"deviceId": world.dev.id, "name": "x"}}, as_=world.admin)
    assert user_error_codes(body, "updateDevice") == ["NOT_FOUND"]  # a User's ID
    body = await api(DELETE, {"id": "nonsense"}, as_=world.admin)
    assert user_error_codes(body, "deleteDevice") == ["NOT_FOUND"]
    body = await api(DEVICES, {"key": "fleet", "filter": {"groupId": "nonsense"}}, as_=world.admin)
    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_group_with_devices_cannot_be_deleted(api: Api, world: World) -> None:
    await _project(api, world)
    group = await _group(api, world.admin)
    device = await _device(api, world.admin, groupId=group)
    body = await api(DELETE_GROUP, {"id": group}, as_=world.admin)
    assert user_error_codes(body, "deleteDeviceGroup") == ["GROUP_NOT_EMPTY"]
    await api(UPDATE, {"input": {"deviceId": device["id"], "groupId": None}}, as_=world.admin)
    body = await api(DELETE_GROUP, {"id": group}, as_=world.admin)
    assert payload(body, "deleteDeviceGroup") == {"deletedGroupId": group, "errors": []}


async def test_duplicate_group_name_is_refused(api: Api, world: World) -> None:
    await _project(api, world)
    await _group(api, world.admin, name="Gateways")
    other = await _group(api, world.admin, name="Sensors")
    body = await api(
        CREATE_GROUP, {"input": {"projectKey": "fleet", "name": "gateways"}}, as_=world.admin
    )
    assert user_error_codes(body, "createDeviceGroup") == ["GROUP_NAME_TAKEN"]
    body = await api(
        UPDATE_GROUP, {"input": {"groupId": other, "name": "GATEWAYS"}}, as_=world.admin
    )
    assert user_error_codes(body, "updateDeviceGroup") == ["GROUP_NAME_TAKEN"]


# --- the list ------------------------------------------------------------------------------------


async def test_devices_filter_by_group_and_search_and_page(api: Api, world: World) -> None:
    await _project(api, world)
    gateways = await _group(api, world.admin, name="Gateways")
    await _group(api, world.admin, name="Sensors")
    for n in range(5):
        await _device(api, world.admin, name=f"gw-{n}", groupId=gateways)
    for n in range(3):
        await _device(api, world.admin, name=f"Sensor_{n}%")

    async def names(**variables: Any) -> list[str]:
        body = await api(DEVICES, {"key": "fleet", **variables}, as_=world.admin)
        return [n["name"] for n in body["data"]["devices"]["nodes"]]

    assert await names(filter={"groupId": gateways}) == [f"gw-{n}" for n in range(5)]
    assert await names(filter={"search": "SENSOR"}) == ["Sensor_0%", "Sensor_1%", "Sensor_2%"]
    assert await names(filter={"search": "_1%"}) == ["Sensor_1%"]  # no LIKE wildcards
    assert await names(filter={"search": "gw", "groupId": gateways}, first=2) == ["gw-0", "gw-1"]
    body = await api(DEVICES, {"key": "fleet", "first": 3}, as_=world.admin)
    page = body["data"]["devices"]
    assert page["totalCount"] == 8 and page["pageInfo"]["hasNextPage"]
    after = page["pageInfo"]["endCursor"]
    assert await names(first=3, after=after) == ["gw-3", "gw-4", "Sensor_0%"]


async def test_device_logs_directive_is_in_the_sdl(services: Services) -> None:
    from accessgraph.schema import build_schema

    sdl = build_schema().as_str()
    logs = next(line for line in sdl.splitlines() if line.strip().startswith("logs("))
    assert '@requires(action: "VIEW_DEVICE_LOGS"' in logs
    assert "ProjectRole.VIEW_DEVICE_LOGS" in logs and "TeamRole.ADMIN" in logs
    register = next(line for line in sdl.splitlines() if "registerDevice(" in line)
    assert '"REGISTER_DEVICES"' in register and "ProjectRole.REGISTER_DEVICES" in register


# --- updates, commands, monitors, alerts, engine settings ------------------------------------------


async def test_deploy_update_and_run_command_are_logged_on_the_device(
    api: Api, world: World
) -> None:
    await _project(api, world)
    device = await _device(api, world.admin)
    update = await _update(api, world.admin, version="2.1.0")
    command = await _command(api, world.admin, name="Disk usage", script="df -h")
    body = await api(DEPLOY, {"device": device["id"], "update": update}, as_=world.admin)
    deployed = payload(body, "deployDeviceUpdate")
    assert deployed["errors"] == [] and deployed["logEntry"]["kind"] == "UPDATE_DEPLOYED"
    assert "firmware 2.1.0" in deployed["logEntry"]["message"]
    body = await api(RUN_COMMAND, {"device": device["id"], "command": command}, as_=world.admin)
    ran = payload(body, "runDeviceCommand")
    assert ran["errors"] == [] and "Disk usage" in ran["logEntry"]["message"]
    body = await api(LOGS, {"key": "fleet"}, as_=world.admin)
    [node] = body["data"]["devices"]["nodes"]
    assert [e["kind"] for e in node["logs"]["nodes"]] == [
        "COMMAND_RUN",
        "UPDATE_DEPLOYED",
        "REGISTERED",
    ]
    body = await api(AUDIT, as_=world.admin)
    actions = {e["action"]: e for e in body["data"]["auditEvents"]["nodes"]}
    assert actions["device.update_deployed"]["after"] == {"update": "firmware", "version": "2.1.0"}
    assert actions["device.command_run"]["after"] == {"command": "Disk usage", "script": "df -h"}


async def test_update_or_command_of_another_project_is_refused(
    api: Api, world: World, services: Services
) -> None:
    await _project(api, world)
    await _project(api, world, "lab")
    device = await _device(api, world.admin)
    variables = {"input": {"projectKey": "lab", "name": "fw", "version": "1"}}
    lab_update = payload(await api(CREATE_UPDATE, variables, as_=world.admin), "createDeviceUpdate")
    variables = {"input": {"projectKey": "lab", "name": "ls", "script": "ls"}}
    lab_command = payload(await api(SAVE_COMMAND, variables, as_=world.admin), "saveDeviceCommand")
    before = await _device_state(services)
    body = await api(
        DEPLOY, {"device": device["id"], "update": lab_update["update"]["id"]}, as_=world.admin
    )
    errors = payload(body, "deployDeviceUpdate")["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("NOT_FOUND", ["updateId"])]
    body = await api(
        RUN_COMMAND,
        {"device": device["id"], "command": lab_command["command"]["id"]},
        as_=world.admin,
    )
    errors = payload(body, "runDeviceCommand")["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("NOT_FOUND", ["commandId"])]
    assert await _device_state(services) == before


@pytest.mark.parametrize(
    ("query", "variables", "field", "code"),
    [
        (
            CREATE_UPDATE,
            {"projectKey": "fleet", "name": "fw", "version": "1 0"},
            "createDeviceUpdate",
            "INVALID_VERSION",
        ),
        (
            CREATE_UPDATE,
            {"projectKey": "fleet", "name": "fw", "version": "v" * 41},
            "createDeviceUpdate",
            "INVALID_VERSION",
        ),
        (
            CREATE_UPDATE,
            {"projectKey": "fleet", "name": "firmware", "version": "1.0"},
            "createDeviceUpdate",
            "VERSION_TAKEN",
        ),
        (
            SAVE_COMMAND,
            {"projectKey": "fleet", "name": "x", "script": " "},
            "saveDeviceCommand",
            "INVALID_SCRIPT",
        ),
        (
            SAVE_COMMAND,
            {"projectKey": "fleet", "name": "x", "script": "s" * 4001},
            "saveDeviceCommand",
            "INVALID_SCRIPT",
        ),
        (
            SAVE_DATA_MONITOR,
            {"projectKey": "fleet", "name": "cpu", "parameter": ""},
            "saveDataMonitor",
            "INVALID_PARAMETER",
        ),
        (
            SAVE_PROCESS_MONITOR,
            {"projectKey": "fleet", "name": "a", "binary": "b" * 201},
            "saveProcessMonitor",
            "INVALID_BINARY",
        ),
        (
            SAVE_DATA_MONITOR,
            {"projectKey": "nope", "name": "cpu", "parameter": "c"},
            "saveDataMonitor",
            "NOT_FOUND",
        ),
    ],
)
async def test_bad_tooling_input_is_refused(
    api: Api,
    world: World,
    services: Services,
    query: str,
    variables: dict[str, Any],
    field: str,
    code: str,
) -> None:
    await _project(api, world)
    await _update(api, world.admin, version="1.0")
    before = await _device_state(services)
    body = await api(query, {"input": variables}, as_=world.admin)
    assert user_error_codes(body, field) == [code]
    assert await _device_state(services) == before


async def test_saving_a_command_or_monitor_again_changes_it(api: Api, world: World) -> None:
    await _project(api, world)
    first = await _command(api, world.admin, name="Reboot", script="reboot")
    again = await _command(api, world.admin, name="reboot", script="systemctl reboot")
    assert again == first
    for threshold in (80.0, 95.5):
        variables = {
            "input": {"projectKey": "fleet", "name": "CPU", "parameter": "cpu.load",
                      "alertThreshold": threshold}
        }  # fmt: skip
        body = await api(SAVE_DATA_MONITOR, variables, as_=world.admin)
        assert payload(body, "saveDataMonitor")["errors"] == []
    variables = {"input": {"projectKey": "fleet", "name": "CPU", "binary": "/usr/bin/cpu"}}
    body = await api(SAVE_PROCESS_MONITOR, variables, as_=world.admin)  # another kind: its own
    assert payload(body, "saveProcessMonitor")["monitor"]["kind"] == "PROCESS"
    settings = (await api(SETTINGS, {"key": "fleet"}, as_=world.admin))["data"]["deviceSettings"]
    assert settings["commands"] == [{"name": "reboot", "script": "systemctl reboot"}]
    assert settings["dataMonitors"] == [
        {"name": "CPU", "target": "cpu.load", "alertThreshold": 95.5}
    ]
    assert settings["processMonitors"] == [{"name": "CPU", "target": "/usr/bin/cpu"}]


async def test_alerts_are_each_users_own_choice(api: Api, world: World) -> None:
    await _project(api, world)
    await _grant(api, world, [A.MANAGE_ALERTS], user=world.dev)
    body = await api(
        SET_ALERTS,
        {"key": "fleet", "alerts": ["UPDATE_FAILED", "DEVICE_OFFLINE", "DEVICE_OFFLINE"]},
        as_=world.dev,
    )
    assert payload(body, "setDeviceAlerts") == {
        "alerts": ["DEVICE_OFFLINE", "UPDATE_FAILED"],
        "errors": [],
    }
    body = await api(SET_ALERTS, {"key": "fleet", "alerts": ["DATA_MONITOR"]}, as_=world.admin)
    assert payload(body, "setDeviceAlerts")["errors"] == []
    mine = await api(SETTINGS, {"key": "fleet"}, as_=world.dev)
    assert mine["data"]["deviceSettings"]["viewerAlerts"] == ["DEVICE_OFFLINE", "UPDATE_FAILED"]
    theirs = await api(SETTINGS, {"key": "fleet"}, as_=world.admin)
    assert theirs["data"]["deviceSettings"]["viewerAlerts"] == ["DATA_MONITOR"]


async def test_engine_settings_default_off_and_change(api: Api, world: World) -> None:
    await _project(api, world)
    settings = (await api(SETTINGS, {"key": "fleet"}, as_=world.admin))["data"]["deviceSettings"]
    assert settings["engineSettings"] == {"resourceMonitor": False, "applicationLogs": False}
    body = await api(ENGINE, {"key": "fleet", "rm": True, "logs": True}, as_=world.admin)
    assert payload(body, "updateEngineSettings")["errors"] == []
    settings = (await api(SETTINGS, {"key": "fleet"}, as_=world.admin))["data"]["deviceSettings"]
    assert settings["engineSettings"] == {"resourceMonitor": True, "applicationLogs": True}


async def test_device_settings_are_for_those_who_see_the_project(api: Api, world: World) -> None:
    await _project(api, world)
    assert (await api(SETTINGS, {"key": "fleet"}, as_=world.dev))["data"]["deviceSettings"] is None
    update = await _update(api, world.admin)
    assert (await api(NODE, {"id": update}, as_=world.dev))["data"]["node"] is None
    assert (await api(NODE, {"id": update}, as_=world.other_admin))["data"]["node"] is None
    assert (await api(NODE, {"id": update}, as_=world.admin))["data"]["node"] == {"id": update}
    body = await api(
        ASSIGN, {"key": "fleet", "user": world.dev.id, "roles": ["VIEWER"]}, as_=world.admin
    )
    assert payload(body, "assignProjectRole")["errors"] == []
    settings = (await api(SETTINGS, {"key": "fleet"}, as_=world.dev))["data"]["deviceSettings"]
    assert settings["updates"] == [{"name": "firmware", "version": "1.0"}]


async def test_concurrent_registrations_of_one_name_leave_one_device(
    api: Api, world: World, services: Services
) -> None:
    """Two registrations of the same name at once: one device, and a DEVICE_NAME_TAKEN."""
    import asyncio

    await _project(api, world)
    variables = {"input": {"projectKey": "fleet", "name": "twin"}}
    bodies = await asyncio.gather(
        *(api(REGISTER, variables, as_=actor) for actor in (world.admin, world.admin))
    )
    codes = sorted(
        [e["code"] for e in payload(body, "registerDevice")["errors"]] for body in bodies
    )
    assert codes == [[], ["DEVICE_NAME_TAKEN"]]
    async with services.db.session() as session:
        count = (await session.execute(text("SELECT count(*) FROM devices"))).scalar()
    assert count == 1
