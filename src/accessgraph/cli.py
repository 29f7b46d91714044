"""The `accessgraph` command: serve, migrate, bootstrap, schema, and the operator's
`subscription` commands."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from accessgraph.errors import Rejected
from accessgraph.settings import Settings, SettingsError

if TYPE_CHECKING:
    from accessgraph.services import Services

cli = typer.Typer(
    add_completion=False, no_args_is_help=True, help="accessgraph: access management over GraphQL."
)
subscription_cli = typer.Typer(
    no_args_is_help=True, help="Operator commands for subscriptions (R18, R21)."
)
cli.add_typer(subscription_cli, name="subscription")
keys_cli = typer.Typer(help="Signing keys: rotate, list, retire (every instance follows).")
cli.add_typer(keys_cli, name="keys")
T = TypeVar("T")


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from None


@cli.command()
def migrate() -> None:
    """Apply database migrations (Alembic) up to the newest."""
    from accessgraph.migrate import upgrade

    settings = _settings()
    upgrade(settings.database_url)
    typer.echo("database is up to date")


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    loop: Annotated[
        str,
        typer.Option(
            help="Event loop: auto (asyncio's for one worker, uvloop for several: chosen "
            "from measurements), asyncio or uvloop.",
        ),
    ] = "auto",
) -> None:
    """Migrate the database if needed, then serve HTTP."""
    from accessgraph import serving
    from accessgraph.migrate import upgrade

    try:
        serving.options(loop, workers)  # refused here, before anything runs
    except ValueError as unknown:
        raise typer.BadParameter(str(unknown), param_hint="--loop") from None
    settings = _settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    upgrade(settings.database_url)
    if not asyncio.run(_has_organization(settings)):
        typer.echo(
            "No organization yet. Create one and its first admin (in another terminal):\n"
            "  .venv/bin/accessgraph bootstrap --org Acme --email admin@acme.test "
            "--password 'a long passphrase'"
        )
    typer.echo(f"accessgraph serving on http://{host}:{port}/graphql (GraphiQL in a browser)")
    serving.serve(host, port, workers, loop)


async def _has_organization(settings: Settings) -> bool:
    from sqlalchemy import select
    from sqlmodel import col

    from accessgraph.db import Database
    from accessgraph.models import Organization

    db = Database(settings.database_url)
    try:
        async with db.session() as session:
            return (await session.scalar(select(col(Organization.id)).limit(1))) is not None
    finally:
        await db.dispose()


@cli.command()
def bootstrap(
    org: Annotated[str, typer.Option(help="Organization name.")],
    email: Annotated[str, typer.Option(help="The first admin's email.")],
    password: Annotated[str, typer.Option(help="The first admin's password (12+ characters).")],
    first_name: Annotated[str | None, typer.Option("--first-name")] = None,
    last_name: Annotated[str | None, typer.Option("--last-name")] = None,
) -> None:
    """Create an organization and its first ACTIVE admin; refuses if that email exists."""
    from accessgraph.migrate import upgrade
    from accessgraph.resolvers.organizations import BootstrapInput
    from accessgraph.resolvers.organizations import bootstrap as run_bootstrap
    from accessgraph.services import Services

    settings = _settings()
    upgrade(settings.database_url)

    async def run() -> None:
        services = Services.build(settings)
        try:
            await run_bootstrap(
                services, BootstrapInput(org, email, password, first_name, last_name)
            )
        finally:
            await services.db.dispose()

    try:
        asyncio.run(run())
    except Rejected as exc:
        for problem in exc.problems:
            typer.echo(f"error: {problem.code}: {problem.message}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"created organization {org!r} with admin {email}")
    typer.echo(
        "next: accessgraph serve, open http://127.0.0.1:8000/graphql, run the login mutation"
    )


@cli.command()
def schema() -> None:
    """Print the GraphQL SDL (the text of schema.graphql)."""
    from accessgraph.schema import build_schema

    typer.echo(build_schema().as_str())


def _run(work: Callable[[Services], Awaitable[T]]) -> T:
    """Migrate, run one use case with fresh services, and report a refusal as exit code 1."""
    from accessgraph.migrate import upgrade
    from accessgraph.services import Services

    settings = _settings()
    upgrade(settings.database_url)

    async def run() -> T:
        services = Services.build(settings)
        try:
            return await work(services)
        finally:
            await services.db.dispose()

    try:
        return asyncio.run(run())
    except Rejected as exc:
        for problem in exc.problems:
            typer.echo(f"error: {problem.code}: {problem.message}", err=True)
        raise typer.Exit(1) from None


def _subscription_pk(raw: str) -> int:
    """A subscription's global ID (as the API shows it) or its number."""
    from accessgraph.models.base import MAX_ID
    from accessgraph.schema.base import from_global_id
    from accessgraph.schema.subscriptions import TYPE_NAME

    pk = int(raw) if raw.isascii() and raw.isdigit() else from_global_id(raw, TYPE_NAME)
    if not pk or pk > MAX_ID:
        typer.echo(f"error: NOT_FOUND: {raw!r} is not a subscription ID", err=True)
        raise typer.Exit(1)
    return pk


