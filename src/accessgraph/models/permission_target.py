"""Resources and permission targets (R24-R26).

A permission target names resources per type (explicit names plus include and exclude
patterns) and grants actions to users, groups and the anonymous user. Actions are stored as a
bit mask (accessgraph.auth.access.ArtifactAction), so a check is integer arithmetic.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from accessgraph.models.base import UTCDateTime, enum_column
from accessgraph.models.enums import Environment, PrincipalType, ResourceType

RESOURCE_NAME_MAX = 200
TARGET_NAME_MAX = 100


class Resource(SQLModel, table=True):
    """A registered resource (a repository, build, release bundle or destination)."""

    __tablename__ = "resources"
    __table_args__ = (
        UniqueConstraint("org_id", "type", "name", name="uq_resources_org_type_name"),
        Index("ix_resources_org_id_id", "org_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organizations.id")
    type: ResourceType = Field(sa_type=enum_column(ResourceType))
    name: str = Field(max_length=RESOURCE_NAME_MAX)
    environment: Environment | None = Field(default=None, sa_type=enum_column(Environment))
    # The project holding it (R27), whose roles apply to it in its environment.
    project_id: int | None = Field(default=None, foreign_key="projects.id", index=True)
    created_at: datetime = Field(sa_type=UTCDateTime)


class PermissionTarget(SQLModel, table=True):
    __tablename__ = "permission_targets"
    __table_args__ = (
        UniqueConstraint("org_id", "name_normalized", name="uq_permission_targets_org_name"),
        Index("ix_permission_targets_org_id_id", "org_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organizations.id")
    name: str = Field(max_length=TARGET_NAME_MAX)
    name_normalized: str = Field(max_length=TARGET_NAME_MAX)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class TargetResourceSet(SQLModel, table=True):
    """The resources of one type a target covers: (names or includes) and not excludes."""

    __tablename__ = "target_resource_sets"
    __table_args__ = (UniqueConstraint("target_id", "type", name="uq_target_resource_sets"),)

    id: int | None = Field(default=None, primary_key=True)
    target_id: int = Field(foreign_key="permission_targets.id", index=True)
    type: ResourceType = Field(sa_type=enum_column(ResourceType))
    names: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    include_patterns: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    exclude_patterns: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )


class TargetGrant(SQLModel, table=True):
    """Actions one principal holds on a target's resources."""

    __tablename__ = "target_grants"
    __table_args__ = (
        UniqueConstraint(
            "target_id", "principal_type", "principal_id", name="uq_target_grants_principal"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    target_id: int = Field(foreign_key="permission_targets.id", index=True)
    principal_type: PrincipalType = Field(sa_type=enum_column(PrincipalType))
    # A user's or group's id; 0 for the anonymous user (no foreign key: it names either).
    principal_id: int
    actions: int  # bit mask of ArtifactAction
