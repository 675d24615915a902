"""Photo orders uploaded by the kiosk device: /kiosk/{id}/orders."""

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile, status
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from pydantic.alias_generators import to_camel

from iwm.core.deps import ResourcesDep, SessionDep
from iwm.core.errors import ValidationFailed, error_responses, validation_details
from iwm.core.idempotency import (
    IdempotencyKey,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    fingerprint,
    keep,
    replay,
)
from iwm.modules.kiosks.deps import DEVICE_AUTH_ERRORS, KioskDevice
from iwm.modules.kiosks.errors import KioskInactive
from iwm.modules.kiosks.models import KioskStatus
from iwm.modules.orders.errors import ImageTooLarge, InvalidImage
from iwm.modules.orders.schemas import NewOrderForm, OrderRead
from iwm.modules.orders.service import OrderService

router = APIRouter(prefix="/kiosk/{kiosk_id}", tags=["kiosk device"])
ORDER_FORM_FIELDS = {"customerName", "customerEmail", "customerPhone", "image"}


@router.post(
    "/orders",
    status_code=status.HTTP_201_CREATED,
    response_model=OrderRead,
    responses=error_responses(
        *DEVICE_AUTH_ERRORS,
        InvalidImage,
        ImageTooLarge,
        KioskInactive,
        IdempotencyKeyReused,
        IdempotencyKeyInUse,
    ),
)
async def create_order(
    request: Request,
    kiosk: KioskDevice,
    session: SessionDep,
    resources: ResourcesDep,
    image: Annotated[UploadFile, File(description="JPEG or PNG photo")],
    customer_name: Annotated[str, Form(alias="customerName")],
    customer_email: Annotated[str | None, Form(alias="customerEmail")] = None,
    customer_phone: Annotated[str | None, Form(alias="customerPhone")] = None,
    idempotency_key: IdempotencyKey = None,
) -> OrderRead | JSONResponse:
    """Create a photo order with its photo (multipart form); refused while switched off."""
    unknown = sorted(set((await request.form()).keys()) - ORDER_FORM_FIELDS)
    if unknown:
        raise ValidationFailed("Unknown form fields", {name: ["unknown field"] for name in unknown})
    form = _validated_form(customer_name, customer_email, customer_phone)
    if kiosk.status == KioskStatus.INACTIVE:
        raise KioskInactive()
    limit = resources.settings.max_upload_bytes
    data = await image.read(limit + 1)
    if len(data) > limit:
        raise ImageTooLarge(details={"image": [f"at most {limit} bytes"]})
    if not data:
        raise InvalidImage(details={"image": ["the file is empty"]})
    scope = f"kiosk:{kiosk.id}:orders"
    request_print = fingerprint(form.model_dump_json(), data)
    if (kept := await replay(session, scope, idempotency_key, request_print)) is not None:
        return kept
    orders = OrderService(session, resources.settings, resources.storage)
    view = (await orders.views([await orders.create(kiosk, form, data)]))[0]
    await keep(
        session,
        scope,
        idempotency_key,
        request_print,
        201,
        view.model_dump(mode="json", by_alias=True),
    )
    return view


def _validated_form(name: str, email: str | None, phone: str | None) -> NewOrderForm:
    try:
        return NewOrderForm(
            customer_name=name, customer_email=email or None, customer_phone=phone or None
        )
    except ValidationError as exc:
        raise ValidationFailed(
            "Invalid order form",
            validation_details(
                [
                    {**e, "loc": ("form", to_camel(str(e["loc"][0])) if e["loc"] else "form")}
                    for e in exc.errors()
                ]
            ),
        ) from None
