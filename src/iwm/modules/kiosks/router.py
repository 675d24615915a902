"""The partner dashboard's kiosks: /partner/kiosks/..."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from iwm.core.deps import ReadSessionDep, ResourcesDep, SessionDep
from iwm.core.errors import error_responses
from iwm.core.pagination import Page, set_total
from iwm.modules.kiosks.errors import KioskNotFound, UnsupportedLanguage
from iwm.modules.kiosks.schemas import (
    CashRead,
    CashSettled,
    KioskDetail,
    KioskErrorRead,
    KioskRead,
    LanguageChange,
    StatusChange,
    kiosks_json,
)
from iwm.modules.kiosks.service import KioskService
from iwm.modules.users.deps import PartnerUser

router = APIRouter(prefix="/partner/kiosks", tags=["partner: kiosks"])


async def kiosk_service(session: SessionDep, resources: ResourcesDep) -> KioskService:
    return KioskService(session, resources.settings)


KioskServiceDep = Annotated[KioskService, Depends(kiosk_service)]
NOT_FOUND = error_responses(KioskNotFound)


@router.get("", response_model=list[KioskRead])
async def list_kiosks(
    partner: PartnerUser, session: ReadSessionDep, resources: ResourcesDep, page: Page
) -> Response:
    """The partner's kiosks, across all of their shops."""
    kiosks = KioskService(session, resources.settings)
    rows, total = await kiosks.list_owned(partner, page.page, page.page_size)
    window = resources.settings.online_window_seconds
    # Screens poll this: the JSON is written from the rows (see kiosks_json).
    response = Response(kiosks_json(rows, window), media_type="application/json")
    set_total(response, total)
    return response


@router.get("/{kiosk_id}", responses=NOT_FOUND)
async def get_kiosk(
    kiosk_id: uuid.UUID, partner: PartnerUser, kiosks: KioskServiceDep, resources: ResourcesDep
) -> KioskDetail:
    """A kiosk with its settings, online state and last errors."""
    kiosk = await kiosks.get_owned(partner, kiosk_id)
    errors = await kiosks.recent_errors(kiosk.id, 3)
    return KioskDetail.with_errors(kiosk, errors, resources.settings.online_window_seconds)


@router.post("/{kiosk_id}/status", responses=NOT_FOUND)
async def set_status(
    kiosk_id: uuid.UUID,
    body: StatusChange,
    partner: PartnerUser,
    kiosks: KioskServiceDep,
    resources: ResourcesDep,
) -> KioskRead:
    """Switch a kiosk active, inactive or error."""
    kiosk = await kiosks.set_status(partner, kiosk_id, body.status)
    return KioskRead.build(kiosk, resources.settings.online_window_seconds)


@router.post("/{kiosk_id}/language", responses=error_responses(KioskNotFound, UnsupportedLanguage))
async def set_language(
    kiosk_id: uuid.UUID,
    body: LanguageChange,
    partner: PartnerUser,
    kiosks: KioskServiceDep,
    resources: ResourcesDep,
) -> KioskRead:
    """Set the kiosk's interface language (ISO 639-1, from the supported list)."""
    kiosk = await kiosks.set_language(partner, kiosk_id, body.language)
    return KioskRead.build(kiosk, resources.settings.online_window_seconds)


@router.get("/{kiosk_id}/cash", responses=NOT_FOUND)
async def cash(kiosk_id: uuid.UUID, partner: PartnerUser, kiosks: KioskServiceDep) -> CashRead:
    """Rounds granted by cash codes since the last settlement, and their value."""
    kiosk = await kiosks.get_owned(partner, kiosk_id)
    return CashRead.build(kiosk, await kiosks.cash_balance(kiosk.id))


@router.post("/{kiosk_id}/cash/settle", responses=NOT_FOUND)
async def settle_cash(
    kiosk_id: uuid.UUID, partner: PartnerUser, kiosks: KioskServiceDep
) -> CashSettled:
    """Book the cash owed as collected: the balance starts again from zero."""
    settled = await kiosks.settle_cash(partner, kiosk_id)
    kiosk = await kiosks.get_owned(partner, kiosk_id)
    return CashSettled.settled(kiosk, settled)


@router.get("/{kiosk_id}/errors", responses=NOT_FOUND)
async def list_errors(
    kiosk_id: uuid.UUID,
    partner: PartnerUser,
    kiosks: KioskServiceDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 3,
) -> list[KioskErrorRead]:
    """The kiosk's latest errors, newest first."""
    kiosk = await kiosks.get_owned(partner, kiosk_id)
    return [KioskErrorRead.model_validate(e) for e in await kiosks.recent_errors(kiosk.id, limit)]


@router.post("/{kiosk_id}/errors/clear", responses=NOT_FOUND)
async def clear_error(
    kiosk_id: uuid.UUID, partner: PartnerUser, kiosks: KioskServiceDep, resources: ResourcesDep
) -> KioskRead:
    """Clear the kiosk's error: back to active, error code removed."""
    kiosk = await kiosks.clear_error(partner, kiosk_id)
    return KioskRead.build(kiosk, resources.settings.online_window_seconds)
