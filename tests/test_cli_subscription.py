"""The operator's `accessgraph subscription` commands (R18, R21): create, transfer-primary,
record-usage, run through typer's CliRunner against the test database and checked through
the API.

The commands call `asyncio.run`, so each runs in a worker thread (the test's own event loop
keeps running the API client).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import text
from typer.testing import CliRunner

from accessgraph.cli import cli
from accessgraph.models import SubscriptionRole, TeamRole, UserStatus
from accessgraph.schema.base import from_global_id, to_global_id
from accessgraph.services import Services
from accessgraph.settings import Settings
from tests.conftest import Actor, Api, Factory, World

SUBSCRIPTION = """
query Subscription($id: ID!) {
  subscription(id: $id) {
    id name plan viewerRole
    members { edges { role node { email } } }
  }
}"""
USAGE = """
query Usage($id: ID!) {
  subscription(id: $id) {
    usage {
      storageUsedBytes storageLimitBytes storagePercent
      transferUsedBytes transferLimitBytes transferPercent updatedAt
    }
  }
}"""

GIB = 1024**3


@pytest.fixture(autouse=True)
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands read their configuration from ACCESSGRAPH_*: point them at the test
    database, with the test signing key."""
    monkeypatch.setenv("ACCESSGRAPH_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ACCESSGRAPH_SECRET_KEY", settings.secret_key)
    for name in ("ACCESSGRAPH_ENV", "ACCESSGRAPH_SMTP_URL", "ACCESSGRAPH_SQL_ECHO"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def sub_id(factory: Factory, world: World) -> str:
    """The subscription "Acme Cloud"; the world's admin is its Primary Admin."""
    return await factory.subscription("Acme", world.admin)


async def run(*args: str) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, cli, ["subscription", *args])


def refused(result: Result, code: str) -> None:
    """Exit code 1 and `error: CODE: ...` on stderr."""
    assert result.exit_code == 1, (result.output, result.exception)
    assert f"error: {code}:" in result.stderr, result.stderr


def pk(sub_id: str) -> int:
    value = from_global_id(sub_id, "BillingSubscription")
    assert value is not None
    return value


async def roles(services: Services, sub_id: str) -> dict[str, str]:
    """email -> role in the subscription, straight from the database."""
    async with services.db.session() as session:
        rows = await session.execute(
            text(
                "SELECT u.email, m.role FROM subscription_members m "
                "JOIN users u ON u.id = m.user_id WHERE m.subscription_id = :id"
            ),
            {"id": pk(sub_id)},
        )
        return {email: str(role) for email, role in rows.all()}


async def subscription_names(services: Services) -> list[str]:
    async with services.db.session() as session:
        rows = await session.execute(text("SELECT name FROM subscriptions ORDER BY id"))
        return [name for (name,) in rows.all()]


async def read_subscription(api: Api, actor: Actor, sub_id: str) -> dict[str, Any] | None:
    body = await api(SUBSCRIPTION, {"id": sub_id}, as_=actor)
    assert not body.get("errors"), body
    result: dict[str, Any] | None = body["data"]["subscription"]
    return result


def primary_admins(member_roles: dict[str, str]) -> list[str]:
    return [email for email, role in member_roles.items() if role == "PRIMARY_ADMIN"]


# --- subscription create (R18) --------------------------------------------------------------------


async def test_subscription_create_prints_global_id(api: Api, world: World) -> None:
    result = await run(
        "create", "--org", "Acme", "--name", "Acme Cloud", "--primary-admin", "admin@acme.test"
    )
    assert result.exit_code == 0, result.output
    match = re.search(r"^id: (\S+)$", result.stdout, re.MULTILINE)
    assert match is not None, result.stdout
    sub_id = match.group(1)
    assert from_global_id(sub_id, "BillingSubscription") is not None
    subscription = await read_subscription(api, world.admin, sub_id)
    assert subscription is not None
    assert (subscription["name"], subscription["plan"], subscription["viewerRole"]) == (
        "Acme Cloud",
        "PRO",
        "PRIMARY_ADMIN",
    )
    assert [(e["node"]["email"], e["role"]) for e in subscription["members"]["edges"]] == [
        ("admin@acme.test", "PRIMARY_ADMIN")
    ]


