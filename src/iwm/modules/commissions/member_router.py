"""A partner's own commissions: /api/v1/me/commissions (SPEC §8)."""

from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from iwm.core.amounts import AmountQuery
from iwm.core.deps import ReadSessionDep, ResourcesDep
from iwm.core.errors import RateLimited, Unauthorized, ValidationFailed, error_responses
from iwm.core.listing import SortOrder
from iwm.core.money import from_minor, to_minor
from iwm.core.pagination import Page
from iwm.core.query import DateFrom, DateTo, SortOrderQuery
from iwm.core.schemas import Envelope, PaginationMeta, ok
from iwm.modules.admin.params import date_range
from iwm.modules.commissions.admin_service import (
    CommissionFilters,
    CommissionListRow,
    CommissionService,
)
from iwm.modules.commissions.models import CommissionStatus, SourceType
from iwm.modules.commissions.schemas import (
    CommissionSummary,
    MemberCommission,
    MemberCommissionsPage,
    SourcePartnerRef,
)
from iwm.modules.network.errors import PartnerNotFound
from iwm.modules.network.service import NetworkService
from iwm.modules.users.deps import CurrentUser

router = APIRouter(
    prefix="/api/v1/me/commissions",
    tags=["member: partner programme"],
    responses=error_responses(Unauthorized, RateLimited),
)

StatusFilter = Literal["PENDING", "APPROVED", "PAID", "HELD", "REVERSED", "ALL"]


def _source_name(r: CommissionListRow) -> str:
    """The source partner's name, never the email address a list falls back to."""
    parts = (
        getattr(r.commission, "source_first_name", ""),
        getattr(r.commission, "source_last_name", ""),
    )
    return " ".join(p for p in parts if p) or "Partner"


def _read(r: CommissionListRow) -> MemberCommission:
    c = r.commission
    return MemberCommission(
        id=c.id,
        source_type=c.source_type,
        source_id=c.source_id,
        source_partner=(
            SourcePartnerRef(id=c.source_partner_id, name=_source_name(r))
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
        created_at=c.created_at,
    )


@router.get("", responses=error_responses(ValidationFailed, PartnerNotFound))
async def my_commissions(
    member: CurrentUser,
    session: ReadSessionDep,
    resources: ResourcesDep,
    page: Page,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    status: Annotated[StatusFilter | None, Query()] = None,
    source_type: Annotated[SourceType | None, Query(alias="sourceType")] = None,
    min_amount: Annotated[AmountQuery | None, Query(alias="minAmount")] = None,
    sort_by: Annotated[
        Literal["createdAt", "amount", "status"], Query(alias="sortBy")
    ] = "createdAt",
    sort_order: SortOrderQuery = SortOrder.DESC,
) -> Envelope[MemberCommissionsPage]:
    """My commissions, filtered as the admin's list, with net totals by status."""
    partner_id = await NetworkService(session, resources.settings).partner_id_of(member.user_id)
    if partner_id is None:
        raise PartnerNotFound()
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
        MemberCommissionsPage(commissions=[_read(r) for r in rows], summary=summary),
        pagination=PaginationMeta.build(total, page.page, page.page_size),
    )
