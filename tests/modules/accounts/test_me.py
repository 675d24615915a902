"""/api/v1/me: profile read and edit, addresses, avatar, sessions; another member's
address or session is 404, on both profiles."""

import uuid

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.config import Settings
from iwm.core.principal import Role
from iwm.modules.audit.models import AuditLog
from iwm.modules.network.service import NetworkService
from iwm.modules.users.models import User, UserAddress
from tests.factories.accounts import MemberApp, member_app
from tests.factories.images import gif, jpeg, png
from tests.factories.kiosk_network import login, make_user

ME = "/api/v1/me"


async def _fresh(db: AsyncSession) -> AsyncSession:
    await db.rollback()  # a fresh snapshot: what the app committed since
    return db


async def test_read_my_account(app: MemberApp) -> None:
    email, headers = await app.verified_member()
    resp = await app.http.get(ME, headers=headers)
    assert resp.status_code == 200
    body = resp.json()
    assert body["success"] is True
    me = body["data"]
    assert me["email"] == email
    assert me["status"] == "ACTIVE"
    assert me["roles"] == ["USER"]
    assert me["phone"] is None
    assert me["profile"] == {
        "firstName": "Mila",
        "lastName": "Novak",
        "middleName": None,
        "dateOfBirth": None,
        "language": "en",
        "timezone": "UTC",
        "avatarUrl": None,
    }
    assert me["kyc"] == {"status": "NOT_SUBMITTED", "level": "NONE"}
    assert me["partner"] is None
    assert me["twoFactorEnabled"] is False
    assert me["emailVerifiedAt"].endswith("Z")

    assert (await app.http.get(ME)).status_code == 401


async def test_a_pending_account_reads_its_status(app: MemberApp) -> None:
    await app.register("pending-me@example.com")
    headers = await app.login("pending-me@example.com")
    me = (await app.http.get(ME, headers=headers)).json()["data"]
    assert me["status"] == "PENDING_VERIFICATION"
    assert me["emailVerifiedAt"] is None


async def test_partner_profile_shows_once_joined(app: MemberApp) -> None:
    _, headers = await app.verified_member()
    user_id = (await app.http.get(ME, headers=headers)).json()["data"]["id"]
    async with app.resources.sessionmaker.begin() as session:
        network = NetworkService(session, app.resources.settings)
        await network.ensure_rank("BRONZE", "Bronze", 1)
        partner = await network.enroll(uuid.UUID(user_id))
        await network.set_rank(partner.id, "BRONZE")
    me = (await app.http.get(ME, headers=headers)).json()["data"]
    assert me["partner"]["id"] == str(partner.id)
    assert me["partner"]["referralCode"] == partner.referral_code
    assert me["partner"]["status"] == "ACTIVE"
    assert me["partner"]["rank"] == "Bronze"
    assert me["partner"]["joinedAt"].endswith("Z")


async def test_patch_my_profile(app: MemberApp, db: AsyncSession) -> None:
    email, headers = await app.verified_member()
    resp = await app.http.patch(
        ME,
        json={
            "phone": "+7 999 000 11 22",
            "profile": {
                "middleName": "Ivanovna",
                "dateOfBirth": "1990-05-15",
                "language": "ru",
                "timezone": "Europe/Moscow",
            },
        },
        headers=headers,
    )
    assert resp.status_code == 200, resp.text
    me = resp.json()["data"]
    assert me["phone"] == "+79990001122"
    assert me["profile"]["middleName"] == "Ivanovna"
    assert me["profile"]["dateOfBirth"] == "1990-05-15"
    assert me["profile"]["language"] == "ru"
    assert me["profile"]["timezone"] == "Europe/Moscow"
    assert me["profile"]["firstName"] == "Mila"  # left out: kept
    assert me["email"] == email

    session = await _fresh(db)
    user = (await session.execute(select(User).where(User.email == email))).scalar_one()
    assert (user.phone, user.language, user.timezone) == ("+79990001122", "ru", "Europe/Moscow")
    audit = (
        await session.execute(select(AuditLog).where(AuditLog.action == "PROFILE_UPDATED"))
    ).scalar_one()
    assert audit.admin_id == user.id
    assert audit.new_values is not None
    assert audit.new_values["language"] == "ru"

    cleared = await app.http.patch(
        ME, json={"phone": None, "profile": {"middleName": None}}, headers=headers
    )
    assert cleared.json()["data"]["phone"] is None
    assert cleared.json()["data"]["profile"]["middleName"] is None

    for body, field in (
        ({"profile": {"language": "zz"}}, "profile.language"),
        ({"profile": {"language": "english"}}, "profile.language"),
        ({"profile": {"timezone": "Mars/Base"}}, "profile.timezone"),
        ({"profile": {"dateOfBirth": "2999-01-01"}}, "profile.dateOfBirth"),
        ({"profile": {"dateOfBirth": "1800-01-01"}}, "profile.dateOfBirth"),
        ({"profile": {"firstName": None}}, "profile.firstName"),
        ({"phone": "nope"}, "phone"),
        ({"email": "other@example.com"}, "email"),
        ({"roles": ["ADMIN"]}, "roles"),
    ):
        bad = await app.http.patch(ME, json=body, headers=headers)
        assert bad.status_code == 400, (body, bad.text)
        assert bad.json()["error"]["code"] == "VALIDATION_ERROR"
        assert field in bad.json()["error"]["details"], (body, bad.json())
    after = (await app.http.get(ME, headers=headers)).json()["data"]
    assert after["roles"] == ["USER"]
    assert after["email"] == email


