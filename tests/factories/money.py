"""Builders for the money side, made through the domain services as members would."""

import uuid
from dataclasses import dataclass
from decimal import Decimal

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.money import to_minor
from iwm.core.principal import Role
from iwm.core.resources import Resources
from iwm.modules.categories.models import CategoryType
from iwm.modules.categories.schemas import CategoryCreate
from iwm.modules.categories.service import CategoryService
from iwm.modules.commissions.models import Commission, CommissionStatus
from iwm.modules.ledger.service import LedgerService, Shares
from iwm.modules.network.models import NetworkPartner
from iwm.modules.network.service import NetworkService
from iwm.modules.payouts.models import Payout, PayoutStatus
from iwm.modules.payouts.service import PayoutService, payout_holds_funds
from iwm.modules.products.models import Product
from iwm.modules.products.schemas import ProductCreate
from iwm.modules.products.service import ProductService
from iwm.modules.shop_orders.models import ShopOrder
from iwm.modules.shop_orders.service import OrderLine, ShopOrderService
from iwm.modules.strategies.schemas import StrategyCreate
from iwm.modules.strategies.service import StrategyService
from iwm.modules.users.models import User
from iwm.modules.users.service import UserService
from tests.factories.kiosk_network import PASSWORD, login, make_user, principal_of

API = "/api/v1/admin"


async def admin(
    client: httpx.AsyncClient, resources: Resources, role: Role = Role.ADMIN
) -> tuple[User, dict[str, str]]:
    user = await make_user(resources, role)
    return user, await login(client, user)


async def make_person(resources: Resources, name: str = "Member") -> User:
    async with resources.sessionmaker.begin() as db:
        return await UserService(db).create(
            f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.com",
            {Role.USER},
            password_hash=resources.passwords.hash(PASSWORD),
            first_name=name,
            last_name="Test",
        )


@dataclass
class Chain:
    """partners[0] is the top; each next one is sponsored by the previous one; `buyer` is a
    user with a partner profile under the last partner."""

    users: list[User]
    partners: list[NetworkPartner]
    buyer: User
    buyer_partner: NetworkPartner


async def make_chain(resources: Resources, levels: int = 3) -> Chain:
    users: list[User] = []
    partners: list[NetworkPartner] = []
    sponsor: NetworkPartner | None = None
    for i in range(levels + 1):
        user = await make_person(resources, f"P{i}")
        async with resources.sessionmaker.begin() as db:
            partner = await NetworkService(db, resources.settings).enroll(
                user.id, sponsor.id if sponsor else None
            )
        users.append(user)
        partners.append(partner)
        sponsor = partner
    return Chain(users[:-1], partners[:-1], users[-1], partners[-1])


async def make_category(
    resources: Resources, type_: CategoryType = CategoryType.PRODUCT, name: str | None = None
) -> uuid.UUID:
    staff = await make_user(resources, Role.ADMIN)
    async with resources.sessionmaker.begin() as db:
        row = await CategoryService(db).create(
            principal_of(staff),
            CategoryCreate(name=name or f"Cat {uuid.uuid4().hex[:6]}", type=type_),
        )
        return row.id


async def make_product(
    resources: Resources,
    price: str = "100.00",
    commission: str = "10",
    points: str = "5",
    sku: str | None = None,
    stock: int | None = None,
) -> Product:
    staff = await make_user(resources, Role.ADMIN)
    async with resources.sessionmaker.begin() as db:
        return await ProductService(db).create(
            principal_of(staff),
            ProductCreate(
                name="Vitamin Complex",
                description="Daily vitamins",
                price=Decimal(price),
                sku=sku or f"SKU-{uuid.uuid4().hex[:8]}",
                status="ACTIVE",
                stock_quantity=stock,
                track_inventory=stock is not None,
                commission_percentage=Decimal(commission),
                career_points_percentage=Decimal(points),
            ),
        )


async def place_order(
    resources: Resources, user: User, product: Product, quantity: int = 1
) -> ShopOrder:
    async with resources.sessionmaker.begin() as db:
        return await ShopOrderService(db, resources.settings).place(
            user.id, [OrderLine(product.id, quantity)]
        )


async def pay_order(resources: Resources, order: ShopOrder) -> ShopOrder:
    async with resources.sessionmaker.begin() as db:
        return await ShopOrderService(db, resources.settings).pay(order.id)


async def paid_order(
    resources: Resources, user: User, product: Product, quantity: int = 1
) -> ShopOrder:
    return await pay_order(resources, await place_order(resources, user, product, quantity))


async def fresh(db: AsyncSession) -> AsyncSession:
    """Ends the observer's read transaction, so the next read sees the latest commits."""
    db.expunge_all()  # objects already read keep their values
    await db.rollback()
    return db


