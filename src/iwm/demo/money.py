"""`iwm demo-data`, money part: categories, products and strategies; shop orders and
investments in every status (placed, paid, declined, expired, cancelled and refunded
through the members' checkout), commissions in every status and payouts in every status,
made through the domain services on top of the admin demo's partner tree. Safe to run twice:
it stops when its first product exists."""

import random
import uuid
from decimal import Decimal

from rich.console import Console
from rich.progress import Progress, TaskID
from sqlalchemy import select

from iwm.core.money import to_minor
from iwm.core.principal import Principal
from iwm.core.resources import Resources
from iwm.demo.admin import MODERATOR
from iwm.demo.progress import progress_bar
from iwm.demo.shop import DemoCheckout
from iwm.modules.categories.models import CategoryType
from iwm.modules.categories.schemas import CategoryCreate
from iwm.modules.categories.service import CategoryService
from iwm.modules.commissions.admin_service import AdjustAction, CommissionService
from iwm.modules.commissions.models import Commission, CommissionStatus
from iwm.modules.kyc.models import KycStatus
from iwm.modules.network.models import NetworkPartner
from iwm.modules.payments.models import Payment
from iwm.modules.payouts.models import Payout, PayoutMethod
from iwm.modules.payouts.provider import PaymentOrder, PaymentResult, make_provider
from iwm.modules.payouts.service import PayoutProcessor, PayoutService
from iwm.modules.products.models import Product, ProductStatus
from iwm.modules.products.schemas import ProductCreate, ProductUpdate
from iwm.modules.products.service import ProductService
from iwm.modules.shop_orders.models import ShippingMethod, ShopOrderStatus
from iwm.modules.shop_orders.service import OrderLine, ShopOrderService
from iwm.modules.strategies.models import Participation, ParticipationStatus, StrategyStatus
from iwm.modules.strategies.schemas import StrategyCreate, StrategyUpdate
from iwm.modules.strategies.service import ParticipationService, StrategyService
from iwm.modules.users.models import User
from iwm.modules.users.service import UserService, principal_of

MARKER_SKU = "VIT-COMPLEX-01"
PRODUCTS = [
    # sku, name, price, commission %, career points %, stock (None: not tracked)
    (MARKER_SKU, "Vitamin Complex", "49.90", "15", "10", None),
    ("OMEGA-3-120", "Omega-3 Capsules", "29.50", "12", "8", 500),
    ("SKIN-SERUM-30", "Hydrating Serum", "89.00", "20", "12", None),
    ("DETOX-TEA-20", "Herbal Detox Tea", "14.75", "10", "5", 1000),
]
# Products that are not on sale, one of each other status (no orders are placed for them).
OFF_SALE = {
    "COLLAGEN-10": ("Collagen Drink", "34.00", "DRAFT"),
    "NIGHT-CREAM-50": ("Night Cream (old formula)", "42.00", "ARCHIVED"),
    "PROTEIN-BAR-12": ("Protein Bars", "19.90", "OUT_OF_STOCK"),
}
STRATEGIES = [
    # name, category, min/max/expected %, risk, commission %, career points %
    ("Stable Income", "Conservative", (4, 7, 6), "LOW", "2", "1"),
    ("Growth Portfolio", "Growth", (8, 18, 12), "HIGH", "3", "2"),
]
# Strategies that take no new investments, one of each other status.
CLOSED_TO_NEW = [("Balanced Fund", "PAUSED"), ("Legacy Income", "CLOSED")]
# One shop order per entry, cycling through the buyers: every status, refunds included.
ORDER_PLAN = [
    "DELIVERED",
    "PAID",
    "SHIPPED",
    "PENDING_PAYMENT",
    "PROCESSING",
    "DELIVERED",
    "CANCELLED_UNPAID",
    "DELIVERED",
    "REFUNDED",
    "PAID",
    "DECLINED",
    "SHIPPED",
    "DELIVERED",
    "PENDING_PAYMENT",
    "DELIVERED",
    "PROCESSING",
    "DELIVERED",
    "REFUNDED",
    "DELIVERED",
    "PAID",
]
INVESTMENTS = ["1500.00", "750.00", "3200.00", "500.00", "2000.00", "1200.00"]
# Of the pending commissions: every KEEP_PENDING-th stays PENDING, every HOLD_EVERY-th is
# held, the REVERSE_ONE-th is reversed by hand, the rest are approved.
KEEP_PENDING, HOLD_EVERY, REVERSE_ONE = 7, 11, 5
MIN_PAYOUT_BALANCE_MINOR = 200
PAYOUT_PLAN = ["COMPLETED", "PENDING", "APPROVED", "PROCESSING", "REJECTED", "CANCELLED"]


