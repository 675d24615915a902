"""The calling kiosk device, authenticated by its device key."""

import uuid
from typing import Annotated

from fastapi import Depends, Request

from iwm.core.deps import ResourcesDep, SessionDep, bearer_token
from iwm.modules.kiosks.errors import InvalidDeviceKey, WrongKiosk
from iwm.modules.kiosks.models import Kiosk
from iwm.modules.kiosks.service import KioskService

DEVICE_AUTH_ERRORS = (InvalidDeviceKey, WrongKiosk)


async def current_kiosk(
    kiosk_id: uuid.UUID, request: Request, session: SessionDep, resources: ResourcesDep
) -> Kiosk:
    """The kiosk whose device key is the Bearer token, and only for its own {id}."""
    kiosk = await KioskService(session, resources.settings).authenticate(
        kiosk_id, bearer_token(request)
    )
    request.state.kiosk_id = kiosk.id  # named by the request's log line
    return kiosk


KioskDevice = Annotated[Kiosk, Depends(current_kiosk)]