async def commissions_of(db: AsyncSession, source_id: uuid.UUID) -> list[Commission]:
    await fresh(db)
    rows = await db.scalars(
        select(Commission)
        .where(Commission.source_id == source_id)
        .order_by(Commission.level_depth, Commission.created_at)
    )
    return list(rows)


async def request_payout(resources: Resources, partner: NetworkPartner, amount: str) -> Payout:
    async with resources.sessionmaker.begin() as db:
        return await PayoutService(db, resources.settings).request(
            partner.id, to_minor(Decimal(amount)), account="40817810099910004312"
        )


async def balances(db: AsyncSession, partner_id: uuid.UUID) -> Shares:
    """The partner's balance columns (career points included)."""
    await fresh(db)
    p = await db.scalar(
        select(NetworkPartner)
        .where(NetworkPartner.id == partner_id)
        .execution_options(populate_existing=True)
    )
    assert p is not None
    return Shares(
        p.available_minor,
        p.pending_minor,
        p.total_earned_minor,
        p.total_withdrawn_minor,
        p.career_points_total,
    )


async def ledger_sums(db: AsyncSession, partner_id: uuid.UUID) -> Shares:
    await fresh(db)
    return await LedgerService(db).sums(partner_id)


async def cancel_order(resources: Resources, order: ShopOrder) -> ShopOrder:
    async with resources.sessionmaker.begin() as db:
        return await ShopOrderService(db, resources.settings).cancel(order.id)


async def invest(resources: Resources, user: User, strategy_id: uuid.UUID, amount: str) -> None:
    from iwm.modules.strategies.service import ParticipationService

    async with resources.sessionmaker.begin() as db:
        await ParticipationService(db, resources.settings).invest(
            user.id, strategy_id, to_minor(Decimal(amount))
        )


def strategy_body(category_id: uuid.UUID, **over: object) -> dict[str, object]:
    """A valid POST /strategies body (camelCase, as the API takes it)."""
    body: dict[str, object] = {
        "name": f"Stable Growth {uuid.uuid4().hex[:6]}",
        "description": "Diversified portfolio",
        "shortDescription": "Low risk",
        "categoryId": str(category_id),
        "returnRate": {
            "min": 5,
            "max": 12,
            "expected": 8,
            "type": "VARIABLE",
            "payoutFrequency": "MONTHLY",
        },
        "duration": {"minDays": 30, "maxDays": 365, "lockPeriodDays": 30},
        "investment": {
            "minAmount": 100,
            "maxAmount": 10000,
            "currency": "USD",
            "totalCapacity": 100000,
        },
        "riskLevel": "LOW",
        "riskDisclosure": "Capital at risk",
        "terms": {
            "earlyWithdrawalAllowed": True,
            "earlyWithdrawalPenalty": 2,
            "compoundingAvailable": False,
            "automaticReinvestment": False,
        },
        "commissionPercentage": 3,
        "careerPointsPercentage": 1,
        "status": "ACTIVE",
    }
    body.update(over)
    return body


async def make_strategy(resources: Resources, **over: object) -> uuid.UUID:
    category = await make_category(resources, CategoryType.STRATEGY)
    boss = await make_user(resources, Role.SUPER_ADMIN)
    async with resources.sessionmaker.begin() as db:
        row = await StrategyService(db, resources.settings).create(
            principal_of(boss), StrategyCreate.model_validate(strategy_body(category, **over))
        )
        return row.id


async def expected_balances(db: AsyncSession, partner_id: uuid.UUID) -> Shares:
    """SPEC §6 definitions, computed from the commissions and payouts themselves."""
    com = dict(
        (
            await db.execute(
                select(Commission.status, func.sum(Commission.net_minor))
                .where(Commission.partner_id == partner_id)
                .group_by(Commission.status)
            )
        ).all()
    )
    points = await db.scalar(
        select(func.coalesce(func.sum(Commission.career_points), 0)).where(
            Commission.partner_id == partner_id, Commission.status != CommissionStatus.REVERSED
        )
    )
    pending = int(com.get("PENDING", 0) or 0) + int(com.get("HELD", 0) or 0)
    earned = int(com.get("APPROVED", 0) or 0) + int(com.get("PAID", 0) or 0)
    payouts = (await db.scalars(select(Payout).where(Payout.partner_id == partner_id))).all()
    held = sum(p.amount_minor for p in payouts if payout_holds_funds(p.status, p.funds_returned))
    withdrawn = sum(p.amount_minor for p in payouts if p.status == PayoutStatus.COMPLETED)
    return Shares(earned - held, pending, earned, withdrawn, int(points or 0))
