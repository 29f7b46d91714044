"""IoT devices of a project (R31, R32): device groups, devices and each device's log.

A project's devices are seen by whoever sees the project (its members, admins). Everything
else checks exactly one device permission, decided by the policy on an `ArtifactResource` of
type DEVICE: held by admins and by project roles (advanced mode), each role only in its
environments. A device's own operations are decided in the device's environment; project-wide
ones (device groups) need the permission in at least one environment of the project.

Every operation is checked twice, like the project administration: by the field's `@requires`
directive before the resolver runs (`locate_*` below find its resource), and again inside the
write transaction on the actor as of now, so a role removed meanwhile is already respected.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import and_, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from accessgraph.auth.access import AccessIndex
from accessgraph.auth.policy import Action, ArtifactResource, ProjectResource, require
from accessgraph.auth.principal import Principal
from accessgraph.errors import Rejected
from accessgraph.models import (
    Device,
    DeviceEvent,
    DeviceEventKind,
    DeviceGroup,
    Environment,
    Project,
    ResourceType,
)
from accessgraph.models.device import (
    DEVICE_DESCRIPTION_MAX,
    DEVICE_EVENT_MESSAGE_MAX,
    DEVICE_LOCATION_MAX,
    DEVICE_NAME_MAX,
)
from accessgraph.resolvers import audit
from accessgraph.resolvers.actors import refreshed
from accessgraph.resolvers.groups import clean_label
from accessgraph.resolvers.pagination import Page, PageArgs, fetch_page
from accessgraph.resolvers.projects import load_project
from accessgraph.resolvers.validation import clean_text
from accessgraph.services import Services

ProjectRow = TypeVar("ProjectRow", bound=SQLModel)

# --- where a check is decided -------------------------------------------------------------------


def device_resource(
    index: AccessIndex, project: Project, environment: Environment | None, name: str | None = None
) -> ArtifactResource:
    """The policy's view of a device (`environment` given) or of the project's devices as a
    whole (`environment` None: a permission held in any environment of the project)."""
    return ArtifactResource(
        project.org_id,
        ResourceType.DEVICE,
        name,
        index,
        environment,
        project.key,
        any_environment=environment is None,
    )


async def _index(services: Services, org_id: int) -> AccessIndex:
    return await services.access_indexes.current(services.db, org_id)


def _sees(services: Services, principal: Principal, project: Project, index: AccessIndex) -> bool:
    assert project.id is not None
    resource = ProjectResource(project.org_id, project.id, index)
    return services.policy.decide(principal, Action.VIEW_PROJECT, resource).allowed


async def visible_project(services: Services, principal: Principal, key: str) -> Project | None:
    """The project named `key` if the caller may see it (else None: it does not exist)."""
    if principal.org_id is None:
        return None
    async with services.db.session() as session:
        project = await session.scalar(
            select(Project).where(
                col(Project.org_id) == principal.org_id,
                col(Project.key) == key.strip().lower(),
            )
        )
    if project is None or not _sees(
        services, principal, project, await _index(services, principal.org_id)
    ):
        return None
    return project


async def locate_in_project(
    services: Services, principal: Principal, key: str, environment: Environment | None
) -> ArtifactResource | None:
    project = await visible_project(services, principal, key)
    if project is None:
        return None
    return device_resource(await _index(services, project.org_id), project, environment)


async def _in_organization(
    session: AsyncSession, org_id: int, model: type[ProjectRow], pk: int
) -> tuple[ProjectRow, Project] | None:
    """A row of one of the organization's projects (a device, a group, an update, a command),
    with its project; other organizations' rows are not found (R1)."""
    table: Any = model
    found = (
        await session.execute(
            select(model, Project)
            .join(Project, col(Project.id) == table.project_id)
            .where(table.id == pk, col(Project.org_id) == org_id)
        )
    ).first()
    return (found[0], found[1]) if found is not None else None