class _TransferInFlight:
    """A bank transfer the provider accepted but has not confirmed yet: the payout stays
    PROCESSING (the simulated provider confirms at once)."""

    async def pay(self, order: PaymentOrder) -> PaymentResult:
        return PaymentResult(
            reference=f"BANK-{order.idempotency_key[-8:].upper()}", completed=False
        )


async def load_money_demo(resources: Resources, console: Console) -> None:
    async with resources.sessionmaker.begin() as db:
        if await db.scalar(select(Product.id).where(Product.sku == MARKER_SKU)) is not None:
            console.print("money demo data already loaded; nothing to do")
            return
        root = await UserService(db).by_email("admin@iwm.local")
        # Large payouts are processed by an admin other than their approver (four eyes).
        second = await UserService(db).by_email(MODERATOR[0])
        rows = list(
            await db.execute(
                select(NetworkPartner.id, NetworkPartner.user_id).order_by(
                    NetworkPartner.created_at, NetworkPartner.id
                )
            )
        )
    if root is None or len(rows) < len(PAYOUT_PLAN):
        console.print("money demo skipped: the admin demo's partner tree is missing")
        return
    admin = principal_of(root)
    processor = principal_of(second) if second is not None else admin
    partners = [p for p, _ in rows]
    # The newest partners buy, so that commissions climb through several levels.
    buyers = [u for _, u in rows[-12:]]
    rng = random.Random(23)  # noqa: S311 - demo data, not secrets
    with progress_bar() as progress:
        task = progress.add_task(
            "shop and money", total=len(ORDER_PLAN) + len(INVESTMENTS) + len(PAYOUT_PLAN) + 2
        )
        products, every_strategy = await _catalog(resources, admin)
        strategies, closing = every_strategy[: len(STRATEGIES)], every_strategy[len(STRATEGIES) :]
        progress.advance(task, 2)
        checkout = DemoCheckout(resources)

        def basket() -> list[OrderLine]:
            chosen = rng.sample(products, rng.randint(1, 2))
            return [OrderLine(p, rng.randint(1, 3)) for p in chosen]

        async def left_unpaid() -> None:
            # An order declined and never paid, an investment never paid: both expire.
            _, declined = await checkout.order(buyers[0], basket(), ShippingMethod.STANDARD)
            await checkout.provider_event(declined, succeeded=False)
            await checkout.invest(buyers[1], strategies[0], to_minor(Decimal(300)))

        await checkout.expire_later(left_unpaid)
        for i, plan in enumerate(ORDER_PLAN):
            buyer = buyers[i % len(buyers)]
            order_id, payment = await checkout.order(
                buyer, basket(), rng.choice(list(ShippingMethod))
            )
            await _move_order(resources, admin, checkout, buyer, order_id, payment, plan, i)
            progress.advance(task)
        for i, amount in enumerate(INVESTMENTS):
            _, payment = await checkout.invest(
                buyers[(i * 5) % len(buyers)],
                strategies[i % len(strategies)],
                to_minor(Decimal(amount)),
            )
            if i != len(INVESTMENTS) - 1:  # the last one waits for its payment
                await checkout.provider_event(payment)
            progress.advance(task)
        # Paid after its fund stopped taking investments: refunded.
        _, late = await checkout.invest(buyers[2], closing[0], to_minor(Decimal(400)))
        await _close_to_new(resources, admin, closing)
        await checkout.provider_event(late)
        await checkout.send_refunds()
        await _finish_two(resources)
        await _commission_statuses(resources, admin)
        await _payouts(resources, admin, processor, partners, progress, task)
    console.print(
        f"money demo: {len(PRODUCTS) + len(OFF_SALE)} products, "
        f"{len(STRATEGIES) + len(CLOSED_TO_NEW)} strategies, "
        f"{len(ORDER_PLAN)} shop orders, {len(INVESTMENTS)} investments, "
        f"{len(PAYOUT_PLAN)} payouts"
    )


