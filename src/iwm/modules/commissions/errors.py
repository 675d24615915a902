from iwm.core.errors import DomainError


class CommissionNotFound(DomainError):
    status_code, code, message = 404, "COMMISSION_NOT_FOUND", "Commission not found"


class CannotAdjust(DomainError):
    status_code, code, message = (
        400,
        "CANNOT_ADJUST",
        "The commission cannot be adjusted in its current status",
    )
