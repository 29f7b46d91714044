"""accessgraph.auth.access and the policy on resources: the R24 actions, the pattern language,
`ResourceMatcher`, THE R25 manage-policy rule (`grant_change_refusal`), and `Policy.decide` on
an `ArtifactResource` (R24, R26, R34) or a `TargetResource` (R25) over a hand-built
`AccessIndex`."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import replace

import pytest

from accessgraph.auth.access import (
    ACTIONS_BY_TYPE,
    ANONYMOUS_KEY,
    PATTERN_MAX,
    TARGET_TYPES,
    AccessIndex,
    ArtifactAction,
    CompiledTarget,
    PrincipalKey,
    ResourceMatcher,
    actions_of,
    compile_pattern,
    grant_change_refusal,
    mask,
    matches,
    pattern_problem,
)
from accessgraph.auth.policy import (
    Action,
    ArtifactResource,
    Grant,
    Policy,
    Scope,
    TargetResource,
    default_policy,
)
from accessgraph.auth.principal import ANONYMOUS, Principal
from accessgraph.models.enums import (
    ManagePolicy,
    PrincipalType,
    ResourceType,
    TeamRole,
    TokenPermission,
)

A = ArtifactAction
RT = ResourceType
R, ANN, W, D, M, DIST = (
    A.READ.bit,
    A.ANNOTATE.bit,
    A.WRITE.bit,
    A.DELETE.bit,
    A.MANAGE.bit,
    A.DISTRIBUTE.bit,
)

# --- R24: the actions ---------------------------------------------------------------------------

# R24, copied from SPEC.md: READ, ANNOTATE, WRITE, DELETE, MANAGE for every type a target
# covers, DISTRIBUTE for release bundles and destinations only.
# fmt: off
R24_ACTIONS: dict[ResourceType, set[ArtifactAction]] = {
    RT.REPOSITORY:     {A.READ, A.ANNOTATE, A.WRITE, A.DELETE, A.MANAGE},
    RT.BUILD:          {A.READ, A.ANNOTATE, A.WRITE, A.DELETE, A.MANAGE},
    RT.RELEASE_BUNDLE: {A.READ, A.ANNOTATE, A.WRITE, A.DELETE, A.MANAGE, A.DISTRIBUTE},
    RT.DESTINATION:    {A.READ, A.DISTRIBUTE, A.MANAGE},
}
# fmt: on


def test_actions_by_type_are_the_r24_resource_types_and_actions() -> None:
    assert set(TARGET_TYPES) == set(R24_ACTIONS)
    for resource_type, actions in R24_ACTIONS.items():
        assert set(ACTIONS_BY_TYPE[resource_type]) == actions, resource_type


def test_action_bits_are_distinct_and_round_trip() -> None:
    bits = [action.bit for action in A]
    assert len(set(bits)) == len(A) and all(bit & (bit - 1) == 0 for bit in bits)
    assert mask([]) == 0
    assert mask([A.READ, A.READ, A.WRITE]) == R | W  # a repeated action counts once
    assert actions_of(mask(A)) == list(A)
    assert actions_of(R | M) == [A.READ, A.MANAGE]


# --- the pattern language (access.py docstring) --------------------------------------------------

# (pattern, name, matches?)
# fmt: off
PATTERN_CASES: list[tuple[str, str, bool]] = [
    # `*`: any run of characters except `/`, the empty run included
    ("libs-*",        "libs-release",         True),
    ("libs-*",        "libs-",                True),
    ("libs-*",        "libs-a/b",             False),
    ("*-local",       "maven-local",          True),
    ("a*b",           "ab",                   True),
    ("*",             "team/app",             False),
    # `**`: any run of characters, `/` included
    ("**",            "x",                    True),
    ("**",            "any/depth/at/all",     True),
    ("libs-**",       "libs-a/b/c",           True),
    ("team/**",       "team/app",             True),
    ("team/**",       "team/a/b",             True),
    ("team/**",       "other/app",            False),
    ("a**b",          "a/x/b",                True),
    # `**/`: any run of directories, or nothing
    ("**/*-release",  "app-release",          True),
    ("**/*-release",  "team/app-release",     True),
    ("**/*-release",  "a/b/app-release",      True),
    ("**/*-release",  "team/app-release/x",   False),
    ("**/*-release",  "app-release-x",        False),
    ("a/**/b",        "a/b",                  True),
    ("a/**/b",        "a/x/y/b",              True),
    ("a/**/b",        "a/xb",                 False),
    # `?`: exactly one character except `/`
    ("app-?",         "app-1",                True),
    ("app-?",         "app-12",               False),
    ("app-?",         "app-",                 False),
    ("app?x",         "app/x",                False),
    ("??",            "ab",                   True),
    # literal dots and other characters a regex would read as syntax
    ("app.v1",        "app.v1",               True),
    ("app.v1",        "appXv1",               False),
    ("v1.*",          "v1.0",                 True),
    ("v1.*",          "v1x0",                 False),
    ("c++",           "c++",                  True),
    ("c++",           "cc",                   False),
    ("c++",           "c+++",                 False),
    ("a+b",           "aab",                  False),
    ("org@scope:pkg~1", "org@scope:pkg~1",    True),
    # anchored at both ends: no partial matches
    ("app",           "app",                  True),
    ("app",           "my-app",               False),
    ("app",           "app-x",                False),
    ("app",           "app\n",                False),
    ("*-local",       "maven-local-old",      False),
    ("libs-*",        "old-libs-x",           False),
    # case-sensitive
    ("App",           "app",                  False),
    ("libs-*",        "LIBS-release",         False),
    # names with slashes
    ("team/app",      "team/app",             True),
    ("team/*",        "team/app",             True),
    ("team/*",        "team/app/x",           False),
    ("*/app",         "team/app",             True),
    ("*/app",         "a/b/app",              False),
    ("**/app",        "a/b/app",              True),
]
# fmt: on


@pytest.mark.parametrize(("pattern", "name", "expected"), PATTERN_CASES)
def test_matches_follows_the_pattern_language(pattern: str, name: str, expected: bool) -> None:
    assert matches(pattern, name) is expected


# Characters pattern_problem refuses, but compile_pattern must still read literally.
@pytest.mark.parametrize(
    ("pattern", "literal", "not_matched"),
    [
        ("a|b", "a|b", "a"),
        ("[ab]", "[ab]", "a"),
        ("(a)", "(a)", "a"),
        ("a{2}", "a{2}", "aa"),
        ("^a$", "^a$", "a"),
        ("a\\d", "a\\d", "a1"),
    ],
)
def test_compile_pattern_escapes_regex_metacharacters(
    pattern: str, literal: str, not_matched: str
) -> None:
    assert compile_pattern(pattern).match(literal)
    assert not compile_pattern(pattern).match(not_matched)


def test_matches_double_star_matches_any_character() -> None:
    assert matches("**", "a\nb")
    matcher = ResourceMatcher.of([], ["*"], ["secret-**"])
    assert not matcher.covers("secret-x\ny")


# --- ResourceMatcher: (names or includes) and not excludes --------------------------------------

# (names, includes, excludes, name, covered?)
# fmt: off
MATCHER_CASES: list[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], str, bool]] = [
    # include only
    ((),                     ("libs-*",), (),               "libs-release",  True),
    ((),                     ("libs-*",), (),               "apps-release",  False),
    # exclude only: nothing is included, so nothing is covered
    ((),                     (),          ("secret-*",),    "libs-release",  False),
    ((),                     (),          ("secret-*",),    "secret-x",      False),
    # include and exclude: the exclude wins
    ((),                     ("**",),     ("secret-**",),   "libs",          True),
    ((),                     ("**",),     ("secret-**",),   "secret-a/b",    False),
    ((),                     ("libs-*",), ("*-snapshot",),  "libs-release",  True),
    ((),                     ("libs-*",), ("*-snapshot",),  "libs-snapshot", False),
    # names plus exclude: the exclude also removes a listed name
    (("app", "secret-app"),  (),          ("secret-*",),    "app",           True),
    (("app", "secret-app"),  (),          ("secret-*",),    "secret-app",    False),
    (("app",),               (),          ("secret-*",),    "other",         False),
    # names are exact, case-sensitive, and never patterns
    (("team/app",),          (),          (),               "team/app",      True),
    (("team/app",),          (),          (),               "team/app2",     False),
    (("App",),               (),          (),               "app",           False),
    (("libs-*",),            (),          (),               "libs-x",        False),
    # names or includes
    (("core",),              ("libs-*",), (),               "core",          True),
    (("core",),              ("libs-*",), (),               "libs-x",        True),
    (("core",),              ("libs-*",), (),               "other",         False),
    # an empty matcher covers nothing
    ((),                     (),          (),               "x",             False),
]
# fmt: on


@pytest.mark.parametrize(("names", "includes", "excludes", "name", "expected"), MATCHER_CASES)
def test_resource_matcher_covers_names_or_includes_and_not_excludes(
    names: tuple[str, ...],
    includes: tuple[str, ...],
    excludes: tuple[str, ...],
    name: str,
    expected: bool,
) -> None:
    assert ResourceMatcher.of(names, includes, excludes).covers(name) is expected


# (pattern, a phrase of the problem, or None for a valid pattern)
# fmt: off
PATTERN_PROBLEMS: list[tuple[str, str | None]] = [
    ("",                        "cannot be empty"),
    (" libs-*",                 "surrounding spaces"),
    ("libs-* ",                 "surrounding spaces"),
    ("libs-*\n",                "surrounding spaces"),
    ("libs *",                  "letters, digits"),
    ("libs\t*",                 "letters, digits"),
    ("a|b",                     "letters, digits"),
    ("[ab]",                    "letters, digits"),
    ("(a)",                     "letters, digits"),
    ("a$",                      "letters, digits"),
    ("a\\b",                    "letters, digits"),
    ("a\nb",                    "letters, digits"),
    ("dépôt",                   "letters, digits"),
    ("***",                     "not ***"),
    ("libs/***",                "not ***"),
    ("****",                    "not ***"),
    ("a" * (PATTERN_MAX + 1),   f"at most {PATTERN_MAX}"),
    # valid
    ("a" * PATTERN_MAX,         None),
    ("libs-*",                  None),
    ("**",                      None),
    ("**/*-release",            None),
    ("a/**/b",                  None),
    ("app-?",                   None),
    ("org@scope:pkg~1.0+build", None),
    ("Team_A/app.v1",           None),
]
# fmt: on


@pytest.mark.parametrize(("pattern", "problem"), PATTERN_PROBLEMS)
def test_pattern_problem_explains_an_invalid_pattern(pattern: str, problem: str | None) -> None:
    got = pattern_problem(pattern)
    if problem is None:
        assert got is None
    else:
        assert got is not None and problem in got


# --- R25: what a grantor may change (grant_change_refusal) ----------------------------------------

EXCL, ANY_EXCL, ANY_INCL = (
    ManagePolicy.EXCLUDE_MANAGE,
    ManagePolicy.ANY_ACTION_EXCLUDING_MANAGE,
    ManagePolicy.ANY_ACTION_INCLUDING_MANAGE,
)
POLICIES = (EXCL, ANY_EXCL, ANY_INCL)

# The grantor: (is a team admin, what they hold on the target). "no MANAGE" holds READ and
# WRITE: whether such a grantor may edit at all is EDIT_TARGET_GRANTS's call (see below), so
# grant_change_refusal treats them as the same rights with MANAGE.
GRANTORS: dict[str, tuple[bool, int]] = {
    "admin": (True, 0),
    "MANAGE": (False, M),
    "MANAGE+READ": (False, M | R),
    "MANAGE+READ+WRITE": (False, M | R | W),
    "no MANAGE (READ+WRITE)": (False, R | W),
}

# The change asked for: (principal type, before, after).
CHANGES: dict[str, tuple[PrincipalType, int, int]] = {
    "add READ": (PrincipalType.USER, 0, R),
    "add WRITE": (PrincipalType.USER, R, R | W),
    "add DELETE": (PrincipalType.USER, R, R | D),
    "add MANAGE": (PrincipalType.USER, R, R | M),
    "remove MANAGE": (PrincipalType.USER, R | M, R),
    "remove WRITE": (PrincipalType.USER, R | W, R),
    "anonymous READ": (PrincipalType.ANONYMOUS, 0, R),
    "anonymous WRITE": (PrincipalType.ANONYMOUS, R, R | W),
    "remove anonymous READ": (PrincipalType.ANONYMOUS, R, 0),
}

OK = None
FORBIDS = "MANAGE_POLICY_FORBIDS"
ANON_READ = "ANONYMOUS_READ_ONLY"
ANON_ADMIN = "ANONYMOUS_ADMIN_ONLY"

# THE R25 table (and R26 for the anonymous user): (change, grantor) -> the refusal code under
# (EXCLUDE_MANAGE, ANY_ACTION_EXCLUDING_MANAGE, ANY_ACTION_INCLUDING_MANAGE).
# fmt: off
R25_TABLE: dict[tuple[str, str], tuple[str | None, str | None, str | None]] = {
    #                                                      EXCLUDE_MANAGE ANY_EXCL    ANY_INCL
    ("add READ",              "admin"):                   (OK,         OK,         OK),
    ("add READ",              "MANAGE"):                  (FORBIDS,    OK,         OK),
    ("add READ",              "MANAGE+READ"):             (OK,         OK,         OK),
    ("add READ",              "MANAGE+READ+WRITE"):       (OK,         OK,         OK),
    ("add READ",              "no MANAGE (READ+WRITE)"):  (OK,         OK,         OK),

    ("add WRITE",             "admin"):                   (OK,         OK,         OK),
    ("add WRITE",             "MANAGE"):                  (FORBIDS,    OK,         OK),
    ("add WRITE",             "MANAGE+READ"):             (FORBIDS,    OK,         OK),
    ("add WRITE",             "MANAGE+READ+WRITE"):       (OK,         OK,         OK),
    ("add WRITE",             "no MANAGE (READ+WRITE)"):  (OK,         OK,         OK),

    ("add DELETE",            "admin"):                   (OK,         OK,         OK),
    ("add DELETE",            "MANAGE"):                  (FORBIDS,    OK,         OK),
    ("add DELETE",            "MANAGE+READ"):             (FORBIDS,    OK,         OK),
    ("add DELETE",            "MANAGE+READ+WRITE"):       (FORBIDS,    OK,         OK),
    ("add DELETE",            "no MANAGE (READ+WRITE)"):  (FORBIDS,    OK,         OK),

    ("add MANAGE",            "admin"):                   (OK,         OK,         OK),
    ("add MANAGE",            "MANAGE"):                  (FORBIDS,    FORBIDS,    OK),
    ("add MANAGE",            "MANAGE+READ"):             (FORBIDS,    FORBIDS,    OK),
    ("add MANAGE",            "MANAGE+READ+WRITE"):       (FORBIDS,    FORBIDS,    OK),
    ("add MANAGE",            "no MANAGE (READ+WRITE)"):  (FORBIDS,    FORBIDS,    OK),

    ("remove MANAGE",         "admin"):                   (OK,         OK,         OK),
    ("remove MANAGE",         "MANAGE"):                  (FORBIDS,    FORBIDS,    OK),
    ("remove MANAGE",         "MANAGE+READ"):             (FORBIDS,    FORBIDS,    OK),
    ("remove MANAGE",         "MANAGE+READ+WRITE"):       (FORBIDS,    FORBIDS,    OK),
    ("remove MANAGE",         "no MANAGE (READ+WRITE)"):  (FORBIDS,    FORBIDS,    OK),

    ("remove WRITE",          "admin"):                   (OK,         OK,         OK),
    ("remove WRITE",          "MANAGE"):                  (OK,         OK,         OK),
    ("remove WRITE",          "MANAGE+READ"):             (OK,         OK,         OK),
    ("remove WRITE",          "MANAGE+READ+WRITE"):       (OK,         OK,         OK),
    ("remove WRITE",          "no MANAGE (READ+WRITE)"):  (OK,         OK,         OK),

    ("anonymous READ",        "admin"):                   (OK,         OK,         OK),
    ("anonymous READ",        "MANAGE"):                  (ANON_ADMIN, ANON_ADMIN, ANON_ADMIN),
    ("anonymous READ",        "MANAGE+READ"):             (ANON_ADMIN, ANON_ADMIN, ANON_ADMIN),
    ("anonymous READ",        "MANAGE+READ+WRITE"):       (ANON_ADMIN, ANON_ADMIN, ANON_ADMIN),
    ("anonymous READ",        "no MANAGE (READ+WRITE)"):  (ANON_ADMIN, ANON_ADMIN, ANON_ADMIN),

    ("anonymous WRITE",       "admin"):                   (ANON_READ,  ANON_READ,  ANON_READ),
    ("anonymous WRITE",       "MANAGE"):                  (ANON_READ,  ANON_READ,  ANON_READ),
    ("anonymous WRITE",       "MANAGE+READ"):             (ANON_READ,  ANON_READ,  ANON_READ),
    ("anonymous WRITE",       "MANAGE+READ+WRITE"):       (ANON_READ,  ANON_READ,  ANON_READ),
    ("anonymous WRITE",       "no MANAGE (READ+WRITE)"):  (ANON_READ,  ANON_READ,  ANON_READ),

    ("remove anonymous READ", "admin"):                   (OK,         OK,         OK),
    ("remove anonymous READ", "MANAGE"):                  (ANON_ADMIN, ANON_ADMIN, ANON_ADMIN),
    ("remove anonymous READ", "MANAGE+READ"):             (ANON_ADMIN, ANON_ADMIN, ANON_ADMIN),
    ("remove anonymous READ", "MANAGE+READ+WRITE"):       (ANON_ADMIN, ANON_ADMIN, ANON_ADMIN),
    ("remove anonymous READ", "no MANAGE (READ+WRITE)"):  (ANON_ADMIN, ANON_ADMIN, ANON_ADMIN),
}
# fmt: on


def refusal_code(
    policy: ManagePolicy,
    grantor: str,
    change: str,
    principal_type: PrincipalType | None = None,
) -> str | None:
    is_admin, holds = GRANTORS[grantor]
    kind, before, after = CHANGES[change]
    refusal = grant_change_refusal(
        policy,
        grantor_is_admin=is_admin,
        grantor_holds=holds,
        principal_type=principal_type or kind,
        before=before,
        after=after,
    )
    return None if refusal is None else refusal.code


def test_r25_table_covers_every_change_and_grantor() -> None:
    assert set(R25_TABLE) == {(c, g) for c in CHANGES for g in GRANTORS}
    assert set(ManagePolicy) == set(POLICIES)


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("grantor", list(GRANTORS))
@pytest.mark.parametrize("change", list(CHANGES))
def test_grant_change_refusal_matches_the_r25_table(
    policy: ManagePolicy, grantor: str, change: str
) -> None:
    expected = R25_TABLE[change, grantor][POLICIES.index(policy)]
    assert refusal_code(policy, grantor, change) == expected


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("grantor", list(GRANTORS))
@pytest.mark.parametrize(
    "change", [c for c, (kind, _, _) in CHANGES.items() if kind == PrincipalType.USER]
)
def test_grant_change_refusal_treats_a_group_like_a_user(
    policy: ManagePolicy, grantor: str, change: str
) -> None:
    assert refusal_code(policy, grantor, change, PrincipalType.GROUP) == refusal_code(
        policy, grantor, change
    )


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize(
    ("kind", "bits"),
    [
        (PrincipalType.USER, R | W | D | M),  # holds what the grantor lacks, and MANAGE
        (PrincipalType.GROUP, M),
        (PrincipalType.ANONYMOUS, R),
    ],
)
def test_grant_change_refusal_never_refuses_an_unchanged_grant(
    policy: ManagePolicy, kind: PrincipalType, bits: int
) -> None:
    # An update replaces the whole list: grants the MANAGE holder leaves as they are pass.
    refusal = grant_change_refusal(
        policy,
        grantor_is_admin=False,
        grantor_holds=M,
        principal_type=kind,
        before=bits,
        after=bits,
    )
    assert refusal is None


def test_grant_change_refusal_under_exclude_manage_names_the_actions_not_held() -> None:
    refusal = grant_change_refusal(
        EXCL,
        grantor_is_admin=False,
        grantor_holds=M | R,
        principal_type=PrincipalType.USER,
        before=0,
        after=R | W | D,
    )
    assert refusal is not None and refusal.code == FORBIDS
    assert "do not hold WRITE, DELETE." in refusal.message  # not READ: they hold it


def test_grant_change_refusal_manage_message_names_the_policy() -> None:
    refusal = grant_change_refusal(
        ANY_EXCL,
        grantor_is_admin=False,
        grantor_holds=M,
        principal_type=PrincipalType.USER,
        before=0,
        after=M,
    )
    assert refusal is not None and "ANY_ACTION_EXCLUDING_MANAGE" in refusal.message


# --- the compiled index and Policy.decide on a resource (R24, R26, R34) ---------------------------

ORG, OTHER_ORG = 1, 2
ALICE, BOB, CAROL, DAN, ERIN, ADMIN = 10, 20, 30, 40, 50, 60
DEVS, OPS = 100, 200
T_LIBS, T_RELEASES, T_DOCS, T_ERIN, T_MIRROR, T_NOT_RELEASES, T_BUILDS = 1, 2, 3, 4, 5, 6, 7

USER, GROUP = PrincipalType.USER, PrincipalType.GROUP
EVERYTHING = R | ANN | W | D | M | DIST


def target(
    pk: int,
    name: str,
    resources: dict[ResourceType, ResourceMatcher],
    grants: dict[tuple[PrincipalType, int], int],
) -> CompiledTarget:
    return CompiledTarget(pk, name, resources, grants)


def repos(
    names: tuple[str, ...] = (), inc: tuple[str, ...] = (), exc: tuple[str, ...] = ()
) -> ResourceMatcher:
    return ResourceMatcher.of(names, inc, exc)


def acme_index(policy: ManagePolicy = EXCL) -> AccessIndex:
    """Acme's targets. Alice has direct grants; Bob is in `developers`; Dan in `developers`
    and `ops`; Carol has nothing of her own; Erin a grant on her own target; Admin is a team
    ADMIN with no target grant."""
    targets = [
        target(
            T_LIBS,
            "libs",
            {RT.REPOSITORY: repos(inc=("libs-*",), exc=("*-secret",))},
            {(USER, ALICE): R | W, (GROUP, DEVS): R | ANN, ANONYMOUS_KEY: R},
        ),
        target(
            T_RELEASES,
            "releases",
            {RT.REPOSITORY: repos(inc=("**/*-release",)), RT.RELEASE_BUNDLE: repos(inc=("**",))},
            {(USER, ALICE): D, (GROUP, OPS): EVERYTHING},
        ),
        target(
            T_DOCS,
            "docs",
            {RT.BUILD: repos(names=("docs-build",))},
            {(USER, ALICE): R | M, ANONYMOUS_KEY: R},
        ),
        target(T_ERIN, "erin", {RT.REPOSITORY: repos(inc=("**",))}, {(USER, ERIN): R | W}),
        target(
            T_MIRROR,
            "mirror",
            {RT.REPOSITORY: repos(names=("libs-release",))},
            {(GROUP, DEVS): R, (USER, DAN): R},
        ),
        target(
            T_NOT_RELEASES,
            "not-releases",
            {RT.REPOSITORY: repos(inc=("libs-*",), exc=("*-release",))},
            {(USER, DAN): R},
        ),
        target(T_BUILDS, "builds", {RT.BUILD: repos(names=("libs-release",))}, {(USER, DAN): R}),
    ]
    return AccessIndex(
        org_id=ORG,
        version=1,
        manage_policy=policy,
        targets={t.id: t for t in targets},
        groups_of_user={BOB: frozenset({DEVS}), DAN: frozenset({OPS, DEVS})},
        group_names={DEVS: "developers", OPS: "ops"},
    )


def user(pk: int, role: TeamRole = TeamRole.DEVELOPER) -> Principal:
    return Principal(org_id=ORG, user_id=pk, role=role, email=f"{pk}@acme.test")


def read_only(principal: Principal) -> Principal:
    return replace(principal, token_id=7, token_permission=TokenPermission.READ_ONLY)


def read_write(principal: Principal) -> Principal:
    return replace(principal, token_id=8, token_permission=TokenPermission.READ_WRITE)


def subscription_token(principal: Principal) -> Principal:
    return replace(
        principal,
        token_id=9,
        token_permission=TokenPermission.READ_WRITE,
        token_subscription_id=100,
    )


GROUP_DEVS = Principal(org_id=ORG, group_id=DEVS)
GROUP_OPS = Principal(org_id=ORG, group_id=OPS)
ANONYMOUS_OF_ACME = Principal(org_id=ORG)


@pytest.fixture
def policy() -> Policy:
    return default_policy()


@pytest.fixture
def index() -> AccessIndex:
    return acme_index()


def on(
    index: AccessIndex, name: str, type_: ResourceType = RT.REPOSITORY, org: int = ORG
) -> ArtifactResource:
    return ArtifactResource(org, type_, name, index)


def pt(target_name: str, action: ArtifactAction, via: str) -> Grant:
    return Grant("PERMISSION_TARGET", target_name, action.value, via)


# --- AccessIndex itself ---------------------------------------------------------------------------


def test_keys_for_a_user_are_the_user_their_groups_and_anonymous(index: AccessIndex) -> None:
    assert index.keys_for(DAN, None) == [(USER, DAN), (GROUP, DEVS), (GROUP, OPS), ANONYMOUS_KEY]
    assert index.keys_for(CAROL, None) == [(USER, CAROL), ANONYMOUS_KEY]


def test_keys_for_a_group_are_the_group_and_anonymous(index: AccessIndex) -> None:
    assert index.keys_for(None, DEVS) == [(GROUP, DEVS), ANONYMOUS_KEY]
    # A group subject never picks up a user's grants, even if a user id came along.
    assert index.keys_for(ALICE, DEVS) == [(GROUP, DEVS), ANONYMOUS_KEY]


def test_keys_for_anonymous_is_anonymous_only(index: AccessIndex) -> None:
    assert index.keys_for(None, None) == [ANONYMOUS_KEY]


def test_describe_names_the_principal_a_grant_applies_through(index: AccessIndex) -> None:
    assert index.describe((USER, ALICE)) == "user"
    assert index.describe((GROUP, DEVS)) == "group developers"
    assert index.describe(ANONYMOUS_KEY) == "anonymous"


def test_held_on_target_is_the_union_over_the_keys(index: AccessIndex) -> None:
    assert index.held_on_target(index.keys_for(ALICE, None), T_LIBS) == R | W
    assert index.held_on_target(index.keys_for(BOB, None), T_LIBS) == R | ANN
    assert index.held_on_target(index.keys_for(DAN, None), T_RELEASES) == EVERYTHING
    assert index.held_on_target(index.keys_for(CAROL, None), T_DOCS) == R  # anonymous
    assert index.held_on_target(index.keys_for(ALICE, None), 999) == 0


def test_managed_by_lists_targets_with_manage_directly_or_through_a_group(
    index: AccessIndex,
) -> None:
    assert index.managed_by(index.keys_for(ALICE, None)) == [T_DOCS]
    assert index.managed_by(index.keys_for(DAN, None)) == [T_RELEASES]
    assert index.managed_by(index.keys_for(BOB, None)) == []


# --- decide on an ArtifactResource: who the grants reach ----------------------------------------


def test_decide_user_direct_grant_and_anonymous_grant_both_listed(
    policy: Policy, index: AccessIndex
) -> None:
    decision = policy.decide(user(ALICE), A.READ, on(index, "libs-release"))
    assert decision.allowed and decision.scope == Scope.ALL
    assert decision.grants == (pt("libs", A.READ, "user"), pt("libs", A.READ, "anonymous"))


def test_decide_user_direct_grant_allows_write(policy: Policy, index: AccessIndex) -> None:
    decision = policy.decide(user(ALICE), A.WRITE, on(index, "libs-core"))
    assert decision.allowed and decision.grants == (pt("libs", A.WRITE, "user"),)


def test_decide_user_gets_group_grants_through_membership(
    policy: Policy, index: AccessIndex
) -> None:
    decision = policy.decide(user(BOB), A.ANNOTATE, on(index, "libs-core"))
    assert decision.allowed and decision.grants == (pt("libs", A.ANNOTATE, "group developers"),)
    # ...but not another member's direct grant (Alice's WRITE).
    assert not policy.decide(user(BOB), A.WRITE, on(index, "libs-core")).allowed


def test_decide_user_without_grants_gets_only_anonymous_grants(
    policy: Policy, index: AccessIndex
) -> None:
    decision = policy.decide(user(CAROL), A.READ, on(index, "libs-core"))
    assert decision.allowed and decision.grants == (pt("libs", A.READ, "anonymous"),)
    for action in (A.ANNOTATE, A.WRITE, A.DELETE, A.MANAGE):
        assert not policy.decide(user(CAROL), action, on(index, "libs-core")).allowed, action


def test_decide_another_users_grant_does_not_apply(policy: Policy, index: AccessIndex) -> None:
    # Erin's target covers every repository; only Erin gets WRITE from it.
    assert not policy.decide(user(CAROL), A.WRITE, on(index, "anything")).allowed
    decision = policy.decide(user(ERIN), A.WRITE, on(index, "anything"))
    assert decision.allowed and decision.grants == (pt("erin", A.WRITE, "user"),)


def test_decide_uncovered_resource_is_denied(policy: Policy, index: AccessIndex) -> None:
    # Excluded by `*-secret`, of a type the target does not cover, or named by nobody.
    assert not policy.decide(user(ALICE), A.READ, on(index, "libs-secret")).allowed
    assert not policy.decide(user(ALICE), A.READ, on(index, "docs-build")).allowed
    assert policy.decide(user(ALICE), A.READ, on(index, "docs-build", RT.BUILD)).allowed
    assert not policy.decide(user(ALICE), A.READ, on(index, "nowhere")).allowed


def test_decide_resource_grants_do_not_outlive_their_resource(
    policy: Policy, index: AccessIndex
) -> None:
    # Principal-level grants are memoized; per-resource ones must not leak into that memo.
    alice = user(ALICE)
    assert policy.decide(alice, A.WRITE, on(index, "libs-core")).allowed
    assert not policy.decide(alice, A.WRITE, on(index, "nowhere")).allowed
    assert not policy.decide(alice, A.WRITE).allowed


def test_decide_group_subject_gets_only_the_groups_and_anonymous_grants(
    policy: Policy, index: AccessIndex
) -> None:
    decision = policy.decide(GROUP_DEVS, A.READ, on(index, "libs-release"))
    assert decision.allowed
    assert Counter(decision.grants) == Counter(
        [
            pt("libs", A.READ, "group developers"),
            pt("libs", A.READ, "anonymous"),
            pt("mirror", A.READ, "group developers"),
        ]
    )
    # Alice's WRITE and DELETE, and Dan's direct READ elsewhere, are theirs, not the group's.
    assert not policy.decide(GROUP_DEVS, A.WRITE, on(index, "libs-release")).allowed
    assert not policy.decide(GROUP_DEVS, A.DELETE, on(index, "libs-release")).allowed
    assert not policy.decide(GROUP_DEVS, A.READ, on(index, "libs-x", RT.BUILD)).allowed


def test_decide_group_subject_reaches_what_the_group_is_granted(
    policy: Policy, index: AccessIndex
) -> None:
    decision = policy.decide(GROUP_OPS, A.DISTRIBUTE, on(index, "bundle-1", RT.RELEASE_BUNDLE))
    assert decision.allowed
    assert decision.grants == (pt("releases", A.DISTRIBUTE, "group ops"),)
    assert not policy.decide(GROUP_DEVS, A.DISTRIBUTE, on(index, "b", RT.RELEASE_BUNDLE)).allowed


def test_decide_anonymous_subject_gets_only_anonymous_grants(
    policy: Policy, index: AccessIndex
) -> None:
    decision = policy.decide(ANONYMOUS_OF_ACME, A.READ, on(index, "libs-core"))
    assert decision.allowed and decision.grants == (pt("libs", A.READ, "anonymous"),)
    assert policy.decide(ANONYMOUS_OF_ACME, A.READ, on(index, "docs-build", RT.BUILD)).allowed
    for action in (A.ANNOTATE, A.WRITE, A.DELETE, A.MANAGE):
        assert not policy.decide(ANONYMOUS_OF_ACME, action, on(index, "libs-core")).allowed
    # No anonymous grant covers the release repositories or Erin's target.
    assert not policy.decide(ANONYMOUS_OF_ACME, A.READ, on(index, "app-release")).allowed
    assert not policy.decide(ANONYMOUS_OF_ACME, A.READ, on(index, "anything")).allowed


def test_decide_unauthenticated_caller_without_organization_is_unauthenticated(
    policy: Policy, index: AccessIndex
) -> None:
    # The anonymous *subject* of checkAccess has an organization; a caller with none does not.
    decision = policy.decide(ANONYMOUS, A.READ, on(index, "libs-core"))
    assert not decision.allowed and decision.unauthenticated


@pytest.mark.parametrize("resource_type", list(RT))
@pytest.mark.parametrize("action", list(A))
def test_decide_team_admin_gets_every_action_on_every_resource(
    policy: Policy, index: AccessIndex, action: ArtifactAction, resource_type: ResourceType
) -> None:
    # Admins administer the platform: no target needs to grant them anything (R25).
    decision = policy.decide(
        user(ADMIN, TeamRole.ADMIN), action, on(index, "nowhere", resource_type)
    )
    assert decision.allowed and decision.scope == Scope.ALL
    assert decision.grants == (Grant("TEAM_ROLE", "ADMIN", action.value, "user"),)


def test_decide_team_admin_also_lists_target_grants_that_apply(
    policy: Policy, index: AccessIndex
) -> None:
    decision = policy.decide(user(ALICE, TeamRole.ADMIN), A.WRITE, on(index, "libs-core"))
    assert decision.grants == (
        Grant("TEAM_ROLE", "ADMIN", "WRITE", "user"),
        pt("libs", A.WRITE, "user"),
    )


# --- decide on an ArtifactResource: caps above every grant ---------------------------------------

# What Dan holds on release bundles: every action a release bundle has (R24).
WRITING_ACTIONS = [a for a in ACTIONS_BY_TYPE[RT.RELEASE_BUNDLE] if a != A.READ]


@pytest.mark.parametrize("action", WRITING_ACTIONS)
@pytest.mark.parametrize(
    "owner", [user(DAN), user(ADMIN, TeamRole.ADMIN)], ids=["ops-member", "team-admin"]
)
def test_decide_read_only_token_is_capped_to_read(
    policy: Policy, index: AccessIndex, action: ArtifactAction, owner: Principal
) -> None:
    # R14: Dan holds every action on release bundles through `ops`; his read-only token
    # keeps READ only. Same for a team admin's.
    bundle = on(index, "bundle-1", RT.RELEASE_BUNDLE)
    assert policy.decide(owner, action, bundle).allowed
    assert policy.decide(read_write(owner), action, bundle).allowed
    assert policy.decide(read_only(owner), A.READ, bundle).allowed
    decision = policy.decide(read_only(owner), action, bundle)
    assert not decision.allowed and not decision.unauthenticated and not decision.grants
    assert "read-only" in decision.reason


@pytest.mark.parametrize("action", ACTIONS_BY_TYPE[RT.RELEASE_BUNDLE])
@pytest.mark.parametrize(
    "owner", [user(DAN), user(ADMIN, TeamRole.ADMIN)], ids=["ops-member", "team-admin"]
)
def test_decide_subscription_token_gets_nothing(
    policy: Policy, index: AccessIndex, action: ArtifactAction, owner: Principal
) -> None:
    bundle = on(index, "bundle-1", RT.RELEASE_BUNDLE)
    assert policy.decide(owner, action, bundle).allowed
    decision = policy.decide(subscription_token(owner), action, bundle)
    assert not decision.allowed and not decision.unauthenticated and not decision.grants
    assert "scoped to one subscription" in decision.reason


@pytest.mark.parametrize(
    "subject",
    [user(ALICE), user(ADMIN, TeamRole.ADMIN), GROUP_DEVS, ANONYMOUS_OF_ACME],
    ids=["user", "team-admin", "group", "anonymous"],
)
def test_decide_other_organizations_resource_is_denied(policy: Policy, subject: Principal) -> None:
    # R1: even when the other organization's index grants the same ids everything.
    other = AccessIndex(
        org_id=OTHER_ORG,
        version=1,
        manage_policy=EXCL,
        targets={
            1: target(
                1,
                "all",
                {RT.REPOSITORY: repos(inc=("**",))},
                {(USER, ALICE): EVERYTHING, (GROUP, DEVS): EVERYTHING, ANONYMOUS_KEY: R},
            )
        },
        groups_of_user={},
        group_names={DEVS: "developers"},
    )
    for action in A:
        decision = policy.decide(subject, action, on(other, "libs-core", org=OTHER_ORG))
        assert not decision.allowed and not decision.unauthenticated and not decision.grants


# --- R34: every grant that applies is listed ----------------------------------------------------


def test_decide_lists_exactly_the_grants_that_apply_across_targets(
    policy: Policy, index: AccessIndex
) -> None:
    # Dan, in `developers` and `ops`, asks READ on repository libs-release. Apply: libs (via
    # developers, via anonymous), releases (via ops, `**/*-release`), mirror (via developers,
    # and directly). Do not apply: not-releases (excludes `*-release`), builds (a BUILD of the
    # same name), erin (Erin's), docs (a build).
    decision = policy.decide(user(DAN), A.READ, on(index, "libs-release"))
    expected = [
        pt("libs", A.READ, "group developers"),
        pt("libs", A.READ, "anonymous"),
        pt("releases", A.READ, "group ops"),
        pt("mirror", A.READ, "group developers"),
        pt("mirror", A.READ, "user"),
    ]
    assert decision.allowed
    assert len(decision.grants) == len(expected)
    assert Counter(decision.grants) == Counter(expected)
    # The user's own grants come first, then their groups', then the anonymous user's.
    vias = [g.via for g in decision.grants]
    assert vias == sorted(vias, key=["user", "group developers", "group ops", "anonymous"].index)


def test_decide_lists_only_grants_holding_the_action(policy: Policy, index: AccessIndex) -> None:
    decision = policy.decide(user(DAN), A.WRITE, on(index, "libs-release"))
    assert decision.grants == (pt("releases", A.WRITE, "group ops"),)


# --- decide on a TargetResource: who edits a target's grants (R25) -----------------------------


def on_target(index: AccessIndex, target_id: int, org: int = ORG) -> TargetResource:
    return TargetResource(org, target_id, index)


def test_decide_edit_target_grants_allowed_to_a_direct_manage_holder(
    policy: Policy, index: AccessIndex
) -> None:
    decision = policy.decide(user(ALICE), Action.EDIT_TARGET_GRANTS, on_target(index, T_DOCS))
    assert decision.allowed and decision.scope == Scope.ALL
    assert [(g.source, g.name, g.permission) for g in decision.grants] == [
        ("PERMISSION_TARGET", "docs", "MANAGE")
    ]


def test_decide_edit_target_grants_allowed_to_a_manage_holder_through_a_group(
    policy: Policy, index: AccessIndex
) -> None:
    decision = policy.decide(user(DAN), Action.EDIT_TARGET_GRANTS, on_target(index, T_RELEASES))
    assert decision.allowed
    assert [(g.source, g.name, g.permission) for g in decision.grants] == [
        ("PERMISSION_TARGET", "releases", "MANAGE")
    ]


@pytest.mark.parametrize(
    ("who", "target_id"),
    [
        (ALICE, T_LIBS),  # READ and WRITE there, no MANAGE
        (ALICE, T_RELEASES),  # DELETE there
        (ALICE, T_ERIN),  # nothing there
        (BOB, T_LIBS),  # READ and ANNOTATE through developers
        (BOB, T_RELEASES),  # Dan's group `ops` holds MANAGE, Bob is not in it
        (DAN, T_DOCS),  # Alice holds MANAGE there, directly
        (CAROL, T_DOCS),  # anonymous READ only
        (ALICE, 999),  # no such target
    ],
)
def test_decide_edit_target_grants_denied_without_manage_on_that_target(
    policy: Policy, index: AccessIndex, who: int, target_id: int
) -> None:
    for action in (Action.EDIT_TARGET_GRANTS, Action.VIEW_PERMISSION_TARGETS):
        decision = policy.decide(user(who), action, on_target(index, target_id))
        assert not decision.allowed and not decision.grants, action


def test_decide_view_permission_targets_allowed_to_a_manage_holder(
    policy: Policy, index: AccessIndex
) -> None:
    assert policy.decide(
        user(ALICE), Action.VIEW_PERMISSION_TARGETS, on_target(index, T_DOCS)
    ).allowed
    assert policy.decide(
        user(DAN), Action.VIEW_PERMISSION_TARGETS, on_target(index, T_RELEASES)
    ).allowed


@pytest.mark.parametrize("target_id", [T_LIBS, T_RELEASES, T_DOCS, 999])
def test_decide_edit_target_grants_allowed_to_team_admin_on_any_target(
    policy: Policy, index: AccessIndex, target_id: int
) -> None:
    decision = policy.decide(
        user(ADMIN, TeamRole.ADMIN), Action.EDIT_TARGET_GRANTS, on_target(index, target_id)
    )
    assert decision.allowed
    assert Grant("TEAM_ROLE", "ADMIN", "MANAGE_TEAM_SETTINGS") in decision.grants


def test_decide_edit_target_grants_manage_holder_is_not_an_admin(
    policy: Policy, index: AccessIndex
) -> None:
    # MANAGE on a target lets one edit its grants, never what the target covers (R25).
    alice = user(ALICE)
    assert not policy.decide(alice, Action.MANAGE_ACCESS, on_target(index, T_DOCS)).allowed
    assert not policy.decide(alice, Action.EDIT_TARGET_GRANTS).allowed


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (read_only, "read-only"),
        (subscription_token, "scoped to one subscription"),
    ],
    ids=["read-only-token", "subscription-token"],
)
def test_decide_edit_target_grants_denied_to_a_capped_token(
    policy: Policy, index: AccessIndex, make: Callable[[Principal], Principal], reason: str
) -> None:
    for who, target_id in ((user(ALICE), T_DOCS), (user(ADMIN, TeamRole.ADMIN), T_LIBS)):
        token = make(who)
        decision = policy.decide(token, Action.EDIT_TARGET_GRANTS, on_target(index, target_id))
        assert not decision.allowed and reason in decision.reason


def test_decide_edit_target_grants_read_write_token_acts_as_its_owner(
    policy: Policy, index: AccessIndex
) -> None:
    token = read_write(user(ALICE))
    assert policy.decide(token, Action.EDIT_TARGET_GRANTS, on_target(index, T_DOCS)).allowed
    assert not policy.decide(token, Action.EDIT_TARGET_GRANTS, on_target(index, T_LIBS)).allowed


@pytest.mark.parametrize(
    "who", [user(ALICE), user(ADMIN, TeamRole.ADMIN)], ids=["manager", "admin"]
)
def test_decide_edit_target_grants_other_organizations_target_is_denied(
    policy: Policy, index: AccessIndex, who: Principal
) -> None:
    decision = policy.decide(who, Action.EDIT_TARGET_GRANTS, on_target(index, T_DOCS, OTHER_ORG))
    assert not decision.allowed and not decision.grants


def test_decide_edit_target_grants_needs_a_caller(policy: Policy, index: AccessIndex) -> None:
    # A group or the anonymous user is a checkAccess subject, never an editor.
    for subject in (GROUP_OPS, ANONYMOUS_OF_ACME, ANONYMOUS):
        decision = policy.decide(subject, Action.EDIT_TARGET_GRANTS, on_target(index, T_RELEASES))
        assert not decision.allowed and decision.unauthenticated


# --- a check's candidates (issue 8) -------------------------------------------------------------


def _walk_every_grant(
    index: AccessIndex, keys: list[PrincipalKey], resource_type: ResourceType, name: str
) -> list[tuple[int, PrincipalKey, int]]:
    """What `applied` answered before it had candidates: every target granted to each key."""
    return [
        (t.id, key, bits)
        for key in keys
        for t, bits in index.by_principal.get(key, ())
        if (matcher := t.resources.get(resource_type)) is not None and matcher.covers(name)
    ]


@pytest.mark.parametrize("seed", range(40))
def test_applied_equals_walking_every_grant(seed: int) -> None:
    rng = random.Random(seed)
    parts = ["libs", "app", "a", "b", "x.y", "team-1", "rel", "c+d", "@s", "~t"]

    def word() -> str:
        return rng.choice(parts) + rng.choice(["", "-", "/", "_"]) + rng.choice(parts)

    def pattern() -> str:
        base = word()
        cut = rng.randrange(len(base) + 1)
        wildcard = rng.choice(["*", "**", "?", "**/", "*-release", "**/*"])
        return base[:cut] + wildcard + rng.choice(["", base[cut:], word()])

    keys_pool: list[PrincipalKey] = [(USER, 1), (USER, 2), (GROUP, 10), (GROUP, 11), ANONYMOUS_KEY]
    targets = []
    for pk in range(1, 60):
        resources = {
            resource_type: repos(
                names=tuple(word() for _ in range(rng.randrange(3))),
                inc=tuple(pattern() for _ in range(rng.randrange(3))),
                exc=tuple(pattern() for _ in range(rng.randrange(2))),
            )
            for resource_type in rng.sample([RT.REPOSITORY, RT.BUILD, RT.RELEASE_BUNDLE], 2)
        }
        grants = {key: rng.randrange(1, 64) for key in rng.sample(keys_pool, rng.randrange(1, 4))}
        targets.append(target(1000 - pk, f"t{pk}", resources, grants))  # ids not in index order
    index = AccessIndex(
        org_id=ORG,
        version=1,
        manage_policy=EXCL,
        targets={t.id: t for t in targets},
        groups_of_user={1: frozenset({10, 11})},
        group_names={10: "g10", 11: "g11"},
    )
    names = [word() for _ in range(30)] + [
        n for t in targets for n in t.resources.get(RT.BUILD, repos()).names
    ]
    covered = 0
    for name in names:
        for resource_type in (RT.REPOSITORY, RT.BUILD, RT.RELEASE_BUNDLE, RT.DESTINATION):
            for keys in (index.keys_for(1, None), index.keys_for(2, None), [ANONYMOUS_KEY]):
                expected = _walk_every_grant(index, keys, resource_type, name)
                got = [
                    (a.target.id, a.via, a.actions)
                    for a in index.applied(keys, resource_type, name)
                ]
                assert got == expected, (name, resource_type, keys)
                covered += bool(expected)
    assert covered > 50  # the comparison saw many grants that apply, not only empty answers