async def visible_in_project(
    services: Services, principal: Principal, model: type[ProjectRow], pk: int
) -> tuple[ProjectRow, Project] | None:
    """A row of a project the caller sees, with its project; else None."""
    if principal.org_id is None:
        return None
    async with services.db.session() as session:
        found = await _in_organization(session, principal.org_id, model, pk)
    if found is None or not _sees(
        services, principal, found[1], await _index(services, principal.org_id)
    ):
        return None
    return found


async def locate_device(
    services: Services, principal: Principal, device_id: int
) -> ArtifactResource | None:
    found = await visible_in_project(services, principal, Device, device_id)
    if found is None:
        return None
    device, project = found
    index = await _index(services, project.org_id)
    return device_resource(index, project, device.environment, device.name)


async def locate_group(
    services: Services, principal: Principal, group_id: int
) -> ArtifactResource | None:
    found = await visible_in_project(services, principal, DeviceGroup, group_id)
    if found is None:
        return None
    _, project = found
    return device_resource(await _index(services, project.org_id), project, None)


async def authorize(
    services: Services,
    session: AsyncSession,
    principal: Principal,
    action: Action,
    project: Project,
    environment: Environment | None,
    field: str,
    name: str | None = None,
) -> Principal:
    """Within the write: the actor as of now may see the project (else NOT_FOUND at `field`)
    and holds `action` there (else FORBIDDEN)."""
    actor = await refreshed(session, principal)
    index = await _index(services, project.org_id)
    if not _sees(services, actor, project, index):
        raise Rejected("NOT_FOUND", "No such project.", [field])
    require(services.policy, actor, action, device_resource(index, project, environment, name))
    return actor


# --- input ------------------------------------------------------------------------------------


def clean_device_name(raw: str) -> str:
    return clean_label(raw, "name", DEVICE_NAME_MAX)


def _clean_description(raw: str | None) -> str | None:
    return clean_text(raw, "description", DEVICE_DESCRIPTION_MAX, "INVALID_DESCRIPTION")


def _clean_location(raw: str | None) -> str | None:
    return clean_text(raw, "location", DEVICE_LOCATION_MAX, "INVALID_LOCATION")


def name_taken(kind: str, name: str) -> Rejected:
    return Rejected(
        f"{kind}_NAME_TAKEN", f"The project has a {kind.lower()} named {name!r}.", ["name"]
    )


async def _refuse_taken(
    session: AsyncSession,
    model: type[Device] | type[DeviceGroup],
    project_id: int,
    name: str,
    exclude_id: int | None = None,
) -> None:
    where = [col(model.project_id) == project_id, col(model.name_normalized) == name.casefold()]
    if exclude_id is not None:
        where.append(col(model.id) != exclude_id)
    if await session.scalar(select(func.count()).select_from(model).where(*where)):
        raise name_taken("DEVICE" if model is Device else "GROUP", name)


async def _group_of_project(
    session: AsyncSession, project: Project, group_id: int | None, field: str = "groupId"
) -> DeviceGroup | None:
    """The device group `group_id` of this project, or NOT_FOUND (another project's group
    included: it is not this project's to use)."""
    if group_id is None:
        return None
    group = await session.get(DeviceGroup, group_id)
    if group is None or group.project_id != project.id:
        raise Rejected("NOT_FOUND", "No such device group in this project.", [field])
    return group


def _snapshot(device: Device, group: DeviceGroup | None) -> dict[str, object]:
    return {
        "name": device.name,
        "group": group.name if group is not None else None,
        "description": device.description,
        "location": device.location,
        "environment": device.environment.value,
    }


def device_event(
    device: Device, actor: Principal, kind: DeviceEventKind, message: str, now: datetime
) -> DeviceEvent:
    assert device.id is not None
    return DeviceEvent(
        device_id=device.id,
        kind=kind,
        message=message[:DEVICE_EVENT_MESSAGE_MAX],
        actor_id=actor.user_id,
        created_at=now,
    )


# --- device groups (MANAGE_DEVICE_GROUPS) ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeviceGroupInput:
    name: str | None = None
    description: str | None = None
    given: frozenset[str] = frozenset()  # what an update sets; the rest keeps its value