async def test_subscription_create_with_plan(api: Api, world: World) -> None:
    result = await run(
        "create",
        "--org",
        "Acme",
        "--name",
        "  Acme   Enterprise ",
        "--primary-admin",
        "DEV@acme.test",
        "--plan",
        "enterprise",
    )
    assert result.exit_code == 0, result.output
    match = re.search(r"^id: (\S+)$", result.stdout, re.MULTILINE)
    assert match is not None
    subscription = await read_subscription(api, world.dev, match.group(1))
    assert subscription is not None
    assert (subscription["name"], subscription["plan"], subscription["viewerRole"]) == (
        "Acme Enterprise",
        "ENTERPRISE",
        "PRIMARY_ADMIN",
    )


async def test_subscription_create_unknown_org_is_refused(world: World, services: Services) -> None:
    result = await run(
        "create", "--org", "Initech", "--name", "Cloud", "--primary-admin", "admin@acme.test"
    )
    refused(result, "NOT_FOUND")
    assert await subscription_names(services) == []


async def test_subscription_create_primary_admin_must_be_active_user_of_org(
    world: World, factory: Factory, services: Services
) -> None:
    """R21: the Primary Admin is an ACTIVE user of the subscription's organization."""
    await factory.user(world.org, "invited@acme.test", TeamRole.ADMIN, UserStatus.INVITED)
    await factory.user(world.org, "failed@acme.test", TeamRole.ADMIN, UserStatus.FAILED)
    for email, code in [
        ("nobody@acme.test", "NOT_FOUND"),
        ("admin@globex.test", "NOT_FOUND"),
        ("not an email", "INVALID_EMAIL"),
        ("invited@acme.test", "MEMBER_NOT_ACTIVE"),
        ("failed@acme.test", "MEMBER_NOT_ACTIVE"),
    ]:
        result = await run("create", "--org", "Acme", "--name", "Cloud", "--primary-admin", email)
        refused(result, code)
    assert await subscription_names(services) == []


async def test_subscription_create_duplicate_name_is_refused(
    world: World, services: Services, sub_id: str
) -> None:
    """R18: subscription names are unique in an organization, ignoring case and spacing."""
    for name in ["Acme Cloud", "acme cloud", "  ACME   CLOUD "]:
        result = await run(
            "create", "--org", "Acme", "--name", name, "--primary-admin", "dev@acme.test"
        )
        refused(result, "NAME_TAKEN")
    assert await subscription_names(services) == ["Acme Cloud"]


async def test_subscription_create_same_name_in_another_org(
    world: World, services: Services, sub_id: str
) -> None:
    result = await run(
        "create", "--org", "Globex", "--name", "Acme Cloud", "--primary-admin", "admin@globex.test"
    )
    assert result.exit_code == 0, result.output
    assert await subscription_names(services) == ["Acme Cloud", "Acme Cloud"]


async def test_subscription_create_invalid_input_is_refused(
    world: World, services: Services
) -> None:
    for args, code in [
        (["--name", "   "], "INVALID_NAME"),
        (["--name", "x" * 101], "INVALID_NAME"),
        (["--name", "Cloud", "--plan", "pro plan!"], "INVALID_PLAN"),
        (["--name", "Cloud", "--storage-limit-gib", "0"], "INVALID_AMOUNT"),
    ]:
        result = await run("create", "--org", "Acme", "--primary-admin", "admin@acme.test", *args)
        refused(result, code)
    assert await subscription_names(services) == []


# --- subscription transfer-primary (R21) -------------------------------------------------------------


