"""Admin user management: /api/v1/admin/users (seed 004)."""

import enum
import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Query

from iwm.core.deps import ReadSessionDep, ResourcesDep, SessionDep
from iwm.core.errors import Forbidden, RateLimited, Unauthorized, ValidationFailed, error_responses
from iwm.core.mail import Mailer, MailMessage
from iwm.core.pagination import Page
from iwm.core.principal import Role
from iwm.core.query import DateFrom, DateTo, SearchText
from iwm.core.schemas import Envelope, PaginationMeta, ok
from iwm.modules.admin.deps import AdminUser
from iwm.modules.admin.params import SortOrder, date_range
from iwm.modules.users.admin_service import UserAdminService
from iwm.modules.users.errors import (
    AlreadySuspended,
    CannotModifySuperAdmin,
    CannotSuspendAdmin,
    EmailAlreadyExists,
    NotSuspended,
    UserNotFound,
)
from iwm.modules.users.models import KycState, UserStatus
from iwm.modules.users.repository import UserFilters
from iwm.modules.users.schemas import (
    Activated,
    ActivateRequest,
    AdminUserDetail,
    AdminUsersList,
    Suspended,
    SuspendRequest,
    UserSortField,
    UserUpdate,
    UserUpdated,
)

router = APIRouter(
    prefix="/api/v1/admin/users",
    tags=["admin: users"],
    responses=error_responses(Unauthorized, Forbidden, RateLimited),
)


class StatusFilter(enum.StrEnum):
    PENDING_VERIFICATION = "PENDING_VERIFICATION"
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    BANNED = "BANNED"
    ALL = "ALL"


async def user_service(session: SessionDep, resources: ResourcesDep) -> UserAdminService:
    return UserAdminService(session, resources.sessions)


UserAdminServiceDep = Annotated[UserAdminService, Depends(user_service)]


async def user_reader(session: ReadSessionDep, resources: ResourcesDep) -> UserAdminService:
    return UserAdminService(session, resources.sessions)


# For the endpoints that only read (no transaction around their statements).
UserReaderDep = Annotated[UserAdminService, Depends(user_reader)]


async def user_filters(
    status: StatusFilter = StatusFilter.ALL,
    role: Role | None = None,
    kyc_status: Annotated[KycState | None, Query(alias="kycStatus")] = None,
    search: Annotated[SearchText | None, Query(min_length=1, max_length=100)] = None,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    sort_by: Annotated[UserSortField, Query(alias="sortBy")] = UserSortField.CREATED_AT,
    sort_order: Annotated[SortOrder, Query(alias="sortOrder")] = SortOrder.DESC,
) -> UserFilters:
    lower, upper = date_range(date_from, date_to)
    return UserFilters(
        status=None if status is StatusFilter.ALL else UserStatus(status.value),
        role=role,
        kyc_status=kyc_status.value if kyc_status else None,
        search=search.strip() or None if search else None,
        created_from=lower,
        created_before=upper,
        sort_by=sort_by,
        sort_order=sort_order,
    )


def _send_after_commit(tasks: BackgroundTasks, mailer: Mailer, mail: MailMessage | None) -> None:
    # Background tasks run after the response, i.e. after the request's commit.
    if mail is not None:
        tasks.add_task(mailer.send, mail)


@router.get("", responses=error_responses(ValidationFailed))
async def list_users(
    admin: AdminUser,
    users: UserReaderDep,
    page: Page,
    filters: Annotated[UserFilters, Depends(user_filters)],
) -> Envelope[AdminUsersList]:
    """Users, filtered, searched and sorted."""
    items, total = await users.list(filters, page.page, page.page_size)
    return ok(
        AdminUsersList(users=items),
        pagination=PaginationMeta.build(total, page.page, page.page_size),
    )


@router.get("/{user_id}", responses=error_responses(UserNotFound))
async def get_user(
    user_id: uuid.UUID, admin: AdminUser, users: UserReaderDep
) -> Envelope[AdminUserDetail]:
    """One user with KYC, partner profile, security facts, addresses and notes."""
    return ok(await users.detail(user_id))


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
