"""Admin commissions: /api/v1/admin/commissions."""

import uuid
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status
from limits import RateLimitItemPerMinute

from iwm.core.amounts import AmountQuery
from iwm.core.deps import ReadSessionDep, ResourcesDep, SessionDep
from iwm.core.errors import RateLimited, ValidationFailed, error_responses
from iwm.core.listing import SortOrder
from iwm.core.money import bp_to_percent, from_minor, to_minor
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
from iwm.modules.commissions.engine import plan_amount_of
from iwm.modules.commissions.errors import (
    CannotAdjust,
    ChangeNotFound,
    CommissionNotFound,
    SeparationOfDuties,
)
from iwm.modules.commissions.models import (
    ChangeStatus,
    CommissionChange,
    CommissionStatus,
    SourceType,
)
from iwm.modules.commissions.schemas import (
    AdjustRequest,
    AdjustResponse,
    AdminCommission,
    AdminCommissionsPage,
    CommissionExplanation,
    CommissionSummary,
    PartnerRef,
    PendingChange,
    SourcePartnerRef,
)
from iwm.modules.users.deps import AdminUser
from iwm.modules.users.service import UserService

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
        explanation=CommissionExplanation(
            plan_version=c.plan_version,
            rule=c.rule,
            level=c.level_depth,
            rate=bp_to_percent(c.rate_bp),
            base_amount=from_minor(c.base_minor),
            plan_amount=from_minor(
                c.plan_amount_minor
                if c.plan_amount_minor is not None
                else plan_amount_of(c.base_minor, c.rate_bp)
            ),
        ),
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


@router.get("/changes")
async def pending_changes(
    admin: AdminUser, session: SessionDep, resources: ResourcesDep
) -> Envelope[list[PendingChange]]:
    """Amount changes waiting for a second admin, oldest first (at most 100)."""
    changes = await CommissionService(session, resources.settings).pending_changes()
    names = await UserService(session).names({c.requested_by for c in changes})
    return ok([_pending(c, names.get(c.requested_by, "")) for c in changes])


def _pending(change: CommissionChange, requested_by: str) -> PendingChange:
    return PendingChange(
        id=change.commission_id,
        change_id=change.id,
        status="REJECTED" if change.status == ChangeStatus.REJECTED else "PENDING_CONFIRMATION",
        previous_amount=from_minor(change.previous_gross_minor),
        new_amount=from_minor(change.new_gross_minor),
        requested_at=change.created_at,
        requested_by=requested_by,
        reason=change.reason,
    )


@router.post(
    "/{commission_id}/adjust",
    responses={
        **error_responses(
            CommissionNotFound,
            ChangeNotFound,
            CannotAdjust,
            ValidationFailed,
            SeparationOfDuties,
            RateLimited,
        ),
        202: {"model": Envelope[PendingChange], "description": "Waits for a second admin"},
    },
)
async def adjust_commission(
    commission_id: uuid.UUID,
    body: AdjustRequest,
    admin: AdminUser,
    session: SessionDep,
    resources: ResourcesDep,
    response: Response,
) -> Envelope[AdjustResponse] | Envelope[PendingChange]:
    """Approve, hold, reverse or change the amount of a commission (10/min per admin); a
    raise or a large change waits for a second admin (202), who confirms it here."""
    rule = RateLimitItemPerMinute(resources.settings.commission_adjust_limit_per_minute)
    await resources.limiter.hit(rule, "admin-commission-adjust", str(admin.user_id))
    service = CommissionService(session, resources.settings)
    reason = body.reason.strip()
    if body.action in ("CONFIRM_CHANGE", "REJECT_CHANGE"):
        if body.change_id is None:
            raise ValidationFailed(details={"changeId": [f"Required for {body.action}"]})
        if body.new_amount is not None:
            raise ValidationFailed(details={"newAmount": ["Only for ADJUST_AMOUNT"]})
        if body.action == "REJECT_CHANGE":
            change = await service.reject_change(admin, commission_id, body.change_id, reason)
            names = await UserService(session).names({change.requested_by})
            return ok(_pending(change, names.get(change.requested_by, "")))
        result = await service.confirm_change(admin, commission_id, body.change_id, reason)
    else:
        if body.change_id is not None:
            raise ValidationFailed(details={"changeId": ["Only for CONFIRM_CHANGE, REJECT_CHANGE"]})
        outcome = await service.adjust(
            admin,
            commission_id,
            AdjustAction(body.action),
            body.reason,
            None if body.new_amount is None else to_minor(body.new_amount),
        )
        if isinstance(outcome, CommissionChange):
            response.status_code = status.HTTP_202_ACCEPTED
            return ok(_pending(outcome, admin.display_name))
        result = outcome
    row = result.commission
    assert row.adjusted_at is not None  # noqa: S101
    adjusted_by, confirmed_by = admin.display_name, None
    if result.requested_by is not None:
        names = await UserService(session).names({result.requested_by})
        adjusted_by, confirmed_by = names.get(result.requested_by, ""), admin.display_name
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
            adjusted_by=adjusted_by,
            reason=row.adjust_reason or reason,
            confirmed_by=confirmed_by,
        )
    )
