"""Members' investments: /api/v1/investments (SPEC §8)."""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, status
from fastapi.responses import JSONResponse

from iwm.core.deps import ResourcesDep, SessionDep
from iwm.core.errors import RateLimited, Unauthorized, ValidationFailed, error_responses
from iwm.core.idempotency import (
    IdempotencyKeyConflict,
    IdempotencyKeyInUse,
    RequiredIdempotencyKey,
    fingerprint,
    keep,
    replay,
)
from iwm.core.money import bp_to_percent, from_minor, to_minor
from iwm.core.pagination import Page
from iwm.core.schemas import Envelope, PaginationMeta, ok
from iwm.modules.payments.deps import ProviderDep
from iwm.modules.payments.models import Payment
from iwm.modules.strategies.errors import (
    AmountOutOfRange,
    ParticipationNotFound,
    StrategyFull,
    StrategyNotFound,
)
from iwm.modules.strategies.investments import InvestmentService, InvestmentView
from iwm.modules.strategies.models import ParticipationStatus
from iwm.modules.strategies.schemas import (
    InvestmentCreate,
    InvestmentPayment,
    InvestmentPlaced,
    InvestmentStrategyRef,
    MemberInvestment,
    ReturnEntry,
    ReturnsSummary,
)
from iwm.modules.users.deps import ActiveMember, CurrentUser
from iwm.modules.users.errors import EmailNotVerified

router = APIRouter(
    prefix="/api/v1/investments",
    tags=["member: investments"],
    responses=error_responses(Unauthorized, RateLimited),
)


async def investment_service(session: SessionDep, resources: ResourcesDep) -> InvestmentService:
    return InvestmentService(session, resources.settings)


InvestmentDep = Annotated[InvestmentService, Depends(investment_service)]


def payment_read(p: Payment) -> InvestmentPayment:
    return InvestmentPayment(
        id=p.id, status=p.status, checkout_url=p.checkout_url, expires_at=p.expires_at
    )


def investment_read(view: InvestmentView) -> MemberInvestment:
    p = view.participation
    total, pending = p.returns_distributed_minor, p.pending_returns_minor
    return MemberInvestment(
        id=p.id,
        strategy=InvestmentStrategyRef(id=p.strategy_id, name=view.strategy_name),
        amount=from_minor(p.amount_minor),
        currency=view.currency,
        status=p.status,
        start_date=p.started_at,
        end_date=p.ends_at,
        closed_at=p.closed_at,
        created_at=p.created_at,
        returns=ReturnsSummary(
            total=from_minor(total), pending=from_minor(pending), paid=from_minor(total - pending)
        ),
        return_entries=(
            None
            if view.returns is None
            else [
                ReturnEntry(
                    id=r.id,
                    period=r.period,
                    days=r.days,
                    rate=bp_to_percent(r.rate_bp),
                    base=from_minor(r.base_minor),
                    amount=from_minor(r.amount_minor),
                    status=r.status,
                    credited_at=r.created_at,
                    paid_at=r.paid_at,
                )
                for r in view.returns
            ]
        ),
        payment=payment_read(view.payment) if view.payment is not None else None,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Envelope[InvestmentPlaced],
    responses=error_responses(
        ValidationFailed,
        EmailNotVerified,
        StrategyNotFound,
        AmountOutOfRange,
        StrategyFull,
        IdempotencyKeyConflict,
        IdempotencyKeyInUse,
    ),
)
async def invest(
    body: InvestmentCreate,
    member: ActiveMember,
    investments: InvestmentDep,
    session: SessionDep,
    provider: ProviderDep,
    idempotency_key: RequiredIdempotencyKey,
) -> Envelope[InvestmentPlaced] | JSONResponse:
    """Invest in an active strategy: pay on the checkout URL; ACTIVE once paid. The
    `Idempotency-Key` header is required (400 VALIDATION_ERROR naming it otherwise)."""
    await investments.lock_member(member.user_id)
    scope = f"member:{member.user_id}:investments"
    request_print = fingerprint(body.model_dump_json())
    kept = await replay(session, scope, idempotency_key, request_print, IdempotencyKeyConflict)
    if kept is not None:
        return kept
    view = await investments.request(member, body.strategy_id, to_minor(body.amount), provider)
    assert view.payment is not None  # noqa: S101 (opened with its payment)
    answer = ok(
        InvestmentPlaced(participation=investment_read(view), payment=payment_read(view.payment))
    )
    await keep(
        session,
        scope,
        idempotency_key,
        request_print,
        201,
        answer.model_dump(mode="json", by_alias=True),
    )
    return answer


@router.get("", responses=error_responses(ValidationFailed))
async def my_investments(
    member: CurrentUser,
    investments: InvestmentDep,
    page: Page,
    wanted: Annotated[ParticipationStatus | Literal["ALL"] | None, Query(alias="status")] = None,
) -> Envelope[list[MemberInvestment]]:
    """My investments, newest first, with their returns so far."""
    status_ = None if wanted in (None, "ALL") else ParticipationStatus(wanted)
    views, total = await investments.mine(member.user_id, status_, page.page, page.page_size)
    return ok(
        [investment_read(v) for v in views],
        pagination=PaginationMeta.build(total, page.page, page.page_size),
    )


@router.get("/{participation_id}", responses=error_responses(ParticipationNotFound))
async def my_investment(
    participation_id: uuid.UUID, member: CurrentUser, investments: InvestmentDep
) -> Envelope[MemberInvestment]:
    """One of my investments, with each month's return."""
    return ok(investment_read(await investments.my_investment(member.user_id, participation_id)))