async def test_addresses_add_edit_default_delete(app: MemberApp, db: AsyncSession) -> None:
    _, headers = await app.verified_member()
    url = f"{ME}/addresses"
    home = await app.http.post(
        url,
        json={"country": "ru", "city": "Moscow", "street": "Tverskaya", "postalCode": "125009"},
        headers=headers,
    )
    assert home.status_code == 201, home.text
    home_body = home.json()["data"]
    assert home_body["isDefault"] is True  # the first one
    assert home_body["country"] == "RU"
    assert home_body["label"] == "Home"
    work = await app.http.post(
        url, json={"label": "Work", "country": "DE", "city": "Berlin"}, headers=headers
    )
    assert work.json()["data"]["isDefault"] is False
    work_id = work.json()["data"]["id"]

    listed = (await app.http.get(url, headers=headers)).json()["data"]
    assert [a["label"] for a in listed] == ["Home", "Work"]

    moved = await app.http.patch(
        f"{url}/{work_id}", json={"isDefault": True, "apartment": "4B"}, headers=headers
    )
    assert moved.status_code == 200
    assert moved.json()["data"]["isDefault"] is True
    assert moved.json()["data"]["apartment"] == "4B"
    listed = (await app.http.get(url, headers=headers)).json()["data"]
    assert [(a["label"], a["isDefault"]) for a in listed] == [("Work", True), ("Home", False)]
    one = await app.http.get(f"{url}/{work_id}", headers=headers)
    assert one.json()["data"]["city"] == "Berlin"

    bad = await app.http.patch(f"{url}/{work_id}", json={"country": "Germany"}, headers=headers)
    assert bad.status_code == 400
    assert "country" in bad.json()["error"]["details"]
    null = await app.http.patch(f"{url}/{work_id}", json={"city": None}, headers=headers)
    assert null.status_code == 400
    missing = await app.http.post(url, json={"country": "RU"}, headers=headers)
    assert missing.status_code == 400
    assert "city" in missing.json()["error"]["details"]

    gone = await app.http.delete(f"{url}/{work_id}", headers=headers)
    assert gone.status_code == 200
    assert gone.json()["data"] == {"id": work_id, "deleted": True}
    listed = (await app.http.get(url, headers=headers)).json()["data"]
    assert [(a["label"], a["isDefault"]) for a in listed] == [("Home", True)]
    again = await app.http.delete(f"{url}/{work_id}", headers=headers)
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "ADDRESS_NOT_FOUND"
    session = await _fresh(db)
    assert len(list((await session.execute(select(UserAddress))).scalars())) == 1


async def test_address_limit(settings: Settings, client: httpx.AsyncClient) -> None:
    async with member_app(settings, smtp=False, addresses_per_member=2) as app:
        _, headers = await app.verified_member()
        for city in ("A", "B"):
            resp = await app.http.post(
                f"{ME}/addresses", json={"country": "RU", "city": city}, headers=headers
            )
            assert resp.status_code == 201
        third = await app.http.post(
            f"{ME}/addresses", json={"country": "RU", "city": "C"}, headers=headers
        )
        assert third.status_code == 400
        assert third.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_another_members_address_is_not_found(app: MemberApp, db: AsyncSession) -> None:
    _, mine = await app.verified_member()
    _, theirs = await app.verified_member()
    created = await app.http.post(
        f"{ME}/addresses", json={"country": "FR", "city": "Paris"}, headers=theirs
    )
    foreign = created.json()["data"]["id"]
    for method, body in (("GET", None), ("PATCH", {"city": "Lyon"}), ("DELETE", None)):
        resp = await app.http.request(method, f"{ME}/addresses/{foreign}", json=body, headers=mine)
        assert resp.status_code == 404, method
        assert resp.json()["error"]["code"] == "ADDRESS_NOT_FOUND"
    assert (await app.http.get(f"{ME}/addresses", headers=mine)).json()["data"] == []
    session = await _fresh(db)
    address = (await session.execute(select(UserAddress))).scalar_one()
    assert address.city == "Paris"