async def create_device_group(
    services: Services, principal: Principal, key: str, name: str, description: str | None
) -> DeviceGroup:
    assert principal.org_id is not None
    clean = clean_device_name(name)
    text = _clean_description(description)
    now = services.clock.now()
    try:
        async with services.db.write() as session:
            project = await load_project(session, principal.org_id, key)
            await authorize(
                services,
                session,
                principal,
                Action.MANAGE_DEVICE_GROUPS,
                project,
                None,
                "projectKey",
            )
            assert project.id is not None
            await _refuse_taken(session, DeviceGroup, project.id, clean)
            group = DeviceGroup(
                project_id=project.id,
                name=clean,
                name_normalized=clean.casefold(),
                description=text,
                created_at=now,
                updated_at=now,
            )
            session.add(group)
            await session.flush()
            audit.record(
                session,
                principal,
                "device_group.create",
                org_id=principal.org_id,
                now=now,
                target=group,
                target_label=f"{project.key}/{clean}",
                after={"name": clean, "description": text},
            )
    except IntegrityError:  # a concurrent create won the unique index
        raise name_taken("GROUP", clean) from None
    return group


async def update_device_group(
    services: Services, principal: Principal, group_id: int, data: DeviceGroupInput
) -> DeviceGroup:
    assert principal.org_id is not None
    clean = clean_device_name(data.name or "") if "name" in data.given else None
    text = _clean_description(data.description)
    now = services.clock.now()
    try:
        async with services.db.write() as session:
            group, project = await _load_group(session, principal, group_id)
            await authorize(
                services, session, principal, Action.MANAGE_DEVICE_GROUPS, project, None, "groupId"
            )
            before = {"name": group.name, "description": group.description}
            if clean is not None:
                await _refuse_taken(session, DeviceGroup, project.id or 0, clean, group.id)
                group.name, group.name_normalized = clean, clean.casefold()
            if "description" in data.given:
                group.description = text
            group.updated_at = now
            session.add(group)
            await session.flush()
            audit.record(
                session,
                principal,
                "device_group.update",
                org_id=principal.org_id,
                now=now,
                target=group,
                target_label=f"{project.key}/{group.name}",
                before=before,
                after={"name": group.name, "description": group.description},
            )
    except IntegrityError:
        raise name_taken("GROUP", clean or "") from None
    return group


async def delete_device_group(services: Services, principal: Principal, group_id: int) -> int:
    """Only an empty group is deleted: its devices must be moved or deleted first, so no
    device loses its group unnoticed."""
    assert principal.org_id is not None
    now = services.clock.now()
    async with services.db.write() as session:
        group, project = await _load_group(session, principal, group_id)
        await authorize(
            services, session, principal, Action.MANAGE_DEVICE_GROUPS, project, None, "groupId"
        )
        held = await session.scalar(
            select(func.count()).select_from(Device).where(col(Device.group_id) == group_id)
        )
        if held:
            raise Rejected(
                "GROUP_NOT_EMPTY",
                f"The group holds {held} device(s): move or delete them first.",
                ["groupId"],
            )
        audit.record(
            session,
            principal,
            "device_group.delete",
            org_id=principal.org_id,
            now=now,
            target=group,
            target_label=f"{project.key}/{group.name}",
            before={"name": group.name, "description": group.description},
        )
        await session.delete(group)
    return group_id


async def _load_group(
    session: AsyncSession, principal: Principal, group_id: int
) -> tuple[DeviceGroup, Project]:
    assert principal.org_id is not None
    found = await _in_organization(session, principal.org_id, DeviceGroup, group_id)
    if found is None:
        raise Rejected("NOT_FOUND", "No such device group.", ["groupId"])
    return found


# --- devices ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeviceInput:
    name: str | None = None
    group_id: int | None = None
    description: str | None = None
    location: str | None = None
    given: frozenset[str] = frozenset()  # what an update sets; the rest keeps its value


