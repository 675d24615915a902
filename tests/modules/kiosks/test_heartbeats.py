"""Buffered heartbeats: answered from memory, written once a flush interval, and never
trusted longer than that after another process changed the kiosk."""

import asyncio
import uuid
from datetime import timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from iwm.core import clock
from iwm.core.resources import Resources
from iwm.core.security import new_token, token_hash
from iwm.modules.kiosks.liveness import Heartbeats
from iwm.modules.kiosks.models import Kiosk
from tests.factories.kiosk_network import login, make_world


async def _stamp(engine: AsyncEngine, kiosk_id: uuid.UUID) -> object:
    async with engine.connect() as conn:
        return (
            await conn.execute(select(Kiosk.last_active_at).where(Kiosk.id == kiosk_id))
        ).scalar_one()


async def _set(engine: AsyncEngine, kiosk_id: uuid.UUID, **values: object) -> None:
    """A change made by another server process: this one's cache is not told."""
    async with engine.begin() as conn:
        await conn.execute(update(Kiosk).where(Kiosk.id == kiosk_id).values(**values))


def _process(resources: Resources) -> Heartbeats:
    """Another server process's buffer, written only when the test says so."""
    return Heartbeats(resources.liveness_engine, flush_seconds=3600)


async def test_heartbeats_are_written_on_flush_and_coalesced(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    assert resources.heartbeats.buffered
    world = await make_world(resources, kiosks=2)
    first, second = world.kiosks
    beats = _process(resources)
    started = clock.now()
    for _ in range(3):
        assert await beats.beat(first.id, first.key) == ("active", "en")
    assert await beats.beat(second.id, second.key) == ("active", "en")
    assert await _stamp(resources.engine, first.id) is None
    assert await beats.flush() == 2  # four heartbeats, one row each
    assert await beats.flush() == 0
    stamped = await _stamp(resources.engine, first.id)
    assert isinstance(stamped, type(started))
    assert stamped >= started
    # A late stamp from another process never moves the time back.
    clock.travel(timedelta(minutes=-10))
    await beats.beat(first.id, first.key)
    await beats.flush()
    assert await _stamp(resources.engine, first.id) == stamped
    await beats.close()


async def test_the_periodic_writer_stamps_without_being_asked(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    await client.post(f"/kiosk/{kiosk.id}/heartbeat", headers=kiosk.headers)
    for _ in range(50):
        if await _stamp(resources.engine, kiosk.id) is not None:
            break
        await asyncio.sleep(0.1)
    assert await _stamp(resources.engine, kiosk.id) is not None


async def test_the_answer_has_the_documented_shape(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    resp = await client.post(
        f"/kiosk/{kiosk.id}/heartbeat", headers={**kiosk.headers, "X-Request-ID": "beat-1"}
    )
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    assert resp.headers["x-request-id"] == "beat-1"
    body = resp.json()
    assert set(body) == {"ok", "serverTime", "status", "settings"}
    assert body["ok"] is True
    assert body["serverTime"].endswith("Z")
    assert (body["status"], body["settings"]) == ("active", {"defaultLanguage": "en"})


async def test_changes_through_this_process_apply_at_once(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    await client.post(f"/kiosk/{kiosk.id}/heartbeat", headers=kiosk.headers)  # now cached
    await client.post(f"/kiosk/{kiosk.id}/errors", headers=kiosk.headers, json={"code": "B2"})
    beat = await client.post(f"/kiosk/{kiosk.id}/heartbeat", headers=kiosk.headers)
    assert beat.json()["status"] == "error"
    headers = await login(client, world.partner)
    await client.post(
        f"/partner/kiosks/{kiosk.id}/status", headers=headers, json={"status": "inactive"}
    )
    beat = await client.post(f"/kiosk/{kiosk.id}/heartbeat", headers=kiosk.headers)
    assert beat.json()["status"] == "inactive"


async def test_changes_by_another_process_apply_after_one_flush(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    world = await make_world(resources, kiosks=2)
    kiosk, other = world.kiosks
    beats = _process(resources)
    await beats.beat(kiosk.id, kiosk.key)
    await beats.beat(other.id, other.key)
    await beats.flush()
    before = await _stamp(resources.engine, kiosk.id)

    await _set(resources.engine, other.id, status="inactive", default_language="he")
    new_key = new_token()
    await _set(resources.engine, kiosk.id, device_key_hash=token_hash(new_key))
    clock.travel(timedelta(seconds=30))
    # Within the interval the cached state still answers...
    assert await beats.beat(kiosk.id, kiosk.key) == ("active", "en")
    assert await beats.beat(other.id, other.key) == ("active", "en")
    await beats.flush()
    # ...but the replaced key stamped nothing, and after the flush it is refused.
    assert await _stamp(resources.engine, kiosk.id) == before
    assert await beats.beat(kiosk.id, kiosk.key) is None
    assert await beats.beat(kiosk.id, new_key) == ("active", "en")
    assert await beats.beat(other.id, other.key) == ("inactive", "he")
    await beats.close()
    # Through the app, the refusal is the documented one.
    old = await client.post(f"/kiosk/{kiosk.id}/heartbeat", headers=kiosk.headers)
    assert old.status_code == 401
    assert old.json()["error"]["code"] == "UNAUTHORIZED"


async def test_closing_writes_what_is_buffered(
    resources: Resources, client: httpx.AsyncClient
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    beats = _process(resources)
    assert await beats.beat(kiosk.id, kiosk.key) == ("active", "en")
    assert await beats.beat(kiosk.id, "not-the-key") is None
    assert await beats.beat(uuid.uuid4(), kiosk.key) is None
    assert await _stamp(resources.engine, kiosk.id) is None
    await beats.close()
    assert await _stamp(resources.engine, kiosk.id) is not None


async def test_write_through_mode_stamps_each_heartbeat(
    resources: Resources, client: httpx.AsyncClient
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    beats = Heartbeats(resources.liveness_engine, flush_seconds=0)
    assert not beats.buffered
    assert await beats.beat(kiosk.id, "not-the-key") is None
    assert await _stamp(resources.engine, kiosk.id) is None
    assert await beats.beat(kiosk.id, kiosk.key) == ("active", "en")
    assert await _stamp(resources.engine, kiosk.id) is not None
    await beats.close()


async def test_processes_flushing_the_same_kiosks_at_once(
    production_only: None, resources: Resources, client: httpx.AsyncClient
) -> None:
    """Four processes' buffers over the same 40 kiosks, written at the same moment: the
    row locks are taken in one order, so no flush deadlocks and every kiosk is stamped."""
    world = await make_world(resources, kiosks=40)
    processes = [_process(resources) for _ in range(4)]
    for n, beats in enumerate(processes):
        kiosks = world.kiosks if n % 2 == 0 else list(reversed(world.kiosks))
        for kiosk in kiosks:
            assert await beats.beat(kiosk.id, kiosk.key) is not None
    for _ in range(5):
        for beats in processes:
            for kiosk in world.kiosks:
                await beats.beat(kiosk.id, kiosk.key)
        written = await asyncio.gather(*(beats.flush() for beats in processes))
        assert written == [40, 40, 40, 40]
    for kiosk in world.kiosks:
        assert await _stamp(resources.engine, kiosk.id) is not None
    for beats in processes:
        await beats.close()
