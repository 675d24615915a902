"""The kiosk's long poll on its payment session under a fleet: bounded by its own wait rather
than by the deadline of ordinary requests, ended at spread-out moments, answered from memory
when nothing woke it, its device key checked in the statement that reads its session, and a
burst of polls read in a few statements."""

import asyncio
import time
import uuid
from typing import Any

import httpx
from redis.asyncio import Redis
from sqlalchemy import event, update
from sqlalchemy.engine import Engine

from iwm.core.resources import Resources
from iwm.core.security import new_token, token_hash
from iwm.core.wakeups import Wakeups
from iwm.main import create_app
from iwm.modules.kiosks.models import Kiosk
from iwm.modules.rounds import device_router
from iwm.modules.rounds.models import KioskSession
from tests.factories.kiosk_network import KioskHandle, login, make_world
from tests.factories.rounds import open_session, set_price


async def _priced_kiosk(client: httpx.AsyncClient, resources: Resources) -> KioskHandle:
    world = await make_world(resources)
    await set_price(client, await login(client, world.partner), world.kiosks[0])
    return world.kiosks[0]


def _poll_url(kiosk: KioskHandle, session: dict[str, object]) -> str:
    return f"/kiosk/{kiosk.id}/sessions/{session['id']}"


class _Statements:
    """The SQL statements the app's requests run while inside the block (the heartbeats'
    own writer has connections of its own on PostgreSQL, not counted)."""

    def __init__(self, resources: Resources) -> None:
        self.engine: Engine = resources.engine.sync_engine
        self.seen: list[str] = []

    def _record(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.seen.append(" ".join(statement.split()))

    def __enter__(self) -> "_Statements":
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)

    def reading(self, table: str) -> list[str]:
        return [s for s in self.seen if s.startswith("SELECT") and f"FROM {table} " in s + " "]


async def test_a_long_poll_outlives_the_deadline_of_ordinary_requests(
    client: httpx.AsyncClient, resources: Resources, settings: Any
) -> None:
    kiosk = await _priced_kiosk(client, resources)
    opened = await open_session(client, kiosk)
    # 2 s for ordinary requests: a cold app's first request on a loaded machine may take one.
    app = create_app(settings.model_copy(update={"request_timeout_seconds": 2.0}))
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            began = time.monotonic()
            resp = await http.get(
                _poll_url(kiosk, opened), params={"wait": 5}, headers=kiosk.headers
            )
            took = time.monotonic() - began
    finally:
        await app.state.resources.close()
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "pending"
    assert took >= 5 * (1 - device_router.JITTER_SHARE) - 0.05


