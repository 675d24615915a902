from iwm.core.errors import DomainError


class InvalidCode(DomainError):
    status_code, code, message = 400, "INVALID_CODE", "The code is not valid for this kiosk"


class CodeExpired(DomainError):
    status_code, code, message = 400, "CODE_EXPIRED", "The code has expired"


class CodeAlreadyRedeemed(DomainError):
    status_code, code, message = 409, "CODE_ALREADY_REDEEMED", "The code was already redeemed"


class NoFreeCode(DomainError):
    status_code, code, message = 409, "NO_FREE_CODE", "Every 4-digit code is live on this kiosk"
