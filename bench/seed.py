"""The benchmark's data: one organization, 10,000 users, 50,000 access tokens, 200 groups,
1,000 permission targets and 100 projects (20 roles and 1,000 members each).

Rows are bulk-inserted with SQLAlchemy Core in batches (the ORM would take minutes). Every
user shares one precomputed argon2 hash; token rows get random secret hashes, except two real
tokens made through `accessgraph.resolvers.tokens.create_token`: one for the first admin (an
admin sees every token of the organization), and one for a developer in several groups, who
asks `checkAccess` about themselves. Groups, memberships, permission targets, projects, their
roles, members and resources are inserted directly too, after which the organization's
`access_version` is bumped (as the app's own writes do), so no cached access index can outlive
them.

A seeded database is reused while its cache key matches: SEED_VERSION, the database URL, the
signing key, and the text of the migrations and models. Bump SEED_VERSION whenever the data
below changes.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import random
import secrets
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

# 2: groups, memberships, permission targets, a developer's token;
# 3: projects, project roles, project members and resources registered in projects.
SEED_VERSION = 3
BENCH_DIR = Path(__file__).resolve().parent
WORK_DIR = BENCH_DIR / ".work"
DEFAULT_SQLITE_URL = f"sqlite+aiosqlite:///{WORK_DIR / 'bench.db'}"
# Fixed, so a cached database's token keeps verifying; it signs nothing outside the benchmark.
SECRET_KEY = "accessgraph-bench-signing-key-" + "0123456789abcdef" * 3
# The default scale's sizes (see `Scale` below for the others).
USERS = 10_000
TOKENS = 50_000
REAL_TOKENS = 2  # made with create_token: the admin's and the developer's
GROUPS = 200
TARGETS = 1_000
MAX_GROUPS_PER_USER = 5
PROJECTS = 100
MEMBERS_PER_PROJECT = 1_000
GROUP_MEMBERS_PER_PROJECT = 40  # of the 1,000: the rest are users
# The project checkAccess's developer holds roles in (directly and through a group), and the
# repository of it they ask about (registered in DEV).
CHECK_PROJECT = 42
BATCH = 2_000
# Bind parameters in one PostgreSQL statement: at most 32,767 (a 16-bit count).
_POSTGRES_PARAMETERS = 32_000
ORG_NAME = "Bench Org"
ADMIN_EMAIL = "admin@bench.test"
# Every timestamp is relative to this instant, so the data is the same on every seed;
# statuses (EXPIRED tokens and invitations) are computed by the app against its clock.
EPOCH = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

FIRST_NAMES = [
    "Ada",
    "Alan",
    "Barbara",
    "Donald",
    "Edsger",
    "Frances",
    "Grace",
    "Guido",
    "John",
    "Katherine",
    "Ken",
    "Linus",
    "Margaret",
    "Niklaus",
    "Radia",
    "Tim",
]
LAST_NAMES = [
    "Allen",
    "Backus",
    "Dijkstra",
    "Hamilton",
    "Hopper",
    "Johnson",
    "Knuth",
    "Lamport",
    "Liskov",
    "Lovelace",
    "Perlman",
    "Ritchie",
    "Thompson",
    "Turing",
    "van Rossum",
    "Wirth",
]
# 20 areas x 10 roles = the 200 group names.
GROUP_AREAS = [
    "payments",
    "search",
    "checkout",
    "identity",
    "mobile",
    "web",
    "data",
    "ml",
    "infra",
    "security",
    "billing",
    "catalog",
    "growth",
    "support",
    "platform",
    "observability",
    "storage",
    "network",
    "devtools",
    "docs",
]
GROUP_ROLES = [
    "developers",
    "maintainers",
    "release-managers",
    "qa",
    "ops",
    "readers",
    "contractors",
    "interns",
    "leads",
    "auditors",
]
# Grant bit masks (READ=1, ANNOTATE=2, WRITE=4, DELETE=8, MANAGE=16) and their weights.
GRANT_MASKS = [1, 3, 7, 15, 31]
GRANT_WEIGHTS = [20, 20, 35, 20, 5]
# The 20 roles of every project (R29): name, environments, and basic actions (a list) or
# advanced actions (resource type -> list). Action names are ArtifactAction's.
PROJECT_ROLE_SPECS: list[tuple[str, list[str], list[str] | dict[str, list[str]]]] = [
    ("Lead Developer", ["DEV"], ["WRITE", "DELETE"]),  # R30's example
    ("Developer Plus", ["DEV", "PROD"], ["READ", "ANNOTATE", "WRITE"]),
    ("Release Engineer", ["DEV", "PROD"], ["READ", "DISTRIBUTE"]),
    ("Deployer", ["PROD"], ["READ", "WRITE"]),
    ("Reader", ["DEV", "PROD"], ["READ"]),
    ("Annotator", ["DEV"], ["READ", "ANNOTATE"]),
    ("Cleaner", ["DEV"], ["READ", "DELETE"]),
    ("Maintainer", ["DEV", "PROD"], ["READ", "ANNOTATE", "WRITE", "DELETE"]),
    ("Owner", ["DEV", "PROD"], ["READ", "ANNOTATE", "WRITE", "DELETE", "MANAGE"]),
    ("Pipeline Operator", ["DEV", "PROD"], ["READ", "TRIGGER"]),
    ("Hotfixer", ["PROD"], ["READ", "WRITE", "DELETE"]),
    ("Auditor", ["DEV", "PROD"], ["READ", "ANNOTATE"]),
    ("Promoter", ["PROD"], ["READ", "ANNOTATE", "DISTRIBUTE"]),
    ("Intern", ["DEV"], ["READ"]),
    ("QA", ["DEV", "PROD"], {"REPOSITORY": ["READ", "ANNOTATE"], "PIPELINE": ["READ", "TRIGGER"]}),
    (
        "Build Manager",
        ["DEV"],
        {"BUILD": ["READ", "WRITE", "DELETE", "MANAGE"], "REPOSITORY": ["READ"]},
    ),
    ("Bundle Publisher", ["PROD"], {"RELEASE_BUNDLE": ["READ", "WRITE", "DISTRIBUTE"]}),
    (
        "Device Operator",
        ["DEV", "PROD"],
        {"DEVICE": ["REMOTE_CONTROL", "VIEW_DEVICE_LOGS", "RUN_COMMANDS"]},
    ),
    (
        "Fleet Admin",
        ["PROD"],
        {"DEVICE": ["MANAGE_GROUPS", "MODIFY_DEVICES", "REGISTER_DEVICES", "DEPLOY_UPDATES"]},
    ),
    ("CI Bot", ["DEV"], {"PIPELINE": ["READ", "TRIGGER", "MANAGE"], "BUILD": ["READ", "WRITE"]}),
]
CHECK_PROJECT_ROLE = "Lead Developer"  # the developer's own role in CHECK_PROJECT
CHECK_PROJECT_GLOBAL_ROLE = "DEVELOPER"  # their group's role there
# A member's global role (or none) and its weight; PROJECT_ADMIN goes to two users a project.
MEMBER_GLOBAL_ROLES = [None, "DEVELOPER", "VIEWER", "CONTRIBUTOR", "RELEASE_MANAGER"]
MEMBER_GLOBAL_WEIGHTS = [40, 25, 15, 12, 8]
# Resources registered in each project: (type, name pattern); environments alternate DEV, PROD.
PROJECT_RESOURCE_SPECS = [
    *(("REPOSITORY", f"{{key}}-repo-{n:02d}") for n in range(6)),
    *(("BUILD", f"{{key}}/build-{n}") for n in range(2)),
    ("RELEASE_BUNDLE", "{key}-bundle-0"),
    ("PIPELINE", "{key}-pipeline-0"),
]
TOKEN_NAMES = [
    "ci",
    "deploy",
    "k8s-production",
    "k8s-staging",
    "backup",
    "terraform",
    "monitoring",
    "release",
    "nightly",
    "artifact-upload",
]


@dataclass(frozen=True)
class Scale:
    """How much data a seed holds. The default ("10k") is the benchmark's database of every
    run; "1k" and "100k" are the flat-cost series (issue 8: 1k, 10k and 100k users with 100,
    1,000 and 10,000 permission targets), each in its own database (`scaled_url`)."""

    name: str
    users: int
    tokens: int
    groups: int
    targets: int
    projects: int
    members_per_project: int
    group_members_per_project: int

    @property
    def user_members_per_project(self) -> int:
        """Users per project: the rest of a project's members, capped by the users available
        (every user but the admin)."""
        return min(self.members_per_project - self.group_members_per_project, self.users - 1)


DEFAULT_SCALE = Scale(
    name="10k",
    users=USERS,
    tokens=TOKENS,
    groups=GROUPS,
    targets=TARGETS,
    projects=PROJECTS,
    members_per_project=MEMBERS_PER_PROJECT,
    group_members_per_project=GROUP_MEMBERS_PER_PROJECT,
)
# 5 tokens a user and one permission target per 10 users at every scale; groups, projects and
# their members as at the default (at 1k users a project's 960 users still fit: 999 are there).
SCALES = {
    "1k": replace(DEFAULT_SCALE, name="1k", users=1_000, tokens=5_000, targets=100),
    "10k": DEFAULT_SCALE,
    "100k": replace(DEFAULT_SCALE, name="100k", users=100_000, tokens=500_000, targets=10_000),
}


def scaled_url(url: str, scale: Scale) -> str:
    """The database of `scale` next to `url` (which is the default scale's): a SQLite file
    `bench-1k.db` beside `bench.db`, a PostgreSQL database `accessgraph_bench_1k`."""
    if scale == DEFAULT_SCALE:
        return url
    parsed = make_url(url)
    if is_postgres(url):
        renamed = parsed.set(database=f"{parsed.database}_{scale.name}")
    else:
        path = Path(parsed.database or "")
        renamed = parsed.set(database=str(path.with_name(f"{path.stem}-{scale.name}{path.suffix}")))
    return renamed.render_as_string(hide_password=False)


@dataclass(frozen=True)
class Seeded:
    """What the load generator needs to know about a seeded database."""

    key: str
    database_url: str
    org_id: int
    admin_user_id: int
    admin_token: str
    users: int
    tokens: int  # bulk-inserted; REAL_TOKENS more were made with create_token
    groups: int
    memberships: int
    targets: int
    grants: int
    # checkAccess: an ACTIVE developer in several groups, their READ_WRITE token, and a
    # repository one of their groups (`check_via`) may WRITE to through a target's include
    # pattern (`check_target`); `check_denied` is a repository no grant of theirs covers.
    developer_user_id: int
    developer_email: str
    developer_token: str
    developer_groups: list[str]
    check_resource: str
    check_target: str
    check_via: str
    check_denied: str
    # Projects (seed version 3).
    projects: int
    project_roles: int
    project_members: int
    project_resources: int
    # checkAccess about a project's repository: the developer holds `check_project_role`
    # directly and `check_project_global_role` through `check_project_via` there.
    check_project: str
    check_project_resource: str
    check_project_role: str
    check_project_global_role: str
    check_project_via: str
    seconds: float  # how long the seed took when it was made
    scale: str = DEFAULT_SCALE.name  # a `SCALES` key (absent from seeds made before scales)


def is_postgres(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def schema_fingerprint() -> str:
    """A hash of the migrations and the models: when either changes, the seed is redone
    (a column added in place, or one the models fill in, must not meet a stale database)."""
    import accessgraph

    package = Path(accessgraph.__file__).parent
    digest = hashlib.sha256()
    for path in sorted([*package.glob("migrations/versions/*.py"), *package.glob("models/*.py")]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def cache_key(url: str, scale: Scale = DEFAULT_SCALE) -> str:
    parts: list[Any] = [
        SEED_VERSION,
        url,
        SECRET_KEY,
        scale.users,
        scale.tokens,
        scale.groups,
        scale.targets,
        scale.projects,
        scale.members_per_project,
        len(PROJECT_ROLE_SPECS),
        schema_fingerprint(),
    ]
    if scale != DEFAULT_SCALE:  # the default's key stays what it was before scales
        parts.append(asdict(scale))
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def _cache_file(url: str) -> Path:
    return WORK_DIR / f"seed-{hashlib.sha256(url.encode()).hexdigest()[:12]}.json"


# --- database lifecycle -----------------------------------------------------------------------


async def _recreate_postgres_database(url: str) -> None:
    """DROP and CREATE the benchmark's own database (never one whose name lacks 'bench')."""
    parsed = make_url(url)
    name = parsed.database or ""
    if "bench" not in name:
        raise SystemExit(
            f"refusing to drop PostgreSQL database {name!r}: the benchmark only recreates a "
            "database whose name contains 'bench' (e.g. accessgraph_bench)"
        )
    admin = create_async_engine(
        parsed.set(database="postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT"
    )
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()


def _reset_database(url: str) -> None:
    if is_postgres(url):
        asyncio.run(_recreate_postgres_database(url))
        return
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        raise SystemExit(f"unsupported benchmark database URL: {url}")
    path = Path(parsed.database)
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


# --- rows -------------------------------------------------------------------------------------


def _user_rows(
    org_id: int, password_hash: str, rng: random.Random, scale: Scale
) -> list[dict[str, Any]]:
    from accessgraph.models import TeamRole, UserStatus

    rows = []
    for n in range(1, scale.users + 1):
        if n == 1:
            role, status, email = TeamRole.ADMIN, UserStatus.ACTIVE, ADMIN_EMAIL
        else:
            role = TeamRole.ADMIN if rng.random() < 0.1 else TeamRole.DEVELOPER
            draw = rng.random()
            # 80% ACTIVE, 15% INVITED (a third of them past their invitation's expiry), 5% FAILED
            status = (
                UserStatus.ACTIVE
                if draw < 0.80
                else UserStatus.INVITED
                if draw < 0.95
                else UserStatus.FAILED
            )
            email = f"user{n:05d}@bench.test"
        created = EPOCH - timedelta(days=400) + timedelta(minutes=n)
        invitation_expires_at = None
        if status == UserStatus.INVITED:
            invitation_expires_at = EPOCH + timedelta(days=rng.choice([-3, -1, 2, 30, 365]))
        last_login_at = None
        if status == UserStatus.ACTIVE and (n == 1 or rng.random() < 0.7):
            last_login_at = EPOCH - timedelta(minutes=rng.randint(1, 60 * 24 * 90))
        rows.append(
            {
                "org_id": org_id,
                "email": email,
                "email_normalized": email.casefold(),
                "first_name": rng.choice(FIRST_NAMES) if rng.random() < 0.95 else None,
                "last_name": rng.choice(LAST_NAMES) if rng.random() < 0.95 else None,
                "role": role,
                "status": status,
                "password_hash": password_hash if status != UserStatus.FAILED else None,
                "invitation_expires_at": invitation_expires_at,
                "last_login_at": last_login_at,
                "created_at": created,
                "deleted_at": None,
            }
        )
    return rows


def _token_rows(
    org_id: int, user_ids: list[int], admin_ids: list[int], rng: random.Random, scale: Scale
) -> list[dict[str, Any]]:
    from accessgraph.models import TokenPermission

    rows = []
    for n in range(scale.tokens):
        owner = rng.choice(user_ids)  # 5 per user on average, unevenly spread
        created = EPOCH - timedelta(days=300) + timedelta(minutes=5 * n)
        draw = rng.random()
        expires_at = revoked_at = revoked_by = None
        if draw < 0.10:  # revoked
            revoked_at = created + timedelta(days=rng.randint(1, 30))
            revoked_by = rng.choice([owner, *admin_ids[:3]])
        elif draw < 0.20:  # already expired (relative to EPOCH)
            expires_at = EPOCH - timedelta(days=rng.randint(1, 60))
        elif draw < 0.60:  # expires in the future
            expires_at = EPOCH + timedelta(days=rng.randint(30, 3650))
        last_used_at = (
            created + timedelta(hours=rng.randint(1, 24 * 200)) if rng.random() < 0.6 else None
        )
        rows.append(
            {
                "org_id": org_id,
                "owner_id": owner,
                "name": f"{rng.choice(TOKEN_NAMES)}-{n}",
                "permission": (
                    TokenPermission.READ_ONLY if rng.random() < 0.3 else TokenPermission.READ_WRITE
                ),
                "username": f"agt-{n:016x}",  # never collides with create_token's random hex
                "secret_hash": secrets.token_hex(32),
                "created_at": created,
                "expires_at": expires_at,
                "revoked_at": revoked_at,
                "revoked_by_id": revoked_by,
                "last_used_at": last_used_at,
            }
        )
    return rows


def _group_rows(org_id: int, scale: Scale) -> list[dict[str, Any]]:
    rows = []
    for n in range(scale.groups):
        area, role = GROUP_AREAS[n % len(GROUP_AREAS)], GROUP_ROLES[n // len(GROUP_AREAS)]
        name = f"{area}-{role}"
        rows.append(
            {
                "org_id": org_id,
                "name": name,
                "name_normalized": name.casefold(),
                "description": f"The {role} of {area}" if n % 3 else None,
                "created_at": EPOCH - timedelta(days=200) + timedelta(minutes=n),
            }
        )
    return rows


def _membership_rows(
    user_ids: list[int], group_ids: list[int], rng: random.Random
) -> list[dict[str, Any]]:
    """Each user in 0 to MAX_GROUPS_PER_USER groups (2.5 on average)."""
    rows = []
    for user_id in user_ids:
        for group_id in rng.sample(group_ids, rng.randint(0, MAX_GROUPS_PER_USER)):
            rows.append(
                {
                    "group_id": group_id,
                    "user_id": user_id,
                    "created_at": EPOCH - timedelta(days=rng.randint(1, 199)),
                }
            )
    return rows


def _target_specs(
    scale: Scale,
) -> list[tuple[str, dict[str, tuple[list[str], list[str], list[str]]]]]:
    """Each target's name and resources: {type: (names, include patterns, exclude patterns)}.

    Most targets are one team's repositories (`team{i}-core`, and `team{i}-*` minus some
    exclusions); every 10th also covers the team's builds; every 50th is a shared library
    target (granted to the anonymous user too); a few cover every release build."""
    specs = []
    for i in range(scale.targets):
        sets: dict[str, tuple[list[str], list[str], list[str]]] = {}
        if i % 50 == 0:
            name = f"shared-libs-{i}"
            sets["REPOSITORY"] = (
                [],
                [f"libs{i}-*", f"docker{i}-*-remote"],
                [f"libs{i}-*-snapshot"],
            )
        elif i % 100 == 5:
            name = f"release-builds-{i}"
            sets["BUILD"] = ([], ["**/*-release"], [f"team{i}/**"])
            sets["REPOSITORY"] = ([f"team{i}-releases"], [], [])
        else:
            name = f"team{i}-artifacts"
            includes, excludes = [f"team{i}-*"], []
            if i % 5 == 0:
                excludes.append(f"team{i}-*-legacy")
            if i % 7 == 0:
                includes.append(f"team{i}/**")
                excludes.append(f"team{i}/tmp/**")
            sets["REPOSITORY"] = ([f"team{i}-core"], includes, excludes)
            if i % 10 == 0:
                sets["BUILD"] = ([], [f"team{i}/**"], ["**/*-snapshot"] if i % 20 == 0 else [])
        specs.append((name, sets))
    return specs


def _target_rows(org_id: int, specs: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "org_id": org_id,
            "name": name,
            "name_normalized": name.casefold(),
            "created_at": EPOCH - timedelta(days=150) + timedelta(minutes=n),
            "updated_at": EPOCH - timedelta(days=150) + timedelta(minutes=n),
        }
        for n, (name, _) in enumerate(specs)
    ]


def _access_rows(
    target_ids: list[int],
    specs: list[tuple[str, Any]],
    group_ids: list[int],
    user_ids: list[int],
    rng: random.Random,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Resource sets and grants: each target grants 1-3 groups and 0-2 users (weighted
    masks); shared library targets grant the anonymous user READ."""
    from accessgraph.models import PrincipalType, ResourceType

    sets, grants = [], []
    for target_id, (name, resources) in zip(target_ids, specs, strict=True):
        for type_name, (names, includes, excludes) in resources.items():
            sets.append(
                {
                    "target_id": target_id,
                    "type": ResourceType(type_name),
                    "names": names,
                    "include_patterns": includes,
                    "exclude_patterns": excludes,
                }
            )
        for group_id in rng.sample(group_ids, rng.randint(1, 3)):
            mask = rng.choices(GRANT_MASKS, GRANT_WEIGHTS)[0]
            grants.append((target_id, PrincipalType.GROUP, group_id, mask))
        for user_id in rng.sample(user_ids[1:], rng.randint(0, 2)):
            mask = rng.choices(GRANT_MASKS, GRANT_WEIGHTS)[0]
            grants.append((target_id, PrincipalType.USER, user_id, mask))
        if name.startswith("shared-libs-"):
            grants.append((target_id, PrincipalType.ANONYMOUS, 0, 1))
    grant_rows = [
        {"target_id": t, "principal_type": kind, "principal_id": pk, "actions": mask}
        for t, kind, pk, mask in grants
    ]
    return sets, grant_rows


@dataclass(frozen=True)
class CheckSubject:
    user_id: int
    email: str
    groups: list[str]
    resource: str
    target: str
    via: str
    denied: str


def _check_subject(
    users: Sequence[Any],
    memberships: list[dict[str, Any]],
    group_names: dict[int, str],
    target_ids: list[int],
    specs: list[tuple[str, Any]],
    grants: list[dict[str, Any]],
) -> CheckSubject:
    """The first ACTIVE developer in four or more groups, one of which may WRITE to a team's
    repositories (reached through the include pattern `team{i}-*`, not the named repo), and a
    team repository none of their grants covers."""
    from accessgraph.models import PrincipalType, TeamRole, UserStatus

    groups_of: dict[int, list[int]] = {}
    for row in memberships:
        groups_of.setdefault(row["user_id"], []).append(row["group_id"])
    spec_of = dict(zip(target_ids, specs, strict=True))
    granted: dict[tuple[PrincipalType, int], list[tuple[int, int]]] = {}
    for g in grants:
        granted.setdefault((g["principal_type"], g["principal_id"]), []).append(
            (g["target_id"], g["actions"])
        )
    team_targets = [t for t in target_ids if spec_of[t][0].endswith("-artifacts")]
    for user in users:
        if user.role != TeamRole.DEVELOPER or user.status != UserStatus.ACTIVE:
            continue
        mine = groups_of.get(user.id, [])
        if len(mine) < 4:
            continue
        keys = [(PrincipalType.USER, user.id)] + [(PrincipalType.GROUP, g) for g in mine]
        reached = {t for key in keys for t, _ in granted.get(key, ())}
        for group_id in sorted(mine):
            writable = sorted(
                t
                for t, bits in granted.get((PrincipalType.GROUP, group_id), ())
                if bits & 4 and t in team_targets
            )
            if writable:
                target = writable[0]
                team = spec_of[target][0].removesuffix("-artifacts")
                other = next(t for t in team_targets if t not in reached)
                return CheckSubject(
                    user_id=user.id,
                    email=user.email,
                    groups=sorted(group_names[g] for g in mine),
                    resource=f"{team}-api",
                    target=spec_of[target][0],
                    via=f"group {group_names[group_id]}",
                    denied=f"{spec_of[other][0].removesuffix('-artifacts')}-api",
                )
    raise SystemExit("seed: no developer in four groups with WRITE on a team's repositories")


# --- projects (seed version 3) -----------------------------------------------------------------


def project_key(n: int) -> str:
    return f"proj{n:03d}"


def _project_rows(org_id: int, scale: Scale) -> list[dict[str, Any]]:
    return [
        {
            "org_id": org_id,
            "key": project_key(n),
            "name": f"{GROUP_AREAS[n % len(GROUP_AREAS)].title()} {n // len(GROUP_AREAS)}",
            "created_at": EPOCH - timedelta(days=120) + timedelta(minutes=n),
        }
        for n in range(scale.projects)
    ]


def _role_rows(project_ids: list[int]) -> list[dict[str, Any]]:
    """Every project's 20 roles (PROJECT_ROLE_SPECS): 14 basic, 6 advanced."""
    from accessgraph.auth.access import ArtifactAction, mask

    rows = []
    for project_id in project_ids:
        for n, (name, environments, actions) in enumerate(PROJECT_ROLE_SPECS):
            stamp = EPOCH - timedelta(days=100) + timedelta(minutes=n)
            advanced = isinstance(actions, dict)
            rows.append(
                {
                    "project_id": project_id,
                    "name": name,
                    "name_normalized": name.casefold(),
                    "environments": environments,
                    "advanced": advanced,
                    "basic_actions": (0 if advanced else mask(ArtifactAction(a) for a in actions)),
                    "advanced_actions": (
                        {
                            kind: mask(ArtifactAction(a) for a in acts)
                            for kind, acts in actions.items()
                        }
                        if isinstance(actions, dict)
                        else {}
                    ),
                    "created_at": stamp,
                    "updated_at": stamp,
                }
            )
    return rows


def _project_member_rows(
    project_ids: list[int],
    role_ids: dict[int, list[int]],
    user_ids: list[int],
    group_ids: list[int],
    subject: CheckSubject,
    subject_group_id: int,
    rng: random.Random,
    scale: Scale,
) -> list[dict[str, Any]]:
    """`scale.members_per_project` members a project: `scale.group_members_per_project` groups
    and the rest users (as many as there are, `Scale.user_members_per_project`) (never the admin, who sees everything anyway), each holding a global role (60%)
    and 0-2 of the project's roles, at least one role; two users a project are Project Admins.
    In CHECK_PROJECT, the checkAccess developer holds CHECK_PROJECT_ROLE directly and their
    group `subject_group_id` CHECK_PROJECT_GLOBAL_ROLE."""
    from accessgraph.models import PrincipalType

    candidates = user_ids[1:]
    rows = []
    for n, project_id in enumerate(project_ids):
        roles = role_ids[project_id]
        groups = rng.sample(group_ids, scale.group_members_per_project)
        users = rng.sample(candidates, scale.user_members_per_project)
        forced: dict[tuple[PrincipalType, int], tuple[list[str], list[int]]] = {}
        if n == CHECK_PROJECT:
            lead = roles[[r[0] for r in PROJECT_ROLE_SPECS].index(CHECK_PROJECT_ROLE)]
            forced[PrincipalType.USER, subject.user_id] = ([], [lead])
            forced[PrincipalType.GROUP, subject_group_id] = ([CHECK_PROJECT_GLOBAL_ROLE], [])
            if subject.user_id not in users:
                users[-1] = subject.user_id
            if subject_group_id not in groups:
                groups[-1] = subject_group_id
        principals = [(PrincipalType.GROUP, g) for g in groups] + [
            (PrincipalType.USER, u) for u in users
        ]
        for index, principal in enumerate(principals):
            global_role = rng.choices(MEMBER_GLOBAL_ROLES, MEMBER_GLOBAL_WEIGHTS)[0]
            global_roles = [global_role] if global_role else []
            project_roles = rng.sample(roles, rng.randint(0 if global_roles else 1, 2))
            if principal[0] == PrincipalType.USER and index < scale.group_members_per_project + 2:
                global_roles = ["PROJECT_ADMIN"]
            if principal in forced:
                global_roles, project_roles = forced[principal]
            rows.append(
                {
                    "project_id": project_id,
                    "principal_type": principal[0],
                    "principal_id": principal[1],
                    "global_roles": global_roles,
                    "project_role_ids": sorted(project_roles),
                    "created_at": EPOCH - timedelta(days=rng.randint(1, 99)),
                }
            )
    return rows


def _project_resource_rows(org_id: int, project_ids: list[int]) -> list[dict[str, Any]]:
    """The resources of PROJECT_RESOURCE_SPECS registered in each project, DEV and PROD
    alternating. Their names start with the project key, which no version 2 pattern matches,
    so only project roles (and the team role) grant anything on them."""
    from accessgraph.models import Environment, ResourceType

    rows = []
    for n, project_id in enumerate(project_ids):
        for i, (kind, pattern) in enumerate(PROJECT_RESOURCE_SPECS):
            rows.append(
                {
                    "org_id": org_id,
                    "type": ResourceType(kind),
                    "name": pattern.format(key=project_key(n)),
                    "environment": Environment.DEV if i % 2 == 0 else Environment.PROD,
                    "project_id": project_id,
                    "created_at": EPOCH - timedelta(days=90) + timedelta(minutes=n),
                }
            )
    return rows


def _through_model(model: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row as the ORM would insert it: model defaults applied and the mapper's
    `before_insert` listeners run (columns the app derives, like a search key, get filled),
    so a Core bulk insert stores what the app would have stored."""
    from sqlalchemy import inspect

    mapper = inspect(model)
    before_insert = mapper.dispatch.before_insert
    # Generated primary keys are left to the database; a composite one (group_members) is
    # given by the rows.
    given = rows[0].keys() if rows else ()
    columns = [c.key for c in model.__table__.columns if not c.primary_key or c.key in given]
    out = []
    for row in rows:
        obj = model(**row)
        if before_insert:
            before_insert(mapper, None, inspect(obj))
        out.append({key: getattr(obj, key) for key in columns})
    return out


async def _insert(engine: AsyncEngine, model: Any, rows: list[dict[str, Any]]) -> None:
    rows = _through_model(model, rows)
    table = model.__table__
    if engine.dialect.name == "postgresql":
        # One multi-row statement per batch: asyncpg's executemany runs one statement per
        # row, and PostgreSQL's count triggers (migration 0013) run once per statement.
        size = min(BATCH, _POSTGRES_PARAMETERS // len(table.columns))
        async with engine.begin() as conn:
            for start in range(0, len(rows), size):
                await conn.execute(table.insert().values(rows[start : start + size]))
        return
    async with engine.begin() as conn:
        for start in range(0, len(rows), BATCH):
            await conn.execute(table.insert(), rows[start : start + BATCH])


async def _seed_rows(url: str, scale: Scale) -> dict[str, Any]:
    from accessgraph.auth.passwords import hash_password
    from accessgraph.auth.principal import Principal
    from accessgraph.clock import FrozenClock
    from accessgraph.models import (
        AccessToken,
        Group,
        GroupMember,
        Organization,
        PermissionTarget,
        Project,
        ProjectMember,
        ProjectRole,
        Resource,
        TargetGrant,
        TargetResourceSet,
        TeamRole,
        TokenPermission,
        User,
    )
    from accessgraph.resolvers.tokens import CreateTokenInput, create_token
    from accessgraph.services import Services
    from accessgraph.settings import Settings

    rng = random.Random(20261123)
    access_rng = random.Random(20261124)  # groups and targets: users and tokens stay as in v1
    project_rng = random.Random(20261125)  # projects (v3): everything above stays as in v2
    password_hash = hash_password("bench-password-not-secret")  # one argon2 hash for everyone
    engine = create_async_engine(url, poolclass=NullPool)
    orgs = Organization.__table__  # type: ignore[attr-defined]
    try:
        async with engine.begin() as conn:
            org_id = (
                await conn.execute(
                    orgs.insert()
                    .values(name=ORG_NAME, created_at=EPOCH - timedelta(days=500))
                    .returning(orgs.c.id)
                )
            ).scalar_one()
        users_table = User.__table__  # type: ignore[attr-defined]
        await _insert(engine, User, _user_rows(org_id, password_hash, rng, scale))
        async with engine.connect() as conn:
            users = (
                await conn.execute(
                    select(
                        users_table.c.id,
                        users_table.c.role,
                        users_table.c.status,
                        users_table.c.email,
                    )
                    .where(users_table.c.org_id == org_id)
                    .order_by(users_table.c.id)
                )
            ).all()
        user_ids = [row.id for row in users]
        admin_ids = [row.id for row in users if row.role == TeamRole.ADMIN]
        admin_id = user_ids[0]
        await _insert(engine, AccessToken, _token_rows(org_id, user_ids, admin_ids, rng, scale))

        # Groups, memberships, permission targets with their resource sets and grants.
        await _insert(engine, Group, _group_rows(org_id, scale))
        specs = _target_specs(scale)
        await _insert(engine, PermissionTarget, _target_rows(org_id, specs))
        groups_table = Group.__table__  # type: ignore[attr-defined]
        targets_table = PermissionTarget.__table__  # type: ignore[attr-defined]
        async with engine.connect() as conn:
            groups = (
                await conn.execute(
                    select(groups_table.c.id, groups_table.c.name)
                    .where(groups_table.c.org_id == org_id)
                    .order_by(groups_table.c.id)
                )
            ).all()
            target_ids = list(
                (
                    await conn.execute(
                        select(targets_table.c.id)
                        .where(targets_table.c.org_id == org_id)
                        .order_by(targets_table.c.id)
                    )
                ).scalars()
            )
        group_ids = [row.id for row in groups]
        memberships = _membership_rows(user_ids, group_ids, access_rng)
        await _insert(engine, GroupMember, memberships)
        sets, grants = _access_rows(target_ids, specs, group_ids, user_ids, access_rng)
        await _insert(engine, TargetResourceSet, sets)
        await _insert(engine, TargetGrant, grants)
        group_names = {row.id: row.name for row in groups}
        subject = _check_subject(users, memberships, group_names, target_ids, specs, grants)

        # Projects (v3): their roles, members and registered resources. The developer's group
        # in the project is the first of theirs by name.
        subject_group_id = min(
            (row["group_id"] for row in memberships if row["user_id"] == subject.user_id),
            key=lambda g: group_names[g],
        )
        await _insert(engine, Project, _project_rows(org_id, scale))
        projects_table = Project.__table__  # type: ignore[attr-defined]
        roles_table = ProjectRole.__table__  # type: ignore[attr-defined]
        async with engine.connect() as conn:
            project_ids = list(
                (
                    await conn.execute(
                        select(projects_table.c.id)
                        .where(projects_table.c.org_id == org_id)
                        .order_by(projects_table.c.id)
                    )
                ).scalars()
            )
        role_rows = _role_rows(project_ids)
        await _insert(engine, ProjectRole, role_rows)
        role_ids: dict[int, list[int]] = {pk: [] for pk in project_ids}
        async with engine.connect() as conn:
            for pk, role_pk in await conn.execute(
                select(roles_table.c.project_id, roles_table.c.id)
                .where(roles_table.c.project_id.in_(project_ids))
                .order_by(roles_table.c.id)
            ):
                role_ids[pk].append(role_pk)
        project_members = _project_member_rows(
            project_ids,
            role_ids,
            user_ids,
            group_ids,
            subject,
            subject_group_id,
            project_rng,
            scale,
        )
        await _insert(engine, ProjectMember, project_members)
        project_resources = _project_resource_rows(org_id, project_ids)
        await _insert(engine, Resource, project_resources)
        async with engine.begin() as conn:
            # What the app's own writes do (resolvers/access_index.bump): no index cached by
            # any process survives rows inserted behind its back.
            await conn.execute(
                orgs.update()
                .where(orgs.c.id == org_id)
                .values(access_version=orgs.c.access_version + 1)
            )
    finally:
        await engine.dispose()

    # The real tokens, through the use case (they sign with SECRET_KEY and record an audit
    # event); no expiry, so a cached database keeps working.
    services = Services.build(
        Settings(database_url=url, secret_key=SECRET_KEY), clock=FrozenClock(EPOCH)
    )
    try:
        admin = Principal(org_id=org_id, user_id=admin_id, role=TeamRole.ADMIN, email=ADMIN_EMAIL)
        _, value = await create_token(
            services, admin, CreateTokenInput("bench-load", TokenPermission.READ_WRITE)
        )
        developer = Principal(
            org_id=org_id, user_id=subject.user_id, role=TeamRole.DEVELOPER, email=subject.email
        )
        _, developer_value = await create_token(
            services, developer, CreateTokenInput("bench-check", TokenPermission.READ_WRITE)
        )
    finally:
        await services.db.dispose()

    analyze = create_async_engine(
        url,
        poolclass=NullPool,
        **({"isolation_level": "AUTOCOMMIT"} if is_postgres(url) else {}),
    )
    try:
        async with analyze.connect() as conn:
            await conn.execute(text("VACUUM ANALYZE" if is_postgres(url) else "ANALYZE"))
            await conn.commit()
    finally:
        await analyze.dispose()
    return {
        "org_id": org_id,
        "admin_user_id": admin_id,
        "admin_token": value,
        "groups": len(group_ids),
        "memberships": len(memberships),
        "targets": len(target_ids),
        "grants": len(grants),
        "developer_user_id": subject.user_id,
        "developer_email": subject.email,
        "developer_token": developer_value,
        "developer_groups": subject.groups,
        "check_resource": subject.resource,
        "check_target": subject.target,
        "check_via": subject.via,
        "check_denied": subject.denied,
        "projects": len(project_ids),
        "project_roles": len(role_rows),
        "project_members": len(project_members),
        "project_resources": len(project_resources),
        "check_project": project_key(CHECK_PROJECT),
        "check_project_resource": PROJECT_RESOURCE_SPECS[0][1].format(
            key=project_key(CHECK_PROJECT)
        ),
        "check_project_role": CHECK_PROJECT_ROLE,
        "check_project_via": f"group {group_names[subject_group_id]}",
        "check_project_global_role": CHECK_PROJECT_GLOBAL_ROLE,
    }


async def _still_seeded(url: str, seeded: Seeded) -> bool:
    """The cached database still holds the seed: someone may have deleted the file, or
    reseeded it under another cache entry (another URL naming the same file, e.g. through a
    symlinked bench/.work), which keeps the sizes but not the real tokens."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            users = await conn.scalar(text("SELECT count(*) FROM users"))
            tokens = await conn.scalar(text("SELECT count(*) FROM access_tokens"))
            targets = await conn.scalar(text("SELECT count(*) FROM permission_targets"))
            grants = await conn.scalar(text("SELECT count(*) FROM target_grants"))
            members = await conn.scalar(text("SELECT count(*) FROM project_members"))
            for token in (seeded.admin_token, seeded.developer_token):
                stored = await conn.scalar(
                    text("SELECT secret_hash FROM access_tokens WHERE username = :u"),
                    {"u": token_username(token)},
                )
                if stored != hashlib.sha256(token.encode()).hexdigest():
                    return False
    except Exception:
        return False
    finally:
        await engine.dispose()
    return bool(
        users == seeded.users
        and tokens == seeded.tokens + REAL_TOKENS
        and targets == seeded.targets
        and grants == seeded.grants
        and members == seeded.project_members
    )


# --- per-run credentials and state -------------------------------------------------------------


async def console_session(url: str, user_id: int) -> str:
    """A fresh console session for the admin (what the console's pages authenticate with),
    made by the app's own sign-in code; sessions expire, so each run makes one."""
    from accessgraph.models import User
    from accessgraph.resolvers.sessions import _start_session
    from accessgraph.services import Services
    from accessgraph.settings import Settings

    services = Services.build(Settings(database_url=url, secret_key=SECRET_KEY))
    try:
        async with services.db.session() as session:
            user = await session.get(User, user_id)
        assert user is not None
        return (await _start_session(services, user)).token
    finally:
        await services.db.dispose()


def token_username(token: str) -> str:
    """The access token's username: its JWT's jti (read without verification)."""
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["jti"])


async def forget_token_use(url: str, token: str) -> None:
    """Clear the token's lastUsedAt, as if it had not been used for a while: its next request
    writes lastUsedAt again (the app does so at most once a minute)."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE access_tokens SET last_used_at = NULL WHERE username = :u"),
                {"u": token_username(token)},
            )
    finally:
        await engine.dispose()


def seed(
    url: str, *, scale: Scale = DEFAULT_SCALE, force: bool = False, log: Any = print
) -> Seeded:
    """Seed `url` (or reuse it when its cache key matches). Blocking: call outside a loop.
    Another scale than the default seeds its own database next to `url` (`scaled_url`)."""
    from accessgraph.migrate import upgrade

    WORK_DIR.mkdir(parents=True, exist_ok=True)
    url = scaled_url(url, scale)
    key = cache_key(url, scale)
    cache = _cache_file(url)
    if not force and cache.exists():
        try:
            cached = Seeded(**json.loads(cache.read_text()))
        except (TypeError, ValueError):
            cached = None
        if cached and cached.key == key and asyncio.run(_still_seeded(url, cached)):
            upgrade(url)  # a no-op at head; cheap insurance
            log(
                f"seed: reusing cached database{'' if scale == DEFAULT_SCALE else ' ' + scale.name}"
                f" (key {key}, seeded in {cached.seconds:.1f}s)"
            )
            return cached
    started = time.perf_counter()
    log(
        f"seed ({scale.name}): creating {scale.users} users, {scale.tokens} tokens, "
        f"{scale.groups} groups, {scale.targets} permission targets and {scale.projects} "
        f"projects ({len(PROJECT_ROLE_SPECS)} roles, {scale.group_members_per_project} groups"
        f" and {scale.user_members_per_project} users each) in "
        f"{make_url(url).render_as_string()}"
    )
    cache.unlink(missing_ok=True)
    _reset_database(url)
    upgrade(url)
    rows = asyncio.run(_seed_rows(url, scale))
    seeded = Seeded(
        key=key,
        database_url=url,
        users=scale.users,
        tokens=scale.tokens,
        seconds=round(time.perf_counter() - started, 2),
        scale=scale.name,
        **rows,
    )
    cache.write_text(json.dumps(asdict(seeded), indent=2))
    log(f"seed: done in {seeded.seconds:.1f}s")
    return seeded


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Seed the benchmark database.")
    parser.add_argument("--database-url", default=DEFAULT_SQLITE_URL)
    parser.add_argument("--force", action="store_true", help="reseed even if cached")
    parser.add_argument(
        "--scale",
        choices=list(SCALES),
        default=DEFAULT_SCALE.name,
        help="1k or 100k users seed their own database next to --database-url's "
        "(bench-1k.db, accessgraph_bench_1k); default 10k, the benchmark's own",
    )
    ns = parser.parse_args()
    result = seed(ns.database_url, scale=SCALES[ns.scale], force=ns.force)
    print(json.dumps({k: v for k, v in asdict(result).items() if not k.endswith("_token")}))
