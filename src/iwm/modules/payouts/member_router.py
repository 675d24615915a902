"""A partner's payout requests: /api/v1/me/payouts (SPEC §8)."""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, status
from fastapi.responses import JSONResponse

from iwm.core.deps import ResourcesDep, SessionDep
from iwm.core.errors import RateLimited, Unauthorized, ValidationFailed, error_responses
from iwm.core.idempotency import (
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    RequiredIdempotencyKey,
    fingerprint,
    keep,
    replay,
)
from iwm.core.money import from_minor, to_minor
from iwm.core.pagination import Page
from iwm.core.schemas import Envelope, PaginationMeta, ok
from iwm.modules.network.errors import PartnerNotFound
from iwm.modules.payouts.errors import (
    BelowMinimum,
    InsufficientBalance,
    KycRequired,
    NotPending,
    PayoutNotFound,
)
from iwm.modules.payouts.models import Payout, PayoutMethod, PayoutStatus
from iwm.modules.payouts.schemas import MemberPayout, MethodRead, PayoutCreate
from iwm.modules.payouts.service import PayoutService
from iwm.modules.users.deps import ActiveMember, CurrentUser
from iwm.modules.users.errors import EmailNotVerified

router = APIRouter(
    prefix="/api/v1/me/payouts",
    tags=["member: payouts"],
    responses=error_responses(Unauthorized, RateLimited),
)
StatusFilter = Literal[
    "PENDING", "APPROVED", "PROCESSING", "COMPLETED", "REJECTED", "CANCELLED", "ALL"
]


async def payout_service(session: SessionDep, resources: ResourcesDep) -> PayoutService:
    return PayoutService(session, resources.settings)


PayoutServiceDep = Annotated[PayoutService, Depends(payout_service)]


def _read(p: Payout) -> MemberPayout:
    # A cancelled request always gave its amount back (requests cancelled before this was
    # recorded on the row carry no flag); a rejected one did when the admin said so.
    returned = True if p.status == PayoutStatus.CANCELLED else p.funds_returned
    return MemberPayout(
        id=p.id,
        amount=from_minor(p.amount_minor),
        currency=p.currency,
        method=MethodRead(type=p.method_type, masked_details=p.masked_details),
        status=p.status,
        rejection_reason=p.rejection_reason,
        funds_returned=returned,
        amount_returned=(
            None if returned is None else from_minor(p.amount_minor if returned else 0)
        ),
        created_at=p.created_at,
        approved_at=p.approved_at,
        processed_at=p.processed_at,
        completed_at=p.completed_at,
        updated_at=p.updated_at,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Envelope[MemberPayout],
    responses=error_responses(
        ValidationFailed,
        BelowMinimum,
        InsufficientBalance,
        EmailNotVerified,
        KycRequired,
        PartnerNotFound,
        IdempotencyKeyReused,
        IdempotencyKeyInUse,
    ),
)
async def request_payout(
    body: PayoutCreate,
    member: ActiveMember,
    payouts: PayoutServiceDep,
    session: SessionDep,
    idempotency_key: RequiredIdempotencyKey,
) -> Envelope[MemberPayout] | JSONResponse:
    """Ask to be paid: the amount is reserved from my available balance at once. The
    `Idempotency-Key` header is required (400 VALIDATION_ERROR naming it otherwise): a
    retry with the same key gets the first answer and reserves nothing again."""
    # The partner's lock first: a retry with the same key waits for the first request to
    # commit and then gets its answer, rather than a conflict.
    await payouts.member_partner(member.user_id, lock=True)
    scope = f"member:{member.user_id}:payouts"
    request_print = fingerprint(body.model_dump_json())
    if (kept := await replay(session, scope, idempotency_key, request_print)) is not None:
        return kept
    row = await payouts.member_request(
        member, to_minor(body.amount), PayoutMethod(body.method.type), body.account
    )
    answer = ok(_read(row))
    await keep(
        session,
        scope,
        idempotency_key,
        request_print,
        201,
        answer.model_dump(mode="json", by_alias=True),
    )
    return answer


@router.get("", responses=error_responses(ValidationFailed, PartnerNotFound))
async def my_payouts(
    member: CurrentUser,
    payouts: PayoutServiceDep,
    page: Page,
    payout_status: Annotated[StatusFilter | None, Query(alias="status")] = None,
) -> Envelope[list[MemberPayout]]:
    """My payout requests, newest first."""
    wanted = None if payout_status in (None, "ALL") else PayoutStatus(payout_status)
    rows, total = await payouts.member_list(member.user_id, wanted, page.page, page.page_size)
    return ok(
        [_read(r) for r in rows], pagination=PaginationMeta.build(total, page.page, page.page_size)
    )


@router.get("/{payout_id}", responses=error_responses(PayoutNotFound))
async def my_payout(
    payout_id: uuid.UUID, member: CurrentUser, payouts: PayoutServiceDep
) -> Envelope[MemberPayout]:
    """One of my payout requests."""
    return ok(_read(await payouts.member_payout(member.user_id, payout_id)))


@router.post("/{payout_id}/cancel", responses=error_responses(PayoutNotFound, NotPending))
async def cancel_payout(
    payout_id: uuid.UUID, member: CurrentUser, payouts: PayoutServiceDep
) -> Envelope[MemberPayout]:
    """Withdraw a pending request: the amount is available again."""
    return ok(_read(await payouts.member_cancel(member, payout_id)))
