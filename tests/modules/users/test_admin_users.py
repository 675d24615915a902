"""GET/PATCH /api/v1/admin/users..., suspend and activate."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import clock
from iwm.core.principal import Role
from iwm.core.resources import Resources
from iwm.modules.kyc.models import KycPriority
from iwm.modules.users.models import User, UserNote, UserStatus
from tests.factories.admin import (
    API,
    admin_headers,
    audit_rows,
    enroll,
    make_member,
    submit_kyc,
)
from tests.factories.kiosk_network import login, make_user

USERS = f"{API}/users"


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


async def test_list_returns_the_envelope_with_users_and_pagination(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    _, headers = await admin_headers(client, resources)
    member = await make_member(
        resources, email="john@example.com", first_name="John", last_name="Doe", phone="+7999"
    )
    await enroll(resources, member)
    await submit_kyc(resources, member)

    resp = await client.get(USERS, params={"search": "john@"}, headers=headers)

    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["success"] is True
    assert body["meta"]["pagination"] == {
        "total": 1,
        "page": 1,
        "pageSize": 20,
        "totalPages": 1,
        "hasNext": False,
        "hasPrevious": False,
    }
    assert body["data"]["users"] == [
        {
            "id": str(member.id),
            "email": "john@example.com",
            "phone": "+7999",
            "status": "ACTIVE",
            "profile": {"firstName": "John", "lastName": "Doe", "avatarUrl": None},
            "kyc": {"status": "SUBMITTED", "level": "STANDARD"},
            "roles": ["USER"],
            "isPartner": True,
            "stats": {"ordersCount": 0, "totalSpent": 0, "investmentsCount": 0, "totalInvested": 0},
            "lastLoginAt": None,
            "createdAt": _iso(member.created_at),
        }
    ]


async def test_page_boundaries(client: httpx.AsyncClient, resources: Resources) -> None:
    _, headers = await admin_headers(client, resources)
    for i in range(4):
        await make_member(resources, email=f"page{i}@example.com")
    # 5 users in all: the admin and four members.
    first = (await client.get(USERS, params={"pageSize": 2}, headers=headers)).json()
    assert first["meta"]["pagination"] == {
        "total": 5,
        "page": 1,
        "pageSize": 2,
        "totalPages": 3,
        "hasNext": True,
        "hasPrevious": False,
    }
    middle = (await client.get(USERS, params={"pageSize": 2, "page": 2}, headers=headers)).json()
    assert middle["meta"]["pagination"]["hasNext"] is True
    assert middle["meta"]["pagination"]["hasPrevious"] is True
    last = (await client.get(USERS, params={"pageSize": 2, "page": 3}, headers=headers)).json()
    assert len(last["data"]["users"]) == 1
    assert last["meta"]["pagination"]["hasNext"] is False
    assert last["meta"]["pagination"]["hasPrevious"] is True
    beyond = (await client.get(USERS, params={"pageSize": 2, "page": 4}, headers=headers)).json()
    assert beyond["data"]["users"] == []
    seen = [u["id"] for page in (first, middle, last) for u in page["data"]["users"]]
    assert len(set(seen)) == 5


@pytest.mark.parametrize(
    "params",
    [
        {"pageSize": 101},
        {"page": 0},
        {"status": "GONE"},
        {"role": "KING"},
        {"kycStatus": "MAYBE"},
        {"sortBy": "password"},
        {"sortOrder": "up"},
        {"dateFrom": "yesterday"},
        {"dateFrom": "2024-02-01", "dateTo": "2024-01-01"},
    ],
)
async def test_bad_query_parameters_are_400(
    client: httpx.AsyncClient, resources: Resources, params: dict[str, object]
) -> None:
    _, headers = await admin_headers(client, resources)
    resp = await client.get(USERS, params=params, headers=headers)
    assert resp.status_code == 400
    assert resp.json()["success"] is False
    assert resp.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_filters_match_the_data(client: httpx.AsyncClient, resources: Resources) -> None:
    admin, headers = await admin_headers(client, resources)
    jan = datetime(2024, 1, 10, 12, tzinfo=UTC)
    active = await make_member(resources, email="active@example.com", created_at=jan)
    pending = await make_member(
        resources,
        email="pending@example.com",
        status=UserStatus.PENDING_VERIFICATION,
        created_at=jan + timedelta(days=20),
    )
    banned = await make_member(resources, email="banned@example.com", status=UserStatus.BANNED)
    partner_role = await make_member(resources, email="kiosk@example.com", roles={Role.PARTNER})
    await submit_kyc(resources, pending)
    suspended = await make_member(resources, email="suspended@example.com")
    resp = await client.post(
        f"{USERS}/{suspended.id}/suspend", json={"reason": "fraud"}, headers=headers
    )
    assert resp.status_code == 200

    async def emails(**params: object) -> set[str]:
        r = await client.get(USERS, params={"pageSize": 100, **params}, headers=headers)
        assert r.status_code == 200, r.text
        return {u["email"] for u in r.json()["data"]["users"]}

    everyone = {
        admin.email,
        active.email,
        pending.email,
        banned.email,
        partner_role.email,
        suspended.email,
    }
    assert await emails() == everyone
    assert await emails(status="ALL") == everyone
    assert await emails(status="ACTIVE") == {admin.email, active.email, partner_role.email}
    assert await emails(status="PENDING_VERIFICATION") == {pending.email}
    assert await emails(status="SUSPENDED") == {suspended.email}
    assert await emails(status="BANNED") == {banned.email}
    assert await emails(role="ADMIN") == {admin.email}
    assert await emails(role="PARTNER") == {partner_role.email}
    assert await emails(role="SUPER_ADMIN") == set()
    assert await emails(kycStatus="SUBMITTED") == {pending.email}
    assert pending.email not in await emails(kycStatus="NOT_SUBMITTED")
    assert await emails(dateFrom="2024-01-01", dateTo="2024-01-10") == {active.email}
    assert await emails(dateFrom="2024-01-11", dateTo="2024-01-31") == {pending.email}
    assert await emails(dateTo="2024-01-10T11:00:00Z") == set()
    assert await emails(dateFrom="2024-01-10T12:00:00Z", dateTo="2024-01-10T12:00:00Z") == {
        active.email
    }


async def test_search_covers_email_name_and_phone(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    _, headers = await admin_headers(client, resources)
    await make_member(resources, email="anna@example.com", first_name="Anna", last_name="Karenina")
    await make_member(
        resources, email="o.b@example.com", first_name="Oblonsky", phone="+79991234567"
    )
    await make_member(resources, email="100%_real@example.com", first_name="Percent")

    async def found(term: str) -> set[str]:
        r = await client.get(USERS, params={"search": term}, headers=headers)
        assert r.status_code == 200, r.text
        return {u["email"] for u in r.json()["data"]["users"]}

    assert await found("ANNA@") == {"anna@example.com"}
    assert await found("anna kar") == {"anna@example.com"}
    assert await found("oblon") == {"o.b@example.com"}
    assert await found("9991234") == {"o.b@example.com"}
    # LIKE wildcards in the term are matched literally.
    assert await found("%_r") == {"100%_real@example.com"}
    assert await found("nobody-here") == set()


@pytest.mark.parametrize(
    ("sort_by", "attribute"),
    [("createdAt", "created_at"), ("email", "email"), ("lastLoginAt", "last_login_at")],
)
@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_sorting(
    client: httpx.AsyncClient, resources: Resources, sort_by: str, attribute: str, order: str
) -> None:
    _, headers = await admin_headers(client, resources)
    base = datetime(2024, 3, 1, tzinfo=UTC)
    members = [
        await make_member(
            resources,
            email=f"{letter}@sort.example.com",
            created_at=base + timedelta(days=offset),
            last_login_at=base + timedelta(hours=offset),
        )
        for letter, offset in (("c", 1), ("a", 3), ("b", 2))
    ]
    resp = await client.get(
        USERS,
        params={"search": "@sort.example", "sortBy": sort_by, "sortOrder": order},
        headers=headers,
    )
    got = [u["email"] for u in resp.json()["data"]["users"]]
    expected = sorted(members, key=lambda u: getattr(u, attribute), reverse=order == "desc")
    assert got == [u.email for u in expected]


async def test_last_login_sort_puts_never_logged_in_last(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    _, headers = await admin_headers(client, resources)
    base = datetime(2024, 3, 1, tzinfo=UTC)
    await make_member(resources, email="never@sort.example.com")
    await make_member(resources, email="early@sort.example.com", last_login_at=base)
    await make_member(
        resources, email="late@sort.example.com", last_login_at=base + timedelta(days=1)
    )
    for order, expected in (
        ("asc", ["early", "late", "never"]),
        ("desc", ["late", "early", "never"]),
    ):
        resp = await client.get(
            USERS,
            params={"search": "@sort.example", "sortBy": "lastLoginAt", "sortOrder": order},
            headers=headers,
        )
        assert [u["email"].split("@")[0] for u in resp.json()["data"]["users"]] == expected


async def test_sort_by_status_uses_the_effective_status(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    _, headers = await admin_headers(client, resources)
    a = await make_member(resources, email="a@st.example.com", status=UserStatus.BANNED)
    b = await make_member(resources, email="b@st.example.com")
    c = await make_member(resources, email="c@st.example.com")
    await client.post(
        f"{USERS}/{c.id}/suspend", json={"reason": "x", "duration": 1}, headers=headers
    )
    resp = await client.get(
        USERS,
        params={"search": "@st.example", "sortBy": "status", "sortOrder": "asc"},
        headers=headers,
    )
    assert [u["email"] for u in resp.json()["data"]["users"]] == [b.email, a.email, c.email]
    clock.travel(timedelta(days=1, seconds=1))
    # The timed suspension is over: c is ACTIVE now and sorts with b.
    resp = await client.get(
        USERS,
        params={"search": "@st.example", "sortBy": "status", "sortOrder": "asc"},
        headers=await login(client, await make_user(resources, Role.ADMIN)),
    )
    assert [u["status"] for u in resp.json()["data"]["users"]] == ["ACTIVE", "ACTIVE", "BANNED"]


@pytest.mark.parametrize("role", [Role.USER, Role.PARTNER])
async def test_non_admins_get_403_everywhere(
    client: httpx.AsyncClient, resources: Resources, role: Role
) -> None:
    headers = await login(client, await make_user(resources, role))
    target = await make_member(resources)
    calls = [
        client.get(USERS, headers=headers),
        client.get(f"{USERS}/{target.id}", headers=headers),
        client.patch(f"{USERS}/{target.id}", json={"note": "x"}, headers=headers),
        client.post(f"{USERS}/{target.id}/suspend", json={"reason": "x"}, headers=headers),
        client.post(f"{USERS}/{target.id}/activate", json={}, headers=headers),
    ]
    for call in calls:
        resp = await call
        assert resp.status_code == 403
        assert resp.json()["error"]["code"] == "FORBIDDEN"


async def test_without_a_token_it_is_401(client: httpx.AsyncClient) -> None:
    resp = await client.get(USERS)
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "UNAUTHORIZED"
    resp = await client.get(USERS, headers={"Authorization": "Bearer not-a-session"})
    assert resp.status_code == 401


async def test_detail_shows_kyc_partner_security_and_notes(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    admin, headers = await admin_headers(client, resources)
    sponsor_user = await make_member(resources, first_name="Jane", last_name="Smith")
    sponsor = await enroll(resources, sponsor_user)
    member = await make_user(resources, Role.USER)
    partner = await enroll(resources, member, sponsor)
    verification = await submit_kyc(resources, member, priority=KycPriority.HIGH)
    await login(client, member)
    await login(client, member)
    patched = await client.patch(
        f"{USERS}/{member.id}", json={"note": "Called about KYC"}, headers=headers
    )
    assert patched.status_code == 200

    resp = await client.get(f"{USERS}/{member.id}", headers=headers)

    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert data["id"] == str(member.id)
    assert data["status"] == "ACTIVE"
    assert data["profile"] == {
        "firstName": "Test",
        "lastName": "User",
        "middleName": None,
        "dateOfBirth": None,
        "avatarUrl": None,
        "language": "en",
        "timezone": "UTC",
    }
    assert data["kyc"]["id"] == str(verification.id)
    assert data["kyc"]["status"] == "SUBMITTED"
    assert data["kyc"]["reviewedBy"] is None
    assert [d["type"] for d in data["kyc"]["documents"]] == ["PASSPORT", "SELFIE"]
    assert {d["status"] for d in data["kyc"]["documents"]} == {"PENDING"}
    assert data["roles"] == ["USER"]
    assert data["partner"] == {
        "id": str(partner.id),
        "referralCode": partner.referral_code,
        "status": "ACTIVE",
        "rank": None,
        "sponsorId": str(sponsor.id),
        "sponsorName": "Jane Smith",
        "balance": {"available": 0, "pending": 0},
    }
    assert data["security"]["activeSessions"] == 2
    assert data["security"]["twoFactorEnabled"] is False
    assert data["stats"] == {
        "ordersCount": 0,
        "totalSpent": 0,
        "investmentsCount": 0,
        "totalInvested": 0,
        "commissionsEarned": 0,
        "referralsCount": 0,
    }
    assert data["lastLoginAt"] is not None
    assert [n["content"] for n in data["notes"]] == ["Called about KYC"]
    assert data["notes"][0]["createdBy"] == admin.full_name
    types = [a["type"] for a in data["recentActivity"]]
    assert {"LOGIN", "USER_UPDATED", "KYC"} <= set(types)

    sponsor_view = (await client.get(f"{USERS}/{sponsor_user.id}", headers=headers)).json()
    assert sponsor_view["data"]["stats"]["referralsCount"] == 1
    assert sponsor_view["data"]["kyc"] is None


async def test_unknown_user_is_404(client: httpx.AsyncClient, resources: Resources) -> None:
    _, headers = await admin_headers(client, resources)
    missing = "00000000-0000-4000-8000-000000000000"
    for call in (
        client.get(f"{USERS}/{missing}", headers=headers),
        client.patch(f"{USERS}/{missing}", json={"note": "x"}, headers=headers),
        client.post(f"{USERS}/{missing}/suspend", json={"reason": "x"}, headers=headers),
        client.post(f"{USERS}/{missing}/activate", json={}, headers=headers),
    ):
        resp = await call
        assert resp.status_code == 404
        assert resp.json()["error"]["code"] == "USER_NOT_FOUND"
    resp = await client.get(f"{USERS}/not-a-uuid", headers=headers)
    assert resp.status_code == 400


# -- PATCH ---------------------------------------------------------------------------


async def test_patch_updates_profile_adds_a_note_and_writes_one_audit_row(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    admin, headers = await admin_headers(client, resources)
    member = await make_member(resources, first_name="John", last_name="Doe", phone="+79990000000")
    resp = await client.patch(
        f"{USERS}/{member.id}",
        json={
            "profile": {
                "firstName": "Jonathan",
                "dateOfBirth": "1990-05-15",
                "language": "ru",
                "timezone": "Europe/Moscow",
            },
            "phone": None,
            "note": "Updated name at user request",
        },
        headers=headers,
    )
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert data["profile"] == {
        "firstName": "Jonathan",
        "lastName": "Doe",
        "middleName": None,
        "dateOfBirth": "1990-05-15",
        "language": "ru",
        "timezone": "Europe/Moscow",
    }
    assert data["phone"] is None
    assert data["updatedBy"] == admin.full_name
    assert data["roles"] == ["USER"]

    await db.rollback()
    stored = (await db.execute(select(User).where(User.id == member.id))).scalar_one()
    assert (stored.first_name, stored.phone, stored.timezone) == ("Jonathan", None, "Europe/Moscow")
    notes = (await db.execute(select(UserNote).where(UserNote.user_id == member.id))).scalars()
    assert [(n.content, n.created_by) for n in notes] == [
        ("Updated name at user request", admin.id)
    ]
    audits = await audit_rows(db)
    assert len(audits) == 1
    audit = audits[0]
    assert (audit.action, audit.entity_type, audit.entity_id) == (
        "USER_UPDATED",
        "user",
        str(member.id),
    )
    assert audit.admin_id == admin.id
    assert audit.ip_address == "127.0.0.1"
    assert audit.previous_values == {
        "profile.firstName": "John",
        "profile.dateOfBirth": None,
        "profile.language": "en",
        "profile.timezone": "UTC",
        "phone": "+79990000000",
    }
    assert audit.new_values == {
        "profile.firstName": "Jonathan",
        "profile.dateOfBirth": "1990-05-15",
        "profile.language": "ru",
        "profile.timezone": "Europe/Moscow",
        "phone": None,
        "note": "Updated name at user request",
    }


async def test_patch_email_conflict_is_409_and_changes_nothing(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    _, headers = await admin_headers(client, resources)
    await make_member(resources, email="taken@example.com")
    member = await make_member(resources, email="mine@example.com", first_name="Old")
    resp = await client.patch(
        f"{USERS}/{member.id}",
        json={"email": "Taken@Example.com", "profile": {"firstName": "New"}},
        headers=headers,
    )
    assert resp.status_code == 409
    assert resp.json()["error"]["code"] == "EMAIL_ALREADY_EXISTS"
    await db.rollback()
    stored = (await db.execute(select(User).where(User.id == member.id))).scalar_one()
    assert (stored.email, stored.first_name) == ("mine@example.com", "Old")
    assert len(await audit_rows(db)) == 0

    ok = await client.patch(
        f"{USERS}/{member.id}", json={"email": "New.Mail@Example.com"}, headers=headers
    )
    assert ok.status_code == 200
    assert ok.json()["data"]["email"] == "new.mail@example.com"


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email"},
        {"phone": "call me"},
        {"profile": {"firstName": ""}},
        {"profile": {"firstName": None}},
        {"profile": {"timezone": "Mars/Olympus"}},
        {"profile": {"language": "english"}},
        {"profile": {"dateOfBirth": "2999-01-01"}},
        {"roles": []},
        {"roles": ["EMPEROR"]},
        {"nickname": "x"},
    ],
)
async def test_patch_validation(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession, body: dict[str, object]
) -> None:
    _, headers = await admin_headers(client, resources, Role.SUPER_ADMIN)
    member = await make_member(resources)
    resp = await client.patch(f"{USERS}/{member.id}", json=body, headers=headers)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
    assert resp.json()["error"]["details"]
    assert len(await audit_rows(db)) == 0


async def test_only_a_super_admin_changes_roles(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    _, admin = await admin_headers(client, resources)
    _, root = await admin_headers(client, resources, Role.SUPER_ADMIN)
    member = await make_member(resources)

    denied = await client.patch(f"{USERS}/{member.id}", json={"roles": ["ADMIN"]}, headers=admin)
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "FORBIDDEN"
    assert len(await audit_rows(db)) == 0

    granted = await client.patch(
        f"{USERS}/{member.id}", json={"roles": ["USER", "ADMIN"]}, headers=root
    )
    assert granted.status_code == 200
    assert granted.json()["data"]["roles"] == ["ADMIN", "USER"]
    (audit,) = await audit_rows(db)
    assert audit.previous_values == {"roles": ["USER"]}
    assert audit.new_values == {"roles": ["ADMIN", "USER"]}
    # The new role works on the member's next request.
    me = await client.get("/auth/me", headers=await login(client, member))
    assert sorted(me.json()["roles"]) == ["ADMIN", "USER"]


async def test_an_admin_cannot_touch_a_super_admin(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    _, admin = await admin_headers(client, resources)
    root_user, root = await admin_headers(client, resources, Role.SUPER_ADMIN)
    other_root = await make_user(resources, Role.SUPER_ADMIN)
    resp = await client.patch(
        f"{USERS}/{other_root.id}", json={"profile": {"firstName": "X"}}, headers=admin
    )
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "CANNOT_MODIFY_SUPER_ADMIN"
    assert len(await audit_rows(db)) == 0
    # A SUPER_ADMIN may, but the last SUPER_ADMIN role is never removed.
    ok = await client.patch(
        f"{USERS}/{other_root.id}", json={"profile": {"firstName": "X"}}, headers=root
    )
    assert ok.status_code == 200
    demoted = await client.patch(
        f"{USERS}/{other_root.id}", json={"roles": ["ADMIN"]}, headers=root
    )
    assert demoted.status_code == 200
    last = await client.patch(f"{USERS}/{root_user.id}", json={"roles": ["ADMIN"]}, headers=root)
    assert last.status_code == 400
    assert last.json()["error"]["code"] == "VALIDATION_ERROR"


# -- suspend / activate --------------------------------------------------------------


async def test_suspend_revokes_every_session_at_once(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    admin, headers = await admin_headers(client, resources)
    member = await make_user(resources, Role.USER)
    member_headers = await login(client, member)
    await login(client, member)
    assert (await client.get("/auth/me", headers=member_headers)).status_code == 200

    resp = await client.post(
        f"{USERS}/{member.id}/suspend",
        json={"reason": "Suspicious activity detected", "duration": 7, "notifyUser": False},
        headers=headers,
    )

    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    suspended_at = datetime.fromisoformat(data["suspendedAt"])
    assert data == {
        "userId": str(member.id),
        "status": "SUSPENDED",
        "reason": "Suspicious activity detected",
        "suspendedAt": data["suspendedAt"],
        "suspendedBy": admin.full_name,
        "suspendedUntil": _iso(suspended_at + timedelta(days=7)),
        "sessionsRevoked": 2,
    }
    me = await client.get("/auth/me", headers=member_headers)
    assert me.status_code == 401
    relogin = await client.post(
        "/auth/login", json={"email": member.email, "password": "correct-horse-battery"}
    )
    assert relogin.status_code == 403
    assert await resources.sessions.count_user(member.id) == 0
    await db.rollback()
    stored = (await db.execute(select(User).where(User.id == member.id))).scalar_one()
    assert stored.status == "SUSPENDED"
    assert stored.suspension_reason == "Suspicious activity detected"
    (audit,) = await audit_rows(db)
    assert audit.action == "USER_SUSPENDED"
    assert audit.entity_id == str(member.id)
    assert audit.previous_values == {"status": "ACTIVE", "suspendedUntil": None, "reason": None}
    assert audit.new_values["sessionsRevoked"] == 2
    assert audit.new_values["status"] == "SUSPENDED"

    listed = await client.get(USERS, params={"status": "SUSPENDED"}, headers=headers)
    assert [u["id"] for u in listed.json()["data"]["users"]] == [str(member.id)]


async def test_suspend_refusals_write_no_audit(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    _, headers = await admin_headers(client, resources, Role.SUPER_ADMIN)
    other_admin = await make_user(resources, Role.ADMIN)
    root = await make_user(resources, Role.SUPER_ADMIN)
    banned = await make_member(resources, status=UserStatus.BANNED)
    member = await make_member(resources)
    for target in (other_admin, root):
        resp = await client.post(
            f"{USERS}/{target.id}/suspend", json={"reason": "x"}, headers=headers
        )
        assert resp.status_code == 403
        assert resp.json()["error"]["code"] == "CANNOT_SUSPEND_ADMIN"
    resp = await client.post(f"{USERS}/{banned.id}/suspend", json={"reason": "x"}, headers=headers)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "ALREADY_SUSPENDED"
    for body in ({}, {"reason": "   "}, {"reason": "x", "duration": 0}):
        resp = await client.post(f"{USERS}/{member.id}/suspend", json=body, headers=headers)
        assert resp.status_code == 400
        assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
    assert len(await audit_rows(db)) == 0

    first = await client.post(f"{USERS}/{member.id}/suspend", json={"reason": "x"}, headers=headers)
    assert first.status_code == 200
    assert first.json()["data"]["suspendedUntil"] is None
    again = await client.post(f"{USERS}/{member.id}/suspend", json={"reason": "y"}, headers=headers)
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "ALREADY_SUSPENDED"
    assert len(await audit_rows(db)) == 1


async def test_a_timed_suspension_ends_by_itself(
    client: httpx.AsyncClient, resources: Resources
) -> None:
    _, headers = await admin_headers(client, resources)
    member = await make_user(resources, Role.USER)
    resp = await client.post(
        f"{USERS}/{member.id}/suspend", json={"reason": "cool down", "duration": 1}, headers=headers
    )
    assert resp.status_code == 200
    blocked = await client.post(
        "/auth/login", json={"email": member.email, "password": "correct-horse-battery"}
    )
    assert blocked.status_code == 403

    clock.travel(timedelta(days=1, seconds=1))
    headers = await login(client, await make_user(resources, Role.ADMIN))
    detail = await client.get(f"{USERS}/{member.id}", headers=headers)
    assert detail.json()["data"]["status"] == "ACTIVE"
    active = await client.get(USERS, params={"status": "ACTIVE"}, headers=headers)
    assert str(member.id) in {u["id"] for u in active.json()["data"]["users"]}
    suspended = await client.get(USERS, params={"status": "SUSPENDED"}, headers=headers)
    assert suspended.json()["data"]["users"] == []
    assert (await client.get("/auth/me", headers=await login(client, member))).status_code == 200
    not_suspended = await client.post(f"{USERS}/{member.id}/activate", json={}, headers=headers)
    assert not_suspended.status_code == 400
    assert not_suspended.json()["error"]["code"] == "NOT_SUSPENDED"
    # A lapsed suspension does not block a new one.
    again = await client.post(f"{USERS}/{member.id}/suspend", json={"reason": "z"}, headers=headers)
    assert again.status_code == 200


async def test_activate_lifts_the_suspension(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    admin, headers = await admin_headers(client, resources)
    member = await make_user(resources, Role.USER)
    await client.post(f"{USERS}/{member.id}/suspend", json={"reason": "x"}, headers=headers)

    resp = await client.post(
        f"{USERS}/{member.id}/activate",
        json={"note": "Investigation completed, no violation found", "notifyUser": False},
        headers=headers,
    )

    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert data["userId"] == str(member.id)
    assert data["status"] == "ACTIVE"
    assert data["activatedBy"] == admin.full_name
    assert data["activatedAt"].endswith("Z")
    assert (await client.get("/auth/me", headers=await login(client, member))).status_code == 200
    await db.rollback()
    stored = (await db.execute(select(User).where(User.id == member.id))).scalar_one()
    assert (stored.status, stored.suspended_until, stored.suspension_reason) == (
        "ACTIVE",
        None,
        None,
    )
    notes = (await db.execute(select(UserNote.content))).scalars().all()
    assert notes == ["Investigation completed, no violation found"]
    assert [a.action for a in await audit_rows(db)] == ["USER_SUSPENDED", "USER_ACTIVATED"]

    again = await client.post(f"{USERS}/{member.id}/activate", headers=headers)
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "NOT_SUSPENDED"
    assert len(await audit_rows(db)) == 2