async def _catalog(
    resources: Resources, admin: Principal
) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    async with resources.sessionmaker.begin() as db:
        categories = CategoryService(db)
        health = await categories.create(
            admin, CategoryCreate(name="Health", type=CategoryType.PRODUCT)
        )
        vitamins = await categories.create(
            admin,
            CategoryCreate(name="Vitamins", type=CategoryType.PRODUCT, parent_id=health.id),
        )
        beauty = await categories.create(
            admin, CategoryCreate(name="Beauty", type=CategoryType.PRODUCT)
        )
        kinds = {
            name: (
                await categories.create(
                    admin, CategoryCreate(name=name, type=CategoryType.STRATEGY)
                )
            ).id
            for name in ("Conservative", "Growth")
        }
        products = []
        catalog = [(*row, "ACTIVE") for row in PRODUCTS]
        catalog += [(sku, n, price, "10", "5", 0, st) for sku, (n, price, st) in OFF_SALE.items()]
        for sku, name, price, commission, points, stock, status in catalog:
            row = await ProductService(db).create(
                admin,
                ProductCreate(
                    name=name,
                    description=f"{name}: a demo product",
                    price=Decimal(price),
                    sku=sku,
                    category_id=beauty.id if sku.startswith("SKIN") else vitamins.id,
                    # OUT_OF_STOCK is not a status to create with: it is set afterwards.
                    status="DRAFT" if status == "OUT_OF_STOCK" else status,
                    stock_quantity=stock,
                    track_inventory=stock is not None,
                    commission_percentage=Decimal(commission),
                    career_points_percentage=Decimal(points),
                ),
            )
            if status == "ACTIVE":
                products.append(row.id)
            elif status == "OUT_OF_STOCK":
                await ProductService(db).update(
                    admin, row.id, ProductUpdate(status=ProductStatus.OUT_OF_STOCK)
                )
        strategies = []
        plans = [*STRATEGIES]
        plans += [(name, "Conservative", (3, 6, 5), "LOW", "2", "1") for name, _ in CLOSED_TO_NEW]
        for name, kind, (low, high, expected), risk, commission, points in plans:
            body = StrategyCreate.model_validate(
                {
                    "name": name,
                    "description": f"{name}: a demo strategy",
                    "shortDescription": f"{risk.capitalize()} risk",
                    "categoryId": str(kinds[kind]),
                    "returnRate": {
                        "min": low,
                        "max": high,
                        "expected": expected,
                        "type": "VARIABLE",
                        "payoutFrequency": "MONTHLY",
                    },
                    "duration": {"minDays": 90, "maxDays": 365, "lockPeriodDays": 30},
                    "investment": {
                        "minAmount": 100,
                        "maxAmount": 50000,
                        "currency": resources.settings.currency,
                        "totalCapacity": 1000000,
                    },
                    "riskLevel": risk,
                    "riskDisclosure": "Past returns do not guarantee future results.",
                    "terms": {
                        "earlyWithdrawalAllowed": True,
                        "earlyWithdrawalPenalty": 2,
                        "compoundingAvailable": False,
                        "automaticReinvestment": False,
                    },
                    "commissionPercentage": Decimal(commission),
                    "careerPointsPercentage": Decimal(points),
                    "status": "ACTIVE",
                }
            )
            strategies.append(
                (await StrategyService(db, resources.settings).create(admin, body)).id
            )
    return products, strategies


async def _close_to_new(
    resources: Resources, admin: Principal, strategy_ids: list[uuid.UUID]
) -> None:
    async with resources.sessionmaker.begin() as db:
        for strategy_id, (_, status) in zip(strategy_ids, CLOSED_TO_NEW, strict=True):
            await StrategyService(db, resources.settings).update(
                admin, strategy_id, StrategyUpdate(status=StrategyStatus(status))
            )


async def _move_order(
    resources: Resources,
    admin: Principal,
    checkout: DemoCheckout,
    buyer: uuid.UUID,
    order_id: uuid.UUID,
    payment: Payment,
    plan: str,
    i: int,
) -> None:
    steps: dict[str, list[ShopOrderStatus]] = {
        "PENDING_PAYMENT": [],
        "DECLINED": [],
        "PAID": [],
        "PROCESSING": [ShopOrderStatus.PROCESSING],
        "SHIPPED": [ShopOrderStatus.PROCESSING, ShopOrderStatus.SHIPPED],
        "DELIVERED": [
            ShopOrderStatus.PROCESSING,
            ShopOrderStatus.SHIPPED,
            ShopOrderStatus.DELIVERED,
        ],
        "CANCELLED_UNPAID": [],
        "REFUNDED": [],
    }
    settings = resources.settings
    if plan == "CANCELLED_UNPAID":
        await checkout.member_cancel(buyer, order_id)
        return
    if plan == "DECLINED":
        await checkout.provider_event(payment, succeeded=False)
        return
    if plan != "PENDING_PAYMENT":
        await checkout.provider_event(payment)
    if plan == "REFUNDED":
        await checkout.member_cancel(buyer, order_id)
        return
    for status in steps[plan]:
        fields: dict[str, str | None] = {}
        if status is ShopOrderStatus.SHIPPED:
            number = f"TRK{100000 + i}"
            fields = {
                "tracking_number": number,
                "tracking_url": f"https://track.example.com/{number}",
            }
        async with resources.sessionmaker.begin() as db:
            await ShopOrderService(db, settings).admin_update(admin, order_id, status, fields)


