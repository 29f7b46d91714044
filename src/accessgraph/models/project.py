"""Projects (R27) and the organization's settings of the global roles (R28).

The five global roles are defined in code (accessgraph.auth.projects.GLOBAL_ROLE_DEFAULTS), so
they exist in every organization from the start and can be neither added nor removed; a
`GlobalRoleSetting` row holds an admin's edit of one of them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from accessgraph.models.base import UTCDateTime, enum_column
from accessgraph.models.enums import PrincipalType

PROJECT_KEY_MAX = 32
PROJECT_NAME_MAX = 100
ROLE_NAME_MAX = 64


class Project(SQLModel, table=True):
    __tablename__ = "projects"
    __table_args__ = (
        UniqueConstraint("org_id", "key", name="uq_projects_org_key"),
        Index("ix_projects_org_id_id", "org_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organizations.id")
    key: str = Field(max_length=PROJECT_KEY_MAX)
    name: str = Field(max_length=PROJECT_NAME_MAX)
    created_at: datetime = Field(sa_type=UTCDateTime)


class GlobalRoleSetting(SQLModel, table=True):
    """An admin's environments and actions for one global role of the organization."""

    __tablename__ = "global_role_settings"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_global_role_settings"),)

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organizations.id")
    name: str = Field(max_length=40)
    environments: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    actions: int  # bit mask of ArtifactAction, for every resource type (basic mode)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class ProjectGlobalRole(SQLModel, table=True):
    """A Project Admin's adjustment of one global role for their project (R28): it replaces the
    organization's setting of that role in this project only."""

    __tablename__ = "project_global_roles"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_project_global_roles"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id", index=True)
    name: str = Field(max_length=40)
    environments: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    actions: int  # bit mask of ArtifactAction, for every resource type (basic mode)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class ProjectRole(SQLModel, table=True):
    """A custom role of one project (R29): environments, and either basic actions (one set for
    every resource type) or advanced actions per resource type."""

    __tablename__ = "project_roles"
    __table_args__ = (
        UniqueConstraint("project_id", "name_normalized", name="uq_project_roles_name"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id", index=True)
    name: str = Field(max_length=ROLE_NAME_MAX)
    name_normalized: str = Field(max_length=ROLE_NAME_MAX)
    environments: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    advanced: bool = False
    basic_actions: int = 0  # ArtifactAction bits, when not advanced
    # resource type -> ArtifactAction bits, when advanced
    advanced_actions: dict[str, int] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class ProjectMember(SQLModel, table=True):
    """A user or group that holds roles in a project (R30)."""

    __tablename__ = "project_members"
    __table_args__ = (
        UniqueConstraint(
            "project_id", "principal_type", "principal_id", name="uq_project_members_principal"
        ),
        Index("ix_project_members_principal", "principal_type", "principal_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id", index=True)
    principal_type: PrincipalType = Field(sa_type=enum_column(PrincipalType))
    principal_id: int  # a user's or a group's id
    # The member's roles: global role names, and project role ids of this project.
    global_roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    project_role_ids: list[int] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    created_at: datetime = Field(sa_type=UTCDateTime)
