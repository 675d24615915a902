"""Member accounts over the API: an app whose mail can be read (the outbox table in the
embedded profile, a real SMTP server on loopback in the production one), sign-up and
verification by the mailed link."""

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from sqlalchemy import select

from iwm.core.config import SecretUrl, Settings
from iwm.core.mail import OutboxMail
from iwm.core.resources import Resources
from iwm.main import create_app
from tests.support import free_port

PASSWORD = "correct-horse-battery"
_TOKEN = re.compile(r"[?&]token=([A-Za-z0-9_\-]+)")


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"


@dataclass
class Mail:
    to: str
    subject: str
    body: str

    @property
    def token(self) -> str:
        found = _TOKEN.search(self.body)
        assert found is not None, self.body
        return found.group(1)


@dataclass
class MemberApp:
    http: httpx.AsyncClient
    resources: Resources
    inbox: _Inbox | None

    async def mail(self, to: str) -> list[Mail]:
        """Every message sent to `to`, oldest first."""
        if self.inbox is not None:
            return [
                Mail(str(m["To"]), str(m["Subject"]), str(m.get_payload(decode=True).decode()))
                for m in self.inbox.messages
                if str(m["To"]) == to
            ]
        async with self.resources.sessionmaker() as db:
            rows = await db.execute(
                select(OutboxMail).where(OutboxMail.recipient == to).order_by(OutboxMail.created_at)
            )
            return [Mail(r.recipient, r.subject, r.body) for r in rows.scalars()]

    async def register(self, email: str | None = None, **fields: Any) -> httpx.Response:
        body = {
            "email": email or f"member-{uuid.uuid4().hex[:8]}@example.com",
            "password": PASSWORD,
            "firstName": "Mila",
            "lastName": "Novak",
            **fields,
        }
        return await self.http.post("/auth/register", json=body)

    async def login(self, email: str, password: str = PASSWORD, **extra: str) -> dict[str, str]:
        resp = await self.http.post(
            "/auth/login", json={"email": email, "password": password, **extra}
        )
        assert resp.status_code == 200, resp.text
        return {"Authorization": f"Bearer {resp.json()['token']}"}

    async def verified_member(self, email: str | None = None) -> tuple[str, dict[str, str]]:
        """A member signed up and verified by the link; (email, headers of a session)."""
        resp = await self.register(email)
        assert resp.status_code == 201, resp.text
        address = resp.json()["user"]["email"]
        (mail,) = await self.mail(address)
        verified = await self.http.post("/auth/verify-email", json={"token": mail.token})
        assert verified.status_code == 200, verified.text
        return address, await self.login(address)


@asynccontextmanager
async def member_app(
    settings: Settings, *, smtp: bool, **overrides: Any
) -> AsyncIterator[MemberApp]:
    """An app over the test profile's database; with `smtp` its mail goes to a real SMTP
    server on loopback instead of the outbox table."""
    inbox = _Inbox() if smtp else None
    controller = None
    update = dict(overrides)
    if inbox is not None:
        port = free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=port)
        controller.start()
        update |= {
            "smtp_url": SecretUrl(f"smtp://127.0.0.1:{port}"),
            "mail_from": "no-reply@iwm.test",
        }
    app = create_app(settings.model_copy(update=update))
    resources: Resources = app.state.resources
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield MemberApp(http, resources, inbox)
    finally:
        await resources.close()
        if controller is not None:
            controller.stop()