async def _finish_two(resources: Resources) -> None:
    """The two oldest investments end: one at its term, one withdrawn early."""
    async with resources.sessionmaker.begin() as db:
        active = list(
            await db.scalars(
                select(Participation.id)
                .where(Participation.status == ParticipationStatus.ACTIVE)
                .order_by(Participation.created_at, Participation.id)
                .limit(2)
            )
        )
        participations = ParticipationService(db, resources.settings)
        for participation_id, status in zip(
            active, (ParticipationStatus.COMPLETED, ParticipationStatus.WITHDRAWN), strict=False
        ):
            await participations.finish(participation_id, status)


async def _commission_statuses(resources: Resources, admin: Principal) -> None:
    """Most pending commissions are approved; a few are held, one is reversed by hand."""
    async with resources.sessionmaker.begin() as db:
        pending = list(
            await db.scalars(
                select(Commission.id)
                .where(Commission.status == CommissionStatus.PENDING)
                .order_by(Commission.created_at, Commission.id)
            )
        )
    for n, commission_id in enumerate(pending):
        if n % KEEP_PENDING == KEEP_PENDING - 1:
            continue  # stays PENDING
        action, reason = AdjustAction.APPROVE, "Sale confirmed"
        if n % HOLD_EVERY == HOLD_EVERY - 1:
            action, reason = AdjustAction.HOLD, "Buyer identity being checked"
        elif n == REVERSE_ONE:
            action, reason = AdjustAction.REVERSE, "Duplicate sale"
        async with resources.sessionmaker.begin() as db:
            await CommissionService(db, resources.settings).adjust(
                admin, commission_id, action, reason, None
            )


async def _payouts(
    resources: Resources,
    admin: Principal,
    processor: Principal,
    partners: list[uuid.UUID],
    progress: Progress,
    task: TaskID,
) -> None:
    settings = resources.settings
    async with resources.sessionmaker.begin() as db:
        # Members ask to be paid through their own service: only with an approved KYC.
        richest = list(
            (
                await db.execute(
                    select(NetworkPartner, User)
                    .join(User, User.id == NetworkPartner.user_id)
                    .where(
                        NetworkPartner.id.in_(partners),
                        NetworkPartner.available_minor >= MIN_PAYOUT_BALANCE_MINOR,
                        User.kyc_status == KycStatus.APPROVED,
                    )
                    .order_by(NetworkPartner.available_minor.desc(), NetworkPartner.id)
                )
            ).tuples()
        )
    # What a member can ask for (the admin API also knows CRYPTO, members cannot use it).
    methods = [PayoutMethod.BANK_TRANSFER, PayoutMethod.CARD]
    for n, plan in enumerate(PAYOUT_PLAN):
        if not richest:
            break
        async with resources.sessionmaker.begin() as db:
            picked, member = richest[n % len(richest)]
            partner = await db.get(NetworkPartner, picked.id, populate_existing=True)
            assert partner is not None  # noqa: S101
            # The completed payout covers the oldest approved commissions, so they get PAID.
            share = 4 if plan == "COMPLETED" else 8
            amount = max(100, partner.available_minor * (3 if plan == "COMPLETED" else 1) // share)
            payouts = PayoutService(db, settings)
            row: Payout = await payouts.member_request(
                principal_of(member),
                amount,
                methods[n % len(methods)],
                account=f"4081781009991000{n:04d}",
            )
            if plan == "CANCELLED":
                await payouts.member_cancel(principal_of(member), row.id)
            elif plan == "REJECTED":
                await payouts.reject(admin, row.id, "Account holder name mismatch", True)
            elif plan != "PENDING":
                await payouts.approve(admin, row.id, "Checked")
        if plan in ("COMPLETED", "PROCESSING"):
            provider = (
                make_provider(settings.payout_provider, resources.sessionmaker)
                if plan == "COMPLETED"
                else _TransferInFlight()
            )
            await PayoutProcessor(resources.sessionmaker, settings, provider).process(
                processor, row.id, None
            )
        progress.advance(task)
