"""The kiosk's side of a round paid online: /kiosk/{id}/sessions."""

import asyncio
import contextlib
import random
import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from iwm.core import clock
from iwm.core.deadline import arrived_at, extend_deadline
from iwm.core.deps import ResourcesDep, SessionDep, bearer_token
from iwm.core.errors import error_responses
from iwm.core.resources import Resources
from iwm.core.security import same_hash, token_hash
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
from iwm.modules.rounds.models import KioskSession, SessionStatus
from iwm.modules.rounds.polls import SessionReads, reads_of
from iwm.modules.rounds.schemas import RoundStarted, SessionRead
from iwm.modules.rounds.service import RoundService, status_now, wake_key

router = APIRouter(prefix="/kiosk/{kiosk_id}/sessions", tags=["kiosk device"])
MAX_WAIT = 25
# A long poll may take its wait plus this (the reads before and after the wait).
POLL_MARGIN_SECONDS = 5.0
# The part of the wait within which a poll that nothing woke ends (see poll_session).
JITTER_SHARE = 0.5


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
    loop = asyncio.get_running_loop()
    arrived = arrived_at(request)
    # Bounded by its own wait, not by the deadline of ordinary requests.
    extend_deadline(request, arrived + wait + POLL_MARGIN_SECONDS)
    # Polls opened together (a fleet reconnecting) would all end together and come back
    # together: each ends at a random point of the wait's second half instead.
    until = arrived + wait - random.uniform(0, wait * JITTER_SHARE)  # noqa: S311
    # Entered before the first read: a change committed after it wakes this wait.
    reads = reads_of(request, resources)
    async with resources.wakeups.watch(wake_key(session_id)) as woken:
        row = await _first_read(resources, reads, kiosk_id, session_id, key)
        request.state.kiosk_id = kiosk_id  # the key matched: named by the request's log line
        state = status_now(row)
        while state is SessionStatus.PENDING:
            left = until - loop.time()
            if left <= 0:
                break
            # Until the expiry at most: the answer is then `expired`.
            left = min(left, max(0.0, (row.expires_at - clock.now()).total_seconds()) + 0.05)
            if not woken.complete:
                # A change elsewhere might not wake this one: look again now and then.
                left = min(left, resources.settings.kiosk_poll_recheck_seconds)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), left)
            if woken.complete and not woken.is_set():
                # Nothing changed the session since it was read: answered from that read
                # (its state at this moment, which the clock may have moved to `expired`).
                state = status_now(row)
                continue
            if woken.is_set() and woken.complete:
                # Woken by a change: read on its own, not behind a burst's reads, since this
                # is the answer the kiosk waits for.
                async with resources.read_sessionmaker() as db:
                    row = await RoundService(db, resources.settings).get(kiosk_id, session_id)
            else:
                # A look now and then, or every poll of the process at once (the subscription
                # was lost): with the other polls' reads.
                row = await _reread(resources, reads, kiosk_id, session_id)
            woken.clear()
            state = status_now(row)
    return SessionRead.build(row, state)


async def _first_read(
    resources: Resources,
    reads: SessionReads,
    kiosk_id: uuid.UUID,
    session_id: uuid.UUID,
    key: str | None,
) -> KioskSession:
    """The session, with the device key checked in the same statement, read with the other
    polls' first reads (`SessionReads`): no connection is held while the poll waits."""
    found = await reads.read(session_id)
    if found is not None:
        row, key_hash = found
        if row.kiosk_id == kiosk_id and key is not None and same_hash(key_hash, token_hash(key)):
            return row
    # Refused or missing: the precise answer (401, 403 or 404), as on every kiosk route.
    async with resources.read_sessionmaker() as db:
        await KioskService(db, resources.settings).authenticate(kiosk_id, key)
        return await RoundService(db, resources.settings).get(kiosk_id, session_id)


async def _reread(
    resources: Resources, reads: SessionReads, kiosk_id: uuid.UUID, session_id: uuid.UUID
) -> KioskSession:
    found = await reads.read(session_id)
    if found is not None and found[0].kiosk_id == kiosk_id:
        return found[0]
    async with resources.read_sessionmaker() as db:
        return await RoundService(db, resources.settings).get(kiosk_id, session_id)


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