async def test_polls_opened_together_end_apart_within_their_wait(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    kiosk = await _priced_kiosk(client, resources)
    opened = await open_session(client, kiosk)

    async def poll() -> float:
        resp = await client.get(_poll_url(kiosk, opened), params={"wait": 2}, headers=kiosk.headers)
        assert resp.json()["status"] == "pending"
        return time.monotonic()

    began = time.monotonic()
    ended = [t - began for t in await asyncio.gather(*(poll() for _ in range(8)))]
    assert min(ended) >= 2 * (1 - device_router.JITTER_SHARE) - 0.05
    assert max(ended) <= 2.5
    assert max(ended) - min(ended) > 0.05  # not all at one moment


async def test_a_poll_nothing_woke_runs_one_statement(
    client: httpx.AsyncClient, resources: Resources, production_only: None
) -> None:
    kiosk = await _priced_kiosk(client, resources)
    opened = await open_session(client, kiosk)
    with _Statements(resources) as sql:
        resp = await client.get(_poll_url(kiosk, opened), params={"wait": 2}, headers=kiosk.headers)
    assert resp.json()["status"] == "pending"
    # The session and its kiosk's key in one read at the start; none when the wait ends.
    assert len(sql.seen) == 1, sql.seen
    assert "kiosk_sessions" in sql.seen[0]
    assert "device_key_hash" in sql.seen[0]


async def test_a_burst_of_polls_is_read_in_a_few_statements(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources, kiosks=3)
    partner = await login(client, world.partner)
    polls = []
    for kiosk in world.kiosks:
        await set_price(client, partner, kiosk)
        opened = await open_session(client, kiosk)
        polls += [(_poll_url(kiosk, opened), kiosk.headers)] * 20
    with _Statements(resources) as sql:
        answers = await asyncio.gather(*(client.get(url, headers=h) for url, h in polls))
    assert [a.status_code for a in answers] == [200] * len(polls)
    assert {a.json()["status"] for a in answers} == {"pending"}
    assert {a.json()["id"] for a in answers} == {url.rsplit("/", 1)[1] for url, _ in polls}
    assert 1 <= len(sql.seen) <= 6, sql.seen


async def test_a_change_nobody_announced_reaches_the_next_poll_at_once(
    client: httpx.AsyncClient, resources: Resources, production_only: None
) -> None:
    """A writer that committed but could not publish its wake-up (Redis away at that
    moment): the poll waiting then ends with the state it read, and the kiosk's next poll,
    which always begins with a read, answers the change at once."""
    kiosk = await _priced_kiosk(client, resources)
    opened = await open_session(client, kiosk)
    url = _poll_url(kiosk, opened)
    waiting = asyncio.create_task(client.get(url, params={"wait": 2}, headers=kiosk.headers))
    await asyncio.sleep(0.3)
    async with resources.engine.begin() as conn:
        await conn.execute(
            update(KioskSession).where(KioskSession.id == opened["id"]).values(status="paid")
        )
    assert (await waiting).json()["status"] == "pending"
    began = time.monotonic()
    again = await client.get(url, params={"wait": 20}, headers=kiosk.headers)
    assert again.json()["status"] == "paid"
    assert time.monotonic() - began < 1.0


async def test_a_key_rotated_through_this_process_is_refused_at_once(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    await set_price(client, await login(client, world.partner), kiosk)
    opened = await open_session(client, kiosk)
    await client.post(f"/kiosk/{kiosk.id}/heartbeat", headers=kiosk.headers)  # now cached
    admin = await login(client, world.admin)
    rotated = await client.post(f"/api/v1/admin/kiosks/{kiosk.id}/rotate-key", headers=admin)
    assert rotated.status_code == 200, rotated.text
    old = await client.get(_poll_url(kiosk, opened), headers=kiosk.headers)
    assert old.status_code == 401
    assert old.json()["error"]["code"] == "UNAUTHORIZED"
    new_headers = {"Authorization": f"Bearer {rotated.json()['data']['deviceKey']}"}
    new = await client.get(_poll_url(kiosk, opened), headers=new_headers)
    assert new.status_code == 200
    assert new.json()["status"] == "pending"


async def test_a_key_rotated_elsewhere_is_refused_at_once(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources, kiosks=2)
    kiosk, other = world.kiosks
    await set_price(client, await login(client, world.partner), kiosk)
    opened = await open_session(client, kiosk)
    await client.post(f"/kiosk/{kiosk.id}/heartbeat", headers=kiosk.headers)  # now cached
    # Another server process replaces the key: this one's heartbeat cache is not told.
    new_key = new_token()
    async with resources.engine.begin() as conn:
        await conn.execute(
            update(Kiosk).where(Kiosk.id == kiosk.id).values(device_key_hash=token_hash(new_key))
        )
    old = await client.get(_poll_url(kiosk, opened), headers=kiosk.headers)
    assert old.status_code == 401
    assert old.json()["error"]["code"] == "UNAUTHORIZED"
    # Another kiosk's key on this kiosk's path: the precise refusal, as on every kiosk route.
    foreign = await client.get(_poll_url(kiosk, opened), headers=other.headers)
    assert foreign.status_code == 403
    assert foreign.json()["error"]["code"] == "FORBIDDEN"
    missing = await client.get(
        f"/kiosk/{kiosk.id}/sessions/{uuid.uuid4()}", headers={"Authorization": f"Bearer {new_key}"}
    )
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "SESSION_NOT_FOUND"
    new = await client.get(_poll_url(kiosk, opened), headers={"Authorization": f"Bearer {new_key}"})
    assert new.status_code == 200
    assert new.json()["status"] == "pending"


async def test_a_poll_trusts_its_silence_only_once_redis_confirmed_the_subscription(
    resources: Resources, production_only: None
) -> None:
    """A wait begun before this process's subscription was confirmed (Redis away, or just
    reconnecting) may miss a wake-up from another process: it is not `complete`, so the
    poll reads again now and then instead of answering from memory."""
    nowhere = Redis.from_url("redis://127.0.0.1:9", socket_connect_timeout=0.2)
    cut_off = Wakeups(nowhere, nowhere)
    try:
        async with cut_off.watch("kiosk-session:x") as woken:
            assert not woken.complete
    finally:
        await cut_off.close()

    assert resources.settings.redis_url is not None
    url = resources.settings.redis_url.get_secret_value()
    prefix = f"{resources.settings.redis_prefix}:confirm"
    clients = [Redis.from_url(url), Redis.from_url(url)]
    here, other_process = Wakeups(clients[0], None, prefix), Wakeups(clients[1], None, prefix)
    try:
        async with here.watch("kiosk-session:y") as woken:
            assert woken.complete
            await other_process.wake("kiosk-session:y")
            await asyncio.wait_for(woken.wait(), 2)
    finally:
        for wakeups in (here, other_process):
            await wakeups.close()
        for client in clients:
            await client.aclose()
