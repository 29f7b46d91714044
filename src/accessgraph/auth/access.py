"""Resource actions, the pattern language, and the compiled access index of an organization.

Actions (R24) are bits, so "does this grant hold WRITE" is integer arithmetic. A permission
target's resources of one type are those it names or an include pattern matches, unless an
exclude pattern matches. Patterns are Ant-style, as artifact registries use:

- `*` matches any run of characters except `/`;
- `**` matches any run of characters, `/` included (`**/` also matches nothing, so
  `**/*-release` matches `app-release` and `team/app-release`);
- `?` matches one character except `/`;
- everything else matches itself, case-sensitively.

An `AccessIndex` is one organization's targets, grants and group memberships, compiled for
lookups: grants are indexed by principal, so a check visits only the targets that grant
something to the user, their groups or the anonymous user. It is rebuilt when the
organization's `access_version` moves (see resolvers/access_index.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

from accessgraph.models.enums import ManagePolicy, PrincipalType, ResourceType


class ArtifactAction(StrEnum):
    READ = "READ"
    ANNOTATE = "ANNOTATE"
    WRITE = "WRITE"  # deploy / cache
    DELETE = "DELETE"  # delete / overwrite
    MANAGE = "MANAGE"
    DISTRIBUTE = "DISTRIBUTE"  # release bundles and destinations only
    TRIGGER = "TRIGGER"  # pipelines, in projects (R29)
    # R32: the per-project device permissions, granted by project roles on resource type
    # DEVICE (advanced mode). Appended after the artifact actions: stored masks keep their bits.
    MANAGE_GROUPS = "MANAGE_GROUPS"  # create and modify device groups
    MODIFY_DEVICES = "MODIFY_DEVICES"
    REMOTE_CONTROL = "REMOTE_CONTROL"
    DEPLOY_UPDATES = "DEPLOY_UPDATES"
    RUN_COMMANDS = "RUN_COMMANDS"  # run Control Center commands
    REGISTER_DEVICES = "REGISTER_DEVICES"
    VIEW_DEVICE_LOGS = "VIEW_DEVICE_LOGS"
    CREATE_UPDATES = "CREATE_UPDATES"
    MANAGE_COMMANDS = "MANAGE_COMMANDS"  # create and modify Control Center commands
    MANAGE_DATA_MONITOR = "MANAGE_DATA_MONITOR"
    MANAGE_ALERTS = "MANAGE_ALERTS"
    MODIFY_ENGINE_SETTINGS = "MODIFY_ENGINE_SETTINGS"
    MANAGE_PROCESS_MONITOR = "MANAGE_PROCESS_MONITOR"

    @property
    def bit(self) -> int:
        return _BITS[self]


_BITS = {action: 1 << index for index, action in enumerate(ArtifactAction)}
ALL_ACTIONS = sum(_BITS.values())
_COMMON = (
    ArtifactAction.READ,
    ArtifactAction.ANNOTATE,
    ArtifactAction.WRITE,
    ArtifactAction.DELETE,
    ArtifactAction.MANAGE,
)
# R24: which actions exist for each resource type a permission target covers.
ACTIONS_BY_TYPE: Mapping[ResourceType, tuple[ArtifactAction, ...]] = {
    ResourceType.REPOSITORY: _COMMON,
    ResourceType.BUILD: _COMMON,
    ResourceType.RELEASE_BUNDLE: (*_COMMON, ArtifactAction.DISTRIBUTE),
    ResourceType.DESTINATION: (
        ArtifactAction.READ,
        ArtifactAction.DISTRIBUTE,
        ArtifactAction.MANAGE,
    ),
}
TARGET_TYPES = tuple(ACTIONS_BY_TYPE)
A = ArtifactAction
DEVICE_ACTIONS = (
    A.MANAGE_GROUPS,
    A.MODIFY_DEVICES,
    A.REMOTE_CONTROL,
    A.DEPLOY_UPDATES,
    A.RUN_COMMANDS,
    A.REGISTER_DEVICES,
    A.VIEW_DEVICE_LOGS,
    A.CREATE_UPDATES,
    A.MANAGE_COMMANDS,
    A.MANAGE_DATA_MONITOR,
    A.MANAGE_ALERTS,
    A.MODIFY_ENGINE_SETTINGS,
    A.MANAGE_PROCESS_MONITOR,
)
# R29: what a project role grants, per resource type (advanced mode).
PROJECT_ACTIONS_BY_TYPE: Mapping[ResourceType, tuple[ArtifactAction, ...]] = {
    ResourceType.REPOSITORY: _COMMON,
    ResourceType.BUILD: _COMMON,
    ResourceType.RELEASE_BUNDLE: (*_COMMON, A.DISTRIBUTE),
    ResourceType.PIPELINE: (A.READ, A.TRIGGER, A.MANAGE),
    ResourceType.DEVICE: DEVICE_ACTIONS,
}
# What a project holds as registered resources (devices have their own registry, R31).
PROJECT_RESOURCE_TYPES = tuple(t for t in PROJECT_ACTIONS_BY_TYPE if t != ResourceType.DEVICE)
# Basic mode (and the global roles): one set of actions for every resource type, each holding
# where it exists. Device permissions are too specific for that: they are given per type.
BASIC_ACTIONS = tuple(a for a in ArtifactAction if a not in DEVICE_ACTIONS)


def actions_for_type(resource_type: ResourceType) -> tuple[ArtifactAction, ...]:
    """Every action that exists for a resource type, in a target or in a project."""
    return PROJECT_ACTIONS_BY_TYPE.get(resource_type) or ACTIONS_BY_TYPE[resource_type]


def mask(actions: Iterable[ArtifactAction]) -> int:
    return sum({action.bit for action in actions})


@lru_cache(maxsize=1024)
def actions_in(bits: int) -> tuple[ArtifactAction, ...]:
    """The actions a mask holds, in their declared order (asked per grant of a decision)."""
    return tuple(action for action in ArtifactAction if bits & action.bit)


def actions_of(bits: int) -> list[ArtifactAction]:
    return list(actions_in(bits))


# --- patterns ---------------------------------------------------------------------------------

PATTERN_MAX = 200
_PATTERN_CHARS = re.compile(r"^[A-Za-z0-9._\-/*?+@:~]+$")


def pattern_problem(pattern: str) -> str | None:
    """Why `pattern` is not a valid pattern, or None."""
    if not pattern or pattern != pattern.strip():
        return "A pattern cannot be empty or have surrounding spaces."
    if len(pattern) > PATTERN_MAX:
        return f"A pattern has at most {PATTERN_MAX} characters."
    if not _PATTERN_CHARS.match(pattern):
        return "A pattern has letters, digits, . _ - / + @ : ~ and the wildcards * ** ?."
    if "***" in pattern:
        return "Use * or **, not ***."
    return None


@lru_cache(maxsize=65536)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
        elif pattern.startswith("**", index):
            out.append(".*")
            index += 2
        elif pattern[index] == "*":
            out.append("[^/]*")
            index += 1
        elif pattern[index] == "?":
            out.append("[^/]")
            index += 1
        else:
            out.append(re.escape(pattern[index]))
            index += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def matches(pattern: str, name: str) -> bool:
    return compile_pattern(pattern).match(name) is not None


@dataclass(frozen=True, slots=True)
class ResourceMatcher:
    """One target's resources of one type: (names or includes) and not excludes."""

    names: frozenset[str]
    includes: tuple[re.Pattern[str], ...]
    excludes: tuple[re.Pattern[str], ...]

    @classmethod
    def of(
        cls, names: Sequence[str], includes: Sequence[str], excludes: Sequence[str]
    ) -> ResourceMatcher:
        return cls(
            frozenset(names),
            tuple(compile_pattern(p) for p in includes),
            tuple(compile_pattern(p) for p in excludes),
        )

    def covers(self, name: str) -> bool:
        if name not in self.names and not any(p.match(name) for p in self.includes):
            return False
        return not any(p.match(name) for p in self.excludes)


