import asyncio
from datetime import timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import clock
from iwm.core.resources import Resources
from iwm.modules.cleanup.service import CleanupService
from iwm.modules.codes.models import FreeRoundCode
from iwm.modules.kiosks.models import KioskErrorReport
from iwm.modules.orders.models import Order
from iwm.modules.scheduler.jobs import CLEANUP
from iwm.modules.scheduler.models import JobRun
from iwm.modules.scheduler.service import claim_and_run
from tests.factories.images import jpeg
from tests.factories.kiosk_network import login, make_order, make_world


async def _keys(resources: Resources) -> set[str]:
    return {obj.key async for obj in resources.storage.list()}


async def _age(db: AsyncSession, model: type, ids: list, days: int) -> None:
    await db.execute(
        update(model).where(model.id.in_(ids)).values(created_at=clock.now() - timedelta(days=days))
    )
    await db.commit()


async def test_cleanup_removes_exactly_what_expired(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    world = await make_world(resources)
    kiosk = world.kiosks[0]
    headers = await login(client, world.partner)
    old_order, young_order = (
        await make_order(resources, kiosk),
        await make_order(resources, kiosk),
    )
    await _age(db, Order, [old_order.id], 31)
    await _age(db, Order, [young_order.id], 29)
    for _ in range(2):
        assert (
            await client.post(f"/partner/kiosks/{kiosk.id}/code", headers=headers)
        ).status_code == 201
        await client.post(f"/kiosk/{kiosk.id}/errors", headers=kiosk.headers, json={"code": "E"})
    codes = list((await db.execute(select(FreeRoundCode.id).order_by(FreeRoundCode.id))).scalars())
    errors = list(
        (await db.execute(select(KioskErrorReport.id).order_by(KioskErrorReport.id))).scalars()
    )
    await _age(db, FreeRoundCode, codes[:1], 61)
    await _age(db, FreeRoundCode, codes[1:], 59)
    await _age(db, KioskErrorReport, errors[:1], 61)
    # An orphan: a stored photo that no order names (an upload whose order never committed).
    await resources.storage.put("orders/2020/01/01/orphan.jpg", jpeg(), "image/jpeg")
    # Two orders, each with its photo and the photo's thumbnail, and the orphan.
    assert len(await _keys(resources)) == 5

    dry_steps: list[str] = []
    dry = await CleanupService(resources).run(dry_run=True, on_step=dry_steps.append)
    assert (dry.orders, dry.codes, dry.kiosk_errors) == (1, 1, 1)
    assert dry_steps == list(CleanupService.DRY_RUN_STEPS)  # what the progress bar shows
    assert len(await _keys(resources)) == 5  # nothing removed by a dry run

    # Orphans younger than the grace period are left alone (their order may be on its way).
    steps: list[str] = []
    report = await CleanupService(resources).run(on_step=steps.append)
    assert steps == list(CleanupService.STEPS)
    assert (report.orders, report.photos, report.codes, report.kiosk_errors) == (1, 1, 1, 1)
    assert report.orphan_photos == 0
    young = {young_order.image_key, young_order.thumbnail_key}
    assert await _keys(resources) == {*young, "orders/2020/01/01/orphan.jpg"}

    clock.travel(timedelta(minutes=resources.settings.orphan_photo_grace_minutes + 1))
    report = await CleanupService(resources).run()
    assert report.orphan_photos == 1
    assert (report.orders, report.codes, report.kiosk_errors) == (0, 0, 0)
    assert await _keys(resources) == young

    db.expire_all()
    remaining_orders = list((await db.execute(select(Order.id))).scalars())
    assert remaining_orders == [young_order.id]
    assert sorted((await db.execute(select(FreeRoundCode.id))).scalars()) == sorted(codes[1:])
    assert sorted((await db.execute(select(KioskErrorReport.id))).scalars()) == sorted(errors[1:])
    # The young order's photo still loads.
    detail = await client.get(
        f"/partner/orders/{young_order.id}", headers=await login(client, world.partner)
    )
    assert detail.status_code == 200


async def test_cleanup_in_batches_and_twice_is_harmless(
    resources: Resources, db: AsyncSession
) -> None:
    world = await make_world(resources)
    orders = [await make_order(resources, world.kiosks[0]) for _ in range(7)]
    await _age(db, Order, [o.id for o in orders], 40)
    service = CleanupService(resources)
    service._batch = 3  # several batches for seven rows
    assert (await service.run()).orders == 7
    assert (await service.run()).orders == 0
    assert await _keys(resources) == set()


async def test_only_one_process_runs_the_daily_job(resources: Resources, db: AsyncSession) -> None:
    now = clock.now()
    if now.hour < resources.settings.cleanup_hour_utc:
        clock.travel(timedelta(hours=resources.settings.cleanup_hour_utc - now.hour))
    results = await asyncio.gather(*(claim_and_run(resources, CLEANUP) for _ in range(5)))
    assert results.count(True) == 1
    run = (await db.execute(select(JobRun))).scalar_one()
    assert run.finished_at is not None
    assert run.result is not None
    assert run.result["orders"] == 0
    assert await claim_and_run(resources, CLEANUP) is False
