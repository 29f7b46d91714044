"""Fuzz the GraphQL endpoint with schemathesis, as an admin, for a bounded time (issue 7).

    python tests/fuzz/fuzz_graphql.py [--seconds 120]

Serves a fresh instance (``accessgraph bootstrap`` + ``serve`` on a throw-away SQLite
database), seeds an organization (a developer, a group, a project with a device group and a
device, a permission target, a second token), then lets schemathesis generate queries and
mutations for every root field with an admin's READ_WRITE token for ``--seconds``. It fails
when schemathesis reports a failure (a 5xx, a response showing internals, a masked
"Unexpected error.", see hooks.py) or when the server logged a stack trace.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests import served

HERE = Path(__file__).resolve().parent
ADMIN_EMAIL = "admin@acme.test"
ADMIN_PASSWORD = "correct horse battery"

LOGIN = """mutation ($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) { token viewer { id } errors { code } }
}"""
CREATE_TOKEN = """mutation ($name: String!) {
  createToken(input: {name: $name, permission: READ_WRITE}) { token { id } secret errors { code } }
}"""
INVITE = """mutation {
  inviteUser(input: {email: "dev@acme.test", firstName: "Dev", lastName: "Eloper"}) {
    user { id } errors { code }
  }
}"""
CREATE_GROUP = """mutation ($members: [ID!]!) {
  createGroup(input: {name: "builders", memberIds: $members}) { group { id } errors { code } }
}"""
CREATE_TARGET = """mutation ($group: ID!) {
  createPermissionTarget(input: {
    name: "libs",
    resources: [{type: REPOSITORY, includePatterns: ["libs-*"]}],
    grants: [{principalType: GROUP, groupId: $group, actions: [READ, WRITE]}]
  }) { permissionTarget { id } errors { code } }
}"""
CREATE_PROJECT = """mutation {
  createProject(input: {key: "fuzz", name: "Fuzz"}) { project { id } errors { code } }
}"""
CREATE_DEVICE_GROUP = """mutation {
  createDeviceGroup(input: {projectKey: "fuzz", name: "edge"}) { group { id } errors { code } }
}"""
REGISTER_DEVICE = """mutation ($group: ID!) {
  registerDevice(input: {projectKey: "fuzz", name: "sensor-1", groupId: $group}) {
    device { id } errors { code }
  }
}"""


def _data(base: str, query: str, token: str | None = None, **variables: object) -> dict[str, Any]:
    data = served.post_graphql(base, query, variables, token)["data"]
    payload: dict[str, Any] = next(iter(data.values()))
    if payload.get("errors"):
        raise served.ServeError(f"seeding failed: {payload['errors']}")
    return payload


def seed(base: str) -> tuple[str, list[str]]:
    """Seed the organization; returns the admin's fuzzing token and the IDs to fuzz with."""
    login = _data(base, LOGIN, email=ADMIN_EMAIL, password=ADMIN_PASSWORD)
    session = login["token"]
    fuzz_token = _data(base, CREATE_TOKEN, session, name="fuzz")
    spare_token = _data(base, CREATE_TOKEN, session, name="spare")
    developer = _data(base, INVITE, session)["user"]["id"]
    group = _data(base, CREATE_GROUP, session, members=[developer])["group"]["id"]
    target = _data(base, CREATE_TARGET, session, group=group)["permissionTarget"]["id"]
    _data(base, CREATE_PROJECT, session)
    device_group = _data(base, CREATE_DEVICE_GROUP, session)["group"]["id"]
    device = _data(base, REGISTER_DEVICE, session, group=device_group)["device"]["id"]
    # The fuzzing token's own ID stays out of the pool: revoking it would end the run's
    # authentication and leave the rest of the run testing only UNAUTHENTICATED.
    ids = [login["viewer"]["id"], spare_token["token"]["id"], developer, group, target]
    ids += [device_group, device]
    return fuzz_token["secret"], ids


def server_stack_traces(log_path: Path) -> list[str]:
    lines = log_path.read_text(errors="replace").splitlines()
    return [
        "\n".join(lines[max(0, i - 5) : i + 25])
        for i, line in enumerate(lines)
        if line.startswith("Traceback")
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=120, help="fuzzing time budget")
    parser.add_argument("--seed", type=int, default=None, help="reproduce an earlier run")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ag-fuzz-") as tmp:
        workdir = Path(tmp)
        log_path = workdir / "serve.log"
        env = served.service_env(workdir / "ag.db")
        served.bootstrap(workdir, env, ADMIN_EMAIL, ADMIN_PASSWORD)
        with served.serving(workdir, env, log_path) as base:
            token, ids = seed(base)
            command = [
                str(Path(sys.executable).parent / "schemathesis"),
                "run",
                f"{base}/graphql",
                "--header",
                f"Authorization: Bearer {token}",
                "--max-time",
                str(args.seconds),
                "--request-timeout",
                "15",
                "--workers",
                "1",
                "--checks",
                "clean_graphql_answer",
                "--output-sanitize",
                "true",
            ]
            if args.seed is not None:
                command += ["--seed", str(args.seed)]
            fuzz_env = {
                **env,
                "SCHEMATHESIS_HOOKS": str(HERE / "hooks.py"),
                "ACCESSGRAPH_FUZZ_IDS": json.dumps(ids),
                "ACCESSGRAPH_FUZZ_STATS": str(workdir / "stats.json"),
            }
            print(f"fuzzing {base}/graphql for {args.seconds} s as {ADMIN_EMAIL}", flush=True)
            done = subprocess.run(command, cwd=workdir, env=fuzz_env, timeout=args.seconds + 300)
        stats = workdir / "stats.json"
        if stats.exists():
            print(f"answers seen (HTTP status, error code): {stats.read_text()}")
        traces = server_stack_traces(log_path)
        for trace in traces:
            print(f"\nserver stack trace:\n{trace}", file=sys.stderr)
    if done.returncode != 0:
        print(f"schemathesis exited {done.returncode}", file=sys.stderr)
        return 1
    if traces:
        print(f"the server logged {len(traces)} stack trace(s)", file=sys.stderr)
        return 1
    print("fuzzing found no server error and no unmasked exception text")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    sys.exit(main())