def _literal_start(pattern: re.Pattern[str]) -> str:
    """What every name a compiled pattern matches starts with: its source up to the first
    wildcard, unescaped (`compile_pattern` escapes every literal character)."""
    out: list[str] = []
    source = pattern.pattern.removesuffix(r"\Z")
    index = 0
    while index < len(source):
        char = source[index]
        if char == "\\" and index + 1 < len(source):
            out.append(source[index + 1])
            index += 2
        elif char in "([.":  # a wildcard's expansion: (?:.*/)?, [^/]*, [^/], .*
            break
        else:
            out.append(char)
            index += 1
    return "".join(out)


# --- the compiled index -------------------------------------------------------------------------

PrincipalKey = tuple[PrincipalType, int]
ANONYMOUS_KEY: PrincipalKey = (PrincipalType.ANONYMOUS, 0)


@dataclass(frozen=True, slots=True)
class CompiledTarget:
    id: int
    name: str
    resources: Mapping[ResourceType, ResourceMatcher]
    grants: Mapping[PrincipalKey, int]


@dataclass(frozen=True, slots=True)
class Applied:
    """A target grant that applies: which target, through which principal, which actions."""

    target: CompiledTarget
    via: PrincipalKey
    actions: int


@dataclass(frozen=True, slots=True)
class CompiledRole:
    """A global or project role as it holds in one project (R28-R30)."""

    name: str
    environments: frozenset[str]
    basic: int = 0  # every resource type (where the action exists)
    advanced: Mapping[str, int] | None = None  # resource type -> actions
    is_global: bool = False  # one of the five global roles (R28), not a project's own

    def bits_for(self, resource_type: ResourceType) -> int:
        if resource_type not in PROJECT_ACTIONS_BY_TYPE:
            return 0  # e.g. a DESTINATION (R24) is never in a project: roles cannot reach it
        if self.advanced is not None:
            return self.advanced.get(resource_type.value, 0)
        return self.basic & mask(actions_for_type(resource_type))


