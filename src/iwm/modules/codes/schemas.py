from pydantic import Field

from iwm.core.schemas import CamelModel, StrictBody, UtcDateTime
from iwm.modules.codes.models import CodeType


class CodeIssued(CamelModel):
    code: str
    type: CodeType
    issued_at: UtcDateTime
    expires_at: UtcDateTime


class RedeemRequest(StrictBody):
    code: str = Field(pattern=r"^\d{4}$", description="The 4-digit code")


class RedeemResult(CamelModel):
    ok: bool = True
    type: CodeType