@pytest.mark.parametrize("id_form", ["global", "numeric"])
async def test_subscription_transfer_primary_moves_role(
    api: Api, world: World, factory: Factory, services: Services, sub_id: str, id_form: str
) -> None:
    """R21: to an ACTIVE member; the previous Primary Admin becomes ADMIN."""
    await factory.subscription_member(sub_id, world.dev, SubscriptionRole.TECHNICAL_MEMBER)
    reference = sub_id if id_form == "global" else str(pk(sub_id))
    result = await run("transfer-primary", "--subscription", reference, "--to", "DEV@acme.test")
    assert result.exit_code == 0, result.output
    assert "dev@acme.test" in result.stdout
    assert await roles(services, sub_id) == {
        "admin@acme.test": "ADMIN",
        "dev@acme.test": "PRIMARY_ADMIN",
    }
    dev_view = await read_subscription(api, world.dev, sub_id)
    admin_view = await read_subscription(api, world.admin, sub_id)
    assert dev_view is not None
    assert admin_view is not None
    assert (dev_view["viewerRole"], admin_view["viewerRole"]) == ("PRIMARY_ADMIN", "ADMIN")


async def test_subscription_transfer_primary_and_back(
    world: World, factory: Factory, services: Services, sub_id: str
) -> None:
    """Exactly one Primary Admin after every transfer."""
    await factory.subscription_member(sub_id, world.dev, SubscriptionRole.FINANCE_MEMBER)
    await factory.subscription_member(sub_id, world.dev2, SubscriptionRole.ADMIN)
    for to in ("dev@acme.test", "dev2@acme.test", "admin@acme.test"):
        result = await run("transfer-primary", "--subscription", sub_id, "--to", to)
        assert result.exit_code == 0, result.output
        assert primary_admins(await roles(services, sub_id)) == [to]
    assert await roles(services, sub_id) == {
        "admin@acme.test": "PRIMARY_ADMIN",
        "dev@acme.test": "ADMIN",
        "dev2@acme.test": "ADMIN",
    }


async def test_subscription_transfer_primary_refusals(
    world: World, factory: Factory, services: Services, sub_id: str
) -> None:
    """R21: only to another ACTIVE member of the same subscription; nothing changes otherwise."""
    await factory.subscription_member(sub_id, world.dev, SubscriptionRole.ADMIN)
    invited = await factory.user(world.org, "invited@acme.test", status=UserStatus.INVITED)
    await factory.subscription_member(
        sub_id, Actor("invited", {}, invited, "invited@acme.test"), SubscriptionRole.ADMIN
    )
    before = await roles(services, sub_id)
    assert primary_admins(before) == ["admin@acme.test"]
    for to, code in [
        ("dev2@acme.test", "NOT_MEMBER"),
        ("invited@acme.test", "MEMBER_NOT_ACTIVE"),
        ("admin@acme.test", "ALREADY_PRIMARY_ADMIN"),
        ("nobody@acme.test", "NOT_FOUND"),
        ("admin@globex.test", "NOT_FOUND"),
    ]:
        refused(await run("transfer-primary", "--subscription", sub_id, "--to", to), code)
        assert await roles(services, sub_id) == before, to


async def test_subscription_transfer_primary_to_member_of_other_subscription_is_refused(
    world: World, factory: Factory, services: Services, sub_id: str
) -> None:
    """R21: "under the same subscription": a role elsewhere does not count."""
    other = await factory.subscription("Acme", world.admin, name="Acme Edge")
    await factory.subscription_member(other, world.dev, SubscriptionRole.ADMIN)
    refused(
        await run("transfer-primary", "--subscription", sub_id, "--to", "dev@acme.test"),
        "NOT_MEMBER",
    )
    assert primary_admins(await roles(services, sub_id)) == ["admin@acme.test"]


async def test_subscription_transfer_primary_unknown_subscription_is_refused(
    world: World, services: Services, sub_id: str
) -> None:
    before = await roles(services, sub_id)
    for reference in [
        to_global_id("BillingSubscription", 999),
        "999",
        "0",
        "not-an-id",
        to_global_id("User", 1),
    ]:
        refused(
            await run("transfer-primary", "--subscription", reference, "--to", "admin@acme.test"),
            "NOT_FOUND",
        )
    assert await roles(services, sub_id) == before


