"""STYLE 9: schema.graphql is what the code generates; API.md's names are all there."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from accessgraph.cli import cli
from accessgraph.schema import build_schema

ROOT = Path(__file__).resolve().parent.parent


def test_schema_graphql_is_fresh() -> None:
    committed = (ROOT / "schema.graphql").read_text()
    generated = build_schema().as_str()
    assert committed.strip() == generated.strip(), (
        "schema.graphql is stale: run `accessgraph schema > schema.graphql` and commit it"
    )


def test_schema_command_prints_the_sdl() -> None:
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0
    assert result.output.strip() == build_schema().as_str().strip()


def test_api_contract_names_exist() -> None:
    sdl = build_schema().as_str()
    for mutation in [
        "login",
        "logout",
        "inviteUser",
        "resendInvitation",
        "acceptInvitation",
        "createUser",
        "updateUserRole",
        "deleteUser",
        "createToken",
        "revokeToken",
        "deleteToken",
        "updateOrganizationSettings",
    ]:
        assert re.search(rf"^\s+{mutation}\(input: ", sdl, re.MULTILINE), mutation
        payload = mutation[0].upper() + mutation[1:] + "Payload"
        assert f"type {payload} " in sdl, payload
    for query in [
        "viewer",
        "organization",
        "node",
        "users",
        "user",
        "tokens",
        "teamRoles",
        "auditEvents",
    ]:
        assert re.search(rf"^\s+{query}[(:]", sdl, re.MULTILINE), query
    for enum, values in {
        "TeamRole": "ADMIN DEVELOPER",
        "UserStatus": "ACTIVE INVITED EXPIRED FAILED",
        "TokenPermission": "READ_WRITE READ_ONLY",
        "TokenStatus": "ACTIVE EXPIRED REVOKED",
    }.items():
        body = re.search(rf"enum {enum} {{([^}}]*)}}", sdl)
        assert body is not None and body.group(1).split() == values.split(), enum
    assert "interface Node {\n  id: ID!\n}" in sdl
    assert "directive @requires(action: String!, anyOf: [String!]!) on FIELD_DEFINITION" in sdl


def test_protected_fields_declare_requires_directive() -> None:
    sdl = build_schema().as_str()
    assert (
        '@requires(action: "INVITE_USER", anyOf: ["TeamRole.ADMIN", '
        '"AccountPermission.INVITE_AND_MODIFY_ACCOUNTS"])' in sdl
    )
    assert (
        'revokeToken(input: RevokeTokenInput!): RevokeTokenPayload @requires(action: "REVOKE_TOKEN", anyOf: ["TeamRole.ADMIN", "TeamRole.DEVELOPER:OWN"])'
        in sdl
    )
    mutation_block = sdl.split("type Mutation {", 1)[1].split("\n}", 1)[0]
    for line in mutation_block.splitlines():
        if re.match(r"^  \w+\(", line):
            assert "@requires(" in line, f"mutation without a declared permission: {line}"
