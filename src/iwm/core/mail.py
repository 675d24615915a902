"""Outgoing email (`notifyUser`): SMTP when `IWM_SMTP_URL` is set, otherwise an outbox
table plus a log line (the embedded default).

Mail is a side effect outside the transaction: callers send it after the commit (a
background task of the response), so a rolled-back change never mails anyone.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import unquote, urlparse

import aiosmtplib
import structlog
from sqlalchemy import String, Text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from iwm.core import clock
from iwm.core.db import Base

log = structlog.get_logger()


class OutboxMail(Base):
    """Mail of the embedded default: kept here (and logged) instead of being sent."""

    __tablename__ = "mail_outbox"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    recipient: Mapped[str] = mapped_column(String(320), index=True)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


@dataclass(frozen=True, slots=True)
class MailMessage:
    to: str
    subject: str
    body: str


class Mailer(Protocol):
    async def send(self, message: MailMessage) -> None:
        """Delivers one message; failures are logged, never raised (the change is done)."""
        ...


class OutboxMailer:
    def __init__(self, maker: async_sessionmaker[AsyncSession]) -> None:
        self._maker = maker

    async def send(self, message: MailMessage) -> None:
        try:
            async with self._maker.begin() as db:
                db.add(OutboxMail(recipient=message.to, subject=message.subject, body=message.body))
        except Exception:
            log.exception("mail.failed", to=message.to, subject=message.subject)
            return
        log.info("mail.queued", to=message.to, subject=message.subject)


class SmtpMailer:
    """`smtp://user:pass@host:port` (STARTTLS when the server offers it) or `smtps://`."""

    def __init__(self, url: str, sender: str, timeout: float = 10.0) -> None:
        parsed = urlparse(url)
        if parsed.scheme not in ("smtp", "smtps"):
            raise ValueError(f"unsupported IWM_SMTP_URL scheme: {parsed.scheme!r}")
        self._tls = parsed.scheme == "smtps"
        self._host = parsed.hostname or "localhost"
        self._port = parsed.port or (465 if self._tls else 25)
        self._user = unquote(parsed.username) if parsed.username else None
        self._password = unquote(parsed.password) if parsed.password else None
        self._sender = sender
        self._timeout = timeout

    async def send(self, message: MailMessage) -> None:
        email = EmailMessage()
        email["From"] = self._sender
        email["To"] = message.to
        email["Subject"] = message.subject
        email.set_content(message.body)
        try:
            await aiosmtplib.send(
                email,
                hostname=self._host,
                port=self._port,
                username=self._user,
                password=self._password,
                use_tls=self._tls,
                timeout=self._timeout,
            )
        except (aiosmtplib.SMTPException, OSError):
            log.exception("mail.failed", to=message.to, subject=message.subject)
            return
        log.info("mail.sent", to=message.to, subject=message.subject)


def make_mailer(
    smtp_url: str | None, sender: str, maker: async_sessionmaker[AsyncSession]
) -> Mailer:
    return SmtpMailer(smtp_url, sender) if smtp_url else OutboxMailer(maker)
