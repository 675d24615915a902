"""The kiosk's side of a round paid online: /kiosk/{id}/sessions."""

import asyncio
import contextlib
import time
import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from iwm.core import clock
from iwm.core.deps import ResourcesDep, SessionDep, bearer_token
from iwm.core.errors import error_responses
from iwm.core.resources import Resources
from iwm.modules.kiosks.deps import DEVICE_AUTH_ERRORS, KioskDevice
from iwm.modules.kiosks.errors import KioskInactive
from iwm.modules.kiosks.service import KioskService
from iwm.modules.payments.deps import ProviderDep
from iwm.modules.rounds.errors import (
    PriceNotSet,
    SessionAlreadyStarted,
    SessionExpired,
    SessionNotFound,
    SessionNotPaid,
)
from iwm.modules.rounds.models import SessionStatus
from iwm.modules.rounds.schemas import RoundStarted, SessionRead
from iwm.modules.rounds.service import RoundService, status_now, wake_key

router = APIRouter(prefix="/kiosk/{kiosk_id}/sessions", tags=["kiosk device"])
MAX_WAIT = 25


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(*DEVICE_AUTH_ERRORS, PriceNotSet, KioskInactive),
)
async def open_session(
    kiosk: KioskDevice, session: SessionDep, resources: ResourcesDep, provider: ProviderDep
) -> SessionRead:
    """Open a payment session for one round: show paymentUrl as a QR code."""
    row = await RoundService(session, resources.settings).open(kiosk, provider)
    return SessionRead.build(row, SessionStatus.PENDING)


@router.get("/{session_id}", responses=error_responses(*DEVICE_AUTH_ERRORS, SessionNotFound))
async def poll_session(
    kiosk_id: uuid.UUID,
    session_id: uuid.UUID,
    request: Request,
    resources: ResourcesDep,
    wait: Annotated[int, Query(ge=0, le=MAX_WAIT, description="seconds to wait while pending")] = 0,
) -> SessionRead:
    """The session's state; with `wait`, answers as soon as a pending session changes."""
    key = bearer_token(request)
    # Entered before the first read: a change committed after it wakes this wait.
    async with resources.wakeups.watch(wake_key(session_id)) as woken:
        view = await _read(resources, kiosk_id, session_id, key, check_key=True)
        deadline = time.monotonic() + wait
        while view.status is SessionStatus.PENDING:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            # Until the expiry at most: the answer is then `expired`.
            left = min(left, max(0.0, (view.expires_at - clock.now()).total_seconds()) + 0.05)
            if not resources.wakeups.shared:
                # Other processes cannot wake this one without Redis: look again now and then.
                left = min(left, resources.settings.kiosk_poll_recheck_seconds)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), left)
            woken.clear()
            view = await _read(resources, kiosk_id, session_id, key, check_key=False)
    return view


async def _read(
    resources: Resources,
    kiosk_id: uuid.UUID,
    session_id: uuid.UUID,
    key: str | None,
    *,
    check_key: bool,
) -> SessionRead:
    """One short autocommit read (the key checked on the first): no connection is held
    while the poll waits."""
    async with resources.read_sessionmaker() as db:
        if check_key:
            await KioskService(db, resources.settings).authenticate(kiosk_id, key)
        row = await RoundService(db, resources.settings).get(kiosk_id, session_id)
        return SessionRead.build(row, status_now(row))


@router.post(
    "/{session_id}/start",
    responses=error_responses(
        *DEVICE_AUTH_ERRORS, SessionNotFound, SessionNotPaid, SessionAlreadyStarted, SessionExpired
    ),
)
async def start_round(
    session_id: uuid.UUID, kiosk: KioskDevice, session: SessionDep, resources: ResourcesDep
) -> RoundStarted:
    """Start the paid round (once)."""
    row = await RoundService(session, resources.settings).start(kiosk, session_id)
    assert row.started_at is not None  # noqa: S101
    return RoundStarted(status=SessionStatus.STARTED, started_at=row.started_at)
