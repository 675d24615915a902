"""Two admins giving one address to different users at the same moment: one wins, the
others get 409 EMAIL_ALREADY_EXISTS, never a 500 (the unique index decides)."""

import asyncio

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.principal import Role
from iwm.core.resources import Resources
from iwm.modules.users.models import User
from tests.factories.money import API, admin, make_person


async def test_parallel_patches_to_one_address(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession, production_only: None
) -> None:
    _, headers = await admin(client, resources, Role.SUPER_ADMIN)
    users = [await make_person(resources, f"Racer{i}") for i in range(8)]

    async def patch(user: User) -> httpx.Response:
        return await client.patch(
            f"{API}/users/{user.id}", json={"email": "race@shop.test"}, headers=headers
        )

    answers = await asyncio.gather(*(patch(u) for u in users))
    codes = sorted(r.status_code for r in answers)
    assert codes == [200] + [409] * 7, [r.text for r in answers]
    for r in answers:
        if r.status_code == 409:
            assert r.json()["error"]["code"] == "EMAIL_ALREADY_EXISTS"
    taken = await db.scalar(
        select(func.count()).select_from(User).where(User.email == "race@shop.test")
    )
    assert taken == 1