async def register_device(
    services: Services,
    principal: Principal,
    key: str,
    environment: Environment,
    data: DeviceInput,
) -> Device:
    """REGISTER_DEVICES in the device's environment (R32)."""
    assert principal.org_id is not None
    name = clean_device_name(data.name or "")
    description = _clean_description(data.description)
    location = _clean_location(data.location)
    now = services.clock.now()
    try:
        async with services.db.write() as session:
            project = await load_project(session, principal.org_id, key)
            actor = await authorize(
                services,
                session,
                principal,
                Action.REGISTER_DEVICES,
                project,
                environment,
                "projectKey",
                name,
            )
            assert project.id is not None
            group = await _group_of_project(session, project, data.group_id)
            await _refuse_taken(session, Device, project.id, name)
            device = Device(
                project_id=project.id,
                group_id=group.id if group is not None else None,
                name=name,
                name_normalized=name.casefold(),
                description=description,
                location=location,
                environment=environment,
                registered_by_id=actor.user_id,
                registered_at=now,
                updated_at=now,
            )
            session.add(device)
            await session.flush()
            session.add(
                device_event(
                    device, actor, DeviceEventKind.REGISTERED, f"Registered by {actor.label}.", now
                )
            )
            audit.record(
                session,
                principal,
                "device.register",
                org_id=principal.org_id,
                now=now,
                target=device,
                target_label=f"{project.key}/{name}",
                after=_snapshot(device, group),
            )
    except IntegrityError:
        raise name_taken("DEVICE", name) from None
    return device


async def load_device(
    session: AsyncSession, principal: Principal, device_id: int
) -> tuple[Device, Project]:
    assert principal.org_id is not None
    found = await _in_organization(session, principal.org_id, Device, device_id)
    if found is None:
        raise Rejected("NOT_FOUND", "No such device.", ["deviceId"])
    return found


async def update_device(
    services: Services, principal: Principal, device_id: int, data: DeviceInput
) -> Device:
    """MODIFY_DEVICES in the device's environment: name, group, description, location."""
    assert principal.org_id is not None
    name = clean_device_name(data.name or "") if "name" in data.given else None
    description = _clean_description(data.description)
    location = _clean_location(data.location)
    now = services.clock.now()
    try:
        async with services.db.write() as session:
            device, project = await load_device(session, principal, device_id)
            actor = await authorize(
                services,
                session,
                principal,
                Action.MODIFY_DEVICES,
                project,
                device.environment,
                "deviceId",
                device.name,
            )
            assert project.id is not None
            old_group = await _group_of_project(session, project, device.group_id)
            before = _snapshot(device, old_group)
            group = old_group
            if "group_id" in data.given:
                group = await _group_of_project(session, project, data.group_id)
                device.group_id = group.id if group is not None else None
            if name is not None:
                await _refuse_taken(session, Device, project.id, name, device.id)
                device.name, device.name_normalized = name, name.casefold()
            if "description" in data.given:
                device.description = description
            if "location" in data.given:
                device.location = location
            after = _snapshot(device, group)
            changed = sorted(k for k in after if after[k] != before[k])
            if changed:
                device.updated_at = now
                session.add(device)
                session.add(
                    device_event(
                        device,
                        actor,
                        DeviceEventKind.MODIFIED,
                        f"{actor.label} changed {', '.join(changed)}.",
                        now,
                    )
                )
                audit.record(
                    session,
                    principal,
                    "device.update",
                    org_id=principal.org_id,
                    now=now,
                    target=device,
                    target_label=f"{project.key}/{device.name}",
                    before=before,
                    after=after,
                )
            await session.flush()
    except IntegrityError:
        raise name_taken("DEVICE", name or "") from None
    return device