@dataclass
class AccessIndex:
    org_id: int
    version: int
    manage_policy: ManagePolicy
    targets: dict[int, CompiledTarget]
    groups_of_user: Mapping[int, frozenset[int]]
    group_names: Mapping[int, str]
    # Projects: key -> id, and each member's roles per project (R30).
    projects: Mapping[str, int] = field(default_factory=dict)
    # Principal -> project id -> roles. Keyed by principal first, so 100,000 memberships are a
    # few thousand dicts with int keys, not 100,000 tuples for the garbage collector to scan.
    member_roles: Mapping[PrincipalKey, Mapping[int, tuple[CompiledRole, ...]]] = field(
        default_factory=dict
    )
    # Resources registered in a project: (type, name) -> (project key, environment).
    project_resources: Mapping[tuple[ResourceType, str], tuple[str, str]] = field(
        default_factory=dict
    )
    # principal -> [(target, actions)]: what a principal holds, whatever the resource
    by_principal: dict[PrincipalKey, list[tuple[CompiledTarget, int]]] = field(init=False)
    # A check's candidates (issue 8: walking every target granted to the caller cost ~1 us a
    # target, 683 targets a check at 10,000 targets): per resource type, the targets by the
    # literal start of each name and include pattern (up to its first wildcard), in the
    # index's order. A target can cover a name only if one of its literals starts the name.
    _by_literal: dict[ResourceType, dict[str, list[CompiledTarget]]] = field(init=False)
    _literal_lengths: dict[ResourceType, tuple[int, ...]] = field(init=False)
    _rank: dict[int, int] = field(init=False)

    def __post_init__(self) -> None:
        self.by_principal = {}
        self._by_literal = {}
        self._rank = {}
        for rank, target in enumerate(self.targets.values()):
            self._rank[target.id] = rank
            for key, bits in target.grants.items():
                self.by_principal.setdefault(key, []).append((target, bits))
            for resource_type, matcher in target.resources.items():
                literals = self._by_literal.setdefault(resource_type, {})
                for literal in {*matcher.names, *(_literal_start(p) for p in matcher.includes)}:
                    found = literals.setdefault(literal, [])
                    if not found or found[-1] is not target:
                        found.append(target)
        self._literal_lengths = {
            resource_type: tuple(sorted({len(literal) for literal in literals}))
            for resource_type, literals in self._by_literal.items()
        }

    def candidates(self, resource_type: ResourceType, name: str) -> list[CompiledTarget]:
        """The targets that may cover the resource (a superset; `covers` decides), in the
        index's order."""
        literals = self._by_literal.get(resource_type)
        if not literals:
            return []
        found: dict[int, CompiledTarget] = {}
        for length in self._literal_lengths[resource_type]:
            if length > len(name):
                break
            for target in literals.get(name[:length], ()):
                found[target.id] = target
        rank = self._rank
        return sorted(found.values(), key=lambda target: rank[target.id])

    def roles_in(
        self, project_id: int, keys: Iterable[PrincipalKey]
    ) -> Iterator[tuple[PrincipalKey, CompiledRole]]:
        """The roles `keys` hold in one project, each with the principal it comes through."""
        for key in keys:
            for role in self.member_roles.get(key, {}).get(project_id, ()):
                yield key, role

    def member_projects(self, keys: Iterable[PrincipalKey]) -> set[int]:
        """The projects in which one of `keys` holds a role."""
        found: set[int] = set()
        for key in keys:
            found.update(self.member_roles.get(key, {}))
        return found

    def keys_for(self, user_id: int | None, group_id: int | None) -> list[PrincipalKey]:
        """Whose grants apply: the user directly, each of their groups, and the anonymous
        user (whose grants, READ at most, apply to everyone, R26)."""
        keys: list[PrincipalKey] = []
        if group_id is not None:
            keys.append((PrincipalType.GROUP, group_id))
        elif user_id is not None:
            keys.append((PrincipalType.USER, user_id))
            keys.extend(
                (PrincipalType.GROUP, g) for g in sorted(self.groups_of_user.get(user_id, ()))
            )
        keys.append(ANONYMOUS_KEY)
        return keys

    def applied(
        self, keys: Iterable[PrincipalKey], resource_type: ResourceType, name: str
    ) -> Iterator[Applied]:
        """Every grant to one of `keys` whose target covers the resource (by key, then in the
        index's order)."""
        covering = [
            target
            for target in self.candidates(resource_type, name)
            if target.resources[resource_type].covers(name)
        ]
        for key in keys:
            for target in covering:
                bits = target.grants.get(key)
                if bits is not None:
                    yield Applied(target, key, bits)

    def held_on_target(self, keys: Iterable[PrincipalKey], target_id: int) -> int:
        """The actions `keys` hold on one target, as a mask."""
        target = self.targets.get(target_id)
        if target is None:
            return 0
        held = 0
        for key in keys:
            held |= target.grants.get(key, 0)
        return held

    def managed_by(self, keys: Iterable[PrincipalKey]) -> list[int]:
        """The targets on which `keys` hold MANAGE."""
        manage = ArtifactAction.MANAGE.bit
        return sorted(
            {
                target.id
                for key in keys
                for target, bits in self.by_principal.get(key, ())
                if bits & manage
            }
        )

    def describe(self, key: PrincipalKey) -> str:
        kind, pk = key
        if kind == PrincipalType.GROUP:
            return f"group {self.group_names.get(pk, pk)}"
        return "anonymous" if kind == PrincipalType.ANONYMOUS else "user"


