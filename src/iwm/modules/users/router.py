"""Admin user management: /api/v1/admin/users (seed 004): edit, suspend, reactivate (the
list and the detail are `admin_views`)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends

from iwm.core.deps import ResourcesDep, SessionDep
from iwm.core.errors import Forbidden, RateLimited, Unauthorized, ValidationFailed, error_responses
from iwm.core.mail import Mailer, MailMessage
from iwm.core.schemas import Envelope, ok
from iwm.modules.users.admin_service import UserAdminService
from iwm.modules.users.deps import AdminUser
from iwm.modules.users.errors import (
    AlreadySuspended,
    CannotModifySuperAdmin,
    CannotSuspendAdmin,
    EmailAlreadyExists,
    NotSuspended,
    UserNotFound,
)
from iwm.modules.users.schemas import (
    Activated,
    ActivateRequest,
    Suspended,
    SuspendRequest,
    UserUpdate,
    UserUpdated,
)

router = APIRouter(
    prefix="/api/v1/admin/users",
    tags=["admin: users"],
    responses=error_responses(Unauthorized, Forbidden, RateLimited),
)


async def user_service(session: SessionDep, resources: ResourcesDep) -> UserAdminService:
    return UserAdminService(session, resources.sessions)


UserAdminServiceDep = Annotated[UserAdminService, Depends(user_service)]


def _send_after_commit(tasks: BackgroundTasks, mailer: Mailer, mail: MailMessage | None) -> None:
    # Background tasks run after the response, i.e. after the request's commit.
    if mail is not None:
        tasks.add_task(mailer.send, mail)


@router.patch(
    "/{user_id}",
    responses=error_responses(
        ValidationFailed, CannotModifySuperAdmin, UserNotFound, EmailAlreadyExists
    ),
)
async def update_user(
    user_id: uuid.UUID, body: UserUpdate, admin: AdminUser, users: UserAdminServiceDep
) -> Envelope[UserUpdated]:
    """Edit a user's contact data, profile or roles (roles: SUPER_ADMIN), or add a note."""
    return ok((await users.update(admin, user_id, body)).body)


@router.post(
    "/{user_id}/suspend",
    responses=error_responses(ValidationFailed, CannotSuspendAdmin, UserNotFound, AlreadySuspended),
)
async def suspend_user(
    user_id: uuid.UUID,
    body: SuspendRequest,
    admin: AdminUser,
    users: UserAdminServiceDep,
    resources: ResourcesDep,
    tasks: BackgroundTasks,
) -> Envelope[Suspended]:
    """Suspend an account (for `duration` days, or until reactivated); ends its sessions."""
    outcome = await users.suspend(admin, user_id, body)
    _send_after_commit(tasks, resources.mail, outcome.mail)
    return ok(outcome.body)


@router.post(
    "/{user_id}/activate",
    responses=error_responses(CannotModifySuperAdmin, UserNotFound, NotSuspended),
)
async def activate_user(
    user_id: uuid.UUID,
    admin: AdminUser,
    users: UserAdminServiceDep,
    resources: ResourcesDep,
    tasks: BackgroundTasks,
    body: ActivateRequest | None = None,
) -> Envelope[Activated]:
    """Reactivate a suspended account."""
    outcome = await users.activate(admin, user_id, body or ActivateRequest())
    _send_after_commit(tasks, resources.mail, outcome.mail)
    return ok(outcome.body)
