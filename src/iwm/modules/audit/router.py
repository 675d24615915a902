"""The audit trail of admin mutations: /api/v1/admin/audit-logs (SUPER_ADMIN only)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from iwm.core.deps import SessionDep
from iwm.core.errors import Forbidden, RateLimited, Unauthorized, ValidationFailed, error_responses
from iwm.core.pagination import Page
from iwm.core.query import DateFrom, DateTo
from iwm.core.schemas import Envelope, PaginationMeta, ok
from iwm.modules.admin.deps import SuperAdminUser
from iwm.modules.admin.params import date_range
from iwm.modules.audit.schemas import AuditLogList
from iwm.modules.audit.service import AuditFilters, AuditService

router = APIRouter(
    prefix="/api/v1/admin/audit-logs",
    tags=["admin: audit"],
    responses=error_responses(Unauthorized, Forbidden, RateLimited),
)


@router.get("", responses=error_responses(ValidationFailed))
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
    items, total = await AuditService(session).list(filters, page.page, page.page_size)
    return ok(
        AuditLogList(logs=items), pagination=PaginationMeta.build(total, page.page, page.page_size)
    )
