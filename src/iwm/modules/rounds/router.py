"""The partner's view of a kiosk's money: /partner/kiosks/{id}/revenue."""

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from iwm.core import clock
from iwm.core.deps import ReadSessionDep, ResourcesDep
from iwm.core.errors import error_responses
from iwm.modules.kiosks.errors import KioskNotFound
from iwm.modules.kiosks.service import KioskService
from iwm.modules.rounds.revenue import revenue
from iwm.modules.rounds.schemas import Revenue
from iwm.modules.users.deps import PartnerUser

router = APIRouter(prefix="/partner/kiosks", tags=["partner: kiosks"])


@router.get("/{kiosk_id}/revenue", responses=error_responses(KioskNotFound))
async def kiosk_revenue(
    kiosk_id: uuid.UUID,
    partner: PartnerUser,
    session: ReadSessionDep,
    resources: ResourcesDep,
    date_from: Annotated[date | None, Query(alias="dateFrom")] = None,
    date_to: Annotated[date | None, Query(alias="dateTo")] = None,
) -> Revenue:
    """Rounds paid online, granted for cash and free, with their amounts, per day."""
    kiosk = await KioskService(session, resources.settings).get_owned(partner, kiosk_id)
    return await revenue(session, kiosk, date_from, date_to, clock.now())
