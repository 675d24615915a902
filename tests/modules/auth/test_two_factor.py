"""TOTP two-factor sign-in: setup, enable with a first code (recovery codes shown once),
sign-in with a code or a recovery code (each good once), disable; the admin detail shows it."""

import asyncio
import re
from datetime import timedelta
from urllib.parse import parse_qs, unquote, urlparse

import httpx
import pyotp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core import clock
from iwm.core.principal import Role
from iwm.modules.auth.models import RecoveryCode, TwoFactorSecret
from tests.factories.accounts import PASSWORD, MemberApp
from tests.factories.kiosk_network import login, make_user


def _next_code(secret: str) -> str:
    """The code of the next 30-second step (the clock moved there first)."""
    clock.travel(timedelta(seconds=30))
    return pyotp.TOTP(secret).at(clock.now())


async def _login(app: MemberApp, email: str, code: str | None = None) -> tuple[int, dict]:
    body = {"email": email, "password": PASSWORD} | ({"code": code} if code else {})
    resp = await app.http.post("/auth/login", json=body)
    return resp.status_code, resp.json()


async def _enable(app: MemberApp, headers: dict[str, str]) -> tuple[str, list[str]]:
    setup = await app.http.post("/auth/2fa/setup", headers=headers)
    assert setup.status_code == 200, setup.text
    secret = setup.json()["secret"]
    enabled = await app.http.post(
        "/auth/2fa/enable", json={"code": pyotp.TOTP(secret).at(clock.now())}, headers=headers
    )
    assert enabled.status_code == 200, enabled.text
    return secret, enabled.json()["recoveryCodes"]


async def test_setup_then_enable_with_a_first_code(app: MemberApp, db: AsyncSession) -> None:
    email, headers = await app.verified_member()
    admin = await login(app.http, await make_user(app.resources, Role.ADMIN))
    user_id = (await app.http.get("/auth/me", headers=headers)).json()["id"]

    setup = await app.http.post("/auth/2fa/setup", headers=headers)
    assert setup.status_code == 200
    secret, uri = setup.json()["secret"], setup.json()["otpauthUri"]
    parsed = urlparse(uri)
    assert (parsed.scheme, parsed.netloc) == ("otpauth", "totp")
    assert parse_qs(parsed.query) == {"secret": [secret], "issuer": ["IWM"]}
    assert unquote(parsed.path) == f"/IWM:{email}"
    # Not in force before a first correct code.
    assert (await _login(app, email))[0] == 200

    not_set = await app.http.post("/auth/2fa/enable", json={"code": "000000"}, headers=headers)
    wrong = await app.http.post("/auth/2fa/enable", json={"code": "12345x"}, headers=headers)
    assert not_set.status_code == wrong.status_code == 400
    assert wrong.json()["error"]["code"] == "INVALID_TWO_FACTOR_CODE"

    enabled = await app.http.post(
        "/auth/2fa/enable", json={"code": pyotp.TOTP(secret).now()}, headers=headers
    )
    assert enabled.status_code == 200
    codes = enabled.json()["recoveryCodes"]
    assert len(codes) == 10
    assert len(set(codes)) == 10
    stored = list((await db.execute(select(RecoveryCode.code_hash))).scalars())
    assert len(stored) == 10
    assert not set(codes) & set(stored)

    detail = await app.http.get(f"/api/v1/admin/users/{user_id}", headers=admin)
    security = detail.json()["data"]["security"]
    assert (security["twoFactorEnabled"], security["twoFactorMethod"]) == (True, "TOTP")

    again = await app.http.post("/auth/2fa/setup", headers=headers)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "TWO_FACTOR_ALREADY_ENABLED"