async def test_subscription_commands_out_of_range_id_is_refused(
    world: World, services: Services, sub_id: str
) -> None:
    before = await roles(services, sub_id)
    for reference in ["99999999999999999999", to_global_id("BillingSubscription", 2**64)]:
        refused(
            await run("transfer-primary", "--subscription", reference, "--to", "admin@acme.test"),
            "NOT_FOUND",
        )
        refused(
            await run(
                "record-usage",
                "--subscription",
                reference,
                "--storage-bytes",
                "1",
                "--transfer-bytes",
                "1",
            ),
            "NOT_FOUND",
        )
    assert await roles(services, sub_id) == before


async def test_subscription_transfer_primary_to_user_of_another_org_is_refused(
    world: World, factory: Factory, services: Services
) -> None:
    """R1: a Globex subscription never gets an Acme Primary Admin."""
    globex = await factory.subscription("Globex", world.other_admin, name="Globex Cloud")
    refused(
        await run("transfer-primary", "--subscription", globex, "--to", "dev@acme.test"),
        "NOT_FOUND",
    )
    assert await roles(services, globex) == {"admin@globex.test": "PRIMARY_ADMIN"}


# --- subscription record-usage -----------------------------------------------------------------------


async def test_subscription_record_usage_is_shown_by_usage(
    api: Api, world: World, sub_id: str
) -> None:
    """Byte counts beyond 32 bits come through the API's Bytes scalar exactly."""
    result = await run(
        "record-usage",
        "--subscription",
        sub_id,
        "--storage-bytes",
        str(600 * GIB),
        "--transfer-bytes",
        str(3 * GIB),
    )
    assert result.exit_code == 0, result.output
    body = await api(USAGE, {"id": sub_id}, as_=world.admin)
    assert not body.get("errors"), body
    usage = body["data"]["subscription"]["usage"]
    assert usage["storageUsedBytes"] == 600 * GIB
    assert usage["storageLimitBytes"] == 1024 * GIB
    assert usage["storagePercent"] == pytest.approx(58.59, abs=0.01)
    assert usage["transferUsedBytes"] == 3 * GIB
    assert usage["transferPercent"] == pytest.approx(0.29, abs=0.01)
    assert usage["updatedAt"] is not None


async def test_subscription_usage_before_any_report(api: Api, world: World, sub_id: str) -> None:
    body = await api(USAGE, {"id": sub_id}, as_=world.admin)
    usage = body["data"]["subscription"]["usage"]
    assert (usage["storageUsedBytes"], usage["transferUsedBytes"], usage["updatedAt"]) == (
        0,
        0,
        None,
    )


async def test_subscription_record_usage_negative_is_refused(
    api: Api, world: World, sub_id: str
) -> None:
    ok = await run(
        "record-usage", "--subscription", sub_id, "--storage-bytes", "5", "--transfer-bytes", "7"
    )
    assert ok.exit_code == 0, ok.output
    for storage, transfer in [("-1", "0"), ("0", "-1"), (str(-GIB), str(-GIB))]:
        result = await run(
            "record-usage",
            "--subscription",
            sub_id,
            f"--storage-bytes={storage}",
            f"--transfer-bytes={transfer}",
        )
        refused(result, "INVALID_AMOUNT")
    body = await api(USAGE, {"id": sub_id}, as_=world.admin)
    usage = body["data"]["subscription"]["usage"]
    assert (usage["storageUsedBytes"], usage["transferUsedBytes"]) == (5, 7)


async def test_subscription_record_usage_unknown_subscription_is_refused(world: World) -> None:
    result = await run(
        "record-usage", "--subscription", "12345", "--storage-bytes", "1", "--transfer-bytes", "1"
    )
    refused(result, "NOT_FOUND")
