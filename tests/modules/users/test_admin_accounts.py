"""Administrators' accounts are a SUPER_ADMIN's to change, and an account's email address
follows one rule wherever it is set."""

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.emails import account_email
from iwm.core.errors import ValidationFailed
from iwm.core.principal import Role
from iwm.core.resources import Resources
from iwm.modules.users.models import User, UserStatus
from iwm.modules.users.service import UserService
from tests.factories.admin import API, admin_headers, audit_rows, make_member
from tests.factories.kiosk_network import PASSWORD

USERS = f"{API}/users"


async def _email_of(db: AsyncSession, user: User) -> str:
    await db.rollback()
    email: str = (await db.execute(select(User.email).where(User.id == user.id))).scalar_one()
    return email


async def test_an_admin_cannot_change_another_admins_email(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    _, headers = await admin_headers(client, resources)
    colleague = await make_member(resources, email="ops@example.com", roles={Role.ADMIN})
    resp = await client.patch(
        f"{USERS}/{colleague.id}", json={"email": "mine-now@example.com"}, headers=headers
    )
    assert resp.status_code == 403, resp.text
    assert resp.json()["error"]["code"] == "FORBIDDEN"
    assert await _email_of(db, colleague) == "ops@example.com"
    assert await audit_rows(db) == []
    # Other fields of a fellow admin stay open to admins, and so does one's own address.
    named = await client.patch(
        f"{USERS}/{colleague.id}", json={"profile": {"firstName": "Olga"}}, headers=headers
    )
    assert named.status_code == 200, named.text
    _, super_headers = await admin_headers(client, resources, Role.SUPER_ADMIN)
    moved = await client.patch(
        f"{USERS}/{colleague.id}", json={"email": "ops2@example.com"}, headers=super_headers
    )
    assert moved.status_code == 200, moved.text
    assert await _email_of(db, colleague) == "ops2@example.com"


async def test_an_admin_changes_his_own_email_and_a_members(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    me, headers = await admin_headers(client, resources)
    own = await client.patch(f"{USERS}/{me.id}", json={"email": "me@example.com"}, headers=headers)
    assert own.status_code == 200, own.text
    member = await make_member(resources)
    theirs = await client.patch(
        f"{USERS}/{member.id}", json={"email": "member@example.com"}, headers=headers
    )
    assert theirs.status_code == 200, theirs.text


async def test_an_admin_cannot_reactivate_another_admin(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    _, headers = await admin_headers(client, resources)
    banned = await make_member(resources, roles={Role.ADMIN}, status=UserStatus.BANNED)
    resp = await client.post(f"{USERS}/{banned.id}/activate", json={}, headers=headers)
    assert resp.status_code == 403, resp.text
    assert resp.json()["error"]["code"] == "FORBIDDEN"
    _, super_headers = await admin_headers(client, resources, Role.SUPER_ADMIN)
    ok = await client.post(f"{USERS}/{banned.id}/activate", json={}, headers=super_headers)
    assert ok.status_code == 200, ok.text


async def test_patch_accepts_the_addresses_accounts_are_made_with(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    _, headers = await admin_headers(client, resources)
    # Made the way `iwm create-user` and the demo data make accounts.
    first = await make_member(resources, email="partner@iwm.local")
    second = await make_member(resources, email="cashier@shop.test")
    taken = await client.patch(
        f"{USERS}/{second.id}", json={"email": "Partner@IWM.local"}, headers=headers
    )
    assert taken.status_code == 409, taken.text
    assert taken.json()["error"]["code"] == "EMAIL_ALREADY_EXISTS"
    own = await client.patch(
        f"{USERS}/{first.id}", json={"email": "Partner@iwm.local"}, headers=headers
    )
    assert own.status_code == 200, own.text
    assert own.json()["data"]["email"] == "partner@iwm.local"
    moved = await client.patch(
        f"{USERS}/{second.id}", json={"email": "till-2@shop.test"}, headers=headers
    )
    assert moved.status_code == 200, moved.text
    assert await _email_of(db, second) == "till-2@shop.test"


@pytest.mark.parametrize(
    "address", ["not-an-email", "a@localhost", "a@b..c", "x@example.invalid", "a b@x.local"]
)
async def test_one_rule_refuses_the_same_addresses_everywhere(
    client: httpx.AsyncClient, resources: Resources, address: str
) -> None:
    with pytest.raises(ValueError, match=r"."):
        account_email(address)
    _, headers = await admin_headers(client, resources, Role.SUPER_ADMIN)
    member = await make_member(resources)
    resp = await client.patch(f"{USERS}/{member.id}", json={"email": address}, headers=headers)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
    assert "email" in resp.json()["error"]["details"]
    async with resources.sessionmaker() as db:
        with pytest.raises(ValidationFailed) as refused:
            await UserService(db).create(
                address, {Role.USER}, password_hash=resources.passwords.hash(PASSWORD)
            )
        assert "email" in refused.value.details


def test_the_rule_normalises() -> None:
    assert account_email("  Admin@IWM.Local ") == "admin@iwm.local"
    assert account_email("Ab@Example.COM") == "ab@example.com"
    assert account_email("p@demo.test") == "p@demo.test"