async def test_avatar_upload_and_removal(app: MemberApp, db: AsyncSession) -> None:
    email, headers = await app.verified_member()
    url = f"{ME}/avatar"
    first = await app.http.post(
        url, files={"image": ("me.png", png(900, 600), "image/png")}, headers=headers
    )
    assert first.status_code == 200, first.text
    avatar_url = first.json()["data"]["profile"]["avatarUrl"]
    assert avatar_url
    session = await _fresh(db)
    key = (await session.execute(select(User.avatar_url).where(User.email == email))).scalar_one()
    assert key is not None
    assert key.startswith("avatars/")
    stored = await app.resources.storage.get(key)
    assert stored is not None
    assert stored[:3] == b"\xff\xd8\xff"  # re-encoded as a JPEG
    assert key in avatar_url
    assert avatar_url.startswith("http")
    # The admin's user detail and list show a link too, not the storage key.
    admin = await login(app.http, await make_user(app.resources, Role.ADMIN))
    user_id = first.json()["data"]["id"]
    detail = await app.http.get(f"/api/v1/admin/users/{user_id}", headers=admin)
    shown = detail.json()["data"]["profile"]["avatarUrl"]
    assert key in shown
    assert shown.startswith("http")
    listed = await app.http.get("/api/v1/admin/users", headers=admin)
    (row,) = [u for u in listed.json()["data"]["users"] if u["id"] == user_id]
    assert row["profile"]["avatarUrl"].startswith("http")

    second = await app.http.post(
        url, files={"image": ("me.jpg", jpeg(), "image/jpeg")}, headers=headers
    )
    assert second.status_code == 200
    assert await app.resources.storage.get(key) is None  # the old one is deleted

    for files in (
        {"image": ("x.gif", gif(), "image/gif")},
        {"image": ("x.jpg", b"not an image", "image/jpeg")},
        {"image": ("x.jpg", b"", "image/jpeg")},
    ):
        bad = await app.http.post(url, files=files, headers=headers)
        assert bad.status_code == 400
        assert bad.json()["error"]["code"] == "VALIDATION_ERROR"
    big = b"\xff" * (app.resources.settings.max_upload_bytes + 1)
    too_big = await app.http.post(
        url, files={"image": ("x.jpg", big, "image/jpeg")}, headers=headers
    )
    assert too_big.status_code == 413

    removed = await app.http.delete(url, headers=headers)
    assert removed.status_code == 200
    assert removed.json()["data"]["profile"]["avatarUrl"] is None
    session = await _fresh(db)
    assert (
        await session.execute(select(User.avatar_url).where(User.email == email))
    ).scalar_one() is None


async def test_sessions_list_and_revoke(app: MemberApp) -> None:
    email, first = await app.verified_member()
    second = await app.login(email)
    url = f"{ME}/sessions"
    listed = await app.http.get(url, headers=first, params={})
    assert listed.status_code == 200
    sessions = listed.json()["data"]
    assert len(sessions) == 2
    assert [s["current"] for s in sessions] == [False, True]  # newest first: the second
    assert {frozenset(s) for s in sessions} == {
        frozenset({"id", "createdAt", "expiresAt", "ip", "userAgent", "current"})
    }
    assert all(s["userAgent"] for s in sessions)
    other_id = sessions[0]["id"]

    revoked = await app.http.delete(f"{url}/{other_id}", headers=first)
    assert revoked.status_code == 200
    assert revoked.json()["data"] == {"id": other_id, "revoked": True}
    assert (await app.http.get(ME, headers=second)).status_code == 401
    assert (await app.http.get(ME, headers=first)).status_code == 200
    again = await app.http.delete(f"{url}/{other_id}", headers=first)
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "SESSION_NOT_FOUND"


async def test_another_members_session_is_not_found(app: MemberApp) -> None:
    _, mine = await app.verified_member()
    _, theirs = await app.verified_member()
    their_id = (await app.http.get(f"{ME}/sessions", headers=theirs)).json()["data"][0]["id"]
    resp = await app.http.delete(f"{ME}/sessions/{their_id}", headers=mine)
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "SESSION_NOT_FOUND"
    assert (await app.http.get(ME, headers=theirs)).status_code == 200


async def test_session_ids_are_uuids(app: MemberApp) -> None:
    _, headers = await app.verified_member()
    bad = await app.http.delete(f"{ME}/sessions/not-an-id", headers=headers)
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "VALIDATION_ERROR"
    unknown = await app.http.delete(f"{ME}/sessions/{uuid.uuid4()}", headers=headers)
    assert unknown.status_code == 404