async def test_sign_in_with_a_code_or_a_recovery_code_then_disable(
    app: MemberApp, db: AsyncSession
) -> None:
    email, headers = await app.verified_member()
    admin = await login(app.http, await make_user(app.resources, Role.ADMIN))
    user_id = (await app.http.get("/auth/me", headers=headers)).json()["id"]
    secret, codes = await _enable(app, headers)

    status, body = await _login(app, email)
    assert (status, body["error"]["code"]) == (401, "TWO_FACTOR_REQUIRED")
    status, body = await _login(app, email, "000000")
    assert (status, body["error"]["code"]) == (401, "INVALID_TWO_FACTOR_CODE")
    # The wrong password says nothing about the second factor.
    wrong_password = await app.http.post(
        "/auth/login", json={"email": email, "password": "nope-nope", "code": "000000"}
    )
    assert wrong_password.json()["error"]["code"] == "INVALID_CREDENTIALS"

    code = _next_code(secret)
    assert (await _login(app, email, code))[0] == 200
    # A code is good once, even within its 30 seconds.
    status, body = await _login(app, email, code)
    assert (status, body["error"]["code"]) == (401, "INVALID_TWO_FACTOR_CODE")

    assert (await _login(app, email, codes[0].upper().replace("-", " ")))[0] == 200
    status, _ = await _login(app, email, codes[0])
    assert status == 401
    assert (await _login(app, email, codes[1]))[0] == 200

    refused = await app.http.post("/auth/2fa/disable", json={"code": codes[0]}, headers=headers)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "INVALID_TWO_FACTOR_CODE"
    off = await app.http.post(
        "/auth/2fa/disable", json={"code": _next_code(secret)}, headers=headers
    )
    assert off.status_code == 200
    assert off.json() == {"twoFactorEnabled": False}
    db.expire_all()
    await db.rollback()
    assert list((await db.execute(select(TwoFactorSecret))).scalars()) == []
    assert list((await db.execute(select(RecoveryCode))).scalars()) == []
    security = (await app.http.get(f"/api/v1/admin/users/{user_id}", headers=admin)).json()
    assert security["data"]["security"]["twoFactorEnabled"] is False
    assert security["data"]["security"]["twoFactorMethod"] is None
    assert (await _login(app, email))[0] == 200

    not_on = await app.http.post("/auth/2fa/disable", json={"code": "123456"}, headers=headers)
    assert not_on.json()["error"]["code"] == "TWO_FACTOR_NOT_ENABLED"


async def test_two_factor_needs_a_session(app: MemberApp) -> None:
    for path, body in (
        ("/auth/2fa/setup", None),
        ("/auth/2fa/enable", {"code": "123456"}),
        ("/auth/2fa/disable", {"code": "123456"}),
    ):
        resp = await app.http.post(path, json=body)
        assert resp.status_code == 401
        assert resp.json()["error"]["code"] == "UNAUTHORIZED"


async def test_a_recovery_code_signs_in_once_under_concurrency(
    app: MemberApp, production_only: None
) -> None:
    email, headers = await app.verified_member()
    _, codes = await _enable(app, headers)
    answers = await asyncio.gather(*(_login(app, email, codes[3]) for _ in range(6)))
    assert sorted(status for status, _ in answers) == [200] + [401] * 5


async def test_the_dashboard_login_asks_for_the_code(app: MemberApp) -> None:
    partner = await make_user(app.resources, Role.PARTNER)
    headers = await login(app.http, partner)
    secret, _ = await _enable(app, headers)

    async def sign_in(code: str) -> httpx.Response:
        form = await app.http.get("/dashboard/login")
        found = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert found, form.text
        assert 'name="code"' in form.text
        app.http.cookies.clear()
        return await app.http.post(
            "/dashboard/login",
            data={
                "email": partner.email,
                "password": PASSWORD,
                "code": code,
                "csrf_token": found.group(1),
            },
            headers={"Cookie": f"iwm_csrf={found.group(1)}"},
        )

    missing = await sign_in("")
    assert missing.status_code == 401
    assert "Enter the code from your authenticator app." in missing.text
    wrong = await sign_in("000000")
    assert wrong.status_code == 401
    assert "That code is not right." in wrong.text
    signed_in = await sign_in(_next_code(secret))
    assert signed_in.status_code == 303
    assert any(c.startswith("iwm_session=") for c in signed_in.headers.get_list("set-cookie"))
