"""The kiosk device's own API: /kiosk/{id}/..., authenticated by its device key."""

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile, status
from pydantic import ValidationError
from pydantic.alias_generators import to_camel
from starlette.types import ASGIApp, Receive, Scope, Send

from iwm.core import clock
from iwm.core.deps import ResourcesDep, SessionDep, bearer_token, parse_bearer
from iwm.core.errors import RateLimited, ValidationFailed, error_responses, validation_details
from iwm.modules.codes.errors import CodeAlreadyRedeemed, CodeExpired, InvalidCode
from iwm.modules.codes.schemas import RedeemRequest, RedeemResult
from iwm.modules.codes.service import CodeService
from iwm.modules.kiosks.errors import InvalidDeviceKey, KioskInactive, WrongKiosk
from iwm.modules.kiosks.liveness import Heartbeats
from iwm.modules.kiosks.models import Kiosk, KioskStatus
from iwm.modules.kiosks.schemas import (
    DeviceKioskRead,
    ErrorReport,
    HeartbeatAck,
    KioskErrorRead,
    KioskSettings,
)
from iwm.modules.kiosks.service import KioskService
from iwm.modules.orders.errors import ImageTooLarge, InvalidImage
from iwm.modules.orders.schemas import NewOrderForm, OrderRead
from iwm.modules.orders.service import OrderService

router = APIRouter(prefix="/kiosk/{kiosk_id}", tags=["kiosk device"])
AUTH_ERRORS = (InvalidDeviceKey, WrongKiosk)
ORDER_FORM_FIELDS = {"customerName", "customerEmail", "customerPhone", "image"}


async def current_kiosk(
    kiosk_id: uuid.UUID, request: Request, session: SessionDep, resources: ResourcesDep
) -> Kiosk:
    """The kiosk whose device key is the Bearer token, and only for its own {id}."""
    return await KioskService(session, resources.settings).authenticate(
        kiosk_id, bearer_token(request)
    )


KioskDevice = Annotated[Kiosk, Depends(current_kiosk)]


@router.get("", responses=error_responses(*AUTH_ERRORS))
async def own_settings(kiosk: KioskDevice) -> DeviceKioskRead:
    """The kiosk's own status and settings."""
    return DeviceKioskRead(
        id=kiosk.id,
        name=kiosk.name,
        status=KioskStatus(kiosk.status),
        settings=KioskSettings(default_language=kiosk.default_language),
    )


@router.post("/heartbeat", responses=error_responses(*AUTH_ERRORS))
async def heartbeat(kiosk_id: uuid.UUID, request: Request, resources: ResourcesDep) -> HeartbeatAck:
    """Tell the server the kiosk is alive (updates lastActiveAt); answers its settings.

    Accepted heartbeats are answered by `HeartbeatFastPath` before routing; this route
    documents the endpoint and answers the refusals."""
    key = bearer_token(request)
    seen = await resources.heartbeats.beat(kiosk_id, key)
    if seen is None:
        async with resources.sessionmaker() as session:
            # Raises the precise refusal: unknown key (401) or another kiosk's key (403).
            kiosk = await KioskService(session, resources.settings).authenticate(kiosk_id, key)
        seen = (kiosk.status, kiosk.default_language)
    return _ack(seen)


def _ack(seen: tuple[str, str], now: datetime | None = None) -> HeartbeatAck:
    return HeartbeatAck(
        server_time=now or clock.now(),
        status=KioskStatus(seen[0]),
        settings=KioskSettings(default_language=seen[1]),
    )


class HeartbeatFastPath:
    """Pure ASGI: answers an accepted `POST /kiosk/{id}/heartbeat` without routing,
    dependency resolution or request parsing, which cost more than the heartbeat itself.
    Anything else, a refused heartbeat included, goes on to the app unchanged."""

    PREFIX = "/kiosk/"
    SUFFIX = "/heartbeat"

    def __init__(self, app: ASGIApp, heartbeats: Heartbeats) -> None:
        self.app = app
        self.heartbeats = heartbeats
        self._bodies: dict[tuple[str, str], tuple[int, bytes]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path: str = scope["path"]
            if path.startswith(self.PREFIX) and path.endswith(self.SUFFIX):
                kiosk_id = _parse_uuid(path[len(self.PREFIX) : -len(self.SUFFIX)])
                key = _bearer(scope["headers"])
                if kiosk_id is not None and key is not None:
                    seen = await self.heartbeats.beat(kiosk_id, key)
                    if seen is not None:
                        body = self._body(seen)
                        await send(
                            {
                                "type": "http.response.start",
                                "status": 200,
                                "headers": [
                                    (b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode()),
                                ],
                            }
                        )
                        await send({"type": "http.response.body", "body": body})
                        return
        await self.app(scope, receive, send)

    def _body(self, seen: tuple[str, str]) -> bytes:
        # serverTime is given to the second: one answer per second and kiosk state.
        now = clock.now()
        second = int(now.timestamp())
        cached = self._bodies.get(seen)
        if cached is None or cached[0] != second:
            cached = (second, _ack(seen, now).model_dump_json(by_alias=True).encode())
            self._bodies[seen] = cached
        return cached[1]


def _parse_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _bearer(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"authorization":
            return parse_bearer(value.decode("latin-1"))
    return None


@router.post(
    "/errors", status_code=status.HTTP_201_CREATED, responses=error_responses(*AUTH_ERRORS)
)
async def report_error(
    body: ErrorReport, kiosk: KioskDevice, session: SessionDep, resources: ResourcesDep
) -> KioskErrorRead:
    """Report an error `{code, message}`: the kiosk goes to status error."""
    row = await KioskService(session, resources.settings).report_error(kiosk, body)
    return KioskErrorRead.model_validate(row)


@router.post(
    "/code/redeem",
    responses=error_responses(
        *AUTH_ERRORS, InvalidCode, CodeExpired, CodeAlreadyRedeemed, RateLimited
    ),
)
async def redeem_code(
    body: RedeemRequest, kiosk: KioskDevice, session: SessionDep, resources: ResourcesDep
) -> RedeemResult:
    """Redeem a free-round code once; a cash code is recorded in the kiosk's ledger."""
    row = await CodeService(session, resources.settings).redeem(kiosk, body.code, resources.limiter)
    return RedeemResult(type=row.type)


@router.post(
    "/orders",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(*AUTH_ERRORS, InvalidImage, ImageTooLarge, KioskInactive),
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
) -> OrderRead:
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
    orders = OrderService(session, resources.settings, resources.storage)
    return (await orders.views([await orders.create(kiosk, form, data)]))[0]


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
