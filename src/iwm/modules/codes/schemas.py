from pydantic import Field

from iwm.core.schemas import CamelModel, StrictBody, UtcDateTime
from iwm.modules.codes.models import CodeType


class CodeIssued(CamelModel):
    code: str
    type: CodeType
    issued_at: UtcDateTime
    expires_at: UtcDateTime


class RedeemRequest(StrictBody):
    # [0-9], not \d: the pattern engine's \d takes any script's digits (fullwidth ones too).
    code: str = Field(pattern=r"^[0-9]{4}$", description="The 4-digit code (ASCII digits)")


class RedeemResult(CamelModel):
    ok: bool = True
    type: CodeType
