from iwm.core.errors import DomainError


class PayoutNotFound(DomainError):
    status_code, code, message = 404, "PAYOUT_NOT_FOUND", "Payout request not found"


class NotPending(DomainError):
    status_code, code, message = 400, "NOT_PENDING", "Payout is not pending"


class NotRejectable(DomainError):
    status_code, code, message = (
        400,
        "NOT_REJECTABLE",
        "Payout cannot be rejected in its current status",
    )


class NotApproved(DomainError):
    status_code, code, message = 400, "NOT_APPROVED", "Payout must be approved first"


class PaymentFailed(DomainError):
    status_code, code, message = 400, "PAYMENT_FAILED", "Payment processing failed"


class InsufficientBalance(DomainError):
    status_code, code, message = 400, "INSUFFICIENT_BALANCE", "Not enough available balance"


class PayoutNotCovered(InsufficientBalance):
    """The partner's available balance is negative (a clawback took back money this payout
    had reserved): approving or paying waits until new earnings cover it."""

    message = "The partner's available balance is negative: the payout is not covered"


class ProviderDeclined(DomainError):
    status_code, code, message = 400, "PAYMENT_FAILED", "Payment processing failed"


class BelowMinimum(DomainError):
    status_code, code, message = 400, "BELOW_MINIMUM", "The amount is below the minimum payout"


class KycRequired(DomainError):
    status_code, code, message = (
        403,
        "KYC_REQUIRED",
        "An approved identity verification (KYC) is required for payouts",
    )
