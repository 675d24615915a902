"""/api/v1/me: the member's own account (seed 004 envelope)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, File, UploadFile, status

from iwm.core.deps import ReadSessionDep, ResourcesDep, SessionDep
from iwm.core.errors import Unauthorized, ValidationFailed, error_responses
from iwm.core.images import InvalidImage
from iwm.core.resources import Resources
from iwm.core.schemas import Envelope, ok
from iwm.modules.accounts.errors import AvatarTooLarge, SessionNotFound
from iwm.modules.accounts.schemas import (
    AddressCreate,
    AddressRead,
    AddressUpdate,
    Deleted,
    Me,
    MeUpdate,
    SessionRead,
    SessionRevoked,
)
from iwm.modules.accounts.service import MeService, MySessions
from iwm.modules.users.deps import CurrentUser
from iwm.modules.users.errors import AddressNotFound

router = APIRouter(prefix="/api/v1/me", tags=["me"], responses=error_responses(Unauthorized))


async def me_service(session: SessionDep, resources: ResourcesDep) -> MeService:
    return MeService(session, resources)


async def me_reader(session: ReadSessionDep, resources: ResourcesDep) -> MeService:
    return MeService(session, resources)


MeServiceDep = Annotated[MeService, Depends(me_service)]
MeReaderDep = Annotated[MeService, Depends(me_reader)]


def _delete_after_commit(tasks: BackgroundTasks, resources: Resources, key: str | None) -> None:
    if key is not None:
        tasks.add_task(resources.storage.delete, [key])


@router.get("")
async def read_me(principal: CurrentUser, me: MeReaderDep) -> Envelope[Me]:
    """My account: contact data, profile, KYC state, partner profile."""
    return ok(await me.read(principal))


@router.patch("", responses=error_responses(ValidationFailed))
async def update_me(body: MeUpdate, principal: CurrentUser, me: MeServiceDep) -> Envelope[Me]:
    """Edit my phone and profile (names, date of birth, language, time zone)."""
    return ok(await me.update(principal, body))


@router.post("/avatar", responses=error_responses(ValidationFailed, InvalidImage, AvatarTooLarge))
async def upload_avatar(
    principal: CurrentUser,
    me: MeServiceDep,
    resources: ResourcesDep,
    tasks: BackgroundTasks,
    image: Annotated[UploadFile, File(description="JPEG or PNG photo")],
) -> Envelope[Me]:
    """Set my avatar (multipart `image`, JPEG or PNG)."""
    limit = resources.settings.max_upload_bytes
    data = await image.read(limit + 1)
    if len(data) > limit:
        raise AvatarTooLarge(details={"image": [f"at most {limit} bytes"]})
    if not data:
        raise InvalidImage(details={"image": ["the file is empty"]})
    view, previous = await me.set_avatar(principal, data)
    _delete_after_commit(tasks, resources, previous)
    return ok(view)


@router.delete("/avatar")
async def remove_avatar(
    principal: CurrentUser, me: MeServiceDep, resources: ResourcesDep, tasks: BackgroundTasks
) -> Envelope[Me]:
    """Remove my avatar."""
    view, previous = await me.remove_avatar(principal)
    _delete_after_commit(tasks, resources, previous)
    return ok(view)


@router.get("/addresses")
async def list_addresses(principal: CurrentUser, me: MeReaderDep) -> Envelope[list[AddressRead]]:
    """My addresses, the default first."""
    return ok(await me.addresses(principal))


@router.post(
    "/addresses",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(ValidationFailed),
)
async def add_address(
    body: AddressCreate, principal: CurrentUser, me: MeServiceDep
) -> Envelope[AddressRead]:
    """Add an address (the first one is the default)."""
    return ok(await me.save_address(principal, body.model_dump()))


@router.get("/addresses/{address_id}", responses=error_responses(AddressNotFound))
async def read_address(
    address_id: uuid.UUID, principal: CurrentUser, me: MeReaderDep
) -> Envelope[AddressRead]:
    """One of my addresses."""
    return ok(await me.address(principal, address_id))


@router.patch(
    "/addresses/{address_id}", responses=error_responses(ValidationFailed, AddressNotFound)
)
async def update_address(
    address_id: uuid.UUID, body: AddressUpdate, principal: CurrentUser, me: MeServiceDep
) -> Envelope[AddressRead]:
    """Edit one of my addresses; `isDefault: true` makes it the default."""
    values = body.model_dump(include=body.model_fields_set)
    return ok(await me.save_address(principal, values, address_id))


@router.delete("/addresses/{address_id}", responses=error_responses(AddressNotFound))
async def delete_address(
    address_id: uuid.UUID, principal: CurrentUser, me: MeServiceDep
) -> Envelope[Deleted]:
    """Delete one of my addresses (the oldest other one becomes the default)."""
    await me.delete_address(principal, address_id)
    return ok(Deleted(id=address_id))


@router.get("/sessions")
async def list_sessions(
    principal: CurrentUser, resources: ResourcesDep
) -> Envelope[list[SessionRead]]:
    """My signed-in sessions, newest first; `current` marks this one."""
    return ok(await MySessions(resources).list(principal))


@router.delete("/sessions/{session_id}", responses=error_responses(SessionNotFound))
async def revoke_session(
    session_id: uuid.UUID, principal: CurrentUser, resources: ResourcesDep
) -> Envelope[SessionRevoked]:
    """Sign one of my sessions out."""
    await MySessions(resources).revoke(principal, session_id)
    return ok(SessionRevoked(id=session_id))
