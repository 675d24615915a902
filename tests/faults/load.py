"""A bounded load against the running server, as its clients make it: kiosks upload orders
and redeem codes (retrying with the same Idempotency-Key until acknowledged), beat their
hearts, a partner reads and issues codes, an admin approves and processes payouts.

Every HTTP exchange is recorded (kind, start, duration, status or transport failure), and
what the server acknowledged is kept for the checks after each fault."""

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from tests.factories.images import jpeg

# Kinds of request, and the parts each one needs besides the app.
NEEDS: dict[str, set[str]] = {
    "heartbeat": set(),  # answered from the process's cache of kiosks
    "upload": {"database", "storage"},
    "issue": {"database", "redis"},
    "redeem": {"database", "redis"},
    "read": {"database", "redis"},
    "payout": {"database", "redis"},
}
# A client gives an answer this long before calling it a timeout.
CLIENT_TIMEOUT = 10.0
RETRY_PAUSE = 0.25
# How long a client keeps retrying one operation (longer than the longest outage).
GIVE_UP_AFTER = 120.0
PHOTO = jpeg()


@dataclass(slots=True)
class Call:
    kind: str
    started: float
    seconds: float
    outcome: str  # the HTTP status, or "reset" / "timeout" when no answer came

    @property
    def failed(self) -> bool:
        return not self.outcome.isdigit() or int(self.outcome) >= 500

    @property
    def ended(self) -> float:
        return self.started + self.seconds


@dataclass
class Kiosk:
    id: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@dataclass
class Acknowledged:
    orders: dict[str, str] = field(default_factory=dict)  # customer name -> order id
    uploads_tried: set[str] = field(default_factory=set)
    # (kiosk id, code, issuedAt) of each redeem answered {ok: true}
    redeems: list[tuple[str, str, datetime]] = field(default_factory=list)
    payouts: list[str] = field(default_factory=list)  # answered COMPLETED
    payouts_left_processing: list[str] = field(default_factory=list)
    abandoned: int = 0  # operations given up after GIVE_UP_AFTER (never expected)
    # Answers no client should get whatever the outage: (kind, status, error code).
    unexpected: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class World:
    base_url: str
    kiosks: list[Kiosk]
    partner_token: str
    admin_token: str
    payouts: list[str]  # PENDING payout requests, processed in turn


