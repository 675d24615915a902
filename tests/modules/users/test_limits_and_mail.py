"""The per-admin rate limit of seed 004, and `notifyUser` mail (outbox and real SMTP)."""

import asyncio
from collections.abc import AsyncIterator
from email import message_from_bytes
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from iwm.core.config import SecretUrl, Settings
from iwm.core.mail import OutboxMail
from iwm.core.principal import Role
from iwm.core.resources import Resources
from iwm.main import create_app
from tests.factories.admin import API, make_member
from tests.factories.kiosk_network import login, make_user
from tests.support import free_port


async def _app_client(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Resources]]:
    app = create_app(settings)
    resources: Resources = app.state.resources
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http, resources
    finally:
        await resources.close()


@pytest.fixture
async def limited(
    settings: Settings, client: httpx.AsyncClient
) -> AsyncIterator[tuple[httpx.AsyncClient, Resources]]:
    tight = settings.model_copy(
        update={"admin_rate_limit_per_minute": 3, "admin_rate_limit_window_seconds": 2}
    )
    async for pair in _app_client(tight):
        yield pair


async def test_admin_rate_limit_is_per_admin_and_resets(
    limited: tuple[httpx.AsyncClient, Resources],
) -> None:
    http, resources = limited
    first = await login(http, await make_user(resources, Role.ADMIN))
    second = await login(http, await make_user(resources, Role.SUPER_ADMIN))

    # Users, partners and the provisioning router share the one general admin limit.
    for path in ("/users", "/partners", "/shops"):
        assert (await http.get(f"{API}{path}", headers=first)).status_code == 200
    blocked = await http.get(f"{API}/kyc/queue", headers=first)
    assert blocked.status_code == 429
    assert blocked.json()["error"]["code"] == "RATE_LIMITED"
    assert 1 <= int(blocked.headers["Retry-After"]) <= 2
    # Another admin has a budget of their own.
    assert (await http.get(f"{API}/users", headers=second)).status_code == 200

    await asyncio.sleep(2.1)
    assert (await http.get(f"{API}/kyc/queue", headers=first)).status_code == 200


async def test_requests_refused_for_role_do_not_use_the_budget(
    limited: tuple[httpx.AsyncClient, Resources],
) -> None:
    http, resources = limited
    user = await login(http, await make_user(resources, Role.USER))
    for _ in range(5):
        assert (await http.get(f"{API}/users", headers=user)).status_code == 403


async def test_rate_limit_is_shared_between_app_processes(
    settings: Settings, client: httpx.AsyncClient, production_only: None
) -> None:
    tight = settings.model_copy(
        update={"admin_rate_limit_per_minute": 2, "admin_rate_limit_window_seconds": 60}
    )
    one = _app_client(tight)
    two = _app_client(tight)
    http_one, resources = await anext(one)
    http_two, _ = await anext(two)
    try:
        headers = await login(http_one, await make_user(resources, Role.ADMIN))
        assert (await http_one.get(f"{API}/users", headers=headers)).status_code == 200
        assert (await http_two.get(f"{API}/users", headers=headers)).status_code == 200
        assert (await http_one.get(f"{API}/users", headers=headers)).status_code == 429
        assert (await http_two.get(f"{API}/users", headers=headers)).status_code == 429
    finally:
        await one.aclose()
        await two.aclose()


async def test_notify_user_goes_to_the_outbox_by_default(
    client: httpx.AsyncClient, resources: Resources, db: AsyncSession
) -> None:
    headers = await login(client, await make_user(resources, Role.ADMIN))
    member = await make_member(resources, email="notify@example.com", first_name="Nina")
    resp = await client.post(
        f"{API}/users/{member.id}/suspend",
        json={"reason": "Chargeback", "duration": 3, "notifyUser": True},
        headers=headers,
    )
    assert resp.status_code == 200
    # A refused request mails nobody.
    again = await client.post(
        f"{API}/users/{member.id}/suspend",
        json={"reason": "Chargeback", "notifyUser": True},
        headers=headers,
    )
    assert again.status_code == 400
    quiet = await client.post(f"{API}/users/{member.id}/activate", json={}, headers=headers)
    assert quiet.status_code == 200

    mails = list((await db.execute(select(OutboxMail))).scalars())
    assert [(m.recipient, m.subject) for m in mails] == [
        ("notify@example.com", "Your account has been suspended")
    ]
    assert "Chargeback" in mails[0].body
    assert resp.json()["data"]["suspendedUntil"] in mails[0].body


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


async def test_notify_user_is_sent_over_smtp_after_the_commit(
    settings: Settings, client: httpx.AsyncClient, db: AsyncSession
) -> None:
    inbox = _Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        smtp = settings.model_copy(
            update={
                "smtp_url": SecretUrl(f"smtp://127.0.0.1:{port}"),
                "mail_from": "admin@iwm.test",
            }
        )
        async for http, resources in _app_client(smtp):
            headers = await login(http, await make_user(resources, Role.ADMIN))
            member = await make_member(resources, email="smtp@example.com")
            suspended = await http.post(
                f"{API}/users/{member.id}/suspend",
                json={"reason": "Spam", "notifyUser": True},
                headers=headers,
            )
            assert suspended.status_code == 200
            activated = await http.post(
                f"{API}/users/{member.id}/activate",
                json={"notifyUser": True},
                headers=headers,
            )
            assert activated.status_code == 200
            refused = await http.post(
                f"{API}/users/{member.id}/activate", json={"notifyUser": True}, headers=headers
            )
            assert refused.status_code == 400
    finally:
        controller.stop()

    assert [(sender, rcpt) for sender, rcpt, _ in inbox.messages] == [
        ("admin@iwm.test", ["smtp@example.com"]),
        ("admin@iwm.test", ["smtp@example.com"]),
    ]
    subjects = [message_from_bytes(raw)["Subject"] for _, _, raw in inbox.messages]
    assert subjects == ["Your account has been suspended", "Your account is active again"]
    assert "Spam" in message_from_bytes(inbox.messages[0][2]).get_payload()
    assert list((await db.execute(select(OutboxMail))).scalars()) == []
