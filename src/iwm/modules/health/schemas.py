"""The readiness probe's answer: one shape whether ready (200) or not (503)."""

from typing import Literal

from pydantic import BaseModel, Field


class PartCheck(BaseModel):
    status: Literal["ok", "error"]
    ms: float = Field(description="How long the check took, in milliseconds.")
    error: str | None = Field(
        default=None, description="On a failure only: its kind (TimeoutError, ...)."
    )


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, PartCheck] = Field(
        description="database, storage and, when configured, redis."
    )
