"""The `accessgraph` command: serve, migrate, bootstrap, schema."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

import typer

from accessgraph.errors import Rejected
from accessgraph.settings import Settings, SettingsError

cli = typer.Typer(
    add_completion=False, no_args_is_help=True, help="accessgraph: access management over GraphQL."
)


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
) -> None:
    """Migrate the database if needed, then serve HTTP."""
    import uvicorn

    from accessgraph.migrate import upgrade

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
    uvicorn.run(
        "accessgraph.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
        proxy_headers=False,
    )


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


def main() -> None:
    cli()
