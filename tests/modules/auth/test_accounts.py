"""Sign-up (with a sponsor's referral code), email verification by the mailed link,
forgotten, reset and changed passwords, and their limits: on both profiles, the mail read
from the outbox (embedded) or from a real SMTP server on loopback (production)."""

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import clock
from iwm.core.config import Settings
from iwm.core.principal import Role
from iwm.modules.analytics.models import UsersDaily
from iwm.modules.audit.models import AuditLog
from iwm.modules.auth.models import AuthToken
from iwm.modules.network.models import PartnerStatus
from iwm.modules.network.service import NetworkService
from iwm.modules.users.models import User
from tests.factories.accounts import PASSWORD, MemberApp, member_app
from tests.factories.admin import make_member

NEW_PASSWORD = "a-brand-new-passphrase"


async def _user(db: AsyncSession, email: str) -> User:
    await db.rollback()  # a fresh snapshot: see what the app committed since
    return (await db.execute(select(User).where(User.email == email))).scalar_one()


async def test_register_then_verify_by_the_mailed_link(app: MemberApp, db: AsyncSession) -> None:
    resp = await app.register("  New.Member@Example.com ", phone="+7 999 123 45 67", language="RU")
    assert resp.status_code == 201, resp.text
    user = resp.json()["user"]
    assert user["email"] == "new.member@example.com"
    assert user["status"] == "PENDING_VERIFICATION"
    assert user["roles"] == ["USER"]
    assert set(user) == {"id", "email", "status", "roles"}

    stored = await _user(db, "new.member@example.com")
    assert (stored.first_name, stored.last_name, stored.phone, stored.language) == (
        "Mila",
        "Novak",
        "+79991234567",
        "ru",
    )
    assert stored.email_verified_at is None
    assert stored.password_hash is not None
    assert PASSWORD not in stored.password_hash
    # UserCreated reached the analytics rollup: the new account counts today.
    registered = await db.scalar(select(func.sum(UsersDaily.registered)))
    assert registered == 1

    (mail,) = await app.mail("new.member@example.com")
    assert mail.subject == "Confirm your email address"
    assert "/verify-email?token=" in mail.body
    # Only the token's hash is stored.
    tokens = list((await db.execute(select(AuthToken))).scalars())
    assert len(tokens) == 1
    assert mail.token not in tokens[0].token_hash

    # A pending account signs in (to see its profile, to ask for a new link).
    headers = await app.login("new.member@example.com")
    assert (await app.http.get("/auth/me", headers=headers)).status_code == 200

    verified = await app.http.post("/auth/verify-email", json={"token": mail.token})
    assert verified.status_code == 200
    assert verified.json() == {
        "user": {
            "id": user["id"],
            "email": "new.member@example.com",
            "status": "ACTIVE",
            "roles": ["USER"],
        }
    }
    stored = await _user(db, "new.member@example.com")
    assert stored.status == "ACTIVE"
    assert stored.email_verified_at is not None
    actions = (await db.execute(select(AuditLog.action).order_by(AuditLog.created_at))).scalars()
    assert list(actions) == ["USER_REGISTERED", "EMAIL_VERIFIED"]

    again = await app.http.post("/auth/verify-email", json={"token": mail.token})
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "INVALID_TOKEN"


async def test_register_refusals(app: MemberApp, db: AsyncSession) -> None:
    assert (await app.register("taken@example.com")).status_code == 201
    dup = await app.register("TAKEN@example.com")
    assert dup.status_code == 409
    assert dup.json()["error"]["code"] == "EMAIL_ALREADY_EXISTS"

    unknown = await app.register("ref@example.com", referralCode="NOPE1234")
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == "INVALID_REFERRAL_CODE"

    for body, field in (
        ({"password": "short"}, "password"),
        ({"language": "xx"}, "language"),
        ({"phone": "call me"}, "phone"),
        ({"firstName": "  "}, "firstName"),
        ({"role": "ADMIN"}, "role"),
    ):
        resp = await app.register("bad@example.com", **body)
        assert resp.status_code == 400, (body, resp.text)
        assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
        assert field in resp.json()["error"]["details"], resp.json()
    no_at = await app.register("not-an-address")
    assert no_at.status_code == 400
    # Nothing half-written: one account, one mail.
    assert await db.scalar(select(func.count()).select_from(User)) == 1
    assert await app.mail("ref@example.com") == []


async def test_referral_code_names_the_sponsor_kept_for_joining_later(
    app: MemberApp, db: AsyncSession
) -> None:
    sponsor_user = await make_member(app.resources)
    suspended_user = await make_member(app.resources)
    async with app.resources.sessionmaker.begin() as session:
        network = NetworkService(session, app.resources.settings)
        sponsor = await network.enroll(sponsor_user.id)
        stopped = await network.enroll(suspended_user.id, status=PartnerStatus.SUSPENDED)

    resp = await app.register("referred@example.com", referralCode=sponsor.referral_code.lower())
    assert resp.status_code == 201, resp.text
    assert (await _user(db, "referred@example.com")).sponsor_partner_id == sponsor.id
    # Verified, the member joins the programme later: under that sponsor.
    (mail,) = await app.mail("referred@example.com")
    await app.http.post("/auth/verify-email", json={"token": mail.token})
    headers = await app.login("referred@example.com")
    joined = await app.http.post("/api/v1/me/partner", headers=headers)
    assert joined.status_code == 201, joined.text
    assert joined.json()["data"]["sponsor"]["id"] == str(sponsor.id)

    refused = await app.register("late@example.com", referralCode=stopped.referral_code)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "INVALID_REFERRAL_CODE"

    plain = await app.register("plain@example.com")
    assert plain.status_code == 201
    assert (await _user(db, "plain@example.com")).sponsor_partner_id is None


