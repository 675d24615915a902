"""One rule for a phone number on every route that takes one: sign-up, the member's PATCH
/api/v1/me and the admin's PATCH of a user accept the same numbers (kept without their
spaces) and refuse the same others, on both profiles; the two-letter codes of an address's
country and a profile's language refuse a line break as the phone does."""

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.principal import Role
from iwm.modules.users.models import User
from tests.factories.accounts import MemberApp
from tests.factories.admin import API, admin_headers, make_member

ACCEPTED = [
    ("+7 999 123 45 67", "+79991234567"),
    ("79991234567", "79991234567"),
    ("+123456", "+123456"),
    ("123456789012345", "123456789012345"),
]
REFUSED = [
    "call me",
    "+7-999-123-45-67",
    "+12345",
    "1234567890123456",
    "++79991234567",
    "",
    # A line break is not a space: the number would be kept with it.
    "+79991234567\n",
    "+7999\n1234567",
]


async def _stored(db: AsyncSession, email: str) -> str | None:
    await db.rollback()  # a fresh snapshot: what the app committed since
    return (await db.execute(select(User.phone).where(User.email == email))).scalar_one()


async def _three_routes(app: MemberApp, db: AsyncSession, phone: str) -> list[httpx.Response]:
    """The same number through sign-up, the member's PATCH and the admin's PATCH."""
    _, member = await app.verified_member()
    _, admin = await admin_headers(app.http, app.resources, Role.ADMIN)
    target = await make_member(app.resources)
    return [
        await app.register(phone=phone),
        await app.http.patch("/api/v1/me", json={"phone": phone}, headers=member),
        await app.http.patch(f"{API}/users/{target.id}", json={"phone": phone}, headers=admin),
    ]


async def test_every_route_keeps_the_same_number(app: MemberApp, db: AsyncSession) -> None:
    for given, kept in ACCEPTED:
        signed_up, mine, theirs = await _three_routes(app, db, given)
        assert signed_up.status_code == 201, (given, signed_up.text)
        assert await _stored(db, signed_up.json()["user"]["email"]) == kept, given
        assert mine.status_code == 200, (given, mine.text)
        assert mine.json()["data"]["phone"] == kept, given
        assert theirs.status_code == 200, (given, theirs.text)
        assert theirs.json()["data"]["phone"] == kept, given


async def test_every_route_refuses_the_same_values(app: MemberApp, db: AsyncSession) -> None:
    for given in REFUSED:
        for resp in await _three_routes(app, db, given):
            assert resp.status_code == 400, (given, resp.request.url, resp.text)
            error = resp.json()["error"]
            assert error["code"] == "VALIDATION_ERROR"
            assert "phone" in error["details"], (given, error)


async def test_a_country_or_a_language_with_a_line_break_is_refused(app: MemberApp) -> None:
    # The same trap as the phone's: an anchored pattern let "RU\n" and "en\n" through.
    _, member = await app.verified_member()
    address = await app.http.post(
        "/api/v1/me/addresses", json={"country": "RU\n", "city": "Kazan"}, headers=member
    )
    language = await app.http.patch(
        "/api/v1/me", json={"profile": {"language": "en\n"}}, headers=member
    )
    for resp, field in ((address, "country"), (language, "language")):
        assert resp.status_code == 400, resp.text
        assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
        assert any(field in key for key in resp.json()["error"]["details"]), resp.text
    good = await app.http.post(
        "/api/v1/me/addresses", json={"country": "ru", "city": "Kazan"}, headers=member
    )
    assert good.status_code == 201, good.text
    assert good.json()["data"]["country"] == "RU"
