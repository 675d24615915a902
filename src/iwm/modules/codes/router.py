"""Free-round codes: issued by the partner (/partner/kiosks/{id}/code), redeemed by the
kiosk device (/kiosk/{id}/code/redeem)."""

import uuid

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse

from iwm.core.deps import ResourcesDep, SessionDep
from iwm.core.errors import RateLimited, error_responses
from iwm.core.idempotency import (
    IdempotencyKey,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    fingerprint,
    keep,
    replay,
)
from iwm.modules.codes.errors import CodeAlreadyRedeemed, CodeExpired, InvalidCode
from iwm.modules.codes.schemas import CodeIssued, RedeemRequest, RedeemResult
from iwm.modules.codes.service import CodeService
from iwm.modules.kiosks.deps import DEVICE_AUTH_ERRORS, KioskDevice
from iwm.modules.kiosks.errors import KioskNotFound
from iwm.modules.users.deps import PartnerUser

partner_router = APIRouter(prefix="/partner/kiosks", tags=["partner: kiosks"])
device_router = APIRouter(prefix="/kiosk/{kiosk_id}", tags=["kiosk device"])


@partner_router.post(
    "/{kiosk_id}/code",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(KioskNotFound),
)
async def issue_code(
    kiosk_id: uuid.UUID, partner: PartnerUser, session: SessionDep, resources: ResourcesDep
) -> CodeIssued:
    """Issue a 4-digit free-round code; its type (cash or error) is decided automatically."""
    row = await CodeService(session, resources.settings).issue(partner, kiosk_id)
    return CodeIssued(
        code=row.code, type=row.type, issued_at=row.created_at, expires_at=row.expires_at
    )


@device_router.post(
    "/code/redeem",
    response_model=RedeemResult,
    responses=error_responses(
        *DEVICE_AUTH_ERRORS,
        InvalidCode,
        CodeExpired,
        CodeAlreadyRedeemed,
        RateLimited,
        IdempotencyKeyReused,
        IdempotencyKeyInUse,
    ),
)
async def redeem_code(
    body: RedeemRequest,
    kiosk: KioskDevice,
    session: SessionDep,
    resources: ResourcesDep,
    idempotency_key: IdempotencyKey = None,
) -> RedeemResult | JSONResponse:
    """Redeem a free-round code once; a cash code is recorded in the kiosk's ledger. A
    retry with the same `Idempotency-Key` gets the first answer (before any limit)."""
    scope = f"kiosk:{kiosk.id}:redeem"
    request_print = fingerprint(body.code)
    if (kept := await replay(session, scope, idempotency_key, request_print)) is not None:
        return kept
    row = await CodeService(session, resources.settings).redeem(kiosk, body.code, resources.limiter)
    result = RedeemResult(type=row.type)
    await keep(
        session,
        scope,
        idempotency_key,
        request_print,
        200,
        result.model_dump(mode="json", by_alias=True),
    )
    return result