async def delete_device(services: Services, principal: Principal, device_id: int) -> int:
    """MODIFY_DEVICES: the device and its log go; the audit log keeps the record."""
    assert principal.org_id is not None
    now = services.clock.now()
    async with services.db.write() as session:
        device, project = await load_device(session, principal, device_id)
        await authorize(
            services,
            session,
            principal,
            Action.MODIFY_DEVICES,
            project,
            device.environment,
            "deviceId",
            device.name,
        )
        group = await _group_of_project(session, project, device.group_id)
        audit.record(
            session,
            principal,
            "device.delete",
            org_id=principal.org_id,
            now=now,
            target=device,
            target_label=f"{project.key}/{device.name}",
            before=_snapshot(device, group),
        )
        await session.execute(delete(DeviceEvent).where(col(DeviceEvent.device_id) == device_id))
        await session.delete(device)
    return device_id


# Finds what a device operation acts with (an update, a command) in the device's project and
# says what happened: (log message, audit details). Raises Rejected for bad input.
Prepare = Callable[[AsyncSession, Project], Awaitable[tuple[str, dict[str, object]]]]


async def act_on_device(
    services: Services,
    principal: Principal,
    device_id: int,
    action: Action,
    kind: DeviceEventKind,
    prepare: Prepare,
) -> DeviceEvent:
    """An operation on one device that the device's log and the audit log record (a remote
    session, an update deployment, a command run): `action` in the device's environment."""
    assert principal.org_id is not None
    now = services.clock.now()
    async with services.db.write() as session:
        device, project = await load_device(session, principal, device_id)
        actor = await authorize(
            services,
            session,
            principal,
            action,
            project,
            device.environment,
            "deviceId",
            device.name,
        )
        message, details = await prepare(session, project)
        event = device_event(device, actor, kind, f"{message} by {actor.label}.", now)
        session.add(event)
        audit.record(
            session,
            principal,
            f"device.{kind.value.lower()}",
            org_id=principal.org_id,
            now=now,
            target=device,
            target_label=f"{project.key}/{device.name}",
            after=details,
        )
        await session.flush()
    return event


async def start_remote_session(
    services: Services, principal: Principal, device_id: int, reason: str | None
) -> DeviceEvent:
    """REMOTE_CONTROL: records who opened a session, when and why."""
    why = clean_text(reason, "reason", 200, "INVALID_REASON")

    async def prepare(session: AsyncSession, project: Project) -> tuple[str, dict[str, object]]:
        return ("Remote session" + (f" ({why})" if why else "") + " opened"), {"reason": why}

    return await act_on_device(
        services,
        principal,
        device_id,
        Action.REMOTE_CONTROL,
        DeviceEventKind.REMOTE_SESSION,
        prepare,
    )


# --- reads ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeviceFilter:
    group_id: int | None = None
    search: str | None = None


async def list_devices(
    services: Services, project_id: int, device_filter: DeviceFilter, args: PageArgs
) -> Page[Device]:
    """A project's devices by registration order, optionally of one group or whose name
    contains `search` (case-insensitive). The caller has been checked to see the project."""
    where = col(Device.project_id) == project_id
    if device_filter.group_id is not None:
        where = and_(where, col(Device.group_id) == device_filter.group_id)
    if device_filter.search and device_filter.search.strip():
        needle = " ".join(device_filter.search.split()).casefold()
        where = and_(where, col(Device.name_normalized).contains(needle, autoescape=True))
    return await fetch_page(services.db, Device, where, args)


async def list_device_events(
    services: Services, device_id: int, args: PageArgs
) -> Page[DeviceEvent]:
    """A device's log, newest first."""
    where = col(DeviceEvent.device_id) == device_id
    return await fetch_page(services.db, DeviceEvent, where, args, newest_first=True)


async def groups_of_projects(
    services: Services, project_ids: Sequence[int]
) -> dict[int, list[DeviceGroup]]:
    stmt = (
        select(DeviceGroup)
        .where(col(DeviceGroup.project_id).in_(project_ids))
        .order_by(col(DeviceGroup.name_normalized))
    )
    found: dict[int, list[DeviceGroup]] = {pk: [] for pk in project_ids}
    async with services.db.session() as session:
        for group in (await session.execute(stmt)).scalars():
            found[group.project_id].append(group)
    return found
