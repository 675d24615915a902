"""Typed builders for the kiosk side, made through the services as the API would."""

import uuid
from dataclasses import dataclass, field

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.principal import Role
from iwm.core.resources import Resources
from iwm.modules.kiosks.models import Kiosk
from iwm.modules.kiosks.schemas import KioskCreate
from iwm.modules.kiosks.service import KioskService
from iwm.modules.orders.schemas import NewOrderForm
from iwm.modules.orders.service import OrderRow, OrderService
from iwm.modules.shops.models import Shop
from iwm.modules.shops.schemas import ShopCreate
from iwm.modules.shops.service import ShopService
from iwm.modules.users.models import User
from iwm.modules.users.service import UserService, principal_of
from tests.factories.images import jpeg

PASSWORD = "correct-horse-battery"


async def make_user(
    resources: Resources, role: Role = Role.PARTNER, email: str | None = None
) -> User:
    async with resources.sessionmaker.begin() as db:
        return await UserService(db).create(
            email or f"{role.value.lower()}-{uuid.uuid4().hex[:8]}@example.com",
            {role},
            password_hash=resources.passwords.hash(PASSWORD),
            first_name="Test",
            last_name=role.value.title(),
        )


async def login(client: httpx.AsyncClient, user: User) -> dict[str, str]:
    resp = await client.post("/auth/login", json={"email": user.email, "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['token']}"}


@dataclass
class KioskHandle:
    kiosk: Kiosk
    key: str

    @property
    def id(self) -> uuid.UUID:
        return self.kiosk.id

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@dataclass
class PartnerWorld:
    """A partner with one shop and some kiosks, plus an admin who provisioned them."""

    partner: User
    admin: User
    shop: Shop
    kiosks: list[KioskHandle] = field(default_factory=list)


async def make_shop(
    resources: Resources, partner: User, admin: User, timezone: str = "UTC", name: str = "Shop"
) -> Shop:
    async with resources.sessionmaker.begin() as db:
        return await ShopService(db).create(
            principal_of(admin),
            ShopCreate(partner_user_id=partner.id, name=name, location="Mall", timezone=timezone),
        )


async def make_kiosk(
    resources: Resources,
    shop: Shop,
    admin: User,
    name: str = "Kiosk #1",
    language: str = "en",
) -> KioskHandle:
    async with resources.sessionmaker.begin() as db:
        kiosk, key = await KioskService(db, resources.settings).provision(
            principal_of(admin),
            KioskCreate(
                shop_id=shop.id, name=name, location="Tel Aviv Mall", default_language=language
            ),
        )
    return KioskHandle(kiosk=kiosk, key=key)


async def make_world(
    resources: Resources, kiosks: int = 1, admin: User | None = None, timezone: str = "UTC"
) -> PartnerWorld:
    admin = admin or await make_user(resources, Role.ADMIN)
    partner = await make_user(resources, Role.PARTNER)
    shop = await make_shop(resources, partner, admin, timezone)
    world = PartnerWorld(partner=partner, admin=admin, shop=shop)
    for i in range(kiosks):
        world.kiosks.append(await make_kiosk(resources, shop, admin, name=f"Kiosk #{i + 1}"))
    return world


async def make_order(
    resources: Resources,
    kiosk: KioskHandle,
    customer_name: str = "John Doe",
    customer_email: str = "john@example.com",
    image: bytes | None = None,
) -> OrderRow:
    async with resources.sessionmaker.begin() as db:
        order = await OrderService(db, resources.settings, resources.storage).create(
            kiosk.kiosk,
            NewOrderForm(
                customer_name=customer_name,
                customer_email=customer_email,
                customer_phone="+1234567890",
            ),
            image or jpeg(),
        )
    return order


async def count(db: AsyncSession, model: type, **where: object) -> int:
    from sqlalchemy import func, select

    stmt = select(func.count()).select_from(model)
    for key, value in where.items():
        stmt = stmt.where(getattr(model, key) == value)
    return int((await db.execute(stmt)).scalar_one())
