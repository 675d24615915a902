"""`iwm demo-data`: members' shop orders and investments made through the checkout as a
member makes them (an address, the order or investment, its payment, the provider's
event handled as the webhook handles it), so that every status of orders, payments and
participations is present."""

import secrets
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

from iwm.core import clock
from iwm.core.after_commit import transaction
from iwm.core.principal import Principal
from iwm.core.resources import Resources
from iwm.modules.payments.models import Payment
from iwm.modules.payments.provider import PaymentProvider, WebhookEvent, make_provider
from iwm.modules.payments.service import FAILED, SUCCEEDED, PaymentService
from iwm.modules.shop_orders.checkout import CheckoutService
from iwm.modules.shop_orders.models import ShippingMethod
from iwm.modules.shop_orders.service import OrderLine, ShopOrderService
from iwm.modules.strategies.investments import InvestmentService
from iwm.modules.strategies.service import ParticipationService
from iwm.modules.users.service import UserService, principal_of

ADDRESS = {
    "label": "Home",
    "country": "DE",
    "region": "Berlin",
    "city": "Berlin",
    "street": "Unter den Linden",
    "building": "5",
    "postal_code": "10117",
}


class DemoCheckout:
    def __init__(self, resources: Resources) -> None:
        self._resources = resources
        self._settings = resources.settings
        self._provider: PaymentProvider = make_provider(
            resources.settings, resources.payment_webhook_secret
        )
        self._addresses: dict[uuid.UUID, uuid.UUID] = {}

    async def _member(self, user_id: uuid.UUID) -> tuple[Principal, uuid.UUID]:
        async with self._resources.sessionmaker.begin() as db:
            users = UserService(db)
            principal = principal_of(await users.get(user_id))
            if user_id not in self._addresses:
                found = await users.addresses(user_id)
                address = (
                    found[0]
                    if found
                    else await users.save_address(
                        user_id, ADDRESS, None, self._settings.addresses_per_member
                    )
                )
                self._addresses[user_id] = address.id
        return principal, self._addresses[user_id]

    async def order(
        self, user_id: uuid.UUID, lines: list[OrderLine], method: ShippingMethod
    ) -> tuple[uuid.UUID, Payment]:
        """A PENDING_PAYMENT order and its payment, as `POST /api/v1/orders` makes them."""
        member, address = await self._member(user_id)
        async with self._resources.sessionmaker.begin() as db:
            view = await CheckoutService(db, self._settings).place(
                member, lines, address, method, self._provider
            )
        assert view.payment is not None  # noqa: S101
        return view.order.id, view.payment

    async def invest(
        self, user_id: uuid.UUID, strategy_id: uuid.UUID, amount_minor: int
    ) -> tuple[uuid.UUID, Payment]:
        member, _ = await self._member(user_id)
        async with self._resources.sessionmaker.begin() as db:
            view = await InvestmentService(db, self._settings).request(
                member, strategy_id, amount_minor, self._provider
            )
        assert view.payment is not None  # noqa: S101
        return view.participation.id, view.payment

    async def provider_event(self, payment: Payment, succeeded: bool = True) -> None:
        """The provider's event, handled as the verified webhook handles it."""
        assert payment.provider_reference is not None  # noqa: S101
        event = WebhookEvent(
            event_id=f"evt_demo_{secrets.token_hex(8)}",
            type=SUCCEEDED if succeeded else FAILED,
            payment_reference=payment.provider_reference,
            occurred_at=clock.now(),
        )
        async with transaction(self._resources) as db:
            await PaymentService(db, self._provider).handle_webhook(event)

    async def member_cancel(self, user_id: uuid.UUID, order_id: uuid.UUID) -> None:
        member, _ = await self._member(user_id)
        async with self._resources.sessionmaker.begin() as db:
            await CheckoutService(db, self._settings).cancel(member, order_id)

    async def send_refunds(self) -> None:
        await PaymentService.process_refunds(self._resources.sessionmaker, self._provider)

    async def expire_later(self, make: Callable[[], Awaitable[object]]) -> None:
        """Whatever `make` leaves unpaid, expired by the scheduler's job a payment window
        later (the clock moves forward for the job and back after it)."""
        await make()
        window = timedelta(minutes=self._settings.order_payment_ttl_minutes, seconds=1)
        clock.travel(window)
        try:
            await ShopOrderService.expire_unpaid(self._resources.sessionmaker, self._settings)
            await ParticipationService.expire_unpaid(self._resources.sessionmaker, self._settings)
        finally:
            clock.travel(-window)
