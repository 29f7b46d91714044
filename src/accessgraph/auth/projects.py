"""Global roles (R28): the five predefined project roles and their default rights.

How the defaults were chosen: from the seed's own example ("the Developer global role is
granted the Read and Write actions in the DEV and PROD environments") and the usual split of
duties in a release pipeline:

| role            | environments | actions                                   |
|-----------------|--------------|-------------------------------------------|
| PROJECT_ADMIN   | DEV, PROD    | READ, ANNOTATE, WRITE, DELETE, MANAGE     |
| DEVELOPER       | DEV, PROD    | READ, WRITE (the seed's example)          |
| CONTRIBUTOR     | DEV          | READ, ANNOTATE, WRITE                     |
| VIEWER          | DEV, PROD    | READ                                      |
| RELEASE_MANAGER | DEV, PROD    | READ, ANNOTATE, DISTRIBUTE                |

Contributors work in DEV only; release managers read everything and distribute (promote)
releases, but do not overwrite or delete. Admins change any role's environments and actions
(`updateGlobalRole`); every project sees the change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from accessgraph.auth.access import ArtifactAction, mask
from accessgraph.models.enums import Environment


class GlobalRole(StrEnum):
    PROJECT_ADMIN = "PROJECT_ADMIN"
    DEVELOPER = "DEVELOPER"
    CONTRIBUTOR = "CONTRIBUTOR"
    VIEWER = "VIEWER"
    RELEASE_MANAGER = "RELEASE_MANAGER"


@dataclass(frozen=True, slots=True)
class RoleRights:
    environments: frozenset[Environment]
    actions: int  # ArtifactAction bits, for every resource type


A = ArtifactAction
BOTH = frozenset(Environment)
GLOBAL_ROLE_DEFAULTS: Mapping[GlobalRole, RoleRights] = {
    GlobalRole.PROJECT_ADMIN: RoleRights(
        BOTH, mask([A.READ, A.ANNOTATE, A.WRITE, A.DELETE, A.MANAGE])
    ),
    GlobalRole.DEVELOPER: RoleRights(BOTH, mask([A.READ, A.WRITE])),
    GlobalRole.CONTRIBUTOR: RoleRights(
        frozenset({Environment.DEV}), mask([A.READ, A.ANNOTATE, A.WRITE])
    ),
    GlobalRole.VIEWER: RoleRights(BOTH, mask([A.READ])),
    GlobalRole.RELEASE_MANAGER: RoleRights(BOTH, mask([A.READ, A.ANNOTATE, A.DISTRIBUTE])),
}
