"""The provider's webhook, and the simulated provider's hosted payment page."""

import uuid
from pathlib import Path
from typing import Annotated

import httpx
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from iwm.core import clock
from iwm.core.deps import ResourcesDep, SessionDep
from iwm.core.errors import error_responses
from iwm.core.money import from_minor
from iwm.core.schemas import Envelope, ok
from iwm.modules.payments.deps import ProviderDep
from iwm.modules.payments.errors import InvalidWebhook, PaymentNotFound
from iwm.modules.payments.models import Payment, PaymentStatus
from iwm.modules.payments.provider import SimulatedProvider, event_body
from iwm.modules.payments.schemas import PayAction, WebhookReceived
from iwm.modules.payments.service import FAILED, SUCCEEDED, PaymentService

WEBHOOK_PATH = "/api/v1/payments/webhook"
router = APIRouter(tags=["payments"])
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


@router.post(WEBHOOK_PATH, responses=error_responses(InvalidWebhook))
async def webhook(
    request: Request, session: SessionDep, provider: ProviderDep
) -> Envelope[WebhookReceived]:
    """The payment provider's events (signed); the only way a payment succeeds."""
    event = provider.parse_webhook(request.headers, await request.body())
    outcome = await PaymentService(session, provider).handle_webhook(event)
    return ok(
        WebhookReceived(
            duplicate=outcome.duplicate, payment_id=outcome.payment_id, status=outcome.status
        )
    )


@router.get(
    "/pay/{payment_id}",
    response_class=HTMLResponse,
    include_in_schema=False,
    responses=error_responses(PaymentNotFound),
)
async def pay_page(
    payment_id: uuid.UUID, request: Request, resources: ResourcesDep
) -> HTMLResponse:
    """The simulated provider's checkout page: the amount, Pay and Decline (plain forms)."""
    async with resources.read_sessionmaker() as db:
        payment = await PaymentService(db, _simulated(resources)).get(payment_id)
    return templates.TemplateResponse(
        request,
        "pay.html",
        {
            "payment_id": payment.id,
            "amount": f"{from_minor(payment.amount_minor):.2f}",
            "currency": payment.currency,
            "description": payment.description,
            "status": _shown_status(payment),
        },
    )


@router.post("/pay/{payment_id}", include_in_schema=False)
async def pay_submit(
    payment_id: uuid.UUID,
    action: Annotated[PayAction, Form()],
    request: Request,
    resources: ResourcesDep,
) -> RedirectResponse:
    """Pay or Decline: the simulated provider's server sends its signed webhook."""
    provider = _simulated(resources)
    async with resources.read_sessionmaker() as db:
        payment = await PaymentService(db, provider).get(payment_id)
    if _shown_status(payment) in (PaymentStatus.PENDING, PaymentStatus.FAILED):
        assert payment.provider_reference is not None  # noqa: S101
        body = event_body(SUCCEEDED if action == "pay" else FAILED, payment.provider_reference)
        # Delivered through this app's own HTTP stack, as from the provider's server.
        transport = httpx.ASGITransport(app=request.app)
        base = f"{request.url.scheme}://{request.headers.get('host', 'localhost')}"
        async with httpx.AsyncClient(transport=transport, base_url=base) as client:
            answer = await client.post(WEBHOOK_PATH, content=body, headers=provider.signed(body))
        answer.raise_for_status()
    return RedirectResponse(f"/pay/{payment_id}", status_code=303)


def _shown_status(payment: Payment) -> str:
    """An open payment past its expiry takes no money: shown cancelled when its owner closed
    it (an order cancelled unpaid), expired when its time ran out. The page's words only:
    the payment's status stays as it is."""
    open_ = payment.status in (PaymentStatus.PENDING, PaymentStatus.FAILED)
    if open_ and payment.expires_at is not None and clock.now() >= payment.expires_at:
        return "cancelled" if payment.closed_at is not None else "expired"
    return payment.status


def _simulated(resources: ResourcesDep) -> SimulatedProvider:
    """The hosted page belongs to the simulated provider: with another provider configured,
    it does not exist."""
    if resources.settings.payment_provider != SimulatedProvider.name:
        raise PaymentNotFound()
    return SimulatedProvider(resources.settings, resources.payment_webhook_secret)
