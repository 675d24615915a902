"""Admin payouts: /api/v1/admin/payouts."""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query
from limits import RateLimitItemPerMinute

from iwm.core.amounts import AmountQuery
from iwm.core.deps import ResourcesDep, SessionDep
from iwm.core.errors import RateLimited, ValidationFailed, error_responses
from iwm.core.money import from_minor, to_minor
from iwm.core.pagination import Page
from iwm.core.query import DateFrom, DateTo
from iwm.core.schemas import Envelope, PaginationMeta, ok
from iwm.modules.admin.params import date_range
from iwm.modules.commissions.errors import SeparationOfDuties
from iwm.modules.network.models import NetworkPartner
from iwm.modules.payouts.errors import (
    InsufficientBalance,
    NotApproved,
    NotPending,
    NotRejectable,
    PaymentFailed,
    PayoutNotFound,
)
from iwm.modules.payouts.models import Payout, PayoutStatus
from iwm.modules.payouts.schemas import (
    AdminPayout,
    AdminPayoutsPage,
    ApproveRequest,
    ApproveResponse,
    MethodRead,
    PartnerRef,
    PayoutSummaryRead,
    ProcessRequest,
    ProcessResponse,
    RejectRequest,
    RejectResponse,
)
from iwm.modules.payouts.service import (
    PayoutFilters,
    PayoutProcessor,
    PayoutService,
    blocked_reason,
)
from iwm.modules.users.deps import AdminUser
from iwm.modules.users.models import User

router = APIRouter(prefix="/api/v1/admin/payouts", tags=["admin: payouts"])

StatusFilter = Literal[
    "PENDING", "APPROVED", "PROCESSING", "COMPLETED", "REJECTED", "CANCELLED", "ALL"
]


@router.get("")
async def list_payouts(
    admin: AdminUser,
    session: SessionDep,
    resources: ResourcesDep,
    page: Page,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    status: Annotated[StatusFilter | None, Query()] = None,
    partner_id: Annotated[uuid.UUID | None, Query(alias="partnerId")] = None,
    min_amount: Annotated[AmountQuery | None, Query(alias="minAmount")] = None,
) -> Envelope[AdminPayoutsPage]:
    """Payout requests, newest first, with pending and processing totals."""
    lower, upper = date_range(date_from, date_to)
    filters = PayoutFilters(
        status=None if status in (None, "ALL") else PayoutStatus(status),
        partner_id=partner_id,
        date_from=lower,
        date_to=upper,
        min_amount_minor=None if min_amount is None else to_minor(min_amount),
    )
    rows, total, s = await PayoutService(session, resources.settings).list_page(
        filters, page.page, page.page_size
    )
    payouts = [_read(*row) for row in rows]
    summary = PayoutSummaryRead(
        pending_count=s.pending_count,
        pending_amount=from_minor(s.pending_minor),
        processing_count=s.processing_count,
        processing_amount=from_minor(s.processing_minor),
    )
    return ok(
        AdminPayoutsPage(payouts=payouts, summary=summary),
        pagination=PaginationMeta.build(total, page.page, page.page_size),
    )


def _read(p: Payout, partner: NetworkPartner, user: User, processor: User | None) -> AdminPayout:
    return AdminPayout(
        id=p.id,
        partner=PartnerRef(id=partner.id, name=user.full_name, referral_code=partner.referral_code),
        amount=from_minor(p.amount_minor),
        currency=p.currency,
        method=MethodRead(type=p.method_type, masked_details=p.masked_details),
        status=p.status,
        rejection_reason=p.rejection_reason,
        external_reference=p.external_reference,
        processed_by=processor.full_name if processor is not None else None,
        processed_at=p.processed_at,
        completed_at=p.completed_at,
        created_at=p.created_at,
        processing_since=p.processed_at if p.status == PayoutStatus.PROCESSING else None,
        blocked_reason=blocked_reason(p.status, partner.available_minor),
    )


@router.get("/{payout_id}", responses=error_responses(PayoutNotFound))
async def get_payout(
    payout_id: uuid.UUID, admin: AdminUser, session: SessionDep, resources: ResourcesDep
) -> Envelope[AdminPayout]:
    """One payout request, with why it is blocked if it is."""
    return ok(_read(*await PayoutService(session, resources.settings).detail(payout_id)))


@router.post(
    "/{payout_id}/approve",
    responses=error_responses(PayoutNotFound, NotPending, InsufficientBalance),
)
async def approve_payout(
    payout_id: uuid.UUID,
    admin: AdminUser,
    session: SessionDep,
    resources: ResourcesDep,
    body: Annotated[ApproveRequest | None, Body()] = None,
) -> Envelope[ApproveResponse]:
    """Approve a pending payout request."""
    row = await PayoutService(session, resources.settings).approve(
        admin, payout_id, body.note if body else None
    )
    assert row.approved_at is not None  # noqa: S101
    return ok(
        ApproveResponse(id=row.id, approved_at=row.approved_at, approved_by=admin.display_name)
    )


@router.post(
    "/{payout_id}/reject",
    responses=error_responses(PayoutNotFound, NotRejectable, ValidationFailed),
)
async def reject_payout(
    payout_id: uuid.UUID,
    body: RejectRequest,
    admin: AdminUser,
    session: SessionDep,
    resources: ResourcesDep,
) -> Envelope[RejectResponse]:
    """Reject a payout request, returning the funds to the balance when asked."""
    row = await PayoutService(session, resources.settings).reject(
        admin, payout_id, body.reason, body.return_to_balance
    )
    assert row.rejected_at is not None  # noqa: S101
    return ok(
        RejectResponse(
            id=row.id,
            reason=row.rejection_reason or "",
            rejected_at=row.rejected_at,
            rejected_by=admin.display_name,
            funds_returned=bool(row.funds_returned),
        )
    )


@router.post(
    "/{payout_id}/process",
    responses=error_responses(
        PayoutNotFound,
        NotApproved,
        InsufficientBalance,
        SeparationOfDuties,
        PaymentFailed,
        RateLimited,
    ),
)
async def process_payout(
    payout_id: uuid.UUID,
    admin: AdminUser,
    resources: ResourcesDep,
    body: Annotated[ProcessRequest | None, Body()] = None,
) -> Envelope[ProcessResponse]:
    """Initiate the payment of an approved payout (5/min per admin); never pays twice."""
    settings = resources.settings
    rule = RateLimitItemPerMinute(settings.payout_process_limit_per_minute)
    await resources.limiter.hit(rule, "admin-payout-process", str(admin.user_id))
    processor = PayoutProcessor.of(resources)
    row = await processor.process(admin, payout_id, body.external_reference if body else None)
    assert row.processed_at is not None  # noqa: S101
    return ok(
        ProcessResponse(
            id=row.id,
            status="COMPLETED" if row.status == PayoutStatus.COMPLETED else "PROCESSING",
            external_reference=row.external_reference,
            processed_at=row.processed_at,
            processed_by=admin.display_name,
            estimated_completion=row.estimated_completion_at,
        )
    )
