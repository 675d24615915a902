from iwm.core.errors import DomainError, NotFound


class KycNotFound(NotFound):
    code, message = "KYC_NOT_FOUND", "KYC verification not found"


class NotReviewable(DomainError):
    status_code, code, message = 400, "NOT_REVIEWABLE", "KYC verification is not awaiting review"