async def test_resend_says_nothing_and_replaces_the_link(app: MemberApp) -> None:
    await app.register("pending@example.com")
    active, _ = await app.verified_member("active@example.com")

    for email in ("pending@example.com", "nobody@example.com", active):
        resp = await app.http.post("/auth/verify-email/resend", json={"email": email})
        assert resp.status_code == 202
        assert resp.json() == {"accepted": True}
    first, second = await app.mail("pending@example.com")
    assert await app.mail("nobody@example.com") == []
    assert len(await app.mail(active)) == 1  # its sign-up mail only

    stale = await app.http.post("/auth/verify-email", json={"token": first.token})
    assert stale.json()["error"]["code"] == "INVALID_TOKEN"
    fresh = await app.http.post("/auth/verify-email", json={"token": second.token})
    assert fresh.status_code == 200
    assert fresh.json()["user"]["status"] == "ACTIVE"


async def test_links_expire(app: MemberApp, settings: Settings) -> None:
    await app.register("slow@example.com")
    (mail,) = await app.mail("slow@example.com")
    clock.travel(timedelta(hours=settings.email_verification_ttl_hours, seconds=1))
    late = await app.http.post("/auth/verify-email", json={"token": mail.token})
    assert late.status_code == 400
    assert late.json()["error"]["code"] == "INVALID_TOKEN"

    await app.http.post("/auth/password/forgot", json={"email": "slow@example.com"})
    reset_mail = (await app.mail("slow@example.com"))[-1]
    clock.travel(timedelta(minutes=settings.password_reset_ttl_minutes, seconds=1))
    resp = await app.http.post(
        "/auth/password/reset", json={"token": reset_mail.token, "password": NEW_PASSWORD}
    )
    assert resp.json()["error"]["code"] == "INVALID_TOKEN"


async def test_forgot_and_reset_end_every_session(app: MemberApp, db: AsyncSession) -> None:
    email, first = await app.verified_member()
    second = await app.login(email)

    for address in (email, "nobody@example.com"):
        resp = await app.http.post("/auth/password/forgot", json={"email": address})
        assert resp.status_code == 202
        assert resp.json() == {"accepted": True}
    assert await app.mail("nobody@example.com") == []
    mail = (await app.mail(email))[-1]
    assert mail.subject == "Reset your password"
    assert "/reset-password?token=" in mail.body

    short = await app.http.post("/auth/password/reset", json={"token": mail.token, "password": "x"})
    assert short.status_code == 400
    assert "password" in short.json()["error"]["details"]
    wrong = await app.http.post(
        "/auth/password/reset", json={"token": "not-a-token", "password": NEW_PASSWORD}
    )
    assert wrong.json()["error"]["code"] == "INVALID_TOKEN"

    done = await app.http.post(
        "/auth/password/reset", json={"token": mail.token, "password": NEW_PASSWORD}
    )
    assert done.status_code == 200
    assert done.json() == {"sessionsRevoked": 2}
    for headers in (first, second):
        assert (await app.http.get("/auth/me", headers=headers)).status_code == 401
    old = await app.http.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert old.status_code == 401
    await app.login(email, NEW_PASSWORD)
    assert (await _user(db, email)).password_changed_at is not None

    reused = await app.http.post(
        "/auth/password/reset", json={"token": mail.token, "password": PASSWORD}
    )
    assert reused.json()["error"]["code"] == "INVALID_TOKEN"


async def test_reset_link_verifies_a_pending_account(app: MemberApp, db: AsyncSession) -> None:
    await app.register("forgetful@example.com")
    await app.http.post("/auth/password/forgot", json={"email": "forgetful@example.com"})
    reset = (await app.mail("forgetful@example.com"))[-1]
    resp = await app.http.post(
        "/auth/password/reset", json={"token": reset.token, "password": NEW_PASSWORD}
    )
    assert resp.status_code == 200
    assert (await _user(db, "forgetful@example.com")).status == "ACTIVE"


