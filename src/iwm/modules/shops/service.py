"""Shops: provisioned by an admin for a user with the PARTNER role."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.errors import ValidationFailed
from iwm.core.listing import Listing, SortOrder, equals
from iwm.core.principal import Principal, Role
from iwm.modules.audit.service import AuditService
from iwm.modules.shops.errors import ShopNotFound
from iwm.modules.shops.models import Shop
from iwm.modules.shops.schemas import ShopCreate
from iwm.modules.users.service import UserService

SHOPS = Listing(
    rows=select(Shop),
    key=Shop.id,
    base=Shop,
    filters=[equals("partner_user_id", Shop.partner_user_id)],
    sorts={"createdAt": Shop.created_at},
    default_sort="createdAt",
    ids_first=False,
    entities=True,
    key_order=SortOrder.ASC,
)


class ShopService:
    def __init__(self, session: AsyncSession) -> None:
        self._db = session
        self._audit = AuditService(session)
        self._users = UserService(session)

    async def create(self, admin: Principal, data: ShopCreate) -> Shop:
        """Raises USER_NOT_FOUND, or VALIDATION_ERROR when the owner is not a PARTNER."""
        owner = await self._users.get(data.partner_user_id)
        if Role.PARTNER not in owner.roles:
            raise ValidationFailed(
                "The shop owner must have the PARTNER role",
                {"partnerUserId": ["user is not a partner"]},
            )
        shop = Shop(id=uuid.uuid4(), **data.model_dump())
        self._db.add(shop)
        await self._db.flush()
        self._audit.record(
            admin, "SHOP_CREATED", "shop", shop.id, new=data.model_dump(mode="json", by_alias=True)
        )
        return shop

    async def get(self, shop_id: uuid.UUID) -> Shop:
        shop = await self._db.get(Shop, shop_id)
        if shop is None:
            raise ShopNotFound()
        return shop

    async def list(
        self, page: int, page_size: int, partner_user_id: uuid.UUID | None = None
    ) -> tuple[list[Shop], int]:
        found = await SHOPS.page(
            self._db, {"partner_user_id": partner_user_id}, page=page, page_size=page_size
        )
        return [r.Shop for r in found.rows], found.total
