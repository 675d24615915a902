"""The kiosk device's own API: /kiosk/{id}, its heartbeat and its error reports,
authenticated by its device key. Photo orders and code redemption on the same prefix
belong to the orders and codes modules."""

import uuid

from fastapi import APIRouter, Request, status

from iwm.core.deps import ResourcesDep, SessionDep, bearer_token
from iwm.core.errors import error_responses
from iwm.modules.kiosks.deps import DEVICE_AUTH_ERRORS, KioskDevice
from iwm.modules.kiosks.heartbeat import heartbeat_ack
from iwm.modules.kiosks.models import KioskStatus
from iwm.modules.kiosks.schemas import (
    DeviceKioskRead,
    ErrorReport,
    HeartbeatAck,
    KioskErrorRead,
    KioskFullSettings,
)
from iwm.modules.kiosks.service import KioskService

router = APIRouter(prefix="/kiosk/{kiosk_id}", tags=["kiosk device"])


@router.get("", responses=error_responses(*DEVICE_AUTH_ERRORS))
async def own_settings(kiosk: KioskDevice) -> DeviceKioskRead:
    """The kiosk's own status and settings."""
    return DeviceKioskRead(
        id=kiosk.id,
        name=kiosk.name,
        status=KioskStatus(kiosk.status),
        settings=KioskFullSettings.of(kiosk),
    )


@router.post("/heartbeat", responses=error_responses(*DEVICE_AUTH_ERRORS))
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
    return heartbeat_ack(seen)


@router.post(
    "/errors", status_code=status.HTTP_201_CREATED, responses=error_responses(*DEVICE_AUTH_ERRORS)
)
async def report_error(
    body: ErrorReport, kiosk: KioskDevice, session: SessionDep, resources: ResourcesDep
) -> KioskErrorRead:
    """Report an error `{code, message}`: the kiosk goes to status error."""
    row = await KioskService(session, resources.settings).report_error(kiosk, body)
    return KioskErrorRead.model_validate(row)
