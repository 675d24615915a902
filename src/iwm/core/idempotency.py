"""Safe retries of a device's writes: the first successful answer to a request with an
`Idempotency-Key` is kept with the work it did, in the same transaction; a retry with the
same key gets that answer back and does nothing again."""

import hashlib
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import Header
from fastapi.responses import JSONResponse
from sqlalchemy import Integer, String, Text, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from iwm.core import clock
from iwm.core.db import Base
from iwm.core.errors import DomainError

REPLAYED_HEADER = "Idempotent-Replayed"

_KEY_HELP = (
    "The client's own id for this attempt: a retry with the same key returns the first "
    "answer and creates nothing"
)
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=128, description=_KEY_HELP),
]
# Where a retry could move money twice the key is not optional: without it the request is a
# 400 VALIDATION_ERROR naming `Idempotency-Key`, like any other missing field.
RequiredIdempotencyKey = Annotated[
    str,
    Header(alias="Idempotency-Key", min_length=1, max_length=128, description=_KEY_HELP),
]


class IdempotencyKeyReused(DomainError):
    status_code, code, message = (
        422,
        "IDEMPOTENCY_KEY_REUSED",
        "This Idempotency-Key was used for a different request",
    )


class IdempotencyKeyConflict(IdempotencyKeyReused):
    """The same refusal as a conflict (409), where the contract says so: a member's orders
    and investments."""

    status_code = 409


class IdempotencyKeyInUse(DomainError):
    status_code, code, message = (
        409,
        "IDEMPOTENCY_KEY_IN_USE",
        "A request with this Idempotency-Key is still being processed",
    )


class IdempotentAnswer(Base):
    """A kept answer: per scope (the caller and the operation) and key."""

    __tablename__ = "idempotent_answers"

    scope: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=clock.now, index=True)


def fingerprint(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()


async def replay(
    session: AsyncSession,
    scope: str,
    key: str | None,
    fingerprint_: str,
    reused: type[IdempotencyKeyReused] = IdempotencyKeyReused,
) -> JSONResponse | None:
    """The kept answer of an earlier request with this key, or None (do the work); raises
    `reused` when the key was used for another request."""
    if key is None:
        return None
    row = await session.scalar(
        select(IdempotentAnswer).where(IdempotentAnswer.scope == scope, IdempotentAnswer.key == key)
    )
    if row is None:
        return None
    if row.fingerprint != fingerprint_:
        raise reused()
    return JSONResponse(
        json.loads(row.body), status_code=row.status_code, headers={REPLAYED_HEADER: "true"}
    )


async def keep(
    session: AsyncSession,
    scope: str,
    key: str | None,
    fingerprint_: str,
    status_code: int,
    body: Any,
) -> None:
    """Keeps the answer in the request's transaction: committed with the work or not at
    all. A concurrent request with the same key that committed first makes this one 409."""
    if key is None:
        return
    session.add(
        IdempotentAnswer(
            scope=scope,
            key=key,
            fingerprint=fingerprint_,
            status_code=status_code,
            body=json.dumps(body, separators=(",", ":")),
        )
    )
    try:
        await session.flush()
    except IntegrityError as exc:
        raise IdempotencyKeyInUse() from exc