class Load:
    def __init__(self, world: World, tag: str) -> None:
        self.world = world
        self.tag = tag
        self.calls: list[Call] = []
        self.ack = Acknowledged()
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._seq = 0

    # -- running ---------------------------------------------------------------------------

    def start(self) -> None:
        kiosks = self.world.kiosks
        actors: list[Callable[[], Awaitable[None]]] = [
            *(lambda k=k: self._heartbeats(k) for k in kiosks),
            lambda: self._uploads(kiosks[0]),
            lambda: self._uploads(kiosks[1]),
            lambda: self._redeems(kiosks[2]),
            self._reads,
            self._payouts,
        ]
        self._tasks = [asyncio.create_task(actor()) for actor in actors]

    async def stop(self) -> None:
        """Lets every operation under way finish (acknowledged or given up), then stops."""
        self._stop.set()
        await asyncio.gather(*self._tasks)

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.world.base_url, timeout=CLIENT_TIMEOUT)

    async def _call(
        self, kind: str, send: Callable[[], Awaitable[httpx.Response]]
    ) -> httpx.Response | None:
        started = time.monotonic()
        resp: httpx.Response | None = None
        try:
            resp = await send()
            outcome = str(resp.status_code)
        except httpx.TimeoutException:
            outcome = "timeout"
        except httpx.TransportError:
            outcome = "reset"
        self.calls.append(Call(kind, started, time.monotonic() - started, outcome))
        return resp

    def _unexpected(self, kind: str, resp: httpx.Response) -> None:
        try:
            code = str(resp.json()["error"]["code"])
        except (ValueError, KeyError, TypeError):
            code = resp.text[:80]
        self.ack.unexpected.append((kind, str(resp.status_code), code))

    async def _until_answered(
        self, kind: str, send: Callable[[], Awaitable[httpx.Response]]
    ) -> httpx.Response | None:
        """Retries a failed exchange (5xx, no answer) as a client would; None if given up."""
        deadline = time.monotonic() + GIVE_UP_AFTER
        while time.monotonic() < deadline:
            resp = await self._call(kind, send)
            if resp is not None and resp.status_code < 500:
                return resp
            await asyncio.sleep(RETRY_PAUSE)
        self.ack.abandoned += 1
        return None

    # -- actors ------------------------------------------------------------------------------

    async def _heartbeats(self, kiosk: Kiosk) -> None:
        async with self._client() as http:
            while not self._stop.is_set():
                resp = await self._call(
                    "heartbeat",
                    lambda: http.post(f"/kiosk/{kiosk.id}/heartbeat", headers=kiosk.headers),
                )
                if resp is not None and resp.status_code != 200 and resp.status_code < 500:
                    self._unexpected("heartbeat", resp)
                await asyncio.sleep(0.25)

    async def _uploads(self, kiosk: Kiosk) -> None:
        async with self._client() as http:
            while not self._stop.is_set():
                self._seq += 1
                name = f"{self.tag} {self._seq}"
                self.ack.uploads_tried.add(name)
                key = uuid.uuid4().hex
                resp = await self._until_answered(
                    "upload",
                    lambda name=name, key=key: http.post(  # type: ignore[misc]
                        f"/kiosk/{kiosk.id}/orders",
                        headers={**kiosk.headers, "Idempotency-Key": key},
                        data={"customerName": name, "customerEmail": "fault@example.com"},
                        files={"image": ("photo.jpg", PHOTO, "image/jpeg")},
                    ),
                )
                if resp is not None:
                    if resp.status_code == 201:
                        self.ack.orders[name] = resp.json()["id"]
                    else:
                        self._unexpected("upload", resp)
                await asyncio.sleep(0.2)

    async def _redeems(self, kiosk: Kiosk) -> None:
        partner = {"Authorization": f"Bearer {self.world.partner_token}"}
        async with self._client() as http:
            while not self._stop.is_set():
                issued = await self._until_answered(
                    "issue", lambda: http.post(f"/partner/kiosks/{kiosk.id}/code", headers=partner)
                )
                if issued is None:
                    continue
                if issued.status_code != 201:
                    self._unexpected("issue", issued)
                    continue
                code = issued.json()["code"]
                key = uuid.uuid4().hex
                resp = await self._until_answered(
                    "redeem",
                    lambda code=code, key=key: http.post(  # type: ignore[misc]
                        f"/kiosk/{kiosk.id}/code/redeem",
                        headers={**kiosk.headers, "Idempotency-Key": key},
                        json={"code": code},
                    ),
                )
                if resp is not None:
                    if resp.status_code == 200 and resp.json()["ok"] is True:
                        issued_at = datetime.fromisoformat(issued.json()["issuedAt"])
                        self.ack.redeems.append((kiosk.id, code, issued_at))
                    else:  # 409 CODE_ALREADY_REDEEMED here would be a retry that lost a round
                        self._unexpected("redeem", resp)
                await asyncio.sleep(0.3)

    async def _reads(self) -> None:
        partner = {"Authorization": f"Bearer {self.world.partner_token}"}
        paths = ["/partner/orders?pageSize=20", "/partner/orders/new", "/partner/kiosks"]
        async with self._client() as http:
            turn = 0
            while not self._stop.is_set():
                path = paths[turn % len(paths)]
                turn += 1
                resp = await self._call("read", lambda path=path: http.get(path, headers=partner))  # type: ignore[misc]
                if resp is not None and 400 <= resp.status_code < 500:
                    self._unexpected("read", resp)
                await asyncio.sleep(0.2)

    async def _payouts(self) -> None:
        admin = {"Authorization": f"Bearer {self.world.admin_token}"}
        api = "/api/v1/admin/payouts"
        async with self._client() as http:
            while not self._stop.is_set() and self.world.payouts:
                payout_id = self.world.payouts.pop(0)
                approved = await self._until_answered(
                    "payout",
                    lambda p=payout_id: http.post(f"{api}/{p}/approve", headers=admin, json={}),  # type: ignore[misc]
                )
                # 400 NOT_PENDING: the answer to an earlier attempt was lost; it is approved.
                if approved is None or approved.status_code not in (200, 400):
                    if approved is not None:
                        self._unexpected("payout", approved)
                    continue
                processed = await self._until_answered(
                    "payout",
                    lambda p=payout_id: http.post(f"{api}/{p}/process", headers=admin, json={}),  # type: ignore[misc]
                )
                if processed is None:
                    continue
                if processed.status_code == 200:
                    status = processed.json()["data"]["status"]
                else:  # an earlier attempt's answer was lost: ask what became of it
                    detail = await self._until_answered(
                        "payout",
                        lambda p=payout_id: http.get(f"{api}/{p}", headers=admin),  # type: ignore[misc]
                    )
                    status = detail.json()["data"]["status"] if detail is not None else ""
                if status == "COMPLETED":
                    self.ack.payouts.append(payout_id)
                elif status == "PROCESSING":
                    self.ack.payouts_left_processing.append(payout_id)
                else:
                    self._unexpected("payout", processed)
                await asyncio.sleep(0.5)


@contextlib.asynccontextmanager
async def running(load: Load):  # type: ignore[no-untyped-def]
    load.start()
    try:
        yield load
    finally:
        await load.stop()