async def test_change_password_keeps_this_session_only(app: MemberApp) -> None:
    email, mine = await app.verified_member()
    other = await app.login(email)

    wrong = await app.http.post(
        "/auth/password/change",
        json={"currentPassword": "not-it", "newPassword": NEW_PASSWORD},
        headers=mine,
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"]["code"] == "INVALID_PASSWORD"
    short = await app.http.post(
        "/auth/password/change",
        json={"currentPassword": PASSWORD, "newPassword": "short"},
        headers=mine,
    )
    assert short.status_code == 400
    assert "newPassword" in short.json()["error"]["details"]
    anonymous = await app.http.post(
        "/auth/password/change", json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}
    )
    assert anonymous.status_code == 401

    done = await app.http.post(
        "/auth/password/change",
        json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
        headers=mine,
    )
    assert done.status_code == 200
    assert done.json() == {"sessionsRevoked": 1}
    assert (await app.http.get("/auth/me", headers=mine)).status_code == 200
    assert (await app.http.get("/auth/me", headers=other)).status_code == 401
    await app.login(email, NEW_PASSWORD)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/auth/verify-email/resend", {"email": "x@example.com"}),
        ("/auth/password/forgot", {"email": "x@example.com"}),
    ],
)
async def test_mail_requests_limited_per_address_and_per_ip(
    settings: Settings,
    client: httpx.AsyncClient,
    is_production: bool,
    path: str,
    body: dict[str, str],
) -> None:
    async with member_app(
        settings,
        smtp=False,
        account_mail_per_address_per_hour=2,
        account_requests_per_ip_per_hour=4,
    ) as app:
        for _ in range(2):
            assert (await app.http.post(path, json=body)).status_code == 202
        limited = await app.http.post(path, json={"email": "X@example.com"})
        assert limited.status_code == 429
        assert limited.json()["error"]["code"] == "RATE_LIMITED"
        assert int(limited.headers["Retry-After"]) > 0
        # Another address has its own budget, until the IP's (4, the refused one counted)
        # is spent.
        assert (await app.http.post(path, json={"email": "y@example.com"})).status_code == 202
        assert (await app.http.post(path, json={"email": "z@example.com"})).status_code == 429


async def test_register_and_reset_limited(settings: Settings, client: httpx.AsyncClient) -> None:
    async with member_app(
        settings,
        smtp=False,
        account_mail_per_address_per_hour=1,
        account_requests_per_ip_per_hour=3,
    ) as app:
        assert (await app.register("one@example.com")).status_code == 201
        same = await app.register("one@example.com")
        assert same.status_code == 429  # the address's budget, before its 409
        assert (await app.register("two@example.com")).status_code == 201
        assert (await app.register("three@example.com")).status_code == 429  # the IP's
        for expected in (400, 400, 400, 429):
            resp = await app.http.post(
                "/auth/password/reset", json={"token": "guess", "password": NEW_PASSWORD}
            )
            assert resp.status_code == expected


async def test_a_user_is_refused_the_admin_and_partner_surfaces(app: MemberApp) -> None:
    _, headers = await app.verified_member()
    for path in ("/api/v1/admin/users", "/api/v1/admin/partners", "/partner/kiosks"):
        resp = await app.http.get(path, headers=headers)
        assert resp.status_code == 403, path
        assert resp.json()["error"]["code"] == "FORBIDDEN"


async def test_one_verification_token_used_twice_at_once(
    app: MemberApp, db: AsyncSession, production_only: None
) -> None:
    await app.register("race@example.com")
    (mail,) = await app.mail("race@example.com")
    answers = await asyncio.gather(
        *(app.http.post("/auth/verify-email", json={"token": mail.token}) for _ in range(8))
    )
    assert sorted(a.status_code for a in answers) == [200] + [400] * 7
    verified = (await db.execute(select(AuditLog).where(AuditLog.action == "EMAIL_VERIFIED"))).all()
    assert len(verified) == 1


async def test_one_reset_token_used_twice_at_once(app: MemberApp, production_only: None) -> None:
    email, _ = await app.verified_member()
    await app.http.post("/auth/password/forgot", json={"email": email})
    token = (await app.mail(email))[-1].token
    answers = await asyncio.gather(
        *(
            app.http.post(
                "/auth/password/reset", json={"token": token, "password": f"{NEW_PASSWORD}-{i}"}
            )
            for i in range(6)
        )
    )
    assert sorted(a.status_code for a in answers) == [200] + [400] * 5
    (winner,) = [i for i, a in enumerate(answers) if a.status_code == 200]
    await app.login(email, f"{NEW_PASSWORD}-{winner}")


async def test_admin_role_from_register_is_impossible(app: MemberApp, db: AsyncSession) -> None:
    resp = await app.register("plain-user@example.com")
    user = await _user(db, "plain-user@example.com")
    assert resp.json()["user"]["roles"] == ["USER"]
    assert user.roles == frozenset({Role.USER})


async def test_wrong_current_passwords_fall_under_the_login_limits(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    async with member_app(settings, smtp=False, login_attempts_per_minute=2) as app:
        _, headers = await app.verified_member()
        body = {"currentPassword": "guess", "newPassword": NEW_PASSWORD}
        for expected in (400, 400, 429):
            resp = await app.http.post("/auth/password/change", json=body, headers=headers)
            assert resp.status_code == expected
        assert int(resp.headers["Retry-After"]) > 0
        closing = await app.http.request(
            "DELETE", "/api/v1/me", json={"password": PASSWORD}, headers=headers
        )
        assert closing.status_code == 429
        # The session itself still works; only guessing is stopped.
        assert (await app.http.get("/api/v1/me", headers=headers)).status_code == 200