# --- R25: what a MANAGE holder may grant ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GrantRefusal:
    code: str
    message: str


def grant_change_refusal(
    policy: ManagePolicy,
    *,
    grantor_is_admin: bool,
    grantor_holds: int,
    principal_type: PrincipalType,
    before: int,
    after: int,
) -> GrantRefusal | None:
    """Why the grantor may not change one principal's actions on a target from `before` to
    `after` (bit masks), or None.

    - The anonymous user gets READ at most, from admins only (R26).
    - Admins change anything else (R25).
    - A MANAGE holder never adds or removes MANAGE, except under ANY_ACTION_INCLUDING_MANAGE;
      under EXCLUDE_MANAGE (the default) they add only actions they hold on the target
      themselves; under ANY_ACTION_... they add any other action. Removing a non-MANAGE
      action is always theirs to do.
    """
    if principal_type == PrincipalType.ANONYMOUS:
        if after & ~ArtifactAction.READ.bit:
            return GrantRefusal(
                "ANONYMOUS_READ_ONLY", "The anonymous user can be granted READ and nothing more."
            )
        if not grantor_is_admin and before != after:
            return GrantRefusal(
                "ANONYMOUS_ADMIN_ONLY", "Only admins grant access to the anonymous user."
            )
    if grantor_is_admin:
        return None
    manage = ArtifactAction.MANAGE.bit
    added = after & ~before
    if (added | (before & ~after)) & manage and policy != ManagePolicy.ANY_ACTION_INCLUDING_MANAGE:
        return GrantRefusal(
            "MANAGE_POLICY_FORBIDS",
            f"The organization's manage policy ({policy.value}) does not let you grant or "
            "remove MANAGE.",
        )
    beyond = added & ~grantor_holds & ~manage
    if policy == ManagePolicy.EXCLUDE_MANAGE and beyond:
        names = ", ".join(a.value for a in actions_of(beyond))
        return GrantRefusal(
            "MANAGE_POLICY_FORBIDS",
            f"Under EXCLUDE_MANAGE you grant only actions you hold on this target; you do not "
            f"hold {names}.",
        )
    return None
