"""Code redemption by the kiosk device: /kiosk/{id}/code/redeem."""

from fastapi import APIRouter

from iwm.core.deps import ResourcesDep, SessionDep
from iwm.core.errors import RateLimited, error_responses
from iwm.modules.codes.errors import CodeAlreadyRedeemed, CodeExpired, InvalidCode
from iwm.modules.codes.schemas import RedeemRequest, RedeemResult
from iwm.modules.codes.service import CodeService
from iwm.modules.kiosks.deps import DEVICE_AUTH_ERRORS, KioskDevice

router = APIRouter(prefix="/kiosk/{kiosk_id}", tags=["kiosk device"])


@router.post(
    "/code/redeem",
    responses=error_responses(
        *DEVICE_AUTH_ERRORS, InvalidCode, CodeExpired, CodeAlreadyRedeemed, RateLimited
    ),
)
async def redeem_code(
    body: RedeemRequest, kiosk: KioskDevice, session: SessionDep, resources: ResourcesDep
) -> RedeemResult:
    """Redeem a free-round code once; a cash code is recorded in the kiosk's ledger."""
    row = await CodeService(session, resources.settings).redeem(kiosk, body.code, resources.limiter)
    return RedeemResult(type=row.type)
