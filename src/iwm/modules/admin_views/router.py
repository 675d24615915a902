"""The admin's cross-domain read views over HTTP: the users list and a user's detail
(/api/v1/admin/users), a partner's detail (/api/v1/admin/partners/{id}) and the audit log
(/api/v1/admin/audit-logs)."""

import enum
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from iwm.core.deps import ReadSessionDep, ResourcesDep, SessionDep
from iwm.core.errors import Forbidden, RateLimited, Unauthorized, ValidationFailed, error_responses
from iwm.core.listing import SortOrder
from iwm.core.pagination import Page
from iwm.core.principal import Role
from iwm.core.query import DateFrom, DateTo, SearchText
from iwm.core.schemas import Envelope, PaginationMeta, ok
from iwm.modules.admin.params import date_range
from iwm.modules.admin_views.repository import UserFilters
from iwm.modules.admin_views.service import AuditFilters, AuditViews, PartnerViews, UserViews
from iwm.modules.audit.schemas import AuditLogList
from iwm.modules.network.errors import PartnerNotFound
from iwm.modules.network.schemas import AdminPartnerDetail
from iwm.modules.users.deps import AdminUser, SuperAdminUser
from iwm.modules.users.errors import UserNotFound
from iwm.modules.users.models import KycState, UserStatus
from iwm.modules.users.schemas import AdminUserDetail, AdminUsersList, UserSortField

users_router = APIRouter(
    prefix="/api/v1/admin/users",
    tags=["admin: users"],
    responses=error_responses(Unauthorized, Forbidden, RateLimited),
)
partners_router = APIRouter(
    prefix="/api/v1/admin/partners",
    tags=["admin: partners"],
    responses=error_responses(Unauthorized, Forbidden, RateLimited),
)
audit_router = APIRouter(
    prefix="/api/v1/admin/audit-logs",
    tags=["admin: audit"],
    responses=error_responses(Unauthorized, Forbidden, RateLimited),
)


class StatusFilter(enum.StrEnum):
    PENDING_VERIFICATION = "PENDING_VERIFICATION"
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    BANNED = "BANNED"
    ALL = "ALL"


async def user_views(session: ReadSessionDep, resources: ResourcesDep) -> UserViews:
    return UserViews(session, resources.sessions, resources.storage)


# Reads only: no transaction around their statements.
UserViewsDep = Annotated[UserViews, Depends(user_views)]


async def partner_views(session: ReadSessionDep, resources: ResourcesDep) -> PartnerViews:
    return PartnerViews(session, resources.settings)


PartnerViewsDep = Annotated[PartnerViews, Depends(partner_views)]


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


@users_router.get("", responses=error_responses(ValidationFailed))
async def list_users(
    admin: AdminUser,
    users: UserViewsDep,
    page: Page,
    filters: Annotated[UserFilters, Depends(user_filters)],
) -> Envelope[AdminUsersList]:
    """Users, filtered, searched and sorted."""
    items, total = await users.list(filters, page.page, page.page_size)
    return ok(
        AdminUsersList(users=items),
        pagination=PaginationMeta.build(total, page.page, page.page_size),
    )


@users_router.get("/{user_id}", responses=error_responses(UserNotFound))
async def get_user(
    user_id: uuid.UUID, admin: AdminUser, users: UserViewsDep
) -> Envelope[AdminUserDetail]:
    """One user with KYC, partner profile, security facts, addresses and notes."""
    return ok(await users.detail(user_id))


@partners_router.get("/{partner_id}", responses=error_responses(PartnerNotFound))
async def get_partner(
    partner_id: uuid.UUID, admin: AdminUser, partners: PartnerViewsDep
) -> Envelope[AdminPartnerDetail]:
    """One partner with rank, sponsor, balances and network statistics."""
    return ok(await partners.detail(partner_id))


@audit_router.get("", responses=error_responses(ValidationFailed))
async def list_audit_logs(
    admin: SuperAdminUser,
    session: SessionDep,
    page: Page,
    admin_id: Annotated[uuid.UUID | None, Query(alias="adminId")] = None,
    entity_type: Annotated[str | None, Query(alias="entityType", max_length=32)] = None,
    entity_id: Annotated[str | None, Query(alias="entityId", max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    date_from: DateFrom = None,
    date_to: DateTo = None,
) -> Envelope[AuditLogList]:
    """Audit records, newest first."""
    lower, upper = date_range(date_from, date_to)
    filters = AuditFilters(
        admin_id=admin_id,
        entity_type=entity_type,
        entity_id=entity_id,
        action=action,
        created_from=lower,
        created_before=upper,
    )
    items, total = await AuditViews(session).list(filters, page.page, page.page_size)
    return ok(
        AuditLogList(logs=items), pagination=PaginationMeta.build(total, page.page, page.page_size)
    )
