from iwm.core.errors import DomainError


class CommissionNotFound(DomainError):
    status_code, code, message = 404, "COMMISSION_NOT_FOUND", "Commission not found"


class CannotAdjust(DomainError):
    status_code, code, message = (
        400,
        "CANNOT_ADJUST",
        "The commission cannot be adjusted in its current status",
    )


class SeparationOfDuties(DomainError):
    """Four eyes on money: the admin who changed a commission's amount cannot approve it,
    and a pending change or a large payout needs a second admin."""

    status_code, code, message = (
        403,
        "SEPARATION_OF_DUTIES",
        "This needs a second admin: the same admin cannot do both steps",
    )


class ChangeNotFound(DomainError):
    status_code, code, message = 404, "CHANGE_NOT_FOUND", "Pending commission change not found"
