"""Admin provisioning of shops and kiosks: /api/v1/admin/shops, /api/v1/admin/kiosks."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from iwm.core.deps import ResourcesDep, SessionDep
from iwm.core.errors import error_responses
from iwm.core.pagination import Page
from iwm.core.schemas import Envelope, PaginationMeta, ok
from iwm.modules.kiosks.errors import KioskNotFound, UnsupportedLanguage
from iwm.modules.kiosks.models import Kiosk, KioskStatus
from iwm.modules.kiosks.schemas import AdminKioskRead, KioskCreate, KioskProvisioned, KioskRead
from iwm.modules.kiosks.service import KioskService
from iwm.modules.shops.errors import ShopNotFound
from iwm.modules.shops.schemas import ShopCreate, ShopRead
from iwm.modules.shops.service import ShopService
from iwm.modules.users.deps import AdminUser
from iwm.modules.users.errors import UserNotFound

router = APIRouter(prefix="/api/v1/admin", tags=["admin: provisioning"])


def _admin_kiosk(kiosk: Kiosk, window: int) -> dict[str, object]:
    return {**KioskRead.build(kiosk, window).model_dump(), "created_at": kiosk.created_at}


@router.post("/shops", status_code=status.HTTP_201_CREATED, responses=error_responses(UserNotFound))
async def create_shop(
    body: ShopCreate, admin: AdminUser, session: SessionDep
) -> Envelope[ShopRead]:
    """Create a shop for a user with the PARTNER role."""
    shop = await ShopService(session).create(admin, body)
    return ok(ShopRead.model_validate(shop))


@router.get("/shops")
async def list_shops(
    admin: AdminUser,
    session: SessionDep,
    page: Page,
    partner_user_id: Annotated[uuid.UUID | None, Query(alias="partnerUserId")] = None,
) -> Envelope[list[ShopRead]]:
    """Shops, newest first."""
    rows, total = await ShopService(session).list(page.page, page.page_size, partner_user_id)
    return ok(
        [ShopRead.model_validate(s) for s in rows],
        pagination=PaginationMeta.build(total, page.page, page.page_size),
    )


@router.post(
    "/kiosks",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(ShopNotFound, UnsupportedLanguage),
)
async def create_kiosk(
    body: KioskCreate, admin: AdminUser, session: SessionDep, resources: ResourcesDep
) -> Envelope[KioskProvisioned]:
    """Provision a kiosk; the response carries its device key, shown this once."""
    kiosk, key = await KioskService(session, resources.settings).provision(admin, body)
    window = resources.settings.online_window_seconds
    return ok(KioskProvisioned(**_admin_kiosk(kiosk, window), device_key=key))


@router.get("/kiosks")
async def list_kiosks(
    admin: AdminUser,
    session: SessionDep,
    resources: ResourcesDep,
    page: Page,
    shop_id: Annotated[uuid.UUID | None, Query(alias="shopId")] = None,
    kiosk_status: Annotated[KioskStatus | None, Query(alias="status")] = None,
) -> Envelope[list[AdminKioskRead]]:
    """Kiosks, newest first."""
    service = KioskService(session, resources.settings)
    rows, total = await service.list_all(page.page, page.page_size, shop_id, kiosk_status)
    window = resources.settings.online_window_seconds
    return ok(
        [AdminKioskRead(**_admin_kiosk(k, window)) for k in rows],
        pagination=PaginationMeta.build(total, page.page, page.page_size),
    )


@router.post("/kiosks/{kiosk_id}/rotate-key", responses=error_responses(KioskNotFound))
async def rotate_key(
    kiosk_id: uuid.UUID, admin: AdminUser, session: SessionDep, resources: ResourcesDep
) -> Envelope[KioskProvisioned]:
    """Give a kiosk a new device key; the old one stops working at once."""
    kiosk, key = await KioskService(session, resources.settings).rotate_key(admin, kiosk_id)
    window = resources.settings.online_window_seconds
    return ok(KioskProvisioned(**_admin_kiosk(kiosk, window), device_key=key))
