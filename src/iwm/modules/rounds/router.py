"""The partner's view of a kiosk's money: its price per round, revenue and takings."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from iwm.core import clock
from iwm.core.deps import ReadSessionDep, ResourcesDep, SessionDep
from iwm.core.errors import error_responses
from iwm.core.schemas import PlausibleDate
from iwm.modules.kiosks.errors import KioskNotFound
from iwm.modules.kiosks.schemas import KioskRead, PriceChange
from iwm.modules.kiosks.service import KioskService
from iwm.modules.rounds.errors import CurrencyInUse
from iwm.modules.rounds.revenue import revenue
from iwm.modules.rounds.schemas import Revenue
from iwm.modules.rounds.service import took_money
from iwm.modules.users.deps import PartnerUser

router = APIRouter(prefix="/partner/kiosks", tags=["partner: kiosks"])


@router.post("/{kiosk_id}/price", responses=error_responses(KioskNotFound, CurrencyInUse))
async def set_price(
    kiosk_id: uuid.UUID,
    body: PriceChange,
    partner: PartnerUser,
    session: SessionDep,
    resources: ResourcesDep,
) -> KioskRead:
    """Set the price of one round paid online (settings.pricePerRound, settings.currency).
    The currency is fixed once the kiosk has taken money, so that its revenue and cash
    are sums in one currency: 409 CURRENCY_IN_USE."""
    kiosks = KioskService(session, resources.settings)
    kiosk = await kiosks.get_owned(partner, kiosk_id, lock=True)
    if kiosk.currency not in (None, body.currency) and await took_money(session, kiosk.id):
        raise CurrencyInUse(details={"currency": [f"the kiosk sells in {kiosk.currency}"]})
    kiosk = await kiosks.set_price(partner, kiosk_id, body.amount, body.currency)
    return KioskRead.build(kiosk, resources.settings.online_window_seconds)


@router.get("/{kiosk_id}/revenue", responses=error_responses(KioskNotFound))
async def kiosk_revenue(
    kiosk_id: uuid.UUID,
    partner: PartnerUser,
    session: ReadSessionDep,
    resources: ResourcesDep,
    date_from: Annotated[PlausibleDate | None, Query(alias="dateFrom")] = None,
    date_to: Annotated[PlausibleDate | None, Query(alias="dateTo")] = None,
) -> Revenue:
    """Rounds paid online, granted for cash and free, with their amounts, per day."""
    kiosk = await KioskService(session, resources.settings).get_owned(partner, kiosk_id)
    return await revenue(session, kiosk, date_from, date_to, clock.now())
