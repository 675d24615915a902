"""Admin commissions: /api/v1/admin/commissions."""

import uuid
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from limits import RateLimitItemPerMinute

from iwm.core.amounts import AmountQuery
from iwm.core.deps import ReadSessionDep, ResourcesDep, SessionDep
from iwm.core.errors import RateLimited, ValidationFailed, error_responses
from iwm.core.listing import SortOrder
from iwm.core.money import from_minor, to_minor
from iwm.core.pagination import Page
from iwm.core.query import DateFrom, DateTo, SortOrderQuery
from iwm.core.schemas import Envelope, PaginationMeta, ok
from iwm.modules.admin.params import date_range
from iwm.modules.commissions.admin_service import (
    AdjustAction,
    CommissionFilters,
    CommissionListRow,
    CommissionService,
)
from iwm.modules.commissions.errors import CannotAdjust, CommissionNotFound
from iwm.modules.commissions.models import CommissionStatus, SourceType
from iwm.modules.commissions.schemas import (
    AdjustRequest,
    AdjustResponse,
    AdminCommission,
    AdminCommissionsPage,
    CommissionSummary,
    PartnerRef,
    SourcePartnerRef,
)
from iwm.modules.users.deps import AdminUser

router = APIRouter(prefix="/api/v1/admin/commissions", tags=["admin: commissions"])

StatusFilter = Literal["PENDING", "APPROVED", "PAID", "HELD", "REVERSED", "ALL"]


def _read(r: CommissionListRow) -> AdminCommission:
    c = r.commission
    return AdminCommission(
        id=c.id,
        partner=PartnerRef(id=c.partner_id, name=r.partner_name, referral_code=r.referral_code),
        source_type=c.source_type,
        source_id=c.source_id,
        source_partner=(
            SourcePartnerRef(id=c.source_partner_id, name=r.source_partner_name or "")
            if c.source_partner_id is not None
            else None
        ),
        level_depth=c.level_depth,
        gross_amount=from_minor(c.gross_minor),
        net_amount=from_minor(c.net_minor),
        career_points=c.career_points,
        currency=c.currency,
        status=c.status,
        period_id=c.period_id,
        processed_at=c.processed_at,
        approved_by=r.approved_by_name,
        created_at=c.created_at,
    )


@router.get("")
async def list_commissions(
    admin: AdminUser,
    session: ReadSessionDep,
    resources: ResourcesDep,
    page: Page,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    status: Annotated[StatusFilter | None, Query()] = None,
    source_type: Annotated[SourceType | None, Query(alias="sourceType")] = None,
    partner_id: Annotated[uuid.UUID | None, Query(alias="partnerId")] = None,
    min_amount: Annotated[AmountQuery | None, Query(alias="minAmount")] = None,
    sort_by: Annotated[
        Literal["createdAt", "amount", "status"], Query(alias="sortBy")
    ] = "createdAt",
    sort_order: SortOrderQuery = SortOrder.DESC,
) -> Envelope[AdminCommissionsPage]:
    """Commissions with a summary of net amounts by status."""
    lower, upper = date_range(date_from, date_to)
    filters = CommissionFilters(
        status=None if status in (None, "ALL") else CommissionStatus(status),
        source_type=source_type,
        partner_id=partner_id,
        date_from=lower,
        date_to=upper,
        min_amount_minor=None if min_amount is None else to_minor(min_amount),
        sort_by=sort_by,
        sort_order=sort_order,
    )
    rows, total, sums = await CommissionService(session, resources.settings).list_page(
        filters, page.page, page.page_size
    )

    def total_of(*statuses: CommissionStatus) -> Decimal:
        return from_minor(sum(sums.get(s.value, 0) for s in statuses))

    summary = CommissionSummary(
        total_pending=total_of(CommissionStatus.PENDING, CommissionStatus.HELD),
        total_approved=total_of(CommissionStatus.APPROVED),
        total_paid=total_of(CommissionStatus.PAID),
        total_reversed=total_of(CommissionStatus.REVERSED),
    )
    return ok(
        AdminCommissionsPage(commissions=[_read(r) for r in rows], summary=summary),
        pagination=PaginationMeta.build(total, page.page, page.page_size),
    )


@router.post(
    "/{commission_id}/adjust",
    responses=error_responses(CommissionNotFound, CannotAdjust, ValidationFailed, RateLimited),
)
async def adjust_commission(
    commission_id: uuid.UUID,
    body: AdjustRequest,
    admin: AdminUser,
    session: SessionDep,
    resources: ResourcesDep,
) -> Envelope[AdjustResponse]:
    """Approve, hold, reverse or change the amount of a commission (10/min per admin)."""
    rule = RateLimitItemPerMinute(resources.settings.commission_adjust_limit_per_minute)
    await resources.limiter.hit(rule, "admin-commission-adjust", str(admin.user_id))
    result = await CommissionService(session, resources.settings).adjust(
        admin,
        commission_id,
        AdjustAction(body.action),
        body.reason,
        None if body.new_amount is None else to_minor(body.new_amount),
    )
    row = result.commission
    assert row.adjusted_at is not None  # noqa: S101
    return ok(
        AdjustResponse(
            id=row.id,
            previous_status=result.previous_status,
            new_status=row.status,
            previous_amount=(
                None if result.previous_amount is None else from_minor(result.previous_amount)
            ),
            new_amount=None if result.new_amount is None else from_minor(result.new_amount),
            adjusted_at=row.adjusted_at,
            adjusted_by=admin.display_name,
            reason=body.reason.strip(),
        )
    )