@subscription_cli.command("create")
def subscription_create(
    org: Annotated[str, typer.Option(help="Organization name.")],
    name: Annotated[str, typer.Option(help='Subscription name, e.g. "Acme Cloud".')],
    primary_admin: Annotated[
        str, typer.Option("--primary-admin", help="Email of an ACTIVE user of the organization.")
    ],
    plan: Annotated[str, typer.Option(help="Plan name.")] = "PRO",
    storage_limit_gib: Annotated[int, typer.Option(help="Storage limit in GiB.")] = 1024,
    transfer_limit_gib: Annotated[int, typer.Option(help="Monthly transfer limit in GiB.")] = 1024,
) -> None:
    """Create a subscription with its Primary Admin (R18)."""
    from accessgraph.resolvers import subscriptions
    from accessgraph.schema.base import to_global_id
    from accessgraph.schema.subscriptions import TYPE_NAME

    data = subscriptions.CreateSubscriptionInput(
        org, name, primary_admin, plan, storage_limit_gib, transfer_limit_gib
    )
    row = _run(lambda services: subscriptions.create_subscription(services, data))
    assert row.id is not None
    typer.echo(f"created subscription {row.name!r} with Primary Admin {primary_admin}")
    typer.echo(f"id: {to_global_id(TYPE_NAME, row.id)}")


@subscription_cli.command("transfer-primary")
def subscription_transfer_primary(
    subscription: Annotated[str, typer.Option(help="The subscription's ID.")],
    to: Annotated[str, typer.Option(help="Email of an ACTIVE member of the subscription.")],
) -> None:
    """Move PRIMARY_ADMIN to another active member; the previous one becomes ADMIN (R21)."""
    from accessgraph.resolvers import subscriptions

    pk = _subscription_pk(subscription)
    row, user = _run(lambda services: subscriptions.transfer_primary(services, pk, to))
    typer.echo(f"{user.email} is now the Primary Admin of {row.name!r}")


@subscription_cli.command("record-usage")
def subscription_record_usage(
    subscription: Annotated[str, typer.Option(help="The subscription's ID.")],
    storage_bytes: Annotated[int, typer.Option(help="Storage in use, in bytes.")],
    transfer_bytes: Annotated[int, typer.Option(help="Transfer this period, in bytes.")],
) -> None:
    """Report current usage (what metering measured), shown on the subscription's usage."""
    from accessgraph.resolvers import subscriptions

    pk = _subscription_pk(subscription)
    row = _run(
        lambda services: subscriptions.record_usage(services, pk, storage_bytes, transfer_bytes)
    )
    typer.echo(f"usage of {row.name!r} recorded")


@keys_cli.command("rotate")
def keys_rotate() -> None:
    """Add a signing key: new tokens are signed with it; older keys still verify."""
    from accessgraph.auth import keys

    kid = _run(lambda services: keys.rotate(services.db, services.clock.now()))
    typer.echo(f"new signing key {kid}: instances sign with it within {keys.REFRESH_SECONDS:g} s")


@keys_cli.command("retire")
def keys_retire(
    kid: Annotated[str, typer.Argument(help='A key id from `keys list`, or "legacy".')],
) -> None:
    """Stop verifying tokens signed with KID ("legacy": those from before any rotation)."""
    from accessgraph.auth import keys

    _run(lambda services: keys.retire(services.db, kid, services.clock.now()))
    typer.echo(f"retired {kid}: its tokens stop working within {keys.REFRESH_SECONDS:g} s")


@keys_cli.command("list")
def keys_list() -> None:
    """The signing keys, oldest first; the newest active one signs."""
    from accessgraph.auth import keys

    rows = _run(lambda services: keys.listing(services.db))
    if not rows:
        typer.echo("no rotated keys: the secret key itself signs (kid: legacy)")
    for row in rows:
        state = f"retired {row.retired_at:%Y-%m-%d %H:%M}" if row.retired_at else "active"
        typer.echo(f"{row.kid}  created {row.created_at:%Y-%m-%d %H:%M}  {state}")


def main() -> None:
    cli()
